package pipeline

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/config"
	"github.com/ethos-toolkit/ethos/finetune"
	"github.com/ethos-toolkit/ethos/llm"
)

// Preflight collects what would stop a command part-way, checked before
// its first paid call: a model whose provider has no key, a model with no
// price under a budget cap, an evaluation baseline that takes no chat
// calls, a provider that does not answer. Every problem is reported at
// once, each with the config key that fixes it, so that nothing is paid
// for a run that cannot finish.
type Preflight struct {
	config   *config.Config
	file     string
	router   *llm.Router
	pricer   llm.Pricer
	capped   bool            // a budget cap is set: every model needs a price
	seen     map[string]bool // model references already checked
	problems []string
}

// NewPreflight starts the checks of a command that calls models through
// router, priced by pricer, and may spend up to commandCap (--max-cost; 0
// for none) on top of cfg's budget. file names the configuration as the
// user knows it (e.g. "ethos.yaml"), in front of each problem's key.
func NewPreflight(cfg *config.Config, file string, router *llm.Router, pricer llm.Pricer, commandCap float64) *Preflight {
	return &Preflight{config: cfg, file: file, router: router, pricer: pricer,
		capped: commandCap > 0 || cfg.Budget.MaxUSD > 0, seen: map[string]bool{}}
}

// problemf records a problem that setting key in the config fixes.
func (pf *Preflight) problemf(key, format string, args ...any) {
	pf.problems = append(pf.problems, pf.file+":"+key+": "+fmt.Sprintf(format, args...))
}

// Model checks a model the command will call, chosen by the config key
// field: its provider is configured and has its key, and under a budget
// cap it has a price.
func (pf *Preflight) Model(field, ref string) {
	if ref == "" || pf.seen[ref] {
		return
	}
	pf.seen[ref] = true
	if err := pf.router.Check(ref); err != nil {
		pf.problemf(field, "%s: %v", ref, err)
	}
	pf.Price(field, ref, "")
}

// Price checks, under a budget cap, that ref has a price; why says what
// calls are priced as ref, when not ref's own.
func (pf *Preflight) Price(field, ref, why string) {
	if !pf.capped {
		return
	}
	if _, known := pf.pricer.Cost(ref, ethos.Usage{}); known {
		return
	}
	pf.problemf("prices", "no price for %s (%s%s), so the budget cap cannot be enforced: add it under prices:, or set budget.max_usd: 0 for no cap",
		ref, field, why)
}

// Generation checks the models a generation run calls.
func (pf *Preflight) Generation(g config.Generate) {
	pf.Model("generate.ideas.model", g.Ideas.Model)
	pf.Model("generate.documents.model", g.Documents.Model)
	pf.Model("generate.responses.model", g.Responses.Model)
	if g.Review.LLM {
		pf.Model("generate.review.model", g.Review.Model)
	}
	if pr := g.Pairs; pr != nil {
		pf.Model("generate.pairs.student", pr.Student)
		if pr.Confirm {
			pf.Model("generate.pairs.judge", pr.ConfirmJudge(g.Review.Model))
		}
	}
}

// FineTuneAndEval checks what the pipeline's fine-tune and evaluation
// steps will call: the fine-tune provider, the judge, the models that
// write the held-out prompts, the baseline, and the price the fine-tuned
// model's answers will be charged at (its base model's, unless prices:
// names it). A -Reference base model takes no chat calls, so it cannot be
// the baseline: one must be set.
func (pf *Preflight) FineTuneAndEval() {
	cfg := pf.config
	ft, e := cfg.FineTune, cfg.Eval
	if _, err := pf.router.Adapter(ft.Provider); err != nil {
		pf.problemf("finetune.provider", "%s: %v", ft.Provider, err)
	}
	pf.Model("eval.judge", e.Judge)
	pf.Model("generate.ideas.model", cfg.Generate.Ideas.Model)
	pf.Model("generate.documents.model", cfg.Generate.Documents.Model)
	base := ft.Provider + "/" + finetune.BaseModel(ft.Provider, ft.Model)
	switch {
	case e.Baseline != "":
		pf.Model("eval.baseline", e.Baseline)
	case strings.HasSuffix(base, "-Reference"):
		how := "set it to a chat model to compare the fine-tuned model with"
		if chat := strings.TrimSuffix(base, "-Reference") + "-Turbo"; hasPrice(cfg, chat) {
			how += ", e.g. " + chat
		}
		pf.problemf("eval.baseline", "unset, so the evaluation would compare the fine-tuned model with its base %s, a -Reference model that takes no chat calls; %s", base, how)
	default:
		pf.Model("finetune.model", base)
	}
	pf.Price("finetune.model", base, ": the fine-tuned model's answers are priced as its base")
}

// PingTimeout bounds each provider's endpoint check.
const PingTimeout = 15 * time.Second

// Pinger is implemented by adapters that can check their endpoint.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Err is every problem found, as one configuration error (exit 2). When
// the configuration itself is sound it also asks each provider the command
// will call to answer its free endpoint (the model list), so an unreachable
// base URL or a revoked key is found before the first paid call too.
func (pf *Preflight) Err(ctx context.Context) error {
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
func (pf *Preflight) pingProviders(ctx context.Context) {
	providers := map[string]bool{}
	for ref := range pf.seen {
		if provider, _, ok := ethos.SplitModel(ref); ok {
			providers[provider] = true
		}
	}
	for _, name := range slices.Sorted(maps.Keys(providers)) {
		adapter, err := pf.router.Adapter(name)
		if err != nil {
			continue // reported by Model already
		}
		pg, ok := adapter.(Pinger)
		if !ok {
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, PingTimeout)
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
