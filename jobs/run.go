package jobs

import (
	"context"
	"database/sql"
	"time"

	"github.com/ethos-toolkit/ethos"
)

type clientKey struct{}

// WithClient returns ctx carrying q, so that code driving a run outside a
// task (its first tasks, its top-ups) enqueues on the client working it.
// Run does this for Prepare and Drive; a task's context carries its client
// already.
func WithClient(ctx context.Context, q *Client) context.Context {
	return context.WithValue(ctx, clientKey{}, q)
}

// FromContext is the client working the task whose context ctx is, or the
// one WithClient (or Run) put in ctx: what a stage enqueues its next tasks
// on. It is an Internal error to ask outside either.
func FromContext(ctx context.Context) (*Client, error) {
	if q, ok := ctx.Value(clientKey{}).(*Client); ok && q != nil {
		return q, nil
	}
	return nil, ethos.Errorf(ethos.Internal, "jobs: no job client in this context; enqueue from a task, or from code run by jobs.Run")
}

// QueueBusy reports whether the queue of the client FromContext(ctx) has
// jobs queued, waiting or running. A driver that ends on an idle queue
// reads it before the rows the jobs write: read after them, a job that
// finished in between leaves rows that look unfinished beside an empty
// queue.
func QueueBusy(ctx context.Context) (bool, error) {
	q, err := FromContext(ctx)
	if err != nil {
		return false, err
	}
	return q.Busy(ctx)
}

// Rescue says which jobs a starting client takes back from a process that
// died while working them.
type Rescue int

// Rescue choices.
const (
	// RescueNone takes nothing back (a client of one-off calls).
	RescueNone Rescue = iota
	// RescueAll takes back every running job of the store: the caller
	// holds the store's lock, so no other process is working any.
	RescueAll
	// RescueQueue takes back the running jobs of the client's queue only:
	// the caller holds a lock of that queue's own (the monitor's).
	RescueQueue
)

// Work is what Run does with its client.
type Work struct {
	// Rescue says which orphaned jobs to take back before starting.
	Rescue Rescue
	// Prepare runs once orphans are rescued and before any job is worked:
	// it records the run and enqueues its first tasks, so that no task of
	// a resumed run is worked (and dropped) before the run is running
	// again. start false means there is nothing to work, and neither the
	// workers nor Drive are started. Nil starts at once.
	Prepare func(ctx context.Context, rescued int64) (start bool, err error)
	// Drive runs while the jobs are worked and returns when the work is
	// done (or ctx ends); Run then stops the client. Nil returns at once.
	Drive func(ctx context.Context) error
	// NoWork leaves the tasks to other processes: Prepare and Drive run,
	// and enqueue on the client, but it works no job (ethos generate
	// --no-work beside ethos worker processes, on PostgreSQL).
	NoWork bool
	// StopTimeout bounds how long stopping waits for running jobs before
	// it cancels them (they are retried later without losing an attempt);
	// zero means five seconds.
	StopTimeout time.Duration
}

// Run is RunOn for the SQLite database db.
func Run(ctx context.Context, db *sql.DB, cfg Config, w Work) error {
	return RunOn(ctx, SQLite(db), cfg, w)
}

// RunOn is the one lifecycle of a job client: it migrates the queue's
// tables in b, makes a client of cfg, takes back orphaned jobs, prepares,
// starts the workers, drives the work to its end and stops the client.
// Prepare, Drive and every task find the client with FromContext.
func RunOn(ctx context.Context, b Backend, cfg Config, w Work) error {
	if err := MigrateOn(ctx, b); err != nil {
		return err
	}
	q, err := NewOn(b, cfg)
	if err != nil {
		return err
	}
	var rescued int64
	switch {
	case w.Rescue == RescueNone:
	case b.impl.heartbeats():
		// Other processes may be working these queues, whatever lock
		// this one holds: only the jobs of dead clients are orphans.
		rescued, err = q.SweepDead(ctx)
	case w.Rescue == RescueAll:
		rescued, err = q.RescueOrphans(ctx)
	case w.Rescue == RescueQueue:
		rescued, err = q.RescueQueueOrphans(ctx)
	}
	if err != nil {
		return err
	}
	ctx = WithClient(ctx, q)
	if w.Prepare != nil {
		start, err := w.Prepare(ctx, rescued)
		if err != nil || !start {
			return err
		}
	}
	if !w.NoWork {
		if err := q.Start(ctx); err != nil {
			return err
		}
	}
	var driveErr error
	if w.Drive != nil {
		driveErr = w.Drive(ctx)
	}
	timeout := w.StopTimeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	if w.NoWork {
		return driveErr
	}
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	q.Stop(stopCtx)
	return driveErr
}
