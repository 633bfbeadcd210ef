package web

import (
	"context"
	"sync"
	"time"
)

// snapshots keeps aggregates that cost a scan of the ledger or of a whole
// run (spend per stage, a run's time series, a dataset's histograms), so
// that a page showing them stays fast on a store of any size.
//
// Each aggregate has a key and is computed for a version: a cheap
// fingerprint of what it depends on (the newest ledger row, a run's item
// counts). A request whose version differs from the kept one starts a
// computation in the background and waits for it at most ComputeWait; if
// it is not done by then, the request shows the previous value, marked
// stale (or a "computing" note the first time), and the live update that
// follows the computation brings the new one. A computation never runs
// twice at once for a key, and a slow one is not started again sooner than
// four times its own duration after it ended, so a dashboard on a busy,
// large run costs the store a bounded share of its time.
type snapshots struct {
	ctx  context.Context
	wg   *sync.WaitGroup
	wait time.Duration

	mu sync.Mutex
	m  map[string]*snapshot
	// onDone, if set, is called (without mu) when a computation ends, so
	// the live hub can tell pages that a fresher value exists.
	onDone func(key string)
}

type snapshot struct {
	version string // the version value was computed for
	value   any
	err     error
	has     bool // value/err hold a finished computation

	computing bool
	done      chan struct{} // closed when the running computation ends
	ended     time.Time     // when the last computation ended
	took      time.Duration // how long it took
}

func newSnapshots(ctx context.Context, wg *sync.WaitGroup, wait time.Duration) *snapshots {
	return &snapshots{ctx: ctx, wg: wg, wait: wait, m: map[string]*snapshot{}}
}

// computeDeadline is the context key of a request's deadline for waiting
// on aggregates: one budget (Options.ComputeWait) for all the aggregates
// a page shows, so a page with several is not slower than one with one.
type computeDeadline struct{}

// withComputeBudget gives ctx a deadline for aggregates wait from now.
func withComputeBudget(ctx context.Context, wait time.Duration) context.Context {
	return context.WithValue(ctx, computeDeadline{}, time.Now().Add(wait))
}

// cached is what get returns: the value (nil when none was ever computed),
// its error, and whether it is older than the version asked for.
type cached struct {
	Value   any
	Err     error
	Stale   bool // computed for an older version; a fresher one is coming
	Pending bool // nothing computed yet
}

// get returns the aggregate key at version, computing it if needed (see
// snapshots). compute runs under the server's context, not the request's:
// a visitor who leaves does not waste the work.
func (c *snapshots) get(ctx context.Context, key, version string, compute func(context.Context) (any, error)) cached {
	c.mu.Lock()
	s := c.m[key]
	if s == nil {
		s = &snapshot{}
		c.m[key] = s
	}
	if s.has && s.version == version {
		res := cached{Value: s.value, Err: s.err}
		c.mu.Unlock()
		return res
	}
	if !s.computing {
		c.start(key, s, version, compute)
	}
	done := s.done
	c.mu.Unlock()

	if done != nil {
		wait := c.wait
		if deadline, ok := ctx.Value(computeDeadline{}).(time.Time); ok {
			wait = time.Until(deadline)
		}
		t := time.NewTimer(max(wait, 0))
		select {
		case <-done:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !s.has {
		return cached{Pending: true}
	}
	return cached{Value: s.value, Err: s.err, Stale: s.version != version}
}

// start begins computing s at version, after a pause if the previous
// computation ended less than four times its duration ago; c.mu is held.
// The throttle uses the real clock: it is about CPU time, not display.
func (c *snapshots) start(key string, s *snapshot, version string, compute func(context.Context) (any, error)) {
	s.computing = true
	done := make(chan struct{})
	s.done = done
	var delay time.Duration
	if s.has {
		delay = 4*s.took - time.Since(s.ended)
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		if delay > 0 {
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-c.ctx.Done():
			}
			t.Stop()
		}
		began := time.Now()
		v, err := compute(c.ctx)
		took := time.Since(began)
		c.mu.Lock()
		if c.ctx.Err() == nil || err == nil {
			s.value, s.err, s.version, s.has = v, err, version, true
		}
		s.computing = false
		s.done = nil
		s.ended = time.Now()
		s.took = took
		onDone := c.onDone
		c.mu.Unlock()
		close(done)
		if onDone != nil {
			onDone(key)
		}
	}()
}
