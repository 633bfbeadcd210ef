package sandbox

import (
	"math"
	"sync"
	"time"
)

// limiter enforces per API key, with token buckets that start full and
// refill continuously the way providers describe their limits: requests
// per minute, tokens per minute (input plus output), and Anthropic's
// separate input and output tokens per minute (ITPM, OTPM).
type limiter struct {
	limits  [dims]int // per minute; 0 is no limit
	mu      sync.Mutex
	buckets map[string]*bucket
}

// The dimensions a request is charged in.
const (
	dimRequests = iota
	dimTokens
	dimInput
	dimOutput
	dims
)

type bucket struct {
	left [dims]float64
	at   time.Time
}

// dimState is what one dimension's headers report.
type dimState struct {
	has         bool
	limit, left int
	reset       time.Duration // until the bucket is full again
}

// limitState is what the rate-limit headers report after a request.
type limitState struct {
	configured bool
	dims       [dims]dimState
	now        time.Time
	retryAfter time.Duration // > 0 when the request was refused
	// exhausted is the dimension the refusal was for.
	exhausted int
}

// epsilon absorbs float rounding so that waiting exactly the advertised
// retry-after is always enough.
const epsilon = 1e-9

// newLimiter limits requests and tokens per minute; 0 is no limit.
func newLimiter(rpm, tpm int) *limiter { return newSplitLimiter(rpm, tpm, 0, 0) }

// newSplitLimiter adds input and output tokens per minute.
func newSplitLimiter(rpm, tpm, itpm, otpm int) *limiter {
	return &limiter{limits: [dims]int{rpm, tpm, itpm, otpm}, buckets: map[string]*bucket{}}
}

func (l *limiter) off() bool { return l.limits == [dims]int{} }

func (l *limiter) refill(key string, now time.Time) *bucket {
	b := l.buckets[key]
	if b == nil {
		b = &bucket{at: now}
		for d, lim := range l.limits {
			b.left[d] = float64(lim)
		}
		l.buckets[key] = b
	}
	if el := now.Sub(b.at); el > 0 {
		for d, lim := range l.limits {
			b.left[d] = math.Min(float64(lim), b.left[d]+el.Minutes()*float64(lim))
		}
		b.at = now
	}
	return b
}

// take charges one request and its tokens to key's buckets, or refuses
// and says how long until every bucket holds enough. A request asking
// for more tokens than a whole bucket is charged the whole bucket, so it
// can still pass once.
func (l *limiter) take(key string, now time.Time, in, out int) limitState {
	if l.off() {
		return limitState{}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.refill(key, now)
	var need [dims]float64
	for d, n := range [dims]int{1, in + out, in, out} {
		need[d] = float64(min(n, l.limits[d]))
	}
	var wait time.Duration
	exhausted := -1
	for d, lim := range l.limits {
		if lim > 0 && b.left[d]+epsilon < need[d] {
			if w := minutes((need[d] - b.left[d]) / float64(lim)); w > wait {
				wait, exhausted = w, d
			}
		}
	}
	if wait == 0 {
		for d, lim := range l.limits {
			if lim > 0 {
				b.left[d] = math.Max(0, b.left[d]-need[d])
			}
		}
	}
	st := l.state(b, now)
	if wait > 0 {
		// The refused dimension has nothing left to give.
		st.retryAfter, st.exhausted = wait, exhausted
		st.dims[exhausted].left = 0
	}
	return st
}

// peek reports key's buckets without charging anything.
func (l *limiter) peek(key string, now time.Time) limitState {
	if l.off() {
		return limitState{}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state(l.refill(key, now), now)
}

func (l *limiter) state(b *bucket, now time.Time) limitState {
	st := limitState{configured: true, now: now, exhausted: -1}
	for d, lim := range l.limits {
		if lim > 0 {
			st.dims[d] = dimState{has: true, limit: lim, left: int(math.Floor(b.left[d] + epsilon)),
				reset: minutes((float64(lim) - b.left[d]) / float64(lim))}
		}
	}
	return st
}

func minutes(m float64) time.Duration {
	if m <= 0 {
		return 0
	}
	return time.Duration(m * float64(time.Minute))
}

// retryAfterSeconds renders a wait as the whole seconds of a retry-after
// header, rounded up and at least 1.
func retryAfterSeconds(d time.Duration) int {
	s := int(math.Ceil(d.Seconds() - epsilon))
	return max(s, 1)
}
