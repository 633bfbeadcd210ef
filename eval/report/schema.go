package report

import (
	"time"

	"github.com/ethos-toolkit/ethos"
)

// Kind is the Report.Kind of every report; it also lets a writer
// recognise a file it may replace.
const Kind = "ethos-eval-report"

// Alpha is the significance level of every test in a report.
const Alpha = 0.05

// Report is the statistics of one evaluation. Numbers are rounded to the
// precision shown (scores and shares to 4 decimals, ratings to 0.1,
// p-values to 3 significant digits).
type Report struct {
	Kind        string         `json:"kind"`
	EvalID      string         `json:"eval_id"`
	GeneratedAt *time.Time     `json:"generated_at,omitempty"`
	Spec        ethos.EvalSpec `json:"spec"`
	// Sandbox marks results of sandbox models or a sandbox judge: they
	// show the pipeline working, not how real models compare.
	Sandbox bool     `json:"sandbox"`
	Level   float64  `json:"level"`
	Rounds  int      `json:"bootstrap_rounds"`
	Seed    uint64   `json:"seed"`
	Method  []string `json:"method"` // how the numbers were computed, in words
	Counts  Counts   `json:"counts"`
	Traits  []string `json:"traits"` // in report order, TraitOverall first

	Pairs     []PairResult   `json:"pairs"`
	Judge     Diagnostics    `json:"judge"`
	Ratings   []TraitRatings `json:"ratings,omitempty"` // three or more models
	LegacyElo *LegacyElo     `json:"legacy_elo,omitempty"`
	Pointwise []TraitMean    `json:"pointwise,omitempty"`
	Samples   []Sample       `json:"samples,omitempty"`
	// Cost is what the evaluation's calls cost per stage and what the
	// providers' prompt caching saved; nil when the report was built
	// without the ledger's figures (Options.PromptCache).
	Cost *Cost `json:"cost,omitempty"`
}

// Cost is the cost section: per stage (answers, judgments, scores) and in
// all, the calls sent to a provider, their input tokens, how many of those
// the provider read from or wrote to its prompt cache, the cost and what
// it would have been with every cache token billed at the input price.
type Cost struct {
	Stages []StageCost `json:"stages"`
	Total  StageCost   `json:"total"`
}

// StageCost is one stage's row of the cost section (USD rounded to 6
// decimals, the share to 4).
type StageCost struct {
	Stage       string  `json:"stage"`
	Calls       int     `json:"calls"`
	InputTokens int     `json:"input_tokens"` // plain, cache reads and cache writes
	CacheRead   int     `json:"cache_read_tokens"`
	CacheWrite  int     `json:"cache_write_tokens"`
	Share       float64 `json:"cache_hit_share"` // cache reads ÷ input tokens
	CostUSD     float64 `json:"cost_usd"`
	UncachedUSD float64 `json:"uncached_usd"`
	// SavedUSD is UncachedUSD − CostUSD: negative when cache writes cost
	// more than the reads saved.
	SavedUSD float64 `json:"saved_usd"`
	// Unpriced counts calls whose model has no price, whose saving is
	// unknown and counted as none.
	Unpriced int `json:"unpriced_calls,omitempty"`
}

// Counts are the sizes of the evaluation's parts.
type Counts struct {
	Prompts        int `json:"prompts"`
	Answers        int `json:"answers"`
	AnswersFailed  int `json:"answers_failed"`
	Judgments      int `json:"judgments"`
	JudgmentsOK    int `json:"judgments_ok"`
	ParseFailures  int `json:"parse_failures"`
	CallFailures   int `json:"call_failures"`
	PointwiseOK    int `json:"pointwise_ok,omitempty"`
	PointwiseNotOK int `json:"pointwise_not_ok,omitempty"`
}

// Interval is a confidence interval.
type Interval struct {
	Low  float64 `json:"low"`
	High float64 `json:"high"`
}

// Contains reports whether x lies in the interval.
func (iv Interval) Contains(x float64) bool { return iv.Low <= x && x <= iv.High }

// PairResult is the comparison of Model against Baseline (the model
// listed earlier in the spec) on one trait.
type PairResult struct {
	Trait    string `json:"trait"`
	Model    string `json:"model"`
	Baseline string `json:"baseline"`

	// Battles: each judgment of status ok, in either order, from Model's
	// side. Strong counts the A>>B-type verdicts among them.
	Wins         int `json:"wins"`
	Losses       int `json:"losses"`
	Ties         int `json:"ties"`
	StrongWins   int `json:"strong_wins"`
	StrongLosses int `json:"strong_losses"`

	// Score is (wins + ½·ties)/battles; nil when there are no battles.
	Score     *float64  `json:"score,omitempty"`
	Bootstrap *Interval `json:"ci_bootstrap,omitempty"` // over prompts
	Wilson    *Interval `json:"ci_wilson,omitempty"`    // over battles, as if independent

	// Prompts: the unit of the sign test.
	Prompts      int     `json:"prompts"`
	PromptWins   int     `json:"prompt_wins"`
	PromptLosses int     `json:"prompt_losses"`
	PromptTies   int     `json:"prompt_ties"`
	P            float64 `json:"p"`      // exact two-sided sign test on prompts
	PHolm        float64 `json:"p_holm"` // adjusted across the pair's traits

	// Significant: Holm-adjusted p < 0.05 and the bootstrap interval
	// excludes ½.
	Significant bool `json:"significant"`
	// Needed is the number of prompts (ties included) that would detect
	// the observed preference among decisive prompts with power 0.8 at
	// α = 0.05; 0 when there is none to detect. NeededForEffect is the
	// same for Options.Effect.
	Needed          int     `json:"prompts_needed,omitempty"`
	Effect          float64 `json:"effect"`
	NeededForEffect int     `json:"prompts_needed_for_effect"`
	Verdict         string  `json:"verdict"`
}

// Diagnostics describe the judge: whether its verdicts survive swapping
// the order of the answers, which position it favours, what it failed to
// say, and how answer length relates to its choices.
type Diagnostics struct {
	Judge string `json:"judge"`
	// Units are (prompt, trait, pair, sample) with both orders judged ok;
	// Consistent of them name the same winner (or a tie) both times.
	Units       int      `json:"units"`
	Consistent  int      `json:"consistent"`
	Consistency *float64 `json:"consistency,omitempty"`
	// Of the decisive ok judgments, how many preferred the answer shown
	// first; with every pair judged in both orders an unbiased judge
	// prefers it half the time. P is the sign test of that half.
	FirstPreferred  int      `json:"first_preferred"`
	SecondPreferred int      `json:"second_preferred"`
	FirstShare      *float64 `json:"first_share,omitempty"`
	FirstP          float64  `json:"first_p"`

	ByTrait  []TraitJudge `json:"by_trait"`
	Lengths  []LengthDiff `json:"lengths"`
	Failures []Failure    `json:"failures,omitempty"`
	Warnings []string     `json:"warnings,omitempty"`
}

// TraitJudge is the judge's consistency and position preference on one
// trait.
type TraitJudge struct {
	Trait       string   `json:"trait"`
	Units       int      `json:"units"`
	Consistent  int      `json:"consistent"`
	Consistency *float64 `json:"consistency,omitempty"`
	FirstShare  *float64 `json:"first_share,omitempty"`
	Failures    int      `json:"failures"`
}

// LengthDiff compares the lengths of two models' answers to the same
// prompts (in characters) and how often the judge preferred the longer.
type LengthDiff struct {
	Model    string `json:"model"`
	Baseline string `json:"baseline"`
	Pairs    int    `json:"pairs"` // (prompt, sample) with both answers ok
	// MeanDiff is the mean of len(Model) − len(Baseline).
	MeanDiff float64 `json:"mean_diff"`
	// Of the decisive judgments (any trait) between answers of different
	// lengths, the share that preferred the longer one.
	LongerPreferred *float64 `json:"longer_preferred,omitempty"`
	Decisive        int      `json:"decisive"`
}

// Failure is a judgment that produced no verdict.
type Failure struct {
	PromptKey string               `json:"prompt_key"`
	Trait     string               `json:"trait"`
	First     string               `json:"first"`
	Second    string               `json:"second"`
	Sample    int                  `json:"sample"`
	Status    ethos.JudgmentStatus `json:"status"`
	Attempts  int                  `json:"attempts"`
	Error     string               `json:"error,omitempty"`
	Raw       string               `json:"raw,omitempty"` // truncated
}

// TraitRatings are the Bradley–Terry ratings of every model on one trait,
// with bootstrap intervals over prompts.
type TraitRatings struct {
	Trait   string        `json:"trait"`
	Ratings []ModelRating `json:"ratings,omitempty"`
	Rounds  int           `json:"rounds"`
	Dropped int           `json:"dropped"`
	// Note says why there are no ratings (no finite estimate exists).
	Note string `json:"note,omitempty"`
}

// ModelRating is one model's rating on the Elo scale (mean 1000).
type ModelRating struct {
	Model  string   `json:"model"`
	Rating float64  `json:"rating"`
	CI     Interval `json:"ci"`
	// Rank counts the models whose interval lies wholly above this one's,
	// plus one: a model is ranked below only those clearly better.
	Rank   int `json:"rank"`
	Wins   int `json:"wins"`
	Losses int `json:"losses"`
	Ties   int `json:"ties"`
}

// LegacyElo is the sequential Elo of earlier reports (init 1500, K 32,
// ties skipped) over the overall judgments in stored order. It depends on
// that order: OrderRange shows what other orders of the same battles give.
type LegacyElo struct {
	Trait   string         `json:"trait"`
	Battles int            `json:"battles"`
	Orders  int            `json:"orders"`
	Ratings []LegacyRating `json:"ratings"`
}

// LegacyRating is one model's sequential Elo and its range over random
// orders of the same battles.
type LegacyRating struct {
	Model      string   `json:"model"`
	Rating     float64  `json:"rating"`
	OrderRange Interval `json:"order_range"`
}

// TraitMean is the mean pointwise score (1–5) of one model on one trait.
type TraitMean struct {
	Trait  string   `json:"trait"`
	Model  string   `json:"model"`
	N      int      `json:"n"`
	Mean   float64  `json:"mean"`
	CI     Interval `json:"ci"` // normal interval, mean ± z·sd/√n
	Failed int      `json:"failed"`
}

// Sample is one prompt with both models' answers and the judge's verdicts
// and reasons in both orders.
type Sample struct {
	Model     string            `json:"model"`
	Baseline  string            `json:"baseline"`
	PromptKey string            `json:"prompt_key"`
	Why       string            `json:"why"` // why this prompt was picked
	Prompt    string            `json:"prompt"`
	Answers   map[string]string `json:"answers"`
	Judgments []SampleJudgment  `json:"judgments"`
}

// SampleJudgment is one verdict of a sample, in the judge's notation and
// as a winner.
type SampleJudgment struct {
	Trait   string `json:"trait"`
	First   string `json:"first"`
	Second  string `json:"second"`
	Verdict string `json:"verdict"` // e.g. "A>B", or the failure status
	Winner  string `json:"winner"`  // model name, "tie", or "" for no verdict
	Reason  string `json:"reason,omitempty"`
}
