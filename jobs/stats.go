package jobs

import (
	"context"

	"github.com/riverqueue/river/rivertype"

	"github.com/ethos-toolkit/ethos"
)

// QueueStats counts jobs per state, for status pages.
type QueueStats struct {
	Available int `json:"available"`
	Pending   int `json:"pending"`
	Running   int `json:"running"`
	Retryable int `json:"retryable"`
	Scheduled int `json:"scheduled"`
	Completed int `json:"completed"`
	Cancelled int `json:"cancelled"`
	Discarded int `json:"discarded"`
}

// Stats counts the jobs in each state. Finished jobs count until River
// deletes them (after a day).
func (c *Client) Stats(ctx context.Context) (QueueStats, error) {
	var s QueueStats
	// The cast reads PostgreSQL's enum of states as the text SQLite holds.
	err := c.backend.query(ctx, `SELECT CAST(state AS text), count(*) FROM river_job GROUP BY state`, nil, func(scan func(...any) error) error {
		var state string
		var n int
		if err := scan(&state, &n); err != nil {
			return err
		}
		switch state {
		case string(rivertype.JobStateAvailable):
			s.Available = n
		case string(rivertype.JobStatePending):
			s.Pending = n
		case string(rivertype.JobStateRunning):
			s.Running = n
		case string(rivertype.JobStateRetryable):
			s.Retryable = n
		case string(rivertype.JobStateScheduled):
			s.Scheduled = n
		case string(rivertype.JobStateCompleted):
			s.Completed = n
		case string(rivertype.JobStateCancelled):
			s.Cancelled = n
		case string(rivertype.JobStateDiscarded):
			s.Discarded = n
		}
		return nil
	})
	if err != nil {
		return QueueStats{}, ethos.Errorf(ethos.Internal, "jobs: stats: %w", err)
	}
	return s, nil
}

// Busy reports whether any job in the client's task queue is still to be
// worked: available, pending, running, retryable or scheduled.
func (c *Client) Busy(ctx context.Context) (bool, error) {
	var n int
	err := c.backend.query(ctx, `SELECT count(*) FROM river_job WHERE queue = $1 AND state IN ('available', 'pending', 'running', 'retryable', 'scheduled')`,
		[]any{c.cfg.Queue}, func(scan func(...any) error) error { return scan(&n) })
	if err != nil {
		return false, ethos.Errorf(ethos.Internal, "jobs: busy: %w", err)
	}
	return n > 0, nil
}
