package openai

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/internal/wire"
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

// FuzzRateLimit checks that no header value makes parseRateLimit panic or
// produce a negative count or a reset outside [now, now+wire.MaxRetryAfter].
// Retry-after parsing is fuzzed in internal/wire.
func FuzzRateLimit(f *testing.F) {
	f.Add("500", "499", "6m0s")
	f.Add("", "", "20ms")
	f.Add("1e400", "-3.5", "-5h")
	f.Fuzz(func(t *testing.T, limit, remaining, reset string) {
		h := http.Header{}
		h.Set("x-ratelimit-limit-tokens", limit)
		h.Set("x-ratelimit-remaining-tokens", remaining)
		h.Set("x-ratelimit-reset-tokens", reset)
		h.Set("x-ratelimit-remaining", remaining)
		h.Set("x-ratelimit-reset", reset)
		rl := parseRateLimit(h, fixedNow)
		if rl.TokensLimit < 0 || rl.TokensRemaining < 0 || rl.RequestsRemaining < 0 {
			t.Errorf("negative counts: %+v", rl)
		}
		for _, r := range []time.Time{rl.TokensReset, rl.RequestsReset} {
			if !r.IsZero() && (r.Before(fixedNow) || r.After(fixedNow.Add(wire.MaxRetryAfter))) {
				t.Errorf("reset %s out of range", r)
			}
		}
	})
}
