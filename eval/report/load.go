package report

import (
	"context"
	"encoding/json"

	"github.com/ethos-toolkit/ethos"
)

// Store is what Load reads: the evaluation's run, its prompts, answers,
// judgments and scores, and what its calls saved by prompt caching.
type Store interface {
	Run(ctx context.Context, id string) (ethos.Run, error)
	Runs(ctx context.Context, kind string, limit int) ([]ethos.Run, error)
	EvalPrompts(ctx context.Context, evalID string) ([]ethos.EvalPrompt, error)
	Answers(ctx context.Context, evalID string) ([]ethos.Answer, error)
	Judgments(ctx context.Context, evalID string) ([]ethos.Judgment, error)
	TraitScores(ctx context.Context, evalID string) ([]ethos.TraitScore, error)
	PromptCaching(ctx context.Context, f ethos.CallFilter) ([]ethos.PromptCacheUse, error)
}

// LoadOptions are the Options of the report Load builds (its EvalID and
// PromptCache are Load's to set), with what Load needs besides.
type LoadOptions struct {
	Options
	// Cost prices a model's usage, for what prompt caching saved; nil
	// leaves the savings unpriced.
	Cost func(model string, u ethos.Usage) (float64, bool)
	// Where names the store (its path or URL) in the error that says it
	// holds no evaluation.
	Where string
}

// Load reads the evaluation id from store — the latest evaluation when id
// is empty — and builds its report, with the cost section: what the
// evaluation's calls saved per stage by the providers' prompt caching.
func Load(ctx context.Context, store Store, id string, opts LoadOptions) (*Report, error) {
	run, err := evalRun(ctx, store, id, opts.Where)
	if err != nil {
		return nil, err
	}
	var spec ethos.EvalSpec
	if err := json.Unmarshal(run.Params, &spec); err != nil {
		return nil, ethos.Errorf(ethos.Internal, "evaluation %s: its stored parameters are not an eval spec: %w", run.ID, err)
	}
	prompts, err := store.EvalPrompts(ctx, run.ID)
	if err != nil {
		return nil, err
	}
	answers, err := store.Answers(ctx, run.ID)
	if err != nil {
		return nil, err
	}
	judgments, err := store.Judgments(ctx, run.ID)
	if err != nil {
		return nil, err
	}
	scores, err := store.TraitScores(ctx, run.ID)
	if err != nil {
		return nil, err
	}
	caching, err := store.PromptCaching(ctx, ethos.CallFilter{RunID: run.ID})
	if err != nil {
		return nil, err
	}
	if caching == nil {
		caching = []ethos.PromptCacheUse{}
	}
	cost := opts.Cost
	if cost == nil {
		// Without prices the savings are shown as unpriced, not as zero.
		cost = func(string, ethos.Usage) (float64, bool) { return 0, false }
	}
	ethos.PricePromptCache(caching, cost)
	o := opts.Options
	o.EvalID, o.PromptCache = run.ID, caching
	return Build(spec, prompts, answers, judgments, scores, o)
}

// evalRun is the evaluation run id, or the latest one when id is empty.
func evalRun(ctx context.Context, store Store, id, where string) (ethos.Run, error) {
	if id == "" {
		runs, err := store.Runs(ctx, ethos.RunKindEval, 1)
		if err != nil {
			return ethos.Run{}, err
		}
		if len(runs) == 0 {
			return ethos.Run{}, ethos.Errorf(ethos.NotFound, "no evaluation in the store %s; run \"ethos eval run\" first", where)
		}
		return runs[0], nil
	}
	run, err := store.Run(ctx, id)
	if err != nil {
		return ethos.Run{}, err
	}
	if run.Kind != ethos.RunKindEval {
		return ethos.Run{}, ethos.Errorf(ethos.Invalid, "run %s is a %s run, not an evaluation", id, run.Kind)
	}
	return run, nil
}
