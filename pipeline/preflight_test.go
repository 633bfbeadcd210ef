package pipeline_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/config"
	"github.com/ethos-toolkit/ethos/llm"
	"github.com/ethos-toolkit/ethos/pipeline"
)

// pingAdapter is an adapter that answers no calls and its model list as
// told, counting the pings.
type pingAdapter struct {
	err   error
	pings *int
}

func (a pingAdapter) Complete(context.Context, ethos.Request) (ethos.Response, error) {
	return ethos.Response{}, errors.New("preflight makes no calls")
}

func (a pingAdapter) Ping(context.Context) error {
	*a.pings++
	return a.err
}

// preflightRouter routes to an adapter per provider: a provider mapped to
// a build error has no adapter (a missing key), any other answers its
// pings with the error it is mapped to.
func preflightRouter(buildErr, pingErr map[string]error, pings *int) *llm.Router {
	r := llm.NewRouter()
	for _, name := range []string{"anthropic", "together", "openai"} {
		r.Register(name, func() (ethos.Completer, error) {
			if err := buildErr[name]; err != nil {
				return nil, err
			}
			return pingAdapter{err: pingErr[name], pings: pings}, nil
		})
	}
	return r
}

// problems are the lines of a preflight error after its first.
func problems(err error) []string {
	if err == nil {
		return nil
	}
	lines := strings.Split(err.Error(), "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return lines[1:]
}

// TestPreflightFineTuneAndEval: the default configuration cannot finish
// ethos run — its base is a -Reference model with no baseline set and no
// price under the budget cap — and every problem is named at once, before
// any provider is asked anything.
func TestPreflightFineTuneAndEval(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	pricer := pipeline.Pricer{Config: cfg, Models: registry{}}
	var pings int
	pf := pipeline.NewPreflight(cfg, "ethos.yaml", preflightRouter(nil, nil, &pings), pricer, 0)
	pf.Generation(cfg.Generate)
	pf.FineTuneAndEval()
	err := pf.Err(t.Context())
	if ethos.KindOf(err) != ethos.Config || !strings.Contains(err.Error(), "nothing was spent") {
		t.Fatalf("err %v, want a Config error that says nothing was spent", err)
	}
	const base = "together/meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"
	want := []string{
		"ethos.yaml:eval.baseline: unset, so the evaluation would compare the fine-tuned model with its base " + base +
			", a -Reference model that takes no chat calls; set it to a chat model to compare the fine-tuned model with, e.g. together/meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo",
		"ethos.yaml:prices: no price for " + base + " (finetune.model: the fine-tuned model's answers are priced as its base), so the budget cap cannot be enforced: add it under prices:, or set budget.max_usd: 0 for no cap",
	}
	if diff := cmp.Diff(want, problems(err)); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	if pings != 0 {
		t.Errorf("%d pings of a configuration that cannot finish; want none", pings)
	}

	// With a baseline and no cap, the same configuration can finish.
	cfg.Eval.Baseline, cfg.Budget.MaxUSD = "together/meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo", 0
	pf = pipeline.NewPreflight(cfg, "ethos.yaml", preflightRouter(nil, nil, &pings), pricer, 0)
	pf.Generation(cfg.Generate)
	pf.FineTuneAndEval()
	if err := pf.Err(t.Context()); err != nil {
		t.Fatal(err)
	}
	if pings != 2 {
		t.Errorf("%d pings, want one per provider called (anthropic, together)", pings)
	}
}

// TestPreflightModels: a provider that cannot be built, a model without a
// price under a cap (the command's or the project's), and a provider that
// does not answer are each a problem naming the key that fixes it.
func TestPreflightModels(t *testing.T) {
	t.Parallel()
	noKey := ethos.Errorf(ethos.Config, "provider openai needs an API key: set OPENAI_API_KEY")
	for _, tt := range []struct {
		name       string
		maxUSD     float64
		commandCap float64
		buildErr   map[string]error
		pingErr    map[string]error
		model      string
		want       []string
	}{
		{name: "priced", maxUSD: 25, model: "anthropic/claude-haiku-4-5"},
		{name: "unpriced without a cap", model: "anthropic/claude-new"},
		{name: "unpriced under the project cap", maxUSD: 25, model: "anthropic/claude-new", want: []string{
			"ethos.yaml:prices: no price for anthropic/claude-new (eval.judge), so the budget cap cannot be enforced: add it under prices:, or set budget.max_usd: 0 for no cap"}},
		{name: "unpriced under the command cap", commandCap: 1, model: "anthropic/claude-new", want: []string{
			"ethos.yaml:prices: no price for anthropic/claude-new (eval.judge), so the budget cap cannot be enforced: add it under prices:, or set budget.max_usd: 0 for no cap"}},
		{name: "no key", model: "openai/gpt-4o", buildErr: map[string]error{"openai": noKey}, want: []string{
			"ethos.yaml:eval.judge: openai/gpt-4o: " + noKey.Error()}},
		{name: "unknown provider", model: "nowhere/model", want: []string{
			`ethos.yaml:eval.judge: nowhere/model: unknown provider "nowhere"; configured: anthropic, openai, together`}},
		{name: "does not answer", model: "openai/gpt-4o", pingErr: map[string]error{"openai": errors.New("connection refused")}, want: []string{
			"ethos.yaml:providers.openai: the provider does not answer its model list (connection refused); check its base URL and key (ethos doctor)"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := config.Default()
			cfg.Budget.MaxUSD = tt.maxUSD
			var pings int
			pf := pipeline.NewPreflight(cfg, "ethos.yaml", preflightRouter(tt.buildErr, tt.pingErr, &pings),
				pipeline.Pricer{Config: cfg, Models: registry{}}, tt.commandCap)
			pf.Model("eval.judge", tt.model)
			pf.Model("eval.baseline", tt.model) // checked once
			err := pf.Err(t.Context())
			if len(tt.want) > 0 && ethos.KindOf(err) != ethos.Config {
				t.Fatalf("err %v, want a Config error", err)
			}
			if diff := cmp.Diff(tt.want, problems(err)); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}
