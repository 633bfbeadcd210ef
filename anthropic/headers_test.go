package anthropic

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ethos-toolkit/ethos"
)

func TestParseRateLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		header map[string]string
		want   ethos.RateLimit
	}{
		{"absent", nil, ethos.RateLimit{}},
		{"requests only, zero remaining", map[string]string{
			"anthropic-ratelimit-requests-limit":     "50",
			"anthropic-ratelimit-requests-remaining": "0",
			"anthropic-ratelimit-requests-reset":     "2026-01-02T03:04:05+01:00",
		}, ethos.RateLimit{RequestsLimit: 50, RequestsReset: time.Date(2026, 1, 2, 2, 4, 5, 0, time.UTC), HasRequests: true}},
		{"garbage values", map[string]string{
			"anthropic-ratelimit-tokens-limit":     "lots",
			"anthropic-ratelimit-tokens-remaining": "-5",
			"anthropic-ratelimit-tokens-reset":     "in a minute",
		}, ethos.RateLimit{HasTokens: true}},
		{"input and output token groups are not the token group", map[string]string{
			"anthropic-ratelimit-input-tokens-limit": "10",
		}, ethos.RateLimit{}},
	}
	for _, tt := range tests {
		h := http.Header{}
		for k, v := range tt.header {
			h.Set(k, v)
		}
		got := parseRateLimit(h)
		if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		ms, s string
		want  time.Duration
	}{
		{"", "", 0},
		{"", "20", 20 * time.Second},
		{"", "1.5", 1500 * time.Millisecond},
		{"250", "20", 250 * time.Millisecond},
		{"bogus", "3", 3 * time.Second},
		{"", now.Add(time.Minute).Format(http.TimeFormat), time.Minute},
		{"", now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"", "-4", 0},
		{"", "NaN", 0},
		{"", "1e300", maxRetryAfter},
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
		if got := parseRetryAfter(h, now); got != tt.want {
			t.Errorf("retry-after-ms %q retry-after %q: got %s, want %s", tt.ms, tt.s, got, tt.want)
		}
	}
}

// FuzzHeaders checks that no header value makes the parsers panic or
// produce a negative or unbounded wait.
func FuzzHeaders(f *testing.F) {
	f.Add("20", "1500", "50", "49", "2026-01-02T03:04:05Z")
	f.Add("Fri, 01 May 2026 12:01:30 GMT", "", "", "", "")
	f.Add("-1", "NaN", "9999999999999999999999", "-3", "2026-13-45T99:99:99Z")
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, retryAfter, retryAfterMS, limit, remaining, reset string) {
		h := http.Header{}
		h.Set("retry-after", retryAfter)
		h.Set("retry-after-ms", retryAfterMS)
		h.Set("anthropic-ratelimit-tokens-limit", limit)
		h.Set("anthropic-ratelimit-tokens-remaining", remaining)
		h.Set("anthropic-ratelimit-tokens-reset", reset)
		if d := parseRetryAfter(h, now); d < 0 || d > maxRetryAfter {
			t.Errorf("wait %s out of [0, %s]", d, maxRetryAfter)
		}
		rl := parseRateLimit(h)
		if rl.TokensLimit < 0 || rl.TokensRemaining < 0 {
			t.Errorf("negative counts: %+v", rl)
		}
	})
}
