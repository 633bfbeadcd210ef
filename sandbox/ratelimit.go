package sandbox

import (
	"math"
	"sync"
	"time"
)

// limiter enforces RPM and TPM per API key with token buckets that start
// full and refill continuously, the way providers describe their limits.
type limiter struct {
	rpm, tpm int
	mu       sync.Mutex
	buckets  map[string]*bucket
}

type bucket struct {
	reqs, toks float64
	at         time.Time
}

// limitState is what the rate-limit headers report after a request.
type limitState struct {
	configured           bool
	reqLimit, tokLimit   int
	reqLeft, tokLeft     int
	reqReset, tokReset   time.Duration // until the bucket is full again
	now                  time.Time
	retryAfter           time.Duration // > 0 when the request was refused
	tokensExhausted      bool          // the refusal was for tokens, not requests
	hasRequests, hasToks bool
}

// epsilon absorbs float rounding so that waiting exactly the advertised
// retry-after is always enough.
const epsilon = 1e-9

func newLimiter(rpm, tpm int) *limiter {
	return &limiter{rpm: rpm, tpm: tpm, buckets: map[string]*bucket{}}
}

func (l *limiter) refill(key string, now time.Time) *bucket {
	b := l.buckets[key]
	if b == nil {
		b = &bucket{reqs: float64(l.rpm), toks: float64(l.tpm), at: now}
		l.buckets[key] = b
	}
	if el := now.Sub(b.at); el > 0 {
		b.reqs = math.Min(float64(l.rpm), b.reqs+el.Minutes()*float64(l.rpm))
		b.toks = math.Min(float64(l.tpm), b.toks+el.Minutes()*float64(l.tpm))
		b.at = now
	}
	return b
}

// take charges one request and tokens to key's buckets, or refuses and says
// how long until both buckets hold enough. A request asking for more tokens
// than the whole TPM is charged the whole bucket, so it can still pass once.
func (l *limiter) take(key string, now time.Time, tokens int) limitState {
	if l.rpm <= 0 && l.tpm <= 0 {
		return limitState{}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.refill(key, now)
	need := float64(min(tokens, l.tpm))
	var wait time.Duration
	var tokWait bool
	if l.rpm > 0 && b.reqs+epsilon < 1 {
		wait = minutes((1 - b.reqs) / float64(l.rpm))
	}
	if l.tpm > 0 && b.toks+epsilon < need {
		if w := minutes((need - b.toks) / float64(l.tpm)); w > wait {
			wait, tokWait = w, true
		}
	}
	if wait == 0 {
		if l.rpm > 0 {
			b.reqs = math.Max(0, b.reqs-1)
		}
		if l.tpm > 0 {
			b.toks = math.Max(0, b.toks-need)
		}
	}
	st := l.state(b, now)
	if wait > 0 {
		st.retryAfter, st.tokensExhausted = wait, tokWait
		// The refused dimension has nothing left to give.
		if tokWait {
			st.tokLeft = 0
		} else {
			st.reqLeft = 0
		}
	}
	return st
}

// peek reports key's buckets without charging anything.
func (l *limiter) peek(key string, now time.Time) limitState {
	if l.rpm <= 0 && l.tpm <= 0 {
		return limitState{}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state(l.refill(key, now), now)
}

func (l *limiter) state(b *bucket, now time.Time) limitState {
	st := limitState{configured: true, now: now}
	if l.rpm > 0 {
		st.hasRequests = true
		st.reqLimit, st.reqLeft = l.rpm, int(math.Floor(b.reqs+epsilon))
		st.reqReset = minutes((float64(l.rpm) - b.reqs) / float64(l.rpm))
	}
	if l.tpm > 0 {
		st.hasToks = true
		st.tokLimit, st.tokLeft = l.tpm, int(math.Floor(b.toks+epsilon))
		st.tokReset = minutes((float64(l.tpm) - b.toks) / float64(l.tpm))
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
