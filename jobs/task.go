package jobs

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/ethos-toolkit/ethos"
)

// MaxSnoozes is how many times a job waits for a provider's retry-after
// before it gives up.
const MaxSnoozes = 50

// Task is one step of a pipeline run as a durable job: Name says which
// handler runs it (e.g. "generate.document"), RunID and Key say which item
// of which run it is for, and Payload carries anything else the handler
// needs (on PostgreSQL it is stored as jsonb, so the handler gets the same
// JSON, not always the same bytes). Name, RunID and Key together identify
// the task: enqueueing the same task again, while the first is queued,
// running or completed, adds nothing, so a resumed run can enqueue its
// whole plan again safely.
type Task struct {
	Name    string          `json:"name" river:"unique"`
	RunID   string          `json:"run_id" river:"unique"`
	Key     string          `json:"key" river:"unique"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// Kind names the job kind for River: each task name is its own kind.
func (t Task) Kind() string { return t.Name }

// TaskFunc works one task. Its error is treated like a model call's: the
// kind decides, through ethos.OutcomeOf, whether the task is retried,
// snoozed or given up. A handler that gives up on an item should record
// that in the store (quarantine it with its reason) and return nil.
type TaskFunc func(ctx context.Context, t Task) error

// taskWorker runs the tasks of one name, with the handler of their
// queue's run.
type taskWorker struct {
	river.WorkerDefaults[Task]
	name    string
	backoff func(attempt int) time.Duration
	timeout time.Duration // Config.JobTimeout
	client  *Client       // given to the task through its context (FromContext)
}

// Timeout is River's view of the job's timeout (see jobTimeout).
func (w *taskWorker) Timeout(job *river.Job[Task]) time.Duration {
	return jobTimeout(job.JobRow, w.timeout)
}

func (w *taskWorker) Work(ctx context.Context, job *river.Job[Task]) error {
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	h, err := w.client.runs.handlers(ctx, job.Queue)
	if err != nil {
		// The run cannot be read (the store is down): try again later.
		return riverOutcome(ctx, err, job.Metadata, w.backoff)
	}
	fn := h.Tasks[w.name]
	if fn == nil {
		return river.JobCancel(ethos.Errorf(ethos.Internal, "jobs: the run of queue %s has no handler for task %s", job.Queue, w.name))
	}
	release, err := w.client.runs.hold(ctx)
	if err != nil {
		return riverOutcome(ctx, err, job.Metadata, w.backoff)
	}
	defer release()
	slot := &workSlot{gate: w.client.work}
	if err := slot.take(ctx); err != nil {
		return riverOutcome(ctx, err, job.Metadata, w.backoff)
	}
	defer slot.done()
	ctx = ethos.WithAway(ctx, slot.lend)
	ctx = context.WithValue(ctx, attemptKey{}, attemptInfo{attempt: job.Attempt, max: job.MaxAttempts, snoozes: snoozes(job.Metadata)})
	ctx = context.WithValue(ctx, queueKey{}, queueOf{name: job.Queue, priorities: h.Priorities})
	ctx = WithClient(ctx, w.client)
	err = fn(ctx, job.Args)
	if err == nil {
		return nil
	}
	if d, ok := snoozeOf(err); ok && ctx.Err() == nil {
		// A periodic snooze is not a rate limit either: counted apart.
		if err := river.MetadataSet(ctx, waitsKey, waits(job.Metadata)+1); err != nil {
			return fmt.Errorf("jobs: counting a wait: %w", err)
		}
		return river.JobSnooze(d)
	}
	var drop *dropError
	if errors.As(err, &drop) {
		return river.JobCancel(err)
	}
	return riverOutcome(ctx, err, job.Metadata, w.backoff)
}

type attemptKey struct{}

// attemptInfo is where a task's job stands: its attempt, the most it may
// make, and how often it has been snoozed.
type attemptInfo struct{ attempt, max, snoozes int }

// LastTry reports whether returning err from the running task would end
// its job for good: a failure to retry on its last attempt, a wait for a
// rate limit after MaxSnoozes of them, or an error that cancels at once.
// A handler that keeps state for its item records the failure when this is
// true (the item is then not left pending by a job nobody will run again),
// and a later run of the same work enqueues it anew.
func LastTry(ctx context.Context, err error) bool {
	info, ok := ctx.Value(attemptKey{}).(attemptInfo)
	if !ok || err == nil || ctx.Err() != nil {
		return false // not a task, or a stop, which costs no attempt
	}
	var drop *dropError
	if _, ok := snoozeOf(err); ok || errors.As(err, &drop) {
		return false
	}
	switch ethos.OutcomeOf(ethos.KindOf(err)) {
	case ethos.Retry:
		return info.attempt >= info.max
	case ethos.Snooze:
		return info.snoozes >= MaxSnoozes
	case ethos.Wait:
		return false
	default:
		return true
	}
}

// riverOutcome turns a failed attempt into River's terms through
// ethos.OutcomeOf, the one mapping from error kind to job outcome.
func riverOutcome(ctx context.Context, err error, metadata []byte, backoff func(int) time.Duration) error {
	if ctx.Err() != nil {
		// The job's context ended (timeout or stop): try again, and let
		// River see the context error so a stop costs no attempt.
		if !errors.Is(err, ctx.Err()) {
			err = fmt.Errorf("%w: %w", ctx.Err(), err)
		}
		return err
	}
	switch ethos.OutcomeOf(ethos.KindOf(err)) {
	case ethos.Retry:
		return err
	case ethos.Snooze:
		// Snoozes do not count as attempts; without a cap a provider
		// that keeps answering 429 would hold the job for ever.
		if n := snoozes(metadata); n >= MaxSnoozes {
			return river.JobCancel(fmt.Errorf("gave up after %d snoozes: %w", n, err))
		}
		d := ethos.RetryAfterOf(err)
		if d <= 0 {
			d = backoff(snoozes(metadata) + 1)
		}
		return river.JobSnooze(d)
	case ethos.Wait:
		// An answer on its way (a request sent by batch): no attempt is
		// spent and there is no cap, as a batch may take hours; the wait
		// is counted apart, so it does not use up the rate-limit snoozes.
		if err := river.MetadataSet(ctx, waitsKey, waits(metadata)+1); err != nil {
			return fmt.Errorf("jobs: counting a wait: %w", err)
		}
		d := ethos.RetryAfterOf(err)
		if d <= 0 {
			d = time.Second
		}
		return river.JobSnooze(d)
	default: // Cancel and Quarantine: retrying cannot help
		return river.JobCancel(err)
	}
}

// Enqueue adds t unless the same task exists; it returns the job id and
// whether a new job was added.
func (c *Client) Enqueue(ctx context.Context, t Task) (id int64, added bool, err error) {
	if err := c.checkTask(t); err != nil {
		return 0, false, err
	}
	r, err := c.insert(ctx, []river.InsertManyParams{{Args: t, InsertOpts: c.taskOpts(ctx, t.Name)}})
	if err != nil {
		return 0, false, ethos.Errorf(ethos.Internal, "jobs: enqueue %s %s: %w", t.Name, t.Key, err)
	}
	return r.ids[0], r.added[0], nil
}

// EnqueueMany adds the tasks in ts that do not exist yet, in one
// transaction, and returns how many it added. A task named twice in ts is
// added once.
func (c *Client) EnqueueMany(ctx context.Context, ts []Task) (added int, err error) {
	if len(ts) == 0 {
		return 0, nil
	}
	// PostgreSQL refuses an insert that meets the same unique task twice.
	type identity struct{ name, runID, key string }
	seen := make(map[identity]bool, len(ts))
	params := make([]river.InsertManyParams, 0, len(ts))
	for _, t := range ts {
		if err := c.checkTask(t); err != nil {
			return 0, err
		}
		id := identity{t.Name, t.RunID, t.Key}
		if seen[id] {
			continue
		}
		seen[id] = true
		params = append(params, river.InsertManyParams{Args: t, InsertOpts: c.taskOpts(ctx, t.Name)})
	}
	r, err := c.insert(ctx, params)
	if err != nil {
		return 0, ethos.Errorf(ethos.Internal, "jobs: enqueue %d tasks (%s %s, …): %w", len(ts), ts[0].Name, ts[0].Key, err)
	}
	for _, a := range r.added {
		if a {
			added++
		}
	}
	return added, nil
}

// EnqueueTx is Enqueue inside the caller's transaction on a SQLite
// backend (see the package documentation about holding the only
// connection); on PostgreSQL it is a Config error.
func (c *Client) EnqueueTx(ctx context.Context, tx *sql.Tx, t Task) (id int64, added bool, err error) {
	if err := c.checkTask(t); err != nil {
		return 0, false, err
	}
	rc, err := c.sqliteRiver("enqueue " + t.Name + " in a transaction")
	if err != nil {
		return 0, false, err
	}
	res, err := rc.InsertTx(ctx, tx, t, c.taskOpts(ctx, t.Name))
	if err != nil {
		return 0, false, ethos.Errorf(ethos.Internal, "jobs: enqueue %s %s: %w", t.Name, t.Key, err)
	}
	return res.Job.ID, !res.UniqueSkippedAsDuplicate, nil
}

// taskOpts puts a task at its priority, unique by its identity, in the
// queue of the task ctx is working, if any (a follow-up stays in its run's
// queue, whichever client works it), and otherwise in the client's queue.
func (c *Client) taskOpts(ctx context.Context, name string) *river.InsertOpts {
	q := queueOf{name: c.cfg.Queue, priorities: c.cfg.Priorities}
	if working, ok := ctx.Value(queueKey{}).(queueOf); ok {
		q = working
	}
	prio, ok := q.priorities[name]
	if !ok || prio < PriorityFirst || prio > PriorityLast {
		prio = PriorityDefault
	}
	return &river.InsertOpts{Queue: q.name, Priority: prio, UniqueOpts: river.UniqueOpts{ByArgs: true, ByQueue: true}}
}

type queueKey struct{}

// queueOf is the queue of the task being worked, and its run's priorities.
type queueOf struct {
	name       string
	priorities map[string]int
}

func (c *Client) checkTask(t Task) error {
	if !c.kinds[t.Name] {
		return ethos.Errorf(ethos.Invalid, "jobs: no handler for task %q", t.Name)
	}
	if t.RunID == "" || t.Key == "" {
		return ethos.Errorf(ethos.Invalid, "jobs: task %s needs a run id and a key", t.Name)
	}
	return nil
}

// WaitTask waits until task job jobID has finished. It returns nil when the
// task completed, and otherwise an error with the job's state, attempts
// and last error.
func (c *Client) WaitTask(ctx context.Context, jobID int64) error {
	job, err := c.waitFinal(ctx, jobID)
	if err != nil {
		return err
	}
	if job.State == rivertype.JobStateCompleted {
		return nil
	}
	lastErr := "no error recorded"
	if n := len(job.Errors); n > 0 {
		lastErr = strings.TrimPrefix(job.Errors[n-1].Error, "JobCancelError: ")
	}
	return &ethos.Error{Kind: ethos.Internal, Msg: failedJobMessage(job, lastErr)}
}

// failedJobMessage is the message of a job that did not complete, as it
// reaches the user: what failed in their terms (a model call, or the task
// by name), after how many attempts and why, then the job's own terms.
func failedJobMessage(job *rivertype.JobRow, cause string) string {
	what := "task " + job.Kind
	if job.Kind == KindCall {
		what = "model call"
	}
	attempts := "1 attempt"
	if job.Attempt != 1 {
		attempts = fmt.Sprintf("%d attempts", job.Attempt)
	}
	return fmt.Sprintf("%s failed after %s: %s (job %d, %s, %s)", what, attempts, cause, job.ID, job.Kind, job.State)
}

// RescueOrphans makes every job of the default queue and the client's own
// queue left running by a process that no longer exists available again,
// at once, instead of after RescueStuckJobsAfter. It is for a
// single-machine store: call it before Start, and only while holding the
// lock that guarantees no other process is working these queues (a job it
// finds running is then certainly orphaned). Other queues are left to
// their own processes (a monitor may be working one right now). The
// interrupted attempt stays counted. It returns how many jobs it rescued.
//
// On PostgreSQL no lock can prove that: another process may be working
// these queues. RunOn sweeps there instead (see SweepDead).
func (c *Client) RescueOrphans(ctx context.Context) (int64, error) {
	n, err := c.rescue(ctx, river.QueueDefault, c.cfg.Queue)
	if err != nil {
		return 0, ethos.Errorf(ethos.Internal, "jobs: rescue orphaned jobs: %w", err)
	}
	return n, nil
}

// rescue makes the running jobs of the two queues (which may be the same)
// available again now.
func (c *Client) rescue(ctx context.Context, queue1, queue2 string) (int64, error) {
	return c.backend.exec(ctx, `UPDATE river_job SET state = 'available', scheduled_at = $1 WHERE state = 'running' AND queue IN ($2, $3)`,
		c.backend.timeArg(time.Now()), queue1, queue2)
}

// sqliteRiver is River's client with SQLite's transactions, for the
// enqueues inside a caller's *sql.Tx; what names the refused operation.
func (c *Client) sqliteRiver(what string) (*river.Client[*sql.Tx], error) {
	rc, ok := c.river.(*river.Client[*sql.Tx])
	if !ok {
		return nil, ethos.Errorf(ethos.Config, "jobs: %s: a *sql.Tx is for the SQLite backend only", what)
	}
	return rc, nil
}
