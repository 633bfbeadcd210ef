package anthropic

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ethos-toolkit/ethos"
)

// parseRateLimit reads the anthropic-ratelimit-requests-*,
// anthropic-ratelimit-tokens-* and the separate -input-tokens-* and
// -output-tokens-* headers. Resets are RFC 3339 timestamps;
// values that do not parse are left zero.
func parseRateLimit(h http.Header) ethos.RateLimit {
	var rl ethos.RateLimit
	rl.RequestsLimit, rl.RequestsRemaining, rl.RequestsReset, rl.HasRequests = rateGroup(h, "anthropic-ratelimit-requests-")
	rl.TokensLimit, rl.TokensRemaining, rl.TokensReset, rl.HasTokens = rateGroup(h, "anthropic-ratelimit-tokens-")
	rl.InputTokensLimit, rl.InputTokensRemaining, _, rl.HasInputTokens = rateGroup(h, "anthropic-ratelimit-input-tokens-")
	rl.OutputTokensLimit, rl.OutputTokensRemaining, _, rl.HasOutputTokens = rateGroup(h, "anthropic-ratelimit-output-tokens-")
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
