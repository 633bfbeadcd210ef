package jobs

import (
	"context"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/ethos-toolkit/ethos"
)

// Handlers are what a client needs to work one run's tasks: the handler
// of each task name and the order the queued tasks are fetched in.
type Handlers struct {
	Tasks      map[string]TaskFunc
	Priorities map[string]int
}

// resolver finds each queue's handlers once and keeps them, and bounds
// the tasks a client of many queues works at once.
type resolver struct {
	kinds   []string
	resolve func(ctx context.Context, queue string) (Handlers, error)
	// slots bounds the tasks worked at once across all queues; nil for a
	// client of one queue, which River's MaxWorkers bounds already.
	slots chan struct{}

	mu    sync.Mutex
	known map[string]*resolved
}

// resolveTimeout bounds how long finding a queue's handlers may take.
const resolveTimeout = time.Minute

// resolved is one queue's handlers, found once.
type resolved struct {
	once sync.Once
	h    Handlers
	err  error
}

// newResolver checks cfg's tasks: Tasks for a client of one run, or Kinds
// and Resolve for a client of many.
func newResolver(cfg Config) (*resolver, error) {
	r := &resolver{known: map[string]*resolved{}}
	switch {
	case cfg.Resolve != nil && len(cfg.Tasks) > 0:
		return nil, ethos.Errorf(ethos.Config, "jobs: set Config.Tasks (one run) or Config.Kinds and Config.Resolve (many), not both")
	case cfg.Resolve != nil:
		r.kinds, r.resolve = cfg.Kinds, cfg.Resolve
		r.slots = make(chan struct{}, cfg.Workers)
	case len(cfg.Kinds) > 0:
		return nil, ethos.Errorf(ethos.Config, "jobs: Config.Kinds needs Config.Resolve to find each run's handlers")
	default:
		for name, fn := range cfg.Tasks {
			if fn == nil {
				return nil, ethos.Errorf(ethos.Config, "jobs: task %q has no handler", name)
			}
			r.kinds = append(r.kinds, name)
		}
		h := Handlers{Tasks: cfg.Tasks, Priorities: cfg.Priorities}
		r.resolve = func(context.Context, string) (Handlers, error) { return h, nil }
	}
	for _, name := range r.kinds {
		if name == "" || name == KindCall {
			return nil, ethos.Errorf(ethos.Config, "jobs: task name %q: want a non-empty name other than %s", name, KindCall)
		}
	}
	return r, nil
}

// handlers are queue's handlers, resolved on first use. A failure is not
// kept: the next task of the queue tries again.
func (r *resolver) handlers(ctx context.Context, queue string) (Handlers, error) {
	r.mu.Lock()
	e, ok := r.known[queue]
	if !ok {
		e = &resolved{}
		r.known[queue] = e
	}
	r.mu.Unlock()
	e.once.Do(func() {
		// Other tasks of the queue wait for this: the first one's end
		// (its job cancelled) must not become their error.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), resolveTimeout)
		defer cancel()
		e.h, e.err = r.resolve(rctx, queue)
	})
	if e.err != nil {
		r.mu.Lock()
		if r.known[queue] == e {
			delete(r.known, queue)
		}
		r.mu.Unlock()
	}
	return e.h, e.err
}

// hold takes one of the client's slots, if it has a bound across queues,
// and returns its release.
func (r *resolver) hold(ctx context.Context) (release func(), err error) {
	if r.slots == nil {
		return func() {}, nil
	}
	select {
	case r.slots <- struct{}{}:
		return func() { <-r.slots }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// AddQueue has the client work queue too (a run that has appeared), with
// as many workers as Config.Workers, sharing that bound with its other
// queues when the client resolves its handlers per queue. Adding a queue
// twice is a Conflict error.
func (c *Client) AddQueue(queue string) error {
	if err := c.river.Queues().Add(queue, river.QueueConfig{MaxWorkers: c.cfg.Workers}); err != nil {
		return ethos.Errorf(ethos.Conflict, "jobs: add queue %s: %w", queue, err)
	}
	return nil
}

// RemoveQueue stops working queue (a run that is no longer running),
// waiting for its tasks in hand, and forgets its handlers.
func (c *Client) RemoveQueue(ctx context.Context, queue string) error {
	if err := c.river.Queues().Remove(ctx, queue); err != nil {
		return ethos.Errorf(ethos.Internal, "jobs: remove queue %s: %w", queue, err)
	}
	c.runs.mu.Lock()
	delete(c.runs.known, queue)
	c.runs.mu.Unlock()
	return nil
}

// ID is the client's ID, as River's job rows and the heartbeats name it.
func (c *Client) ID() string { return c.cfg.ID }
