package jobs

import (
	"context"
	"sync"
)

// workGate bounds the tasks doing local work at once: reading and writing
// the store, reviewing a text, building a prompt. A task takes a slot when
// it starts and lends it while it waits on something outside the process
// (ethos.Away: a model call on the wire, its turn at a rate limit), so
// the slots bound neither the calls in flight nor the time a task may
// wait on a provider; the rate limiter is what paces those.
//
// Without it a fast provider (a local server, the sandbox) lets thousands
// of tasks run at once: they queue at the store's one writer and at the
// near-duplicate index with grown stacks, and the collector scans them
// all. With it the backlog waits in the queue: River is asked for no more
// tasks than the gate can soon take (see fetchPilot).
//
// A task coming back from a wait is served before a task that has not
// started, so work already paid for finishes first.
type workGate struct {
	mu    sync.Mutex
	slots int
	free  int
	// back are tasks taking their slot back after a wait, fresh are
	// tasks starting; each is served in arrival order.
	back, fresh []*gateWaiter
}

type gateWaiter struct {
	ready   chan struct{}
	granted bool
}

func newWorkGate(slots int) *workGate {
	return &workGate{slots: slots, free: slots}
}

// room is how many more tasks River may fetch for the gate: as many as it
// has slots, less those already waiting for one. A task away on a model
// call is not counted until it comes back.
func (g *workGate) room() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.slots + g.free - len(g.fresh) - len(g.back)
}

// acquire takes a slot, waiting for one if need be. A returning task is
// served first. It fails only when ctx ends first.
func (g *workGate) acquire(ctx context.Context, returning bool) error {
	g.mu.Lock()
	if g.free > 0 && len(g.back) == 0 && (returning || len(g.fresh) == 0) {
		g.free--
		g.mu.Unlock()
		return nil
	}
	w := &gateWaiter{ready: make(chan struct{})}
	if returning {
		g.back = append(g.back, w)
	} else {
		g.fresh = append(g.fresh, w)
	}
	g.mu.Unlock()

	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if w.granted {
		// Granted as ctx ended: pass the slot on.
		g.free++
		g.dispatch()
	} else if returning {
		g.back = without(g.back, w)
	} else {
		g.fresh = without(g.fresh, w)
	}
	return ctx.Err()
}

// release gives a slot back.
func (g *workGate) release() {
	g.mu.Lock()
	g.free++
	g.dispatch()
	g.mu.Unlock()
}

// dispatch hands free slots to the waiting tasks, returning ones first.
// The caller holds g.mu.
func (g *workGate) dispatch() {
	for g.free > 0 {
		var w *gateWaiter
		switch {
		case len(g.back) > 0:
			w, g.back[0] = g.back[0], nil
			g.back = g.back[1:]
		case len(g.fresh) > 0:
			w, g.fresh[0] = g.fresh[0], nil
			g.fresh = g.fresh[1:]
		default:
			return
		}
		g.free--
		w.granted = true
		close(w.ready)
	}
}

func without(q []*gateWaiter, w *gateWaiter) []*gateWaiter {
	for i, other := range q {
		if other == w {
			return append(q[:i:i], q[i+1:]...)
		}
	}
	return q
}

// workSlot is one task's slot in a workGate. Its lend is what ethos.Away
// calls; a task that makes several calls at once (from goroutines of its
// own) lends the slot when the first wait begins and takes it back when
// the last one ends.
type workSlot struct {
	gate *workGate

	mu      sync.Mutex
	away    int  // waits in progress
	held    bool // the task holds its slot
	taking  bool // a wait's end is taking the slot back
	stopped bool // the task has ended
}

// take waits for the task's first slot.
func (s *workSlot) take(ctx context.Context) error {
	if err := s.gate.acquire(ctx, false); err != nil {
		return err
	}
	s.held = true
	return nil
}

// lend gives the slot back for a wait and returns the wait's end, which
// takes it back (once, however often it is called).
func (s *workSlot) lend() (back func()) {
	s.mu.Lock()
	s.away++
	if s.held && !s.taking {
		s.held = false
		s.gate.release()
	}
	s.mu.Unlock()
	return sync.OnceFunc(s.takeBack)
}

func (s *workSlot) takeBack() {
	s.mu.Lock()
	s.away--
	if s.away > 0 || s.held || s.taking || s.stopped {
		s.mu.Unlock()
		return
	}
	s.taking = true
	s.mu.Unlock()
	// A task whose wait is over finishes its work whatever its context
	// says (its call is recorded even when it was cancelled), so the
	// slot is taken back without one; slots come back as other tasks'
	// local work ends, which never waits on a wait.
	_ = s.gate.acquire(context.Background(), true)
	s.mu.Lock()
	s.taking = false
	if s.away > 0 || s.stopped {
		// Another wait began meanwhile, or the task ended: lend again.
		s.gate.release()
	} else {
		s.held = true
	}
	s.mu.Unlock()
}

// done gives the slot back at the task's end.
func (s *workSlot) done() {
	s.mu.Lock()
	s.stopped = true
	if s.held {
		s.held = false
		s.gate.release()
	}
	s.mu.Unlock()
}
