package llm

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/ethos-toolkit/ethos"
)

// Limits are a provider's configured ceilings. Zero RPM or TPM means no
// client-side limit until the provider's rate-limit headers give one.
type Limits struct {
	RPM int // requests per minute
	TPM int // tokens (input + output) per minute
	// MaxConcurrency is a fixed ceiling on calls in flight, for servers
	// whose capacity is their hardware (vLLM, Ollama). Zero means auto:
	// the limiter sizes the number in flight from the provider's rate
	// limit and the latency it sees (see Limiter), up to AutoCeiling.
	MaxConcurrency int
	// RateLimitTimeout is how long a provider may answer nothing but 429s
	// (no successful call) before the limiter takes it for a limit that
	// will not clear and fails the call as ethos.Quota, which stops the
	// run. Zero means DefaultRateLimitTimeout.
	RateLimitTimeout time.Duration
}

// DefaultRateLimitTimeout is Limits.RateLimitTimeout's default.
const DefaultRateLimitTimeout = 15 * time.Minute

// AutoCeiling is the most calls an auto-sized provider may have in flight:
// a safety bound, far above what a rate limit needs (a 4,000 RPM account at
// 30 s a call needs about 2,000). It is lowered further when the process
// may not open that many files (see autoCeiling).
const AutoCeiling = 4096

// autoStart is where an auto-sized provider's concurrency starts before
// anything is known of its rate or latency.
const autoStart = 16

// Priority orders calls that wait for the same provider: a call of a lower
// value goes first. Work that finishes an item (a reply, a review, a
// judgment) is put before work that starts new items, so the first results
// arrive within a few latencies of the start instead of after every
// earlier stage has drained.
type Priority int

// The priorities, most urgent first.
const (
	PriorityFinish Priority = iota // the last call an item needs
	PriorityMiddle                 // a call between the first and the last
	PriorityStart                  // a call that starts new items
	numPriorities
)

type priorityKey struct{}

// WithPriority marks the calls made with ctx with priority p.
func WithPriority(ctx context.Context, p Priority) context.Context {
	return context.WithValue(ctx, priorityKey{}, p)
}

// PriorityOf is the priority WithPriority set on ctx, PriorityMiddle when
// none was set.
func PriorityOf(ctx context.Context) Priority {
	if p, ok := ctx.Value(priorityKey{}).(Priority); ok && p >= 0 && p < numPriorities {
		return p
	}
	return PriorityMiddle
}

// Limiter keeps every provider within its limits and uses all of them.
//
// When several processes share one account, each holds a share of its
// limits (see Shares): the buckets refill at the limit × the share and
// hold at most that much, and what the headers say is left is divided
// the same way; the concurrency target follows the shared rate.
//
// Per provider it holds token buckets for requests, tokens, input tokens
// and output tokens, refilled continuously (a limit per minute / 60 each
// second) and re-seeded from the rate-limit headers of each response
// (anthropic-ratelimit-*, x-ratelimit-*): the provider's own numbers win
// over the configured ones. A call reserves one request and its worst case
// of tokens (input estimate + max_tokens) and gets back what it did not use.
//
// Calls in flight are bounded by an adaptive target. For a provider with a
// fixed MaxConcurrency it starts there and halves on 429 or 529. For an
// auto-sized one (MaxConcurrency 0) it follows Little's law: in flight =
// request rate × latency, from the request limit the provider reports and
// the latency actually seen, with headroom; before a limit is known it
// doubles each round trip (slow start). A 429 or 529 halves it, and for a
// while after that it grows only by one per round trip. A retry-after
// pauses every call to that provider until it has passed.
//
// Waiting calls are served first by priority (see WithPriority), then in
// arrival order, so a burst of new work cannot starve the calls that
// finish items.
type Limiter struct {
	Next ethos.Completer
	// LimitsFor returns the configured limits of a provider.
	LimitsFor func(provider string) Limits
	// Shares, when set, divides each provider's limits with the other
	// processes calling it on the same account (see StoreShares): the
	// limiter asks it for its share when it first calls a provider, and
	// SetShare changes the share later. Set it before the first call.
	Shares Shares

	mu        sync.Mutex
	providers map[string]*gate
	joining   sync.Mutex // one Shares.Join at a time
}

// NewLimiter returns a limiter in front of next.
func NewLimiter(next ethos.Completer, limitsFor func(provider string) Limits) *Limiter {
	return &Limiter{Next: next, LimitsFor: limitsFor, providers: map[string]*gate{}}
}

// GateState is a snapshot of one provider's limiter, for status displays.
type GateState struct {
	Provider    string        `json:"provider"`
	Concurrency float64       `json:"concurrency"` // current target of calls in flight
	Ceiling     int           `json:"ceiling"`     // the most it may reach
	Auto        bool          `json:"auto"`        // sized from the rate limit and latency
	InFlight    int           `json:"in_flight"`
	Waiting     int           `json:"waiting"`
	Latency     time.Duration `json:"latency"` // moving average of call durations
	// The limits in force per minute (configured or learned), 0 for none.
	RPM int `json:"rpm,omitempty"`
	// Share is the part of the limits this process holds: 1 alone, less
	// when other processes share the account (see Shares).
	Share        float64   `json:"share"`
	TPM          int       `json:"tpm,omitempty"`
	InputTPM     int       `json:"input_tpm,omitempty"`
	OutputTPM    int       `json:"output_tpm,omitempty"`
	Requests     float64   `json:"requests_available"`
	Tokens       float64   `json:"tokens_available"`
	BlockedUntil time.Time `json:"blocked_until,omitzero"`
}

// State reports the limiter state of provider.
func (l *Limiter) State(provider string) GateState {
	return l.gate(provider).state(provider, time.Now())
}

// States reports every provider the limiter has seen, by name.
func (l *Limiter) States() []GateState {
	l.mu.Lock()
	names := make([]string, 0, len(l.providers))
	for name := range l.providers {
		names = append(names, name)
	}
	l.mu.Unlock()
	sort.Strings(names)
	now := time.Now()
	out := make([]GateState, 0, len(names))
	for _, name := range names {
		out = append(out, l.gate(name).state(name, now))
	}
	return out
}

func (l *Limiter) gate(provider string) *gate {
	if g := l.known(provider); g != nil {
		return g
	}
	// Joining a share may take a round trip to the store: made once per
	// provider, outside l.mu, so calls to other providers go on.
	l.joining.Lock()
	defer l.joining.Unlock()
	if g := l.known(provider); g != nil {
		return g
	}
	var lim Limits
	if l.LimitsFor != nil {
		lim = l.LimitsFor(provider)
	}
	j := Joined{Share: 1}
	if l.Shares != nil {
		j = l.Shares.Join(provider)
		// A limit the headers give: the peers on the account have
		// learned it already.
		lim.RPM, lim.TPM = cmp.Or(lim.RPM, j.Limits.RPM), cmp.Or(lim.TPM, j.Limits.TPM)
	}
	g := newGate(lim, clampShare(j.Share), time.Now())
	if j.Peers > 0 && g.auto && g.requests.unlimited() && g.tokens.unlimited() {
		// Other processes are calling the account, and none knows its
		// limit yet (they are starting with this one): one call in
		// flight until the first answer's headers tell it, rather than
		// a burst from each of them into a limit they share.
		g.limit = 1
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.providers == nil {
		l.providers = map[string]*gate{}
	}
	l.providers[provider] = g
	return g
}

// known is the gate of provider, nil before its first call.
func (l *Limiter) known(provider string) *gate {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.providers[provider]
}

// SetShare sets the part of provider's limits this process may use, 0 <
// share ≤ 1 (see Shares). A smaller share takes effect at once, emptying
// the buckets down to it; a larger one refills them at the higher rate
// from now on, with no sudden burst. A provider not yet called is left
// alone: Shares.Join gives its first share.
func (l *Limiter) SetShare(provider string, share float64) {
	g := l.known(provider)
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	now := time.Now()
	g.setShare(clampShare(share), now)
	g.dispatch(now)
}

// Complete waits until the provider's limits allow req, then calls Next.
func (l *Limiter) Complete(ctx context.Context, req ethos.Request) (ethos.Response, error) {
	ref, err := modelRef(ctx, req)
	if err != nil {
		return ethos.Response{}, err
	}
	provider := ref.Provider
	g := l.gate(provider)
	in := EstimateInput(req)
	c := charge{in: in, out: req.MaxTokens}
	if err := g.acquire(ctx, PriorityOf(ctx), c); err != nil {
		return ethos.Response{}, err
	}
	start := time.Now()
	resp, err := l.Next.Complete(ctx, req)
	err = g.release(provider, c, time.Since(start), resp, err)
	return resp, err
}

// charge is what one call reserves from the token buckets: its estimated
// input and its max_tokens.
type charge struct{ in, out int }

func (c charge) total() int { return c.in + c.out }

// waiter is one call waiting for its turn.
type waiter struct {
	charge  charge
	ready   chan struct{} // closed when the call may go
	granted bool
}

// gate is the limiter state of one provider.
type gate struct {
	mu       sync.Mutex
	requests bucket
	tokens   bucket  // input + output
	input    bucket  // learned from headers only
	output   bucket  // learned from headers only
	share    float64 // of the account's limits, 0 < share ≤ 1 (see Shares)

	limit     float64 // target of calls in flight, 1 ≤ limit ≤ ceiling
	ceiling   float64
	auto      bool
	slowStart bool      // no congestion seen yet: grow by one per success
	calmAt    time.Time // after a 429/529, Little's law waits until then
	latency   time.Duration
	inFlight  int

	blockedUntil time.Time
	lastSuccess  time.Time // the gate's start, then its last successful call
	giveUpAfter  time.Duration
	queues       [numPriorities][]*waiter
	timer        *time.Timer // re-runs dispatch when a bucket or pause allows
	timerAt      time.Time
}

func newGate(lim Limits, share float64, now time.Time) *gate {
	g := &gate{
		requests:    newBucket(lim.RPM, share, now),
		tokens:      newBucket(lim.TPM, share, now),
		share:       share,
		lastSuccess: now,
		giveUpAfter: cmp.Or(lim.RateLimitTimeout, DefaultRateLimitTimeout),
	}
	if lim.MaxConcurrency > 0 {
		g.ceiling = float64(lim.MaxConcurrency)
		g.limit = g.ceiling
	} else {
		g.auto, g.slowStart = true, true
		g.ceiling = float64(autoCeiling())
		g.limit = min(autoStart, g.ceiling)
	}
	return g
}

// autoCeiling is AutoCeiling, or less when the process's file descriptor
// limit could not hold that many connections with room to spare.
func autoCeiling() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err == nil && rl.Cur > 0 && rl.Cur < math.MaxInt32 {
		if fit := int(rl.Cur) * 3 / 4; fit < AutoCeiling {
			return max(fit, 1)
		}
	}
	return AutoCeiling
}

func (g *gate) state(provider string, now time.Time) GateState {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.requests.refill(now)
	g.tokens.refill(now)
	waiting := 0
	for _, q := range g.queues {
		waiting += len(q)
	}
	return GateState{
		Provider: provider, Concurrency: math.Floor(g.limit), Ceiling: int(g.ceiling), Auto: g.auto,
		InFlight: g.inFlight, Waiting: waiting, Latency: g.latency,
		RPM: int(g.requests.limit), TPM: int(g.tokens.limit), InputTPM: int(g.input.limit), OutputTPM: int(g.output.limit), Share: g.share,
		Requests: g.requests.level, Tokens: g.tokens.level, BlockedUntil: g.blockedUntil,
	}
}

// acquire waits until the call may go: its turn by priority and arrival,
// a free slot, a request and its tokens in the buckets, no pause.
func (g *gate) acquire(ctx context.Context, p Priority, c charge) error {
	w := &waiter{charge: c, ready: make(chan struct{})}
	g.mu.Lock()
	g.queues[p] = append(g.queues[p], w)
	g.dispatch(time.Now())
	g.mu.Unlock()

	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
	}
	g.mu.Lock()
	if w.granted {
		// Granted as the context ended: give the slot back unused.
		g.inFlight--
		g.refund(c, charge{}, time.Now())
	} else {
		q := g.queues[p]
		for i, other := range q {
			if other == w {
				g.queues[p] = append(q[:i:i], q[i+1:]...)
				break
			}
		}
	}
	g.dispatch(time.Now())
	g.mu.Unlock()
	return ethos.Errorf(ethos.Transient, "waiting for the rate limiter: %w", ctx.Err())
}

// dispatch lets waiting calls go, most urgent first, while there are
// slots, requests and tokens. When the first in line must wait for a
// bucket to refill or a pause to pass, a timer runs dispatch again then.
// The caller holds g.mu.
func (g *gate) dispatch(now time.Time) {
	for {
		var head *waiter
		var p int
		for p = range g.queues {
			if len(g.queues[p]) > 0 {
				head = g.queues[p][0]
				break
			}
		}
		if head == nil || float64(g.inFlight) >= math.Floor(g.limit) {
			return // a release dispatches again
		}
		wait := time.Duration(0)
		if now.Before(g.blockedUntil) {
			wait = g.blockedUntil.Sub(now)
		} else {
			c := head.charge
			wait = max(g.requests.waitFor(1, now), g.tokens.waitFor(c.total(), now),
				g.input.waitFor(c.in, now), g.output.waitFor(c.out, now))
		}
		if wait > 0 {
			g.wakeAt(now.Add(wait))
			return
		}
		g.requests.take(1)
		g.tokens.take(head.charge.total())
		g.input.take(head.charge.in)
		g.output.take(head.charge.out)
		g.inFlight++
		g.queues[p][0] = nil
		g.queues[p] = g.queues[p][1:]
		head.granted = true
		close(head.ready)
	}
}

// wakeAt makes sure dispatch runs again at t.
func (g *gate) wakeAt(t time.Time) {
	if g.timer != nil && !g.timerAt.IsZero() && !g.timerAt.After(t) {
		return // an earlier wake-up is already set
	}
	g.timerAt = t
	d := time.Until(t)
	if g.timer == nil {
		g.timer = time.AfterFunc(d, g.onTimer)
		return
	}
	g.timer.Reset(d)
}

func (g *gate) onTimer() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.timerAt = time.Time{}
	g.dispatch(time.Now())
}

// release returns the slot, settles the token charge against the real
// usage, learns from the response or error, and lets the next calls go. It
// returns err, or a Quota error in its place when the provider has
// answered nothing but 429s for giveUpAfter.
func (g *gate) release(provider string, c charge, took time.Duration, resp ethos.Response, err error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := time.Now()
	g.inFlight--
	defer g.dispatch(now)
	kind := ethos.KindOf(err)
	if kind == ethos.RateLimited && now.Sub(g.lastSuccess) >= g.giveUpAfter {
		g.refund(c, charge{}, now)
		return &ethos.Error{Kind: ethos.Quota, Op: "rate limiter", Err: err,
			Msg: fmt.Sprintf("provider %s has answered nothing but 429 (rate limited) for %s: its limit is not clearing (a quota or tier too small for this run); check the account, then run the same command again to continue: %v",
				provider, now.Sub(g.lastSuccess).Round(time.Second), err)}
	}
	switch kind {
	case "":
		g.lastSuccess = now
		g.refund(c, charge{in: resp.Usage.In + resp.Usage.CacheRead + resp.Usage.CacheWrite, out: resp.Usage.Out}, now)
		g.learn(resp.RateLimit, now)
		g.observe(took)
		g.grow(now)
	case ethos.RateLimited, ethos.Overloaded:
		g.limit = max(1, g.limit/2)
		g.slowStart = false
		pause := ethos.RetryAfterOf(err)
		if pause <= 0 {
			pause = time.Second
		}
		g.blockedUntil = later(g.blockedUntil, now.Add(pause))
		// Little's law raised the target that met this; wait a few round
		// trips before trusting it again.
		g.calmAt = later(g.calmAt, now.Add(pause+3*max(g.latency, time.Second)))
		g.refund(c, charge{}, now)
	default:
		// The call failed without using tokens (or we cannot tell);
		// give back the charge so a failing provider does not starve.
		g.refund(c, charge{}, now)
	}
	return err
}

// refund gives back what a call reserved beyond what it used.
func (g *gate) refund(reserved, used charge, now time.Time) {
	g.tokens.refund(reserved.total()-used.total(), now)
	g.input.refund(reserved.in-used.in, now)
	g.output.refund(reserved.out-used.out, now)
}

// observe folds one call's duration into the latency average.
func (g *gate) observe(took time.Duration) {
	if g.latency == 0 {
		g.latency = took
		return
	}
	g.latency += (took - g.latency) / 8
}

// grow moves the concurrency target after a success.
func (g *gate) grow(now time.Time) {
	need := g.littleTarget()
	switch {
	case !g.auto:
		// Additive increase back toward the configured ceiling.
		g.limit += 1 / g.limit
	case need > 0 && !now.Before(g.calmAt):
		// The rate and the latency are known: Little's law sizes it,
		// down as well as up as the latency changes.
		g.limit, g.slowStart = need, false
	case need > 0:
		// Recovering from a 429 or 529: one more per round trip, up to
		// what the rate needs.
		g.limit = max(g.limit, min(g.limit+1/g.limit, need))
	case g.slowStart:
		g.limit++ // one more per success: doubles each round trip
	default:
		g.limit += 1 / g.limit
	}
	g.limit = max(1, min(g.limit, g.ceiling))
}

// littleTarget is the number of calls in flight that keeps the request
// rate at the limit (Little's law: in flight = rate × time in flight),
// with half as much again and a few more for the latency's spread and the
// time a slot takes to change hands, and never under the auto start; zero
// while the rate or the latency is unknown. Too many slots cost nothing
// (the request bucket still meters the rate); too few leave the limit
// unused.
func (g *gate) littleTarget() float64 {
	if g.requests.unlimited() || g.latency <= 0 {
		return 0
	}
	return max(autoStart, math.Ceil(g.requests.perSec*g.latency.Seconds()*1.5)+4)
}

// learn re-seeds the buckets from the provider's own account of the
// limits, of which this process holds its share.
func (g *gate) learn(rl ethos.RateLimit, now time.Time) {
	if rl.HasRequests && rl.RequestsLimit > 0 {
		g.requests.reseed(rl.RequestsLimit, rl.RequestsRemaining, g.share, now)
	}
	if rl.HasTokens && rl.TokensLimit > 0 {
		g.tokens.reseed(rl.TokensLimit, rl.TokensRemaining, g.share, now)
	}
	if rl.HasInputTokens && rl.InputTokensLimit > 0 {
		g.input.reseed(rl.InputTokensLimit, rl.InputTokensRemaining, g.share, now)
	}
	if rl.HasOutputTokens && rl.OutputTokensLimit > 0 {
		g.output.reseed(rl.OutputTokensLimit, rl.OutputTokensRemaining, g.share, now)
	}
}

// setShare sizes every bucket to share of its limit.
func (g *gate) setShare(share float64, now time.Time) {
	g.share = share
	for _, b := range []*bucket{&g.requests, &g.tokens, &g.input, &g.output} {
		b.setShare(share, now)
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// bucket is a token bucket refilled continuously at capacity/60 a second,
// where the capacity is this process's share of a limit per minute. A zero
// limit means unlimited.
type bucket struct {
	limit    float64 // the account's limit per minute
	capacity float64 // limit × this process's share
	level    float64
	perSec   float64
	last     time.Time
}

func newBucket(perMinute int, share float64, now time.Time) bucket {
	if perMinute <= 0 {
		return bucket{}
	}
	l := float64(perMinute)
	c := l * share
	return bucket{limit: l, capacity: c, level: c, perSec: c / 60, last: now}
}

func (b *bucket) unlimited() bool { return b.limit == 0 }

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
	// Round up, so the timer does not fire a hair early and go round
	// again for the last fraction of a token.
	return time.Duration(math.Ceil((need - b.level) / b.perSec * float64(time.Second)))
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

// setShare sizes the bucket to share of its limit: a smaller capacity
// cuts the level down to it, a larger one only refills faster.
func (b *bucket) setShare(share float64, now time.Time) {
	if b.unlimited() {
		return
	}
	b.refill(now)
	b.capacity = b.limit * share
	b.perSec = b.capacity / 60
	b.level = min(b.level, b.capacity)
}

// reseed adopts a provider-reported limit and remaining count, of which
// this process may use share. An unlimited bucket becomes limited: the
// provider's headers are the better authority.
func (b *bucket) reseed(limit, remaining int, share float64, now time.Time) {
	b.refill(now)
	fresh := b.unlimited()
	b.limit = float64(limit)
	b.capacity = b.limit * share
	b.perSec = b.capacity / 60
	left := float64(remaining) * share
	if fresh || b.last.IsZero() {
		b.level = left
	}
	b.level = max(0, min(b.level, left, b.capacity))
	b.last = now
}
