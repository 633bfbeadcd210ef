package eval_test

import (
	"context"
	"testing"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/anthropic"
	"github.com/ethos-toolkit/ethos/eval"
	"github.com/ethos-toolkit/ethos/sandbox"
)

// BenchmarkEvalPromptCache runs the same evaluation (30 held-out prompts,
// five judged traits — four of the character's and overall — in both
// orders, base against tuned) on the
// sandbox posing as Anthropic, once with the cache marks the stages set
// and once with every mark removed before the adapter, and reports per
// stage the share of input tokens read from the prompt cache and the
// judge stage's input cost at the sandbox's price (Anthropic's ratios:
// reads 0.1×, writes 1.25× input).
//
//	go test -run '^$' -bench EvalPromptCache -benchtime 1x ./eval/
func BenchmarkEvalPromptCache(b *testing.B) {
	for _, mode := range []string{"uncached", "cached"} {
		b.Run(mode, func(b *testing.B) {
			var judgeIn float64
			var shares map[string]float64
			for range b.N {
				judgeIn, shares = cacheEval(b, mode == "cached")
			}
			b.ReportMetric(judgeIn*1e6, "judge-input-µ$")
			b.ReportMetric(shares[eval.TaskAnswer], "answer-cache-share")
			b.ReportMetric(shares[eval.TaskJudge], "judge-cache-share")
		})
	}
}

// cacheEval runs one evaluation and reads the ledger: the judge stage's
// input cost in USD and, per stage, the share of input tokens read from
// the cache.
func cacheEval(b *testing.B, cached bool) (judgeInput float64, shares map[string]float64) {
	b.Helper()
	e := newEnv(b, sandbox.Options{Seed: 3})
	if !cached {
		adapter, err := anthropic.New(anthropic.Config{Provider: "sandbox", BaseURL: e.sandbox.URL, APIKey: "sandbox"})
		if err != nil {
			b.Fatal(err)
		}
		e.router.Register("sandbox", func() (ethos.Completer, error) {
			return ethos.CompleterFunc(func(ctx context.Context, req ethos.Request) (ethos.Response, error) {
				req.CachePrefix = 0
				return adapter.Complete(ctx, req)
			}), nil
		})
	}
	s := e.settings(30, "sandbox/judge")
	// Four of the character's traits and overall: five judged traits.
	for _, t := range s.Character.Traits[:min(4, len(s.Character.Traits))] {
		s.Traits = append(s.Traits, t.Name)
	}
	sum, ev, err := e.run(b.Context(), b, s, nil)
	if err != nil {
		b.Fatal(err)
	}
	if sum.Judgments == 0 {
		b.Fatalf("no judgments: %+v", sum)
	}
	price, ok := e.cfg.PriceOf("sandbox/judge")
	if !ok {
		b.Fatal("no sandbox price")
	}
	shares = map[string]float64{}
	for _, stage := range []string{eval.TaskAnswer, eval.TaskJudge} {
		calls, err := e.store.Calls(b.Context(), ethos.CallFilter{RunID: ev.ID(), Stage: stage})
		if err != nil {
			b.Fatal(err)
		}
		var u ethos.Usage
		for _, c := range calls {
			if !c.CacheHit {
				u.In, u.CacheRead, u.CacheWrite = u.In+c.Usage.In, u.CacheRead+c.Usage.CacheRead, u.CacheWrite+c.Usage.CacheWrite
			}
		}
		if all := u.In + u.CacheRead + u.CacheWrite; all > 0 {
			shares[stage] = float64(u.CacheRead) / float64(all)
		}
		if stage == eval.TaskJudge {
			judgeInput = price.Cost(ethos.Usage{In: u.In, CacheRead: u.CacheRead, CacheWrite: u.CacheWrite})
			b.Logf("judge stage: %d calls, %d judgments; input %d, cache writes %d, cache reads %d tokens; input cost $%.6f",
				len(calls), sum.Judgments, u.In, u.CacheWrite, u.CacheRead, judgeInput)
		}
	}
	return judgeInput, shares
}
