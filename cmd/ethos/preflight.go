package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/config"
	"github.com/ethos-toolkit/ethos/finetune"
)

// preflight collects what would stop a command part-way, checked before
// its first paid call: a model whose provider has no key, a model with no
// price under a budget cap, an evaluation baseline that takes no chat
// calls. Every problem is reported at once, each with the config key that
// fixes it, so that nothing is paid for a run that cannot finish.
type preflight struct {
	p        *project
	capped   bool            // a budget cap is set: every model needs a price
	seen     map[string]bool // model references already checked
	problems []string
}

// newPreflight starts the checks of a command that may spend up to
// commandCap (--max-cost; 0 for none) on top of the project's budget.
func (p *project) newPreflight(commandCap float64) *preflight {
	return &preflight{p: p, capped: commandCap > 0 || p.cfg.Budget.MaxUSD > 0, seen: map[string]bool{}}
}

// problemf records a problem that setting key in the config fixes.
func (pf *preflight) problemf(key, format string, args ...any) {
	pf.problems = append(pf.problems, pf.file()+":"+key+": "+fmt.Sprintf(format, args...))
}

// file names the project's config as the user knows it.
func (pf *preflight) file() string {
	if pf.p.cfg.Path == "" {
		return "ethos.yaml"
	}
	return rel(pf.p.dir, pf.p.cfg.Path)
}

// model checks a model the command will call, chosen by the config key
// field: its provider is configured and has its key, and under a budget
// cap it has a price.
func (pf *preflight) model(field, ref string) {
	if ref == "" || pf.seen[ref] {
		return
	}
	pf.seen[ref] = true
	if err := pf.p.Router().Check(ref); err != nil {
		pf.problemf(field, "%s: %v", ref, err)
	}
	pf.price(field, ref, "")
}

// price checks, under a budget cap, that ref has a price; why says what
// calls are priced as ref, when not ref's own.
func (pf *preflight) price(field, ref, why string) {
	if !pf.capped {
		return
	}
	if _, known := pf.p.pricer().Cost(ref, ethos.Usage{}); known {
		return
	}
	pf.problemf("prices", "no price for %s (%s%s), so the budget cap cannot be enforced: add it under prices:, or set budget.max_usd: 0 for no cap",
		ref, field, why)
}

// generation checks the models a generation run calls.
func (pf *preflight) generation(g config.Generate) {
	pf.model("generate.ideas.model", g.Ideas.Model)
	pf.model("generate.documents.model", g.Documents.Model)
	pf.model("generate.responses.model", g.Responses.Model)
	if g.Review.LLM {
		pf.model("generate.review.model", g.Review.Model)
	}
	if pr := g.Pairs; pr != nil {
		pf.model("generate.pairs.student", pr.Student)
		if pr.Confirm {
			pf.model("generate.pairs.judge", pr.ConfirmJudge(g.Review.Model))
		}
	}
}

// pipelineEval checks what ethos run's fine-tune and evaluation steps
// will call: the fine-tune provider, the judge, the models that write the
// held-out prompts, the baseline, and the price the fine-tuned model's
// answers will be charged at (its base model's, unless prices: names it).
func (pf *preflight) pipelineEval() {
	cfg := pf.p.cfg
	ft, e := cfg.FineTune, cfg.Eval
	if _, err := pf.p.Router().Adapter(ft.Provider); err != nil {
		pf.problemf("finetune.provider", "%s: %v", ft.Provider, err)
	}
	pf.model("eval.judge", e.Judge)
	pf.model("generate.ideas.model", cfg.Generate.Ideas.Model)
	pf.model("generate.documents.model", cfg.Generate.Documents.Model)
	base := ft.Provider + "/" + finetune.BaseModel(ft.Provider, ft.Model)
	switch {
	case e.Baseline != "":
		pf.model("eval.baseline", e.Baseline)
	case strings.HasSuffix(base, "-Reference"):
		how := "set it to a chat model to compare the fine-tuned model with"
		if chat := strings.TrimSuffix(base, "-Reference") + "-Turbo"; hasPrice(cfg, chat) {
			how += ", e.g. " + chat
		}
		pf.problemf("eval.baseline", "unset, so the evaluation would compare the fine-tuned model with its base %s, a -Reference model that takes no chat calls; %s", base, how)
	default:
		pf.model("finetune.model", base)
	}
	pf.price("finetune.model", base, ": the fine-tuned model's answers are priced as its base")
}

// pingTimeout bounds each provider's endpoint check.
const pingTimeout = 15 * time.Second

// err is every problem found, as one configuration error (exit 2). When
// the configuration itself is sound it also asks each provider the command
// will call to answer its free endpoint (the model list), so an unreachable
// base URL or a revoked key is found before the first paid call too.
func (pf *preflight) err(ctx context.Context) error {
	if len(pf.problems) == 0 {
		pf.pingProviders(ctx)
	}
	if len(pf.problems) == 0 {
		return nil
	}
	return ethos.Errorf(ethos.Config, "this run could not finish, so it did not start (nothing was spent); fix these first:\n  %s",
		strings.Join(pf.problems, "\n  "))
}

// pingProviders checks that every provider of the models seen answers.
func (pf *preflight) pingProviders(ctx context.Context) {
	providers := map[string]bool{}
	for ref := range pf.seen {
		if provider, _, ok := ethos.SplitModel(ref); ok {
			providers[provider] = true
		}
	}
	for _, name := range sortedKeys(providers) {
		adapter, err := pf.p.Router().Adapter(name)
		if err != nil {
			continue // reported by model already
		}
		pg, ok := adapter.(pinger)
		if !ok {
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, pingTimeout)
		err = pg.Ping(pctx)
		cancel()
		if err != nil {
			pf.problemf("providers."+name, "the provider does not answer its model list (%v); check its base URL and key (ethos doctor)", err)
		}
	}
}

func hasPrice(cfg *config.Config, ref string) bool {
	_, ok := cfg.PriceOf(ref)
	return ok
}
