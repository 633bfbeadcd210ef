package llm

import (
	"context"
	"math"
	"sync"
	"time"

	"github.com/ethos-toolkit/ethos"
)

// Limits are a provider's configured ceilings. Zero means unlimited, except
// MaxConcurrency, where zero means 1.
type Limits struct {
	RPM            int // requests per minute
	TPM            int // tokens (input + output) per minute
	MaxConcurrency int // calls in flight at once
}

// Limiter keeps every provider within its limits. Per provider it holds a
// request bucket and a token bucket that refill continuously (RPM/60 and
// TPM/60 a second), re-seeded from the rate-limit headers of each response
// (anthropic-ratelimit-*, x-ratelimit-*), and an adaptive concurrency cap
// that grows by one per window of successes and halves on 429 or 529. A
// retry-after pauses every call to that provider until it has passed.
type Limiter struct {
	Next ethos.Completer
	// LimitsFor returns the configured limits of a provider.
	LimitsFor func(provider string) Limits

	mu        sync.Mutex
	providers map[string]*gate
}

// NewLimiter returns a limiter in front of next.
func NewLimiter(next ethos.Completer, limitsFor func(provider string) Limits) *Limiter {
	return &Limiter{Next: next, LimitsFor: limitsFor, providers: map[string]*gate{}}
}

// GateState is a snapshot of one provider's limiter, for status displays.
type GateState struct {
	Concurrency  float64   `json:"concurrency"` // current adaptive cap
	InFlight     int       `json:"in_flight"`
	Requests     float64   `json:"requests_available"`
	Tokens       float64   `json:"tokens_available"`
	BlockedUntil time.Time `json:"blocked_until,omitzero"`
}

// State reports the limiter state of provider.
func (l *Limiter) State(provider string) GateState {
	g := l.gate(provider)
	g.mu.Lock()
	defer g.mu.Unlock()
	now := time.Now()
	g.requests.refill(now)
	g.tokens.refill(now)
	return GateState{Concurrency: g.limit, InFlight: g.inFlight, Requests: g.requests.level, Tokens: g.tokens.level, BlockedUntil: g.blockedUntil}
}

func (l *Limiter) gate(provider string) *gate {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.providers == nil {
		l.providers = map[string]*gate{}
	}
	g, ok := l.providers[provider]
	if !ok {
		var lim Limits
		if l.LimitsFor != nil {
			lim = l.LimitsFor(provider)
		}
		g = newGate(lim, time.Now())
		l.providers[provider] = g
	}
	return g
}

// Complete waits until the provider's limits allow req, then calls Next.
func (l *Limiter) Complete(ctx context.Context, req ethos.Request) (ethos.Response, error) {
	provider, _, err := SplitModel(req.Model)
	if err != nil {
		return ethos.Response{}, err
	}
	g := l.gate(provider)
	charge := EstimateInput(req) + req.MaxTokens
	if err := g.acquire(ctx, charge); err != nil {
		return ethos.Response{}, err
	}
	resp, err := l.Next.Complete(ctx, req)
	g.release(charge, resp, err)
	return resp, err
}

// gate is the limiter state of one provider.
type gate struct {
	mu           sync.Mutex
	requests     bucket
	tokens       bucket
	limit        float64 // adaptive concurrency cap, 1 ≤ limit ≤ max
	max          float64
	inFlight     int
	blockedUntil time.Time
	wake         chan struct{} // closed and replaced whenever a slot frees
}

func newGate(lim Limits, now time.Time) *gate {
	maxConc := float64(max(lim.MaxConcurrency, 1))
	return &gate{
		requests: newBucket(lim.RPM, now),
		tokens:   newBucket(lim.TPM, now),
		limit:    maxConc,
		max:      maxConc,
		wake:     make(chan struct{}),
	}
}

// acquire blocks until a concurrency slot, one request and charge tokens
// are available and no retry-after is pending, then takes them.
func (g *gate) acquire(ctx context.Context, charge int) error {
	for {
		g.mu.Lock()
		now := time.Now()
		wait := time.Duration(0)
		if now.Before(g.blockedUntil) {
			wait = g.blockedUntil.Sub(now)
		}
		if wait == 0 {
			wait = max(g.requests.waitFor(1, now), g.tokens.waitFor(charge, now))
		}
		slotFree := float64(g.inFlight) < math.Floor(g.limit)
		if wait == 0 && slotFree {
			g.requests.take(1)
			g.tokens.take(charge)
			g.inFlight++
			g.mu.Unlock()
			return nil
		}
		wake := g.wake
		g.mu.Unlock()

		var timer *time.Timer
		var fired <-chan time.Time
		if wait > 0 {
			timer = time.NewTimer(wait)
			fired = timer.C
		}
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return ethos.Errorf(ethos.Transient, "waiting for the rate limiter: %w", ctx.Err())
		case <-fired:
		case <-wake:
			if timer != nil {
				timer.Stop()
			}
		}
	}
}

// release returns the slot, settles the token charge against the real
// usage and learns from the response or error.
func (g *gate) release(charge int, resp ethos.Response, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := time.Now()
	g.inFlight--
	switch ethos.KindOf(err) {
	case "":
		g.tokens.refund(charge-resp.Usage.Total(), now)
		g.learn(resp.RateLimit, now)
		// Additive increase: about one more slot per limit successes.
		g.limit = min(g.max, g.limit+1/g.limit)
	case ethos.RateLimited, ethos.Overloaded:
		g.limit = max(1, g.limit/2)
		pause := ethos.RetryAfterOf(err)
		if pause <= 0 {
			pause = time.Second
		}
		g.blockedUntil = later(g.blockedUntil, now.Add(pause))
		g.tokens.refund(charge, now)
	default:
		// The call failed without using tokens (or we cannot tell);
		// give back the charge so a failing provider does not starve.
		g.tokens.refund(charge, now)
	}
	close(g.wake)
	g.wake = make(chan struct{})
}

// learn re-seeds the buckets from the provider's own account of the limits.
func (g *gate) learn(rl ethos.RateLimit, now time.Time) {
	if rl.HasRequests && rl.RequestsLimit > 0 {
		g.requests.reseed(rl.RequestsLimit, rl.RequestsRemaining, now)
	}
	if rl.HasTokens && rl.TokensLimit > 0 {
		g.tokens.reseed(rl.TokensLimit, rl.TokensRemaining, now)
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// bucket is a token bucket refilled continuously at perMinute/60 a second.
// A zero perMinute means unlimited.
type bucket struct {
	capacity float64
	level    float64
	perSec   float64
	last     time.Time
}

func newBucket(perMinute int, now time.Time) bucket {
	if perMinute <= 0 {
		return bucket{}
	}
	c := float64(perMinute)
	return bucket{capacity: c, level: c, perSec: c / 60, last: now}
}

func (b *bucket) unlimited() bool { return b.capacity == 0 }

func (b *bucket) refill(now time.Time) {
	if b.unlimited() {
		return
	}
	if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.level = min(b.capacity, b.level+dt*b.perSec)
	}
	b.last = now
}

// waitFor is how long until n units are available (n is capped at the
// capacity, so one huge request waits for a full bucket, not forever).
func (b *bucket) waitFor(n int, now time.Time) time.Duration {
	if b.unlimited() {
		return 0
	}
	b.refill(now)
	need := min(float64(n), b.capacity)
	if b.level >= need {
		return 0
	}
	return time.Duration((need - b.level) / b.perSec * float64(time.Second))
}

func (b *bucket) take(n int) {
	if b.unlimited() {
		return
	}
	b.level -= min(float64(n), b.capacity)
}

func (b *bucket) refund(n int, now time.Time) {
	if b.unlimited() || n <= 0 {
		return
	}
	b.refill(now)
	b.level = min(b.capacity, b.level+float64(n))
}

// reseed adopts a provider-reported limit and remaining count. An unlimited
// bucket becomes limited: the provider's headers are the better authority.
func (b *bucket) reseed(limit, remaining int, now time.Time) {
	b.refill(now)
	b.capacity = float64(limit)
	b.perSec = b.capacity / 60
	b.level = min(b.level, float64(remaining))
	if b.last.IsZero() || b.level < 0 {
		b.level = max(0, min(b.capacity, float64(remaining)))
	}
	b.last = now
}
