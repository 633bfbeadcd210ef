package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ethos-toolkit/ethos"
)

// snoozeError asks for a task to run again after a wait.
type snoozeError struct{ after time.Duration }

func (e *snoozeError) Error() string { return fmt.Sprintf("snooze for %s", e.after) }

// Snooze is what a TaskFunc returns to run again after d instead of
// completing: a periodic task (a poller) snoozes itself after each round.
// A snooze costs no attempt and is never capped, unlike the snoozes of a
// rate-limited task. Enqueueing the task again while it waits adds nothing,
// so a restarted process picks up the same periodic task.
func Snooze(d time.Duration) error {
	return &snoozeError{after: max(d, 0)}
}

// dropError says a task was not worked and should not count as done.
type dropError struct{ why string }

func (e *dropError) Error() string { return "not worked: " + e.why }

// Drop is what a TaskFunc returns for a task it will not work now, such as
// one of a run that has stopped: its job is cancelled rather than
// completed, so that enqueueing the same task again later (when the run is
// resumed) adds it anew instead of finding it done.
func Drop(why string) error { return &dropError{why: why} }

// snoozeOf reports whether err is a Snooze and for how long.
func snoozeOf(err error) (time.Duration, bool) {
	var s *snoozeError
	if errors.As(err, &s) {
		return s.after, true
	}
	return 0, false
}

// RescueQueueOrphans is RescueOrphans for the client's task queue only:
// for a process that works a queue of its own (a monitor) beside others
// that hold the store's worker lock. Call it before Start, holding a lock
// that proves no other process works this queue. It returns how many jobs
// it made available again.
func (c *Client) RescueQueueOrphans(ctx context.Context) (int64, error) {
	n, err := c.rescue(ctx, c.cfg.Queue, c.cfg.Queue)
	if err != nil {
		return 0, ethos.Errorf(ethos.Internal, "jobs: rescue orphaned jobs of queue %s: %w", c.cfg.Queue, err)
	}
	return n, nil
}
