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

// KindCall is the job kind of one model call.
const KindCall = "llm.call"

// waitRecheckInterval is how often WaitCall re-reads the job row when no
// event woke it, which covers dropped events and jobs worked by another
// process.
const waitRecheckInterval = time.Second

// CallArgs is one model call as a job. Stream and Metadata are carried
// beside the request because ethos.Request leaves them out of its JSON.
//
// Two jobs with the same request and metadata are the same job while the
// first is still in flight: enqueueing it again returns the first job's id.
// Stream is left out of that comparison since it does not change the answer.
type CallArgs struct {
	Request  ethos.Request     `json:"request" river:"unique"`
	Stream   bool              `json:"stream,omitempty"`
	Metadata map[string]string `json:"metadata,omitempty" river:"unique"`
}

// Kind names the job kind for River.
func (CallArgs) Kind() string { return KindCall }

// request restores the fields ethos.Request does not serialise.
func (a CallArgs) request() ethos.Request {
	req := a.Request
	req.Stream = a.Stream
	req.Metadata = a.Metadata
	return req
}

// inFlightStates are the states in which a second identical call is a
// duplicate. Finished jobs are left out so that a call can be made again
// once the first has completed or given up.
var inFlightStates = []rivertype.JobState{
	rivertype.JobStateAvailable,
	rivertype.JobStatePending,
	rivertype.JobStateRetryable,
	rivertype.JobStateRunning,
	rivertype.JobStateScheduled,
}

func callInsertOpts() *river.InsertOpts {
	return &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: inFlightStates}}
}

// callOutput is what an llm.call job records as its River output after
// each attempt: the response, or why the attempt failed. The failure keeps
// the error's kind, which River's own error list (text only) would lose.
type callOutput struct {
	Response *ethos.Response `json:"response,omitempty"`
	Failure  *callFailure    `json:"failure,omitempty"`
}

type callFailure struct {
	Attempt    int           `json:"attempt"`
	Kind       ethos.Kind    `json:"kind"`
	Outcome    ethos.Outcome `json:"outcome"`
	Message    string        `json:"message"`
	Status     int           `json:"status,omitempty"`
	RetryAfter time.Duration `json:"retry_after,omitempty"`
	RequestID  string        `json:"request_id,omitempty"`
}

// callWorker works llm.call jobs.
type callWorker struct {
	river.WorkerDefaults[CallArgs]
	completer ethos.Completer
	backoff   func(attempt int) time.Duration
	timeout   time.Duration // Config.JobTimeout
}

// Timeout is River's view of the job's timeout (see jobTimeout).
func (w *callWorker) Timeout(job *river.Job[CallArgs]) time.Duration {
	return jobTimeout(job.JobRow, w.timeout)
}

// jobTimeout is the timeout a worker gives River for job: none (-1) for a
// job just taken, whose Work applies Config.JobTimeout itself, and timeout
// for one taken longer ago than that. River runs a job with a timeout of
// its own in a second goroutine that watches for the job to be stuck past
// it, only to log a line after hours: thousands of goroutines at once
// when thousands of jobs are running, whose stacks every collection scans.
// Its rescuer asks the same question of a job left running by a killed
// process, older than RescueStuckJobsAfter (at least JobTimeout), and so
// is told timeout, under which it rescues the job as before.
func jobTimeout(job *rivertype.JobRow, timeout time.Duration) time.Duration {
	if job.AttemptedAt != nil && time.Since(*job.AttemptedAt) < timeout {
		return -1
	}
	return timeout
}

// Work calls the completer once and turns a failure into River's terms
// through ethos.OutcomeOf, the one mapping from error kind to outcome.
func (w *callWorker) Work(ctx context.Context, job *river.Job[CallArgs]) error {
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	if w.completer == nil {
		return river.JobCancel(ethos.Errorf(ethos.Config, "jobs: this client has no Completer for %s jobs", KindCall))
	}
	resp, err := w.completer.Complete(ctx, job.Args.request())
	if err == nil {
		if err := river.RecordOutput(ctx, callOutput{Response: &resp}); err != nil {
			return river.JobCancel(ethos.Errorf(ethos.Internal, "record response: %w", err))
		}
		return nil
	}

	kind := ethos.KindOf(err)
	if ctx.Err() != nil {
		// The job's context ended: its timeout passed, or the client is
		// stopping. Either way the call deserves another try, and River
		// needs to see the context error to tell a stop (which does not
		// cost an attempt) from a failure.
		if kind == ethos.Internal {
			kind = ethos.Transient
		}
		err = fmt.Errorf("%w: %w", ctx.Err(), err)
	}
	outcome := ethos.OutcomeOf(kind)
	if ctx.Err() != nil {
		outcome = ethos.Retry
	}

	var e *ethos.Error
	errors.As(err, &e)
	failure := &callFailure{
		Attempt: job.Attempt,
		Kind:    kind,
		Outcome: outcome,
		Message: err.Error(),
	}
	if e != nil {
		failure.Status, failure.RetryAfter, failure.RequestID = e.Status, e.RetryAfter, e.RequestID
		// WaitCall's error carries the request id in its own field, which
		// its message already shows.
		if e.RequestID != "" {
			failure.Message = strings.TrimSuffix(failure.Message, " (request-id "+e.RequestID+")")
		}
	}
	if rerr := river.RecordOutput(ctx, callOutput{Failure: failure}); rerr != nil {
		return river.JobCancel(ethos.Errorf(ethos.Internal, "record failure of %v: %w", err, rerr))
	}

	return riverOutcome(ctx, err, job.Metadata, w.backoff)
}

// EnqueueCall adds an llm.call job and returns its id. If an identical call
// (same request and metadata) is still in flight, it returns that job's id
// instead of adding another.
func (c *Client) EnqueueCall(ctx context.Context, args CallArgs) (int64, error) {
	res, err := c.river.Insert(ctx, args, callInsertOpts())
	if err != nil {
		return 0, ethos.Errorf(ethos.Internal, "jobs: enqueue %s: %w", KindCall, err)
	}
	return res.Job.ID, nil
}

// EnqueueCallTx is EnqueueCall inside the caller's transaction: the job
// exists only if tx commits. tx holds the database's only connection, so
// nothing else that touches the database may run on this goroutine until
// tx ends (see the package documentation).
//
// It is for the SQLite backend only; on PostgreSQL it is a Config error.
func (c *Client) EnqueueCallTx(ctx context.Context, tx *sql.Tx, args CallArgs) (int64, error) {
	rc, err := c.sqliteRiver("enqueue " + KindCall + " in a transaction")
	if err != nil {
		return 0, err
	}
	res, err := rc.InsertTx(ctx, tx, args, callInsertOpts())
	if err != nil {
		return 0, ethos.Errorf(ethos.Internal, "jobs: enqueue %s: %w", KindCall, err)
	}
	return res.Job.ID, nil
}

// Call enqueues args and waits for the result.
func (c *Client) Call(ctx context.Context, args CallArgs) (ethos.Response, error) {
	id, err := c.EnqueueCall(ctx, args)
	if err != nil {
		return ethos.Response{}, err
	}
	return c.WaitCall(ctx, id)
}

// WaitCall waits until llm.call job jobID has finished and returns the
// response it recorded. A job that gave up returns an *ethos.Error with the
// kind of its last failure, its last error and its attempt count. It waits
// on the job row, so it works for jobs run by another process too, and
// returns a NotFound error once River has deleted the finished job.
//
// Do not call it while holding a transaction on the same database.
func (c *Client) WaitCall(ctx context.Context, jobID int64) (ethos.Response, error) {
	job, err := c.waitFinal(ctx, jobID)
	if err != nil {
		return ethos.Response{}, err
	}
	if job.Kind != KindCall {
		return ethos.Response{}, ethos.Errorf(ethos.Invalid, "jobs: job %d is a %s job, not %s", jobID, job.Kind, KindCall)
	}
	return callResult(job)
}

// waitFinal waits until job jobID is completed, cancelled or discarded and
// returns its row.
func (c *Client) waitFinal(ctx context.Context, jobID int64) (*rivertype.JobRow, error) {
	wake := c.waiters.add(jobID)
	defer c.waiters.remove(jobID, wake)
	ticker := time.NewTicker(waitRecheckInterval)
	defer ticker.Stop()

	for {
		job, err := c.river.JobGet(ctx, jobID)
		switch {
		case errors.Is(err, rivertype.ErrNotFound):
			return nil, ethos.Errorf(ethos.NotFound, "jobs: job %d not found (finished jobs are deleted after a day)", jobID)
		case err != nil && ctx.Err() != nil:
			return nil, ethos.Errorf(ethos.Transient, "jobs: wait for job %d: %w", jobID, ctx.Err())
		case err != nil:
			return nil, ethos.Errorf(ethos.Internal, "jobs: wait for job %d: %w", jobID, err)
		}
		if finalized(job.State) {
			return job, nil
		}

		select {
		case <-ctx.Done():
			return nil, ethos.Errorf(ethos.Transient, "jobs: wait for job %d (%s after %d attempts): %w", jobID, job.State, job.Attempt, ctx.Err())
		case <-wake:
		case <-ticker.C:
		}
	}
}

func finalized(state rivertype.JobState) bool {
	switch state {
	case rivertype.JobStateCompleted, rivertype.JobStateCancelled, rivertype.JobStateDiscarded:
		return true
	}
	return false
}

// callResult reads the outcome of a finished llm.call job.
func callResult(job *rivertype.JobRow) (ethos.Response, error) {
	var out callOutput
	if raw := job.Output(); raw != nil {
		if err := json.Unmarshal(raw, &out); err != nil {
			return ethos.Response{}, ethos.Errorf(ethos.Internal, "jobs: job %d: decode output: %w", job.ID, err)
		}
	}
	if job.State == rivertype.JobStateCompleted {
		if out.Response == nil {
			return ethos.Response{}, ethos.Errorf(ethos.Internal, "jobs: job %d completed without a recorded response", job.ID)
		}
		return *out.Response, nil
	}

	lastErr := "no error recorded"
	lastAttempt := job.Attempt
	if n := len(job.Errors); n > 0 {
		lastErr = strings.TrimPrefix(job.Errors[n-1].Error, "JobCancelError: ")
		lastAttempt = job.Errors[n-1].Attempt
	}
	e := &ethos.Error{Kind: ethos.Internal}
	// The recorded failure belongs to the last error only if it came from
	// the same attempt; otherwise the last attempt ended some other way
	// (a panic, a rescue after a crash, a cancellation by hand) and its
	// kind is unknown.
	if f := out.Failure; f != nil && f.Attempt == lastAttempt {
		lastErr = f.Message
		e.Kind, e.Status, e.RetryAfter, e.RequestID = f.Kind, f.Status, f.RetryAfter, f.RequestID
	}
	e.Msg = failedJobMessage(job, lastErr)
	return ethos.Response{}, e
}

// snoozes reads how many times River has snoozed a job for a rate limit
// or an overload, from its metadata.
func snoozes(metadata []byte) int {
	var m struct {
		Snoozes int `json:"snoozes"`
		Waits   int `json:"ethos_waits"`
	}
	_ = json.Unmarshal(metadata, &m) // absent or unreadable counts as none
	// River counts every snooze; those that waited for an answer on its
	// way (a batch) are not the provider saying "later" and do not count
	// toward MaxSnoozes.
	return max(m.Snoozes-m.Waits, 0)
}

// waitsKey is the job metadata key that counts a job's Wait snoozes.
const waitsKey = "ethos_waits"

// waits is how many of a job's snoozes waited for an answer on its way.
func waits(metadata []byte) int {
	var m map[string]json.RawMessage
	if json.Unmarshal(metadata, &m) != nil {
		return 0
	}
	var n int
	_ = json.Unmarshal(m[waitsKey], &n)
	return n
}
