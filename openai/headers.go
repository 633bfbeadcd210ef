package openai

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/internal/wire"
)

// parseRateLimit reads OpenAI's x-ratelimit-{limit,remaining,reset}-
// {requests,tokens} headers, whose resets are durations from now ("6m0s",
// "20ms"). Servers that send Together's x-ratelimit-{limit,remaining,reset}
// (requests) and x-tokenlimit-{limit,remaining} are read as a fallback.
func parseRateLimit(h http.Header, now time.Time) ethos.RateLimit {
	var rl ethos.RateLimit
	rl.RequestsLimit, rl.RequestsRemaining, rl.RequestsReset, rl.HasRequests = rateGroup(h, now,
		"x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests")
	if !rl.HasRequests {
		rl.RequestsLimit, rl.RequestsRemaining, rl.RequestsReset, rl.HasRequests = rateGroup(h, now,
			"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")
	}
	rl.TokensLimit, rl.TokensRemaining, rl.TokensReset, rl.HasTokens = rateGroup(h, now,
		"x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens")
	if !rl.HasTokens {
		rl.TokensLimit, rl.TokensRemaining, rl.TokensReset, rl.HasTokens = rateGroup(h, now,
			"x-tokenlimit-limit", "x-tokenlimit-remaining", "")
	}
	return rl
}

func rateGroup(h http.Header, now time.Time, limitName, remainingName, resetName string) (limit, remaining int, reset time.Time, present bool) {
	for _, name := range []string{limitName, remainingName, resetName} {
		if name != "" && h.Get(name) != "" {
			present = true
		}
	}
	limit = headerInt(h.Get(limitName))
	remaining = headerInt(h.Get(remainingName))
	if resetName != "" {
		if d, ok := parseReset(h.Get(resetName)); ok {
			reset = now.Add(d)
		}
	}
	return limit, remaining, reset, present
}

// headerInt parses a non-negative count; anything else reads as zero.
// Some servers send counts as floats ("59.0"), which are truncated.
func headerInt(v string) int {
	v = strings.TrimSpace(v)
	if n, err := strconv.Atoi(v); err == nil {
		return max(n, 0)
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || f <= 0 {
		return 0
	}
	return int(min(f, math.MaxInt32))
}

// parseReset reads a reset delay: a Go-style duration ("6m0s", "20ms",
// "1s") or a bare number of seconds.
func parseReset(v string) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if d, err := time.ParseDuration(v); err == nil {
		return wire.ClampWait(float64(d)), true
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && !math.IsNaN(s) {
		return wire.ClampWait(s * float64(time.Second)), true
	}
	return 0, false
}
