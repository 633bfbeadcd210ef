package pipeline_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/config"
	"github.com/ethos-toolkit/ethos/llm"
	"github.com/ethos-toolkit/ethos/pipeline"
	"github.com/ethos-toolkit/ethos/sqlite"
)

// openStore opens a fresh SQLite store for the test.
func openStore(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "ethos.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// registry is a model registry in memory.
type registry []ethos.Model

func (r registry) Model(_ context.Context, name string) (ethos.Model, error) {
	for _, m := range r {
		if m.Name == name {
			return m, nil
		}
	}
	return ethos.Model{}, ethos.Errorf(ethos.NotFound, "model %s", name)
}

func (r registry) Models(context.Context) ([]ethos.Model, error) { return r, nil }

func TestPricer(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	cfg.Prices["together/acme/priced-tuned"] = config.Price{Input: 9, Output: 9}
	cfg.Prices["together/base-model"] = config.Price{Input: 1, Output: 2, Batch: 0.25}
	models := registry{
		{Name: "together/acme/tuned", Provider: "together", BaseModel: "base-model", Serving: ethos.ServingServerless},
		{Name: "together/acme/priced-tuned", Provider: "together", BaseModel: "base-model"},
		{Name: "together/acme/dedicated", CallAs: "together/acme/endpoint-1", Provider: "together", BaseModel: "unpriced-base",
			Serving: ethos.ServingDedicated},
		{Name: "together/acme/orphan", Provider: "together", BaseModel: "unpriced-base"},
	}
	p := pipeline.Pricer{Config: cfg, Models: models}
	u := ethos.Usage{In: 1_000_000, Out: 1_000_000}
	type priced struct {
		USD   float64
		Known bool
		Batch float64
	}
	for _, tt := range []struct {
		model string
		want  priced
	}{
		{"together/base-model", priced{3, true, 0.25}},
		// A fine-tuned model without a price of its own costs its base's,
		// and is billed by batch as its base is.
		{"together/acme/tuned", priced{3, true, 0.25}},
		// An entry under prices: overrides the base's price.
		{"together/acme/priced-tuned", priced{18, true, 0.25}},
		// Served on a dedicated endpoint: billed by the hour, not per
		// token, by either of its names.
		{"together/acme/dedicated", priced{0, true, 0.5}},
		{"together/acme/endpoint-1", priced{0, true, 0.5}},
		// Neither priced nor with a priced base: unknown.
		{"together/acme/orphan", priced{0, false, 0.5}},
		{"together/acme/unregistered", priced{0, false, 0.5}},
		{"nowhere/model", priced{0, false, 1}},
	} {
		usd, known := p.Cost(tt.model, u)
		got := priced{usd, known, p.BatchMultiplier(tt.model)}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.model, diff)
		}
	}
}

func TestProviders(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	anthropic := cfg.Providers["anthropic"]
	anthropic.RPM, anthropic.TPM, anthropic.MaxConcurrency = 50, 40000, 4
	cfg.Providers["anthropic"] = anthropic
	env := map[string]string{"ANTHROPIC_API_KEY": "sk-one"}
	ps := pipeline.Providers{Config: cfg, Getenv: func(k string) string { return env[k] }}
	if got := ps.Limits("anthropic"); got.RPM != 50 || got.TPM != 40000 || got.MaxConcurrency != 4 {
		t.Errorf("anthropic's limits: %+v", got)
	}
	if got := ps.Limits("nowhere"); got != (llm.Limits{MaxConcurrency: 1}) {
		t.Errorf("an unknown provider's limits: %+v, want one call at a time", got)
	}
	one := ps.ShareKey("anthropic")
	env["ANTHROPIC_API_KEY"] = "sk-two"
	if two := ps.ShareKey("anthropic"); two == one || two == "anthropic" {
		t.Errorf("share keys of two API keys: %q and %q, want two different hashed keys", one, two)
	}
	if got := ps.ShareKey("nowhere"); got != "nowhere" {
		t.Errorf("an unknown provider shares under %q, want its name", got)
	}
}
