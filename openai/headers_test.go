package openai

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ethos-toolkit/ethos"
)

func TestParseRateLimit(t *testing.T) {
	t.Parallel()
	now := fixedNow
	tests := []struct {
		name   string
		header map[string]string
		want   ethos.RateLimit
	}{
		{"absent", nil, ethos.RateLimit{}},
		{"openai", map[string]string{
			"x-ratelimit-limit-requests":     "500",
			"x-ratelimit-remaining-requests": "0",
			"x-ratelimit-reset-requests":     "1s",
			"x-ratelimit-limit-tokens":       "30000",
			"x-ratelimit-remaining-tokens":   "29000",
			"x-ratelimit-reset-tokens":       "6m0s",
		}, ethos.RateLimit{
			RequestsLimit: 500, RequestsReset: now.Add(time.Second), HasRequests: true,
			TokensLimit: 30000, TokensRemaining: 29000, TokensReset: now.Add(6 * time.Minute), HasTokens: true,
		}},
		{"fractional and bare-second resets", map[string]string{
			"x-ratelimit-reset-requests": "1.5s",
			"x-ratelimit-reset-tokens":   "20",
		}, ethos.RateLimit{RequestsReset: now.Add(1500 * time.Millisecond), HasRequests: true, TokensReset: now.Add(20 * time.Second), HasTokens: true}},
		{"together style", map[string]string{
			"x-ratelimit-limit":      "10",
			"x-ratelimit-remaining":  "9.0",
			"x-ratelimit-reset":      "2",
			"x-tokenlimit-limit":     "200000",
			"x-tokenlimit-remaining": "199000",
		}, ethos.RateLimit{
			RequestsLimit: 10, RequestsRemaining: 9, RequestsReset: now.Add(2 * time.Second), HasRequests: true,
			TokensLimit: 200000, TokensRemaining: 199000, HasTokens: true,
		}},
		{"garbage", map[string]string{
			"x-ratelimit-limit-tokens":     "many",
			"x-ratelimit-remaining-tokens": "-1",
			"x-ratelimit-reset-tokens":     "whenever",
		}, ethos.RateLimit{HasTokens: true}},
	}
	for _, tt := range tests {
		h := http.Header{}
		for k, v := range tt.header {
			h.Set(k, v)
		}
		if diff := cmp.Diff(tt.want, parseRateLimit(h, now)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ms, s string
		want  time.Duration
	}{
		{"", "", 0},
		{"", "20", 20 * time.Second},
		{"250", "20", 250 * time.Millisecond},
		{"", fixedNow.Add(time.Minute).Format(http.TimeFormat), time.Minute},
		{"", fixedNow.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"", "-4", 0},
		{"", "Inf", maxRetryAfter},
		{"", "soon", 0},
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.ms != "" {
			h.Set("retry-after-ms", tt.ms)
		}
		if tt.s != "" {
			h.Set("retry-after", tt.s)
		}
		if got := parseRetryAfter(h, fixedNow); got != tt.want {
			t.Errorf("retry-after-ms %q retry-after %q: got %s, want %s", tt.ms, tt.s, got, tt.want)
		}
	}
}

// FuzzHeaders checks that no header value makes the parsers panic or
// produce a negative or unbounded wait or reset.
func FuzzHeaders(f *testing.F) {
	f.Add("20", "1500", "500", "499", "6m0s")
	f.Add("Fri, 01 May 2026 12:01:30 GMT", "", "", "", "20ms")
	f.Add("-1", "NaN", "1e400", "-3.5", "-5h")
	f.Fuzz(func(t *testing.T, retryAfter, retryAfterMS, limit, remaining, reset string) {
		h := http.Header{}
		h.Set("retry-after", retryAfter)
		h.Set("retry-after-ms", retryAfterMS)
		h.Set("x-ratelimit-limit-tokens", limit)
		h.Set("x-ratelimit-remaining-tokens", remaining)
		h.Set("x-ratelimit-reset-tokens", reset)
		h.Set("x-ratelimit-remaining", remaining)
		h.Set("x-ratelimit-reset", reset)
		if d := parseRetryAfter(h, fixedNow); d < 0 || d > maxRetryAfter {
			t.Errorf("wait %s out of [0, %s]", d, maxRetryAfter)
		}
		rl := parseRateLimit(h, fixedNow)
		if rl.TokensLimit < 0 || rl.TokensRemaining < 0 || rl.RequestsRemaining < 0 {
			t.Errorf("negative counts: %+v", rl)
		}
		for _, r := range []time.Time{rl.TokensReset, rl.RequestsReset} {
			if !r.IsZero() && (r.Before(fixedNow) || r.After(fixedNow.Add(maxRetryAfter))) {
				t.Errorf("reset %s out of range", r)
			}
		}
	})
}
