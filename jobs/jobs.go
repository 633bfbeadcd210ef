// Package jobs runs ethos's work as durable jobs on River, over the same
// database as the rest of ethos: SQLite (one process) or PostgreSQL (many
// processes sharing one queue; see Backend). Everything River-specific
// stays in this package: the rest of ethos enqueues, waits and reads
// statistics through Client and never imports River.
//
// # One connection (SQLite)
//
// SQLite allows one writer at a time, and River's SQLite driver expects the
// *sql.DB it is given to have exactly one open connection
// (SetMaxOpenConns(1)). The same connection is shared with ethos's own
// tables so that a worker can write its results and insert the next stage's
// jobs in one transaction (EnqueueCallTx). The price is that a goroutine
// holding a *sql.Tx holds the only connection: while it does, it must not
// call anything that needs another one — EnqueueCall (without Tx), WaitCall,
// Call, Stats, Migrate, or any query on the *sql.DB itself. Such a call
// waits for the connection forever, and so does every River goroutine
// behind it. Commit or roll back first.
//
// # Many processes (PostgreSQL)
//
// On PostgreSQL any number of clients, in any number of processes, work
// one queue; River hands each job to one of them. They hear of new jobs
// through LISTEN/NOTIFY, so FetchPollInterval is only the fallback. The
// transactional enqueues (EnqueueTx, EnqueueCallTx) take a *sql.Tx and are
// for SQLite only.
//
// # Results
//
// River deletes finished jobs after a day, so a job's recorded output (see
// WaitCall) is for callers that wait for it soon; results that must last
// belong in ethos's own tables.
package jobs

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/internal/groupcommit"
)

// Defaults applied by New to zero Config fields.
//
// Workers are not what paces model calls: the rate limiter is. A task
// waiting for its turn at the limiter, or for a model that takes 30 s to
// answer, holds a worker, so the default is as many as the limiter may
// ever have in flight (llm.AutoCeiling); a worker is a goroutine. For the
// same reason the job timeout is long: a task may wait hours for its turn
// at a low rate limit, while each model call has its own timeout (the
// provider's `timeout`). A job left running by a killed process is rescued
// at once by RescueOrphans, not by the timeout.
const (
	DefaultWorkers           = 4096
	DefaultLocalWork         = 128
	DefaultJobTimeout        = 6 * time.Hour
	DefaultFetchCooldown     = 20 * time.Millisecond
	DefaultFetchPollInterval = 200 * time.Millisecond
	DefaultMaxAttempts       = 5
	DefaultDeadAfter         = 40 * time.Second
)

// Task priorities, River's: 1 is fetched first, 4 last.
const (
	PriorityFirst   = 1
	PriorityDefault = 2
	PriorityLast    = 4
)

// hardStopTimeout bounds how long Stop waits for cancelled jobs to return
// once the graceful stop has run out of time.
const hardStopTimeout = 10 * time.Second

// Config configures a Client. Zero fields take the defaults above.
type Config struct {
	// Workers is how many jobs run at once: in each queue, and with
	// Resolve across all the client's queues too. Tasks waiting on a
	// model call count; River is asked for no more tasks than LocalWork
	// can soon take (see fetchPilot), so a large Workers costs nothing
	// while the calls are quick.
	Workers int
	// LocalWork is how many tasks do local work at once (the store,
	// review, prompts) while the others wait for their turn; a task
	// waiting on a model call or a rate limit does not count (see
	// workGate). The default is DefaultLocalWork.
	LocalWork int
	// JobTimeout cancels a job's context after this long. A task may wait
	// long at the rate limiter, so the default is hours, not River's one
	// minute.
	JobTimeout time.Duration
	// FetchCooldown is the least time between two fetches of new jobs, and
	// FetchPollInterval the most; lower values raise throughput at the cost
	// of more queries.
	FetchCooldown     time.Duration
	FetchPollInterval time.Duration
	// RescueStuckJobsAfter is how long a job may stay running before it is
	// taken for the leftover of a killed process and retried. It must be at
	// least JobTimeout; the default is JobTimeout plus one minute.
	RescueStuckJobsAfter time.Duration
	// MaxAttempts is how many times a job runs before it is discarded.
	// Snoozes do not count.
	MaxAttempts int
	// Backoff is the wait before retry number attempt (1 after the first
	// failure). The default is DefaultBackoff.
	Backoff func(attempt int) time.Duration
	// Completer is what llm.call jobs call, normally the middleware chain.
	// A Client without one can enqueue, wait and report but not Start.
	Completer ethos.Completer
	// Tasks are the handlers of pipeline tasks, by task name: the same
	// for every queue the client works. Set either Tasks, for a client of
	// one run, or Kinds and Resolve, for a client of many.
	Tasks map[string]TaskFunc
	// Kinds are the task names a client of many runs registers once, and
	// Resolve finds the handlers of a queue's tasks (a run's pipeline) the
	// first time one of its tasks is worked; the client keeps them (see
	// AddQueue, RemoveQueue).
	Kinds   []string
	Resolve func(ctx context.Context, queue string) (Handlers, error)
	// Priorities order the tasks waiting in the queue, by task name:
	// PriorityFirst is fetched before PriorityLast. A pipeline puts the
	// tasks that finish items first, so a large backlog of new work does
	// not hold back the results. Unnamed tasks get PriorityDefault.
	Priorities map[string]int
	// Queue is the queue tasks are put in and taken from, e.g. one run's
	// ID, so that a process works only its own run's tasks and leaves
	// those of other (interrupted) runs for when they are resumed. Empty
	// means River's default queue. llm.call jobs always use the default,
	// which only a client with a Completer works.
	Queue string
	// ID names the client in River's job rows (attempted_by) and in its
	// heartbeat row on PostgreSQL; empty makes one of the host name, the
	// process ID and a random part.
	ID string
	// DeadAfter is how old the heartbeat of a client on PostgreSQL may
	// grow before the others take it for dead and make the jobs it was
	// running available again; the default is DefaultDeadAfter. Clients
	// beat every DeadAfter/4.
	DeadAfter time.Duration
	// Logger receives River's logs. When nil, warnings and errors go to
	// slog.Default(); River's info lines (one per retried job) are dropped.
	Logger *slog.Logger

	// testOnly turns off River's start-up jitter of its maintenance
	// services, so tests that need the job rescuer do not wait for it.
	testOnly bool
	// now is the clock of heartbeats and sweeps; nil is time.Now.
	now func() time.Time
}

func (cfg Config) withDefaults() Config {
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.LocalWork <= 0 {
		cfg.LocalWork = DefaultLocalWork
	}
	if cfg.JobTimeout == 0 {
		cfg.JobTimeout = DefaultJobTimeout
	}
	if cfg.FetchCooldown == 0 {
		cfg.FetchCooldown = DefaultFetchCooldown
	}
	if cfg.FetchPollInterval == 0 {
		cfg.FetchPollInterval = DefaultFetchPollInterval
	}
	if cfg.Queue == "" {
		cfg.Queue = river.QueueDefault
	}
	if cfg.RescueStuckJobsAfter == 0 {
		cfg.RescueStuckJobsAfter = cfg.JobTimeout + time.Minute
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.Backoff == nil {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(warnHandler{slog.Default().Handler()})
	}
	if cfg.ID == "" {
		cfg.ID = newClientID()
	}
	if cfg.DeadAfter <= 0 {
		cfg.DeadAfter = DefaultDeadAfter
	}
	if cfg.now == nil {
		cfg.now = time.Now
	}
	return cfg
}

// Client enqueues and works ethos's durable jobs.
type Client struct {
	backend backend
	cfg     Config
	river   riverClient
	waiters *waiters
	// inserter batches the inserts of Enqueue and EnqueueMany; nil where
	// the backend gains nothing from it (see backend.groupInserts).
	inserter *groupcommit.Queue[*insertReq]
	// kinds are the task names the client has handlers for.
	kinds map[string]bool
	// runs finds and keeps each queue's handlers.
	runs *resolver
	// work bounds the tasks doing local work at once.
	work *workGate
	// heart beats for the client while it is started on PostgreSQL.
	heart *heartbeat
}

// Migrate creates or upgrades River's tables in the SQLite database db. It
// is idempotent.
func Migrate(ctx context.Context, db *sql.DB) error {
	return MigrateOn(ctx, SQLite(db))
}

// New returns a Client over the SQLite database db, which must have
// exactly one open connection (see the package documentation) and River's
// tables (see Migrate).
func New(db *sql.DB, cfg Config) (*Client, error) {
	return NewOn(SQLite(db), cfg)
}

// NewOn returns a Client over b, which must have River's tables (see
// MigrateOn).
func NewOn(b Backend, cfg Config) (*Client, error) {
	if b.impl == nil {
		return nil, errNoBackend
	}
	cfg = cfg.withDefaults()
	if cfg.RescueStuckJobsAfter < cfg.JobTimeout {
		return nil, ethos.Errorf(ethos.Config, "jobs: RescueStuckJobsAfter (%s) must be at least JobTimeout (%s)", cfg.RescueStuckJobsAfter, cfg.JobTimeout)
	}

	c := &Client{backend: b.impl, cfg: cfg, waiters: newWaiters(), work: newWorkGate(cfg.LocalWork)}
	var err error
	if b.impl.groupInserts() {
		c.inserter = newInserter()
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &callWorker{completer: cfg.Completer, backoff: cfg.Backoff, timeout: cfg.JobTimeout})
	c.runs, err = newResolver(cfg)
	if err != nil {
		return nil, err
	}
	c.kinds = map[string]bool{}
	for _, name := range c.runs.kinds {
		c.kinds[name] = true
		river.AddWorkerArgs(workers, Task{Name: name}, &taskWorker{name: name, backoff: cfg.Backoff, timeout: cfg.JobTimeout, client: c})
	}

	// The default queue holds llm.call jobs; a client with no Completer
	// and a queue of its own leaves them to the clients that can work
	// them, instead of cancelling them for want of a Completer.
	queues := map[string]river.QueueConfig{cfg.Queue: {MaxWorkers: cfg.Workers}}
	if cfg.Completer != nil {
		queues[river.QueueDefault] = river.QueueConfig{MaxWorkers: cfg.Workers}
	}
	rc, err := b.impl.newRiver(&river.Config{
		FetchCooldown:        cfg.FetchCooldown,
		FetchPollInterval:    cfg.FetchPollInterval,
		JobTimeout:           cfg.JobTimeout,
		ID:                   cfg.ID,
		Logger:               cfg.Logger,
		MaxAttempts:          cfg.MaxAttempts,
		Queues:               queues,
		RescueStuckJobsAfter: cfg.RescueStuckJobsAfter,
		RetryPolicy:          &retryPolicy{backoff: cfg.Backoff},
		TestOnly:             cfg.testOnly,
		Workers:              workers,
	}, c.work)
	if err != nil {
		return nil, ethos.Errorf(ethos.Config, "jobs: new client: %w", err)
	}
	c.river = rc
	return c, nil
}

// Start begins working jobs. It returns once the workers are started; they
// run until Stop, or until ctx is cancelled (which cancels running jobs).
func (c *Client) Start(ctx context.Context) error {
	if c.cfg.Completer == nil && len(c.kinds) == 0 {
		return ethos.Errorf(ethos.Config, "jobs: start: nothing to work: set Config.Completer (llm.call jobs) or Config.Tasks")
	}
	if err := c.startHeartbeat(ctx); err != nil {
		return err
	}
	if err := c.river.Start(ctx); err != nil {
		c.stopHeartbeat(context.WithoutCancel(ctx))
		return ethos.Errorf(ethos.Internal, "jobs: start: %w", err)
	}
	// One subscription for all waiters. River closes it when the client
	// stops, which ends the forwarding goroutine.
	events, _ := c.river.SubscribeConfig(&river.SubscribeConfig{
		ChanSize: 10_000,
		Kinds:    []river.EventKind{river.EventKindJobCompleted, river.EventKindJobCancelled, river.EventKindJobFailed},
	})
	go func() {
		for ev := range events {
			if ev.Job != nil {
				c.waiters.wake(ev.Job.ID)
			}
		}
	}()
	return nil
}

// Stop stops fetching jobs and waits for running ones to finish. If ctx
// ends first, it cancels the running jobs (they are retried later without
// losing an attempt) and waits a little longer for them to return.
func (c *Client) Stop(ctx context.Context) error {
	// The heartbeat ends last: until the jobs are finished or released,
	// the client is alive and its jobs are its own.
	defer c.stopHeartbeat(context.WithoutCancel(ctx))
	err := c.river.Stop(ctx)
	if err == nil || ctx.Err() == nil {
		if err != nil {
			return ethos.Errorf(ethos.Internal, "jobs: stop: %w", err)
		}
		return nil
	}
	c.cfg.Logger.WarnContext(ctx, "jobs: graceful stop ran out of time; cancelling running jobs")
	hardCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), hardStopTimeout)
	defer cancel()
	if err := c.river.StopAndCancel(hardCtx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return ethos.Errorf(ethos.Internal, "jobs: stop: running jobs did not return %s after cancellation: %w", hardStopTimeout, err)
		}
		return ethos.Errorf(ethos.Internal, "jobs: stop: %w", err)
	}
	return nil
}

// warnHandler passes on only warnings and errors.
type warnHandler struct{ slog.Handler }

func (h warnHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return level >= slog.LevelWarn && h.Handler.Enabled(ctx, level)
}

// Handle drops River's reports of work a stop cut short: an error logged
// under a cancelled context whose error is the cancellation. When the
// process stops (Ctrl-C), they say nothing the user needs, and the command
// says itself that it was interrupted.
func (h warnHandler) Handle(ctx context.Context, r slog.Record) error {
	if ctx.Err() != nil && cancellationOnly(r) {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

// cancellationOnly reports whether r's error attribute, as an error or as
// River's text of one, is a context cancellation.
func cancellationOnly(r slog.Record) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		if a.Key != "err" && a.Key != "error" {
			return true
		}
		switch v := a.Value.Any().(type) {
		case error:
			found = errors.Is(v, context.Canceled)
		case string:
			found = strings.HasSuffix(v, context.Canceled.Error())
		}
		return !found
	})
	return found
}

func (h warnHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return warnHandler{h.Handler.WithAttrs(attrs)}
}

func (h warnHandler) WithGroup(name string) slog.Handler {
	return warnHandler{h.Handler.WithGroup(name)}
}
