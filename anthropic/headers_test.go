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
		{"input and output token groups are their own, not the token group", map[string]string{
			"anthropic-ratelimit-input-tokens-limit":      "10",
			"anthropic-ratelimit-input-tokens-remaining":  "7",
			"anthropic-ratelimit-output-tokens-limit":     "4",
			"anthropic-ratelimit-output-tokens-remaining": "0",
		}, ethos.RateLimit{InputTokensLimit: 10, InputTokensRemaining: 7, HasInputTokens: true, OutputTokensLimit: 4, HasOutputTokens: true}},
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

// FuzzRateLimit checks that no header value makes parseRateLimit panic or
// produce a negative count. Retry-after parsing is fuzzed in internal/wire.
func FuzzRateLimit(f *testing.F) {
	f.Add("50", "49", "2026-01-02T03:04:05Z")
	f.Add("", "", "")
	f.Add("9999999999999999999999", "-3", "2026-13-45T99:99:99Z")
	f.Fuzz(func(t *testing.T, limit, remaining, reset string) {
		h := http.Header{}
		h.Set("anthropic-ratelimit-tokens-limit", limit)
		h.Set("anthropic-ratelimit-tokens-remaining", remaining)
		h.Set("anthropic-ratelimit-tokens-reset", reset)
		rl := parseRateLimit(h)
		if rl.TokensLimit < 0 || rl.TokensRemaining < 0 {
			t.Errorf("negative counts: %+v", rl)
		}
	})
}
