package finetune

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Queue is the durable task queue the monitor's work runs on. The caller
// provides it and routes the tasks it holds to the handlers of
// Monitor.Tasks (ethos monitor runs them on a jobs.Client), so that
// finetune, like dataset, builds without a job queue.
type Queue interface {
	// Enqueue adds t unless the same task (Name, RunID and Key) is
	// queued, running or done; it returns the job's id and whether a new
	// job was added.
	Enqueue(ctx context.Context, t Task) (id int64, added bool, err error)
}

// Task is one piece of the monitor's durable work: Name says which
// handler runs it, RunID and Key which item it is for, Payload the rest.
// Its fields are those of jobs.Task, so a caller converts one into the
// other.
type Task struct {
	Name    string
	RunID   string
	Key     string
	Payload json.RawMessage
}

// TaskFunc works one task. Its error decides, through ethos.OutcomeOf,
// whether the task is retried, snoozed or given up; a *SnoozeError asks
// for it to run again later.
type TaskFunc func(ctx context.Context, t Task) error

// SnoozeError is what a TaskFunc returns to run again after After instead
// of completing (jobs.Snooze): a snooze costs no attempt and is never
// capped, unlike the waits of a rate-limited task.
type SnoozeError struct{ After time.Duration }

func (e *SnoozeError) Error() string { return fmt.Sprintf("snooze for %s", e.After) }

func snooze(d time.Duration) error { return &SnoozeError{After: max(d, 0)} }
