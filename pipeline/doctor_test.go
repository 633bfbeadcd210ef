package pipeline_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/config"
	"github.com/ethos-toolkit/ethos/pipeline"
)

// healthStore answers the doctor's questions.
type healthStore struct{ pingErr error }

func (s healthStore) Ping(context.Context) error                 { return s.pingErr }
func (s healthStore) SchemaVersion(context.Context) (int, error) { return 11, nil }
func (s healthStore) SummarizeCalls(context.Context, ethos.CallFilter) ([]ethos.CallSummary, error) {
	return []ethos.CallSummary{{Calls: 3, CostUSD: 0.25}, {Calls: 2, CostUSD: 0.5}}, nil
}

// TestDoctor: a provider the project uses is checked down to its endpoint,
// an unused one without a key is skipped, the sandbox is always checked,
// and no detail shows a credential.
func TestDoctor(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	cfg.Generate.Ideas.Model = "openai/gpt-4o" // openai used, its key unset
	env := map[string]string{
		"ANTHROPIC_API_KEY": "sk-ant-secret", "ANTHROPIC_BASE_URL": "https://user:hunter2@gateway.example/anthropic",
		"TOGETHER_API_KEY": "together-secret",
	}
	var pings int
	router := preflightRouter(nil, map[string]error{"together": errors.New("401 from https://api.example/v1?api_key=tk-123")}, &pings)
	router.Register("sandbox", func() (ethos.Completer, error) { return pingAdapter{pings: &pings}, nil })
	d := pipeline.Doctor{Providers: pipeline.Providers{Config: cfg, Getenv: func(k string) string { return env[k] }},
		Router: router, Store: healthStore{}, ConfigName: "ethos.yaml", StoreName: "/p/.ethos/ethos.db", Timeout: time.Second}
	checks, failed := d.Run(t.Context())
	byName := map[string]pipeline.Check{}
	for _, ck := range checks {
		byName[ck.Name] = ck
		for _, secret := range []string{"sk-ant-secret", "hunter2", "tk-123", "together-secret"} {
			if strings.Contains(ck.Detail, secret) {
				t.Errorf("%s shows a credential: %s", ck.Name, ck.Detail)
			}
		}
	}
	if checks[0].Name != "config" || checks[1].Name != "store" || !checks[1].OK ||
		!strings.Contains(checks[1].Detail, "schema v11, 5 calls recorded, $0.7500 spent") {
		t.Errorf("the first checks: %+v", checks[:2])
	}
	for _, tt := range []struct {
		name          string
		ok, skipped   bool
		detailHasText string
	}{
		{"provider anthropic", true, false, "used by eval.judge, generate.documents.model, generate.responses.model"},
		{"provider anthropic", true, false, "(from ANTHROPIC_BASE_URL)"},
		{"provider openai", false, false, "OPENAI_API_KEY"},
		{"provider together", false, false, "endpoint: 401"},
		{"provider openrouter", false, true, "not used: endpoint not checked"},
		{"provider sandbox", true, false, "in-process"},
	} {
		ck, ok := byName[tt.name]
		if !ok || ck.OK != tt.ok || ck.Skipped != tt.skipped || !strings.Contains(ck.Detail, tt.detailHasText) {
			t.Errorf("%s: %+v; want ok %v, skipped %v, detail with %q", tt.name, ck, tt.ok, tt.skipped, tt.detailHasText)
		}
	}
	if failed != 2 {
		t.Errorf("%d failed, want 2 (openai's key, together's endpoint)", failed)
	}

	d.Store = healthStore{pingErr: errors.New("database is locked")}
	if checks, _ := d.Run(t.Context()); checks[1].OK || checks[1].Detail != "database is locked" {
		t.Errorf("a store that does not answer: %+v", checks[1])
	}
}

// TestModelUsers: each provider is mapped to the config keys whose models
// use it; the review model only when the review asks a model.
func TestModelUsers(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	cfg.Generate.Review.LLM, cfg.Generate.Review.Model = true, "openai/gpt-4o"
	users := pipeline.ModelUsers(cfg)
	if got := strings.Join(users["openai"], ","); got != "generate.review.model" {
		t.Errorf("openai used by %s", got)
	}
	if got := strings.Join(users["together"], ","); got != "finetune.provider" {
		t.Errorf("together used by %s", got)
	}
	cfg.Generate.Review.LLM = false
	if _, ok := pipeline.ModelUsers(cfg)["openai"]; ok {
		t.Error("a review without a model uses openai")
	}
}

func TestWriteChecks(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	err := pipeline.WriteChecks(&b, []pipeline.Check{
		{Name: "config", OK: true, Detail: "ethos.yaml"},
		{Name: "provider anthropic", Detail: "ANTHROPIC_API_KEY is not set"},
		{Name: "provider openai", Skipped: true, Detail: "not used"},
	})
	want := "ok    config              ethos.yaml\n" +
		"FAIL  provider anthropic  ANTHROPIC_API_KEY is not set\n" +
		"-     provider openai     not used\n"
	if err != nil || b.String() != want {
		t.Errorf("got %v\n%s\nwant\n%s", err, b.String(), want)
	}
}
