package report

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/ethos-toolkit/ethos"
)

// syntheticEval is a fixed evaluation of three models on two traits and
// overall, 24 prompts, judged in both orders by a judge with a slight
// first-position bias. tuned is clearly warmer than base, about as
// curious; tuned-v2 sits in between. It has parse failures, a failed call,
// a failed answer, pointwise scores and model text that tries to be
// markup.
func syntheticEval() (ethos.EvalSpec, []ethos.EvalPrompt, []ethos.Answer, []ethos.Judgment, []ethos.TraitScore) {
	const evalID = "eval-20261130-120000-ab12"
	spec := ethos.EvalSpec{
		Models: []ethos.EvalModel{
			{Name: "base", Ref: "sandbox/base"},
			{Name: "tuned", Ref: "sandbox/ft-agora-1"},
			{Name: "tuned-v2", Ref: "sandbox/ft-agora-2"},
		},
		Judge: "sandbox/judge", Traits: []string{"curiosity", "warmth"},
		Prompts: 24, Seed: 7, SystemPrompt: true, Samples: 1, Pointwise: true, Sandbox: true,
	}
	// Latent trait levels per model.
	level := map[string]map[string]float64{
		"base":     {ethos.TraitOverall: 0, "curiosity": 0, "warmth": 0},
		"tuned":    {ethos.TraitOverall: 0.9, "curiosity": 0.15, "warmth": 1.4},
		"tuned-v2": {ethos.TraitOverall: 0.45, "curiosity": 0.1, "warmth": 0.7},
	}
	rng := rand.New(rand.NewPCG(2026, 11))
	created := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	var prompts []ethos.EvalPrompt
	var answers []ethos.Answer
	var judgments []ethos.Judgment
	var scores []ethos.TraitScore
	topics := []string{"a career change", "a failed experiment", "learning the cello", "a disagreement with a friend", "moving abroad", "a new manager"}
	for p := 1; p <= 24; p++ {
		key := fmt.Sprintf("p/%03d", p)
		prompts = append(prompts, ethos.EvalPrompt{EvalID: evalID, Key: key, Category: "advice", Source: "generated",
			Text: fmt.Sprintf("I keep thinking about %s. What would you do?", topics[p%len(topics)])})
		for _, m := range spec.Models {
			a := ethos.Answer{EvalID: evalID, PromptKey: key, Model: m.Name, Status: ethos.AnswerOK, CreatedAt: created}
			words := 40 + rng.IntN(30)
			if m.Name != "base" {
				words += 15 // the tuned models are a little longer
			}
			a.Text = fmt.Sprintf("[%s on %s] ", m.Name, key) + strings.Repeat("word ", words)
			switch {
			case p == 3 && m.Name == "tuned":
				a.Text = "<script>alert(\"gotcha\")</script> & | ~~~ **bold** " + a.Text
			case p == 5 && m.Name == "tuned-v2":
				a.Status, a.Text, a.Error = ethos.AnswerFailed, "", "transient: 503 from the provider, three attempts"
			}
			answers = append(answers, a)
		}
		for _, trait := range []string{ethos.TraitOverall, "curiosity", "warmth"} {
			for i := range spec.Models {
				for j := i + 1; j < len(spec.Models); j++ {
					x, y := spec.Models[i].Name, spec.Models[j].Name
					if p == 5 && (x == "tuned-v2" || y == "tuned-v2") {
						continue // a failed answer is never judged
					}
					for _, order := range [][2]string{{x, y}, {y, x}} {
						first, second := order[0], order[1]
						d := level[first][trait] - level[second][trait] + 0.25 + rng.NormFloat64()
						v := ethos.Tie
						switch {
						case d > 1.6:
							v = ethos.MuchBetter
						case d > 0.5:
							v = ethos.Better
						case d < -1.6:
							v = ethos.MuchWorse
						case d < -0.5:
							v = ethos.Worse
						}
						j := ethos.Judgment{EvalID: evalID, PromptKey: key, Trait: trait, First: first, Second: second,
							Verdict: v, Status: ethos.JudgmentOK, Attempts: 1, Judge: spec.Judge, CreatedAt: created,
							Reason: fmt.Sprintf("On %s, answer A scores %.1f and answer B %.1f.", trait, level[first][trait], level[second][trait])}
						switch {
						case p == 7 && trait == "warmth" && first == "tuned" && second == "base":
							j.Status, j.Verdict, j.Reason, j.Attempts = ethos.JudgmentParseFailed, 0, "", 3
							j.Raw = "I think <b>both</b> are lovely | [[A>?]]"
						case p == 11 && trait == ethos.TraitOverall && first == "base" && second == "tuned-v2":
							j.Status, j.Verdict, j.Reason, j.Attempts = ethos.JudgmentFailed, 0, "", 3
							j.Error = "overloaded: 529 after 3 attempts"
						}
						judgments = append(judgments, j)
					}
				}
			}
		}
		for _, m := range spec.Models {
			for _, trait := range spec.Traits {
				s := ethos.TraitScore{EvalID: evalID, PromptKey: key, Model: m.Name, Trait: trait, Status: ethos.JudgmentOK, CreatedAt: created}
				s.Score = min(5, max(1, 3+int(level[m.Name][trait]+rng.NormFloat64()*0.8+0.5)-1))
				if p == 9 && trait == "curiosity" && m.Name == "base" {
					s.Status, s.Score, s.Raw = ethos.JudgmentParseFailed, 0, "somewhere between 3 and 4"
				}
				scores = append(scores, s)
			}
		}
	}
	return spec, prompts, answers, judgments, scores
}

// syntheticPromptCache is the ledger's figures for syntheticEval, priced
// as the sandbox is (input $1, output $5, cache reads $0.10 and writes
// $1.25 per million tokens): answers too short to cache, judgments that
// write each pair's prefix once per order and read it for every other
// trait, and a score stage split over two runs' labels.
func syntheticPromptCache() []ethos.PromptCacheUse {
	cost := func(model string, u ethos.Usage) (float64, bool) {
		return (1*float64(u.In) + 5*float64(u.Out) + 0.1*float64(u.CacheRead) + 1.25*float64(u.CacheWrite)) / 1e6, true
	}
	uses := []ethos.PromptCacheUse{
		{Stage: "eval.answer", Provider: "sandbox", Model: "sandbox/base", Calls: 24, Usage: ethos.Usage{In: 16800, Out: 9600}},
		{Stage: "eval.answer", Provider: "sandbox", Model: "sandbox/ft-agora-1", Calls: 24, Usage: ethos.Usage{In: 16800, Out: 11400}},
		{Stage: "eval.judge", Provider: "sandbox", Model: "sandbox/judge", Calls: 426, Usage: ethos.Usage{In: 38340, Out: 25560, CacheRead: 402560, CacheWrite: 201280}},
		{Stage: "eval.score", Provider: "sandbox", Model: "sandbox/judge", Calls: 144, Usage: ethos.Usage{In: 11520, Out: 4320, CacheRead: 59400, CacheWrite: 79200}},
	}
	for i := range uses {
		uses[i].CostUSD, _ = cost(uses[i].Model, uses[i].Usage)
	}
	ethos.PricePromptCache(uses, cost)
	return uses
}
