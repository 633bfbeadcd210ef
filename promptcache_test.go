package ethos_test

import (
	"encoding/json"
	"testing"

	"github.com/ethos-toolkit/ethos"
	"github.com/google/go-cmp/cmp"
)

// priced bills per million tokens: input 4, output 8, cache reads 0.5 and
// cache writes 5 (a write costs more than plain input, as on Anthropic);
// "x/free" has no price.
func priced(model string, u ethos.Usage) (float64, bool) {
	if model == "x/free" {
		return 0, false
	}
	return (4*float64(u.In) + 8*float64(u.Out) + 0.5*float64(u.CacheRead) + 5*float64(u.CacheWrite)) / 1e6, true
}

func TestPricePromptCache(t *testing.T) {
	t.Parallel()
	const M = 1_000_000
	tests := []struct {
		name            string
		use             ethos.PromptCacheUse
		uncached, saved float64
		share           float64
		unpriced        int
	}{
		{"reads save", ethos.PromptCacheUse{Model: "x/m", Calls: 4, Usage: ethos.Usage{In: M, CacheRead: 3 * M}, CostUSD: 5.5},
			5.5 + 3*3.5, 3 * 3.5, 0.75, 0},
		{"writes alone cost more", ethos.PromptCacheUse{Model: "x/m", Calls: 1, Usage: ethos.Usage{CacheWrite: M}, CostUSD: 5},
			4, -1, 0, 0},
		{"no cache tokens", ethos.PromptCacheUse{Model: "x/m", Calls: 2, Usage: ethos.Usage{In: M, Out: M}, CostUSD: 12},
			12, 0, 0, 0},
		{"no input at all", ethos.PromptCacheUse{Model: "x/m", Calls: 1}, 0, 0, 0, 0},
		{"unpriced model", ethos.PromptCacheUse{Model: "x/free", Calls: 3, Usage: ethos.Usage{In: M, CacheRead: M}},
			0, 0, 0.5, 3},
		{"unpriced, nothing cached", ethos.PromptCacheUse{Model: "x/free", Calls: 3, Usage: ethos.Usage{In: M}}, 0, 0, 0, 0},
	}
	for _, tt := range tests {
		uses := []ethos.PromptCacheUse{tt.use}
		ethos.PricePromptCache(uses, priced)
		got := uses[0]
		if got.UncachedUSD != tt.uncached || got.SavedUSD() != tt.saved || got.Share() != tt.share || got.Unpriced != tt.unpriced {
			t.Errorf("%s: uncached %v, saved %v, share %v, unpriced %d; want %v, %v, %v, %d", tt.name,
				got.UncachedUSD, got.SavedUSD(), got.Share(), got.Unpriced, tt.uncached, tt.saved, tt.share, tt.unpriced)
		}
	}
}

func TestPromptCacheByStage(t *testing.T) {
	t.Parallel()
	uses := []ethos.PromptCacheUse{
		{RunID: "r1", Stage: "eval.judge", Provider: "anthropic", Model: "anthropic/a", Calls: 2, Usage: ethos.Usage{In: 10, CacheRead: 30}, CostUSD: 1, UncachedUSD: 3},
		{RunID: "r1", Stage: "eval.judge", Provider: "openai", Model: "openai/b", Calls: 1, Usage: ethos.Usage{In: 5, CacheWrite: 5}, CostUSD: 2, UncachedUSD: 1.5, Unpriced: 1},
		{RunID: "r1", Stage: "eval.answer", Provider: "anthropic", Model: "anthropic/a", Calls: 1, Usage: ethos.Usage{In: 7, Out: 9}, CostUSD: 0.5, UncachedUSD: 0.5},
	}
	want := []ethos.PromptCacheUse{
		{RunID: "r1", Stage: "eval.answer", Provider: "anthropic", Model: "anthropic/a", Calls: 1, Usage: ethos.Usage{In: 7, Out: 9}, CostUSD: 0.5, UncachedUSD: 0.5},
		{RunID: "r1", Stage: "eval.judge", Calls: 3, Usage: ethos.Usage{In: 15, CacheRead: 30, CacheWrite: 5}, CostUSD: 3, UncachedUSD: 4.5, Unpriced: 1},
	}
	if diff := cmp.Diff(want, ethos.PromptCacheByStage(uses)); diff != "" {
		t.Errorf("PromptCacheByStage mismatch (-want +got):\n%s", diff)
	}
}

// TestPromptCacheJSON checks that the JSON carries the derived figures, so
// that a reader of ethos calls --json need not recompute them.
func TestPromptCacheJSON(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(ethos.PromptCacheUse{Stage: "eval.judge", Calls: 2, Usage: ethos.Usage{In: 1, CacheRead: 3}, CostUSD: 1, UncachedUSD: 1.5})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for field, want := range map[string]any{"stage": "eval.judge", "calls": 2.0, "input_tokens": 4.0, "cache_hit_share": 0.75, "cost_usd": 1.0, "uncached_usd": 1.5, "saved_usd": 0.5} {
		if got[field] != want {
			t.Errorf("JSON field %s = %v, want %v (JSON %s)", field, got[field], want, b)
		}
	}
}
