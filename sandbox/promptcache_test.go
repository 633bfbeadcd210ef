package sandbox

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// words is text of exactly n sandbox tokens.
func words(n int) string { return strings.Repeat("abcd", n) }

// cachedBody is an Anthropic request whose system prompt (sys tokens) and
// first user block (shared tokens) are marked for caching, followed by a
// block that changes from call to call.
func cachedBody(model string, sys, shared int, tail string, mark map[string]any) map[string]any {
	return map[string]any{
		"model": model, "max_tokens": 64,
		"system": []any{map[string]any{"type": "text", "text": words(sys)}},
		"messages": []any{map[string]any{"role": "user", "content": []any{
			map[string]any{"type": "text", "text": words(shared), "cache_control": mark},
			map[string]any{"type": "text", "text": tail},
		}}},
	}
}

var ephemeral = map[string]any{"type": "ephemeral"}

type anthropicCache struct{ In, Write, Read int }

func anthropicCacheOf(t *testing.T, r reply) anthropicCache {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	u := r.json(t)["usage"].(map[string]any)
	return anthropicCache{int(u["input_tokens"].(float64)), int(u["cache_creation_input_tokens"].(float64)), int(u["cache_read_input_tokens"].(float64))}
}

func TestAnthropicPromptCache(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	run := start(t, Options{Now: clock.Now, CacheMinTokens: map[string]int{"judge": 2048}})
	tail := "Trait: warm" // 3 tokens
	steps := []struct {
		name string
		body map[string]any
		want anthropicCache
	}{
		{"first call writes the prefix", cachedBody("writer", 500, 600, tail, ephemeral), anthropicCache{In: 3, Write: 1100}},
		{"same prefix, other tail: read", cachedBody("writer", 500, 600, "Trait: kind", ephemeral), anthropicCache{In: 3, Read: 1100}},
		{"another model has its own cache", cachedBody("base", 500, 600, tail, ephemeral), anthropicCache{In: 3, Write: 1100}},
		{"under the model's minimum: nothing", cachedBody("judge", 500, 600, tail, ephemeral), anthropicCache{In: 1103}},
		{"under the default minimum: nothing", cachedBody("writer", 100, 600, tail, ephemeral), anthropicCache{In: 703}},
		{"no mark: nothing", cachedBody("writer", 500, 600, tail, nil), anthropicCache{In: 1103}},
	}
	for _, s := range steps {
		got := anthropicCacheOf(t, postAnthropic(t, run, s.body))
		if diff := cmp.Diff(s.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", s.name, diff)
		}
	}

	// Reads keep the entry alive; five minutes without one end it.
	clock.Advance(4 * time.Minute)
	if got := anthropicCacheOf(t, postAnthropic(t, run, cachedBody("writer", 500, 600, tail, ephemeral))); got.Read != 1100 {
		t.Errorf("4 minutes after the last use: %+v, want a read", got)
	}
	clock.Advance(4 * time.Minute)
	if got := anthropicCacheOf(t, postAnthropic(t, run, cachedBody("writer", 500, 600, tail, ephemeral))); got.Read != 1100 {
		t.Errorf("8 minutes after the write, 4 after the last read: %+v, want a read", got)
	}
	clock.Advance(5 * time.Minute)
	if got := anthropicCacheOf(t, postAnthropic(t, run, cachedBody("writer", 500, 600, tail, ephemeral))); got.Write != 1100 || got.Read != 0 {
		t.Errorf("5 minutes after the last use: %+v, want a new write", got)
	}
	// An hour's mark lives an hour.
	hour := map[string]any{"type": "ephemeral", "ttl": "1h"}
	anthropicCacheOf(t, postAnthropic(t, run, cachedBody("writer", 700, 600, tail, hour)))
	clock.Advance(50 * time.Minute)
	if got := anthropicCacheOf(t, postAnthropic(t, run, cachedBody("writer", 700, 600, tail, hour))); got.Read != 1300 {
		t.Errorf("50 minutes into a 1h entry: %+v, want a read", got)
	}
}

func TestAnthropicCacheLooksBackToAnEarlierMark(t *testing.T) {
	t.Parallel()
	run := start(t, Options{})
	// A system prompt marked on its own is cached; a later request that
	// marks the end of its first message finds it and writes the rest.
	sysOnly := map[string]any{"model": "writer", "max_tokens": 8,
		"system":   []any{map[string]any{"type": "text", "text": words(1100), "cache_control": ephemeral}},
		"messages": []any{map[string]any{"role": "user", "content": "hello"}}}
	if got := anthropicCacheOf(t, postAnthropic(t, run, sysOnly)); got.Write != 1100 {
		t.Fatalf("system prompt: %+v", got)
	}
	longer := cachedBody("writer", 1100, 300, "Trait: warm", ephemeral)
	if got, want := anthropicCacheOf(t, postAnthropic(t, run, longer)), (anthropicCache{In: 3, Read: 1100, Write: 300}); got != want {
		t.Errorf("extended prefix: %+v, want %+v", got, want)
	}
}

func TestAnthropicCacheControlIsChecked(t *testing.T) {
	t.Parallel()
	run := start(t, Options{})
	for name, body := range map[string]map[string]any{
		"unknown type": cachedBody("writer", 10, 10, "x", map[string]any{"type": "persistent"}),
		"unknown ttl":  cachedBody("writer", 10, 10, "x", map[string]any{"type": "ephemeral", "ttl": "2h"}),
		"extra field":  cachedBody("writer", 10, 10, "x", map[string]any{"type": "ephemeral", "scope": "global"}),
		"five marks": {"model": "writer", "max_tokens": 8, "messages": []any{map[string]any{"role": "user", "content": []any{
			map[string]any{"type": "text", "text": "a", "cache_control": ephemeral},
			map[string]any{"type": "text", "text": "b", "cache_control": ephemeral},
			map[string]any{"type": "text", "text": "c", "cache_control": ephemeral},
			map[string]any{"type": "text", "text": "d", "cache_control": ephemeral},
			map[string]any{"type": "text", "text": "e", "cache_control": ephemeral},
		}}}},
	} {
		if r := postAnthropic(t, run, body); r.status != 400 {
			t.Errorf("%s: status %d, want 400: %s", name, r.status, r.body)
		}
	}
	// The top-level mark caches up to the last block.
	auto := cachedBody("writer", 500, 600, "tail", nil)
	auto["cache_control"] = ephemeral
	// (The newline that joins the blocks of a turn costs a token of
	// input the blocks alone do not count.)
	if got := anthropicCacheOf(t, postAnthropic(t, run, auto)); got.Write != 1101 || got.In > 1 {
		t.Errorf("automatic caching: %+v, want the whole prompt written", got)
	}
}

func TestCacheDoesNotChangeTheAnswer(t *testing.T) {
	t.Parallel()
	run := start(t, Options{})
	text := func(r reply) string {
		return r.json(t)["content"].([]any)[0].(map[string]any)["text"].(string)
	}
	marked := text(postAnthropic(t, run, cachedBody("writer", 500, 600, "tail", ephemeral)))
	again := text(postAnthropic(t, run, cachedBody("writer", 500, 600, "tail", ephemeral)))
	plain := text(postAnthropic(t, run, cachedBody("writer", 500, 600, "tail", nil)))
	if marked != again || marked != plain {
		t.Error("a cache mark or a cache read changed the answer")
	}
}

func TestOpenAIPromptCache(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	run := start(t, Options{Now: clock.Now})
	body := func(sys int, user string) map[string]any {
		return map[string]any{"model": "writer", "max_tokens": 16, "messages": []any{
			map[string]any{"role": "system", "content": words(sys)},
			map[string]any{"role": "user", "content": user},
		}}
	}
	usage := func(r reply) (prompt, cached int) {
		t.Helper()
		if r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		u := r.json(t)["usage"].(map[string]any)
		if d, ok := u["prompt_tokens_details"].(map[string]any); ok {
			cached = int(d["cached_tokens"].(float64))
		}
		return int(u["prompt_tokens"].(float64)), cached
	}
	for _, s := range []struct {
		name                   string
		sys                    int
		user                   string
		wantPrompt, wantCached int
	}{
		{"first long prompt: nothing cached yet", 1500, "one", 1501, 0},
		{"same prefix: cached in 128-token steps", 1500, "two", 1501, 1408},
		{"a longer prompt reads the shared steps", 2000, "three", 2002, 1408},
		{"short prompts are never cached", 900, "one", 901, 0},
		{"short prompts are never cached, twice", 900, "one", 901, 0},
	} {
		prompt, cached := usage(postOpenAI(t, run, body(s.sys, s.user)))
		if prompt != s.wantPrompt || cached != s.wantCached {
			t.Errorf("%s: prompt_tokens %d cached_tokens %d, want %d and %d", s.name, prompt, cached, s.wantPrompt, s.wantCached)
		}
	}
	clock.Advance(6 * time.Minute)
	if _, cached := usage(postOpenAI(t, run, body(1500, "four"))); cached != 0 {
		t.Errorf("after 6 idle minutes: cached_tokens %d, want 0", cached)
	}
}

func TestPromptCacheMemoryIsBounded(t *testing.T) {
	t.Parallel()
	var c promptCache
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for i := range maxCacheEntries + 100 {
		c.put([32]byte{byte(i), byte(i >> 8), byte(i >> 16)}, now, time.Hour)
	}
	if len(c.entries) != maxCacheEntries || len(c.order) != maxCacheEntries {
		t.Errorf("%d entries, %d in order; want %d", len(c.entries), len(c.order), maxCacheEntries)
	}
	if c.fresh([32]byte{0, 0, 0}, now, time.Hour) {
		t.Error("the oldest entry was kept past the cap")
	}
}
