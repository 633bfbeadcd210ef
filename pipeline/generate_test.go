package pipeline_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/anthropic"
	"github.com/ethos-toolkit/ethos/config"
	"github.com/ethos-toolkit/ethos/eval"
	"github.com/ethos-toolkit/ethos/finetune"
	"github.com/ethos-toolkit/ethos/generate"
	"github.com/ethos-toolkit/ethos/jobs"
	"github.com/ethos-toolkit/ethos/llm"
	"github.com/ethos-toolkit/ethos/pipeline"
	"github.com/ethos-toolkit/ethos/sandbox"
	"github.com/ethos-toolkit/ethos/together"
)

// recorder is an Observer that keeps what it is told.
type recorder struct {
	mu      sync.Mutex
	lines   []string
	started []string // the generation runs whose drive started
	updates int
}

func (r *recorder) Logf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, fmt.Sprintf(format, args...))
}

func (r *recorder) Generating(id string, target int, working bool) (func(generate.Progress), func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.started = append(r.started, fmt.Sprintf("%s %d %v", id, target, working))
	return func(generate.Progress) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.updates++
	}, func() {}
}

func (r *recorder) Evaluating(string) func(eval.Progress)   { return func(eval.Progress) {} }
func (r *recorder) Training(string, finetune.Update, error) {}
func (r *recorder) said(want string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range r.lines {
		if strings.Contains(l, want) {
			return true
		}
	}
	return false
}

// sandboxDeps are the Deps of a project whose every model is a sandbox
// model, served by a sandbox on a loopback port, over a fresh store.
func sandboxDeps(t *testing.T, obs pipeline.Observer) (pipeline.Deps, *sandbox.Running) {
	t.Helper()
	sb, err := sandbox.Start(t.Context(), "127.0.0.1:0", sandbox.Options{Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	cfg := config.Offline()
	store := openStore(t)
	router := llm.NewRouter()
	router.Register("sandbox", func() (ethos.Completer, error) {
		return anthropic.New(anthropic.Config{Provider: "sandbox", BaseURL: sb.URL, APIKey: "sandbox"})
	})
	pricer := pipeline.Pricer{Config: cfg, Models: store}
	providers := pipeline.Providers{Config: cfg, Getenv: func(string) string { return "" }}
	dir := t.TempDir()
	chain := func(alias bool) *llm.Chain {
		cc := llm.ChainConfig{Store: store, Router: router, Limits: providers.Limits, Pricer: pricer}
		if alias {
			cc.Resolve = llm.CallNames(store)
		}
		return llm.NewChain(cc)
	}
	fineTune := &finetune.Service{Store: store, ProjectDir: dir, Backend: func(string) (ethos.FineTuneBackend, error) {
		return together.New(together.Options{BaseURL: sb.URL + "/v1", APIKey: "sandbox", Provider: "sandbox"})
	}}
	return pipeline.Deps{
		Config: cfg, ConfigFile: "ethos.yaml", Dir: dir, WorkDir: dir, Store: store, StoreName: "test.db",
		Jobs:   jobs.SQLite(store.SQL()),
		Lock:   func(context.Context, string) (func(), error) { return func() {}, nil },
		Router: router, Pricer: pricer,
		Chain:      func(context.Context, float64) (ethos.Completer, error) { return chain(true), nil },
		Background: func(context.Context) func() { return func() {} },
		FineTune:   fineTune,
		Serving: func(model ethos.Model, maxCost float64, logf func(string, ...any)) pipeline.Serving {
			probe := func(ctx context.Context, ref string) error {
				_, err := chain(false).Complete(ctx, ethos.Request{Model: ref, MaxTokens: 1, Messages: []ethos.Message{{Role: ethos.RoleUser, Content: "Hi"}}})
				return err
			}
			return pipeline.Serving{Service: fineTune, Options: pipeline.DeployOptions(cfg.FineTune, model.Provider, "", 0, 0),
				Probe:  func(context.Context) (func(context.Context, string) error, error) { return probe, nil },
				Budget: pipeline.EndpointBudget{MaxUSD: cfg.Budget.MaxUSD, CommandMaxUSD: maxCost, Spent: func(ctx context.Context) (float64, error) { return pipeline.Spent(ctx, store, time.Now()) }},
				Logf:   logf}
		},
		Observer: obs,
	}, sb
}

// TestGenerateResumes: pipeline.Generate, used without the CLI, writes a
// run's files and says what it does through its Observer; run again it
// finds them in place, and with a file gone writes them again from the
// store, neither time calling a model.
func TestGenerateResumes(t *testing.T) {
	t.Parallel()
	obs := &recorder{}
	d, sb := sandboxDeps(t, obs)
	settings, err := pipeline.GenerateSettings(d.Config, d.Dir, pipeline.GenerateInputs{Examples: 6, WorkDir: d.WorkDir})
	if err != nil {
		t.Fatal(err)
	}
	meta, err := pipeline.Generate(t.Context(), d, settings, pipeline.GenerateOptions{Workers: 4})
	if err != nil {
		t.Fatal(err)
	}
	if meta.Examples != 6 || meta.Run != settings.RunID() {
		t.Fatalf("wrote %d examples of run %s, want 6 of %s", meta.Examples, meta.Run, settings.RunID())
	}
	if want := settings.RunID() + " 6 true"; len(obs.started) != 1 || obs.started[0] != want || obs.updates == 0 {
		t.Errorf("observer told of drives %q with %d updates, want [%s] with some", obs.started, obs.updates, want)
	}
	if !obs.said(fmt.Sprintf("run %s: 6 examples for", settings.RunID())) {
		t.Errorf("no start line: %q", obs.lines)
	}
	calls := sb.Server.Stats().Requests

	again, err := pipeline.Generate(t.Context(), d, settings, pipeline.GenerateOptions{Workers: 4})
	if err != nil || again.Run != meta.Run || !obs.said("its files are in place") {
		t.Errorf("run again: %+v, %v; said %q", again, err, obs.lines)
	}
	if err := os.Remove(settings.Outputs().Dataset); err != nil {
		t.Fatal(err)
	}
	rewritten, err := pipeline.Generate(t.Context(), d, settings, pipeline.GenerateOptions{Workers: 4})
	if err != nil || rewritten.Examples != 6 || !obs.said("writing its files again from the store") {
		t.Errorf("with the dataset gone: %+v, %v; said %q", rewritten, err, obs.lines)
	}
	if _, err := os.Stat(settings.Outputs().Dataset); err != nil {
		t.Errorf("the dataset was not written again: %v", err)
	}
	if n := sb.Server.Stats().Requests; n != calls {
		t.Errorf("the runs after the first made %d requests, want none", n-calls)
	}
}
