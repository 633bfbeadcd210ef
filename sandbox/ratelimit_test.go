package sandbox

import (
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRPMLimit(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	run := start(t, Options{Now: clock.Now, Faults: Faults{RPM: 2}})

	r := postAnthropic(t, run, anthropicBody("writer"))
	want := map[string]string{
		"anthropic-ratelimit-requests-limit":     "2",
		"anthropic-ratelimit-requests-remaining": "1",
		"anthropic-ratelimit-requests-reset":     "2026-03-01T12:00:30Z", // one request refills in 30s
	}
	for h, v := range want {
		if got := r.header.Get(h); got != v {
			t.Errorf("%s = %q, want %q", h, got, v)
		}
	}
	if r.header.Get("anthropic-ratelimit-tokens-limit") != "" {
		t.Errorf("token headers sent without a TPM")
	}
	if r := postAnthropic(t, run, anthropicBody("writer")); r.status != 200 {
		t.Fatalf("second request: %d", r.status)
	}

	r = postAnthropic(t, run, anthropicBody("writer"))
	if r.status != 429 {
		t.Fatalf("third request: status %d, want 429", r.status)
	}
	if got := r.header.Get("retry-after"); got != "30" {
		t.Errorf("retry-after %q, want 30", got)
	}
	if got := r.header.Get("anthropic-ratelimit-requests-remaining"); got != "0" {
		t.Errorf("remaining %q, want 0", got)
	}
	if typ := r.json(t)["error"].(map[string]any)["type"]; typ != "rate_limit_error" {
		t.Errorf("error type %v", typ)
	}

	clock.Advance(29 * time.Second)
	if r := postAnthropic(t, run, anthropicBody("writer")); r.status != 429 || r.header.Get("retry-after") != "1" {
		t.Errorf("after 29s: status %d retry-after %q, want 429 and 1", r.status, r.header.Get("retry-after"))
	}
	clock.Advance(time.Second)
	if r := postAnthropic(t, run, anthropicBody("writer")); r.status != 200 {
		t.Errorf("after retry-after: status %d", r.status)
	}

	// Buckets are per key: another key starts full.
	h := anthropicHeader("other-key")
	if r := do(t, "POST", run.URL+"/v1/messages", h, anthropicBody("writer")); r.status != 200 {
		t.Errorf("another key: status %d", r.status)
	}
}

func TestTPMLimitOpenAIHeaders(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	fixed := func(Prompt) string { return string(make([]byte, 400)) } // 100 output tokens
	run := start(t, Options{Now: clock.Now, Writers: map[string]Writer{"fixed": fixed}, Faults: Faults{RPM: 60, TPM: 300}})
	body := map[string]any{"model": "fixed", "messages": []any{map[string]any{"role": "user", "content": "abcd"}}} // 1 input token

	r := postOpenAI(t, run, body)
	got := map[string]string{}
	for _, h := range []string{"limit-requests", "remaining-requests", "reset-requests", "limit-tokens", "remaining-tokens", "reset-tokens"} {
		got[h] = r.header.Get("x-ratelimit-" + h)
	}
	want := map[string]string{
		"limit-requests": "60", "remaining-requests": "59", "reset-requests": "1s",
		"limit-tokens": "300", "remaining-tokens": "199", "reset-tokens": "20.2s",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("headers (-want +got):\n%s", d)
	}
	postOpenAI(t, run, body) // 98 tokens left
	r = postOpenAI(t, run, body)
	if r.status != 429 {
		t.Fatalf("third request: status %d, want 429", r.status)
	}
	// 101 needed, 98 held, 300 per minute: 0.6s, rounded up to 1.
	if got := r.header.Get("retry-after"); got != "1" {
		t.Errorf("retry-after %q, want 1", got)
	}
	e := r.json(t)["error"].(map[string]any)
	if e["type"] != "tokens" || e["code"] != "rate_limit_exceeded" || r.header.Get("x-ratelimit-remaining-tokens") != "0" {
		t.Errorf("error %v, remaining %q", e, r.header.Get("x-ratelimit-remaining-tokens"))
	}
	clock.Advance(time.Second)
	if r := postOpenAI(t, run, body); r.status != 200 {
		t.Errorf("after retry-after: %d", r.status)
	}
}

func TestLimiterOversizedRequestPassesOnFullBucket(t *testing.T) {
	t.Parallel()
	now := time.Unix(0, 0)
	l := newLimiter(0, 100)
	if st := l.take("k", now, 500, 0); st.retryAfter != 0 {
		t.Fatalf("oversized request refused on a full bucket: %+v", st)
	}
	st := l.take("k", now, 500, 0)
	if got := strconv.Itoa(retryAfterSeconds(st.retryAfter)); got != "60" {
		t.Errorf("retry-after %s, want 60", got)
	}
}

// TestSplitTokenLimitsAnthropicHeaders: input and output tokens have
// buckets of their own, each under its own header family, and the
// tokens family reports the more restrictive of the two.
func TestSplitTokenLimitsAnthropicHeaders(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	fixed := func(Prompt) string { return string(make([]byte, 400)) } // 100 output tokens
	run := start(t, Options{Now: clock.Now, Writers: map[string]Writer{"fixed": fixed}, Faults: Faults{InputTPM: 1000, OutputTPM: 250}})
	r := postAnthropic(t, run, anthropicBody("fixed"))
	if r.status != 200 {
		t.Fatalf("first request: %d", r.status)
	}
	in, _ := strconv.Atoi(r.header.Get("anthropic-ratelimit-input-tokens-remaining"))
	got := map[string]string{}
	for _, h := range []string{"input-tokens-limit", "output-tokens-limit", "output-tokens-remaining", "tokens-limit", "tokens-remaining", "requests-limit"} {
		got[h] = r.header.Get("anthropic-ratelimit-" + h)
	}
	want := map[string]string{"input-tokens-limit": "1000", "output-tokens-limit": "250", "output-tokens-remaining": "150",
		"tokens-limit": "250", "tokens-remaining": "150", "requests-limit": ""}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("headers (-want +got):\n%s", d)
	}
	if in >= 1000 || in < 900 {
		t.Errorf("input tokens remaining %d: want the input bucket charged the prompt's few tokens only", in)
	}
	postAnthropic(t, run, anthropicBody("fixed")) // 50 output tokens left
	r = postAnthropic(t, run, anthropicBody("fixed"))
	if r.status != 429 || r.header.Get("anthropic-ratelimit-output-tokens-remaining") != "0" || r.header.Get("anthropic-ratelimit-input-tokens-remaining") == "0" {
		t.Fatalf("third request: status %d, output left %q, input left %q; want a 429 for output tokens alone", r.status,
			r.header.Get("anthropic-ratelimit-output-tokens-remaining"), r.header.Get("anthropic-ratelimit-input-tokens-remaining"))
	}
	if msg := r.json(t)["error"].(map[string]any)["message"]; msg != "rate limit exceeded: output tokens per minute" {
		t.Errorf("message %q", msg)
	}
	// 100 needed, 50 held, 250 a minute: 12 s.
	if got := r.header.Get("retry-after"); got != "12" {
		t.Errorf("retry-after %q, want 12", got)
	}
}
