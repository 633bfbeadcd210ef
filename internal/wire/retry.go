package wire

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxRetryAfter bounds a provider's retry-after or rate-limit reset so
// that a hostile or broken header cannot park a job for years or overflow
// a Duration.
const MaxRetryAfter = 24 * time.Hour

// ParseRetryAfter reads retry-after-ms (milliseconds) or else retry-after
// (seconds, or an HTTP date measured from now). It returns 0 when neither
// header gives a positive wait, and never more than MaxRetryAfter.
func ParseRetryAfter(h http.Header, now time.Time) time.Duration {
	if v := strings.TrimSpace(h.Get("retry-after-ms")); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil {
			return ClampWait(ms * float64(time.Millisecond))
		}
	}
	v := strings.TrimSpace(h.Get("retry-after"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		return ClampWait(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		return ClampWait(float64(t.Sub(now)))
	}
	return 0
}

// ClampWait converts a header's wait in nanoseconds, which may be NaN,
// negative or beyond any Duration, to a Duration in [0, MaxRetryAfter].
func ClampWait(ns float64) time.Duration {
	if math.IsNaN(ns) || ns <= 0 {
		return 0
	}
	if ns >= float64(MaxRetryAfter) {
		return MaxRetryAfter
	}
	return time.Duration(ns)
}
