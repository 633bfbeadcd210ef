package anthropic

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ethos-toolkit/ethos"
)

// maxRetryAfter bounds a provider's retry-after so that a hostile or broken
// header cannot park a job for years or overflow a Duration.
const maxRetryAfter = 24 * time.Hour

// parseRateLimit reads the anthropic-ratelimit-requests-* and
// anthropic-ratelimit-tokens-* headers. Resets are RFC 3339 timestamps;
// values that do not parse are left zero.
func parseRateLimit(h http.Header) ethos.RateLimit {
	var rl ethos.RateLimit
	rl.RequestsLimit, rl.RequestsRemaining, rl.RequestsReset, rl.HasRequests = rateGroup(h, "anthropic-ratelimit-requests-")
	rl.TokensLimit, rl.TokensRemaining, rl.TokensReset, rl.HasTokens = rateGroup(h, "anthropic-ratelimit-tokens-")
	return rl
}

func rateGroup(h http.Header, prefix string) (limit, remaining int, reset time.Time, present bool) {
	for _, name := range []string{"limit", "remaining", "reset"} {
		if h.Get(prefix+name) != "" {
			present = true
		}
	}
	limit = headerInt(h.Get(prefix + "limit"))
	remaining = headerInt(h.Get(prefix + "remaining"))
	if t, err := time.Parse(time.RFC3339, strings.TrimSpace(h.Get(prefix+"reset"))); err == nil {
		reset = t
	}
	return limit, remaining, reset, present
}

// headerInt parses a non-negative count; anything else reads as zero.
func headerInt(v string) int {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// parseRetryAfter reads retry-after-ms (milliseconds) or else retry-after
// (seconds, or an HTTP date measured from now). It returns 0 when neither
// header gives a positive wait, and never more than maxRetryAfter.
func parseRetryAfter(h http.Header, now time.Time) time.Duration {
	if v := strings.TrimSpace(h.Get("retry-after-ms")); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil {
			return clampWait(ms * float64(time.Millisecond))
		}
	}
	v := strings.TrimSpace(h.Get("retry-after"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		return clampWait(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		return clampWait(float64(t.Sub(now)))
	}
	return 0
}

// clampWait converts nanoseconds to a Duration in [0, maxRetryAfter].
func clampWait(ns float64) time.Duration {
	if math.IsNaN(ns) || ns <= 0 {
		return 0
	}
	if ns >= float64(maxRetryAfter) {
		return maxRetryAfter
	}
	return time.Duration(ns)
}
