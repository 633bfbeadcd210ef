// Package report turns an evaluation's prompts, answers and judgments into
// its statistics — per trait and pair of models: wins, losses and ties,
// the score with confidence intervals, the exact sign test with Holm's
// correction, a plain-language verdict and the prompts a clear answer
// would need; the judge's diagnostics; Bradley–Terry ratings; the legacy
// sequential Elo — and renders them as Markdown, self-contained HTML or
// JSON.
//
// How the two orders combine. Every pair of answers is judged twice, once
// in each order. Each order counts as one battle in the wins, losses and
// ties and in the score (a tie counting ½); the verdict's strength (A>>B
// against A>B) is not weighted. The two orders of a prompt are not
// independent, so the prompt is the unit of inference: the bootstrap
// resamples prompts (both orders, every sample), and the sign test counts
// prompts — a prompt is won when its judgments together give the model
// more than half the points, lost when less, tied when exactly half. The
// Wilson interval, shown for comparison, treats battles as independent and
// is therefore narrower than it should be.
package report

import (
	"fmt"
	"math"
	"time"

	"github.com/ethos-toolkit/ethos"
)

// Options tune a report. The zero value gives the defaults.
type Options struct {
	// EvalID names the evaluation; empty means the prompts' EvalID.
	EvalID string
	// Rounds of the percentile bootstrap; zero means 1000.
	Rounds int
	// Seed of the bootstrap and of the random orders of the legacy Elo.
	Seed uint64
	// Effect is the win rate among decisive prompts that the sample-size
	// advice is given for besides the observed one; zero means 0.6.
	Effect float64
	// Examples is how many sample prompts to show per pair of models;
	// zero means 3, negative none.
	Examples int
	// MaxText caps the characters of each model text (answers, reasons)
	// shown in samples and failure lists; zero means 1200.
	MaxText int
	// Now dates the report; the zero time leaves the date out.
	Now time.Time
	// PromptCache is the evaluation's calls as the ledger sums them
	// (ethos.Store.PromptCaching, priced by ethos.PricePromptCache); it
	// becomes the cost section. Nil leaves the section out.
	PromptCache []ethos.PromptCacheUse
}

func (o Options) withDefaults() Options {
	if o.Rounds == 0 {
		o.Rounds = 1000
	}
	if o.Effect == 0 {
		o.Effect = 0.6
	}
	if o.Examples == 0 {
		o.Examples = 3
	}
	if o.MaxText == 0 {
		o.MaxText = 1200
	}
	return o
}

// Build computes the report of an evaluation from what the store holds.
// Every judgment and answer must name a model of spec.
func Build(spec ethos.EvalSpec, prompts []ethos.EvalPrompt, answers []ethos.Answer, judgments []ethos.Judgment, scores []ethos.TraitScore, opts Options) (*Report, error) {
	opts = opts.withDefaults()
	b, err := newBuilder(spec, prompts, answers, judgments, scores, opts)
	if err != nil {
		return nil, err
	}
	r := &Report{
		Kind: Kind, EvalID: b.evalID, Spec: spec, Sandbox: spec.Sandbox,
		Level: 0.95, Rounds: opts.Rounds, Seed: opts.Seed, Traits: b.traits,
		Method: method(opts),
	}
	if !opts.Now.IsZero() {
		now := opts.Now.UTC()
		r.GeneratedAt = &now
	}
	r.Counts = b.counts()
	if r.Pairs, err = b.pairs(); err != nil {
		return nil, err
	}
	r.Judge = b.diagnostics()
	if len(spec.Models) >= 3 {
		if r.Ratings, err = b.ratings(); err != nil {
			return nil, err
		}
	}
	r.LegacyElo = b.legacyElo()
	r.Pointwise = b.pointwise()
	r.Samples = b.samples()
	r.Cost = costSection(opts.PromptCache)
	return r, nil
}

// costSection sums the ledger's figures per stage; nil gives nil.
func costSection(uses []ethos.PromptCacheUse) *Cost {
	if uses == nil {
		return nil
	}
	c := &Cost{Stages: []StageCost{}}
	var total ethos.PromptCacheUse
	for _, u := range ethos.PromptCacheByStage(uses) {
		c.Stages = append(c.Stages, stageCost(u.Stage, u))
		total.Add(u)
	}
	c.Total = stageCost("total", total)
	return c
}

func stageCost(stage string, u ethos.PromptCacheUse) StageCost {
	usd := func(x float64) float64 { return math.Round(x*1e6) / 1e6 }
	return StageCost{
		Stage: stage, Calls: u.Calls, InputTokens: u.Input(), CacheRead: u.Usage.CacheRead, CacheWrite: u.Usage.CacheWrite,
		Share: math.Round(u.Share()*1e4) / 1e4, CostUSD: usd(u.CostUSD), UncachedUSD: usd(u.UncachedUSD), SavedUSD: usd(u.SavedUSD()),
		Unpriced: u.Unpriced,
	}
}

func method(o Options) []string {
	return []string{
		"Every pair of answers is judged in both orders. Each order counts as one battle in W/L/T and in the score; a tie counts ½; strong verdicts (A>>B) weigh the same as plain ones.",
		fmt.Sprintf("The 95%% CI is a percentile bootstrap over prompts (%d rounds, seed %d): both orders of a prompt are resampled together, because they are not independent.", o.Rounds, o.Seed),
		"The Wilson interval treats every battle as independent; it is shown for comparison and is narrower than it should be.",
		"The sign test counts prompts: a prompt is won when its judgments give the model more than half the points, lost when less, tied when exactly half. p is exact and two-sided; Holm's correction adjusts it across the traits of each pair of models.",
		fmt.Sprintf("A difference is called only when the Holm-adjusted p is below %.2f and the bootstrap CI excludes 0.5. Prompts needed: normal approximation for the sign test at α = 0.05 with power 0.8, inflated by the observed share of tied prompts.", Alpha),
		"Judge consistency: the share of prompt/trait/pair units whose two orders name the same winner (or both a tie). First-position preference: the share of decisive verdicts that chose the answer shown first; 0.5 is unbiased.",
	}
}
