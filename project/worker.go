package project

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/eval"
	"github.com/ethos-toolkit/ethos/finetune"
	"github.com/ethos-toolkit/ethos/generate"
	"github.com/ethos-toolkit/ethos/jobs"
	"github.com/ethos-toolkit/ethos/pipeline"
)

// runPoll is how often FollowRuns looks for runs that have appeared or
// ended.
const runPoll = time.Second

// monitorTakeover is how often a worker that does not follow the
// fine-tune jobs tries to take the monitor's lock: when the process that
// holds it ends, another worker follows the jobs within this long.
const monitorTakeover = 5 * time.Second

// workerKinds are the task names a worker registers: every stage's that a
// run on a shared store may queue.
var workerKinds = []string{
	generate.TaskIdeas, generate.TaskDocument, generate.TaskResponse, generate.TaskRejected,
	eval.TaskAnswer, eval.TaskJudge, eval.TaskScore,
}

// generateKind is the kind of a generation run's record.
const generateKind = "generate"

// ResumeSettings reads into settings (a *generate.Settings or
// *eval.Settings) the settings stored with run id, which must be of kind
// (a generation run or an evaluation): what --resume continues.
func (p *Project) ResumeSettings(ctx context.Context, id, kind string, settings any) error {
	run, err := p.store.Run(ctx, id)
	if err != nil {
		return ethos.Errorf(ethos.Config, "--resume %s: %w", id, err)
	}
	if run.Kind != kind {
		want := map[string]string{generateKind: "a generation run", ethos.RunKindEval: "an evaluation"}[kind]
		return ethos.Errorf(ethos.Config, "--resume %s: a %s run, not %s", id, run.Kind, want)
	}
	if err := json.Unmarshal(run.Params, settings); err != nil {
		return ethos.Errorf(ethos.Internal, "run %s: reading its settings: %w", run.ID, err)
	}
	return nil
}

// RunHandlers are the task handlers of the run whose queue is queue,
// built from the settings stored with it: a worker needs nothing of the
// process that started the run. It is a jobs.Config's Resolve.
func (p *Project) RunHandlers(ctx context.Context, completer ethos.Completer, queue string) (jobs.Handlers, error) {
	run, err := p.store.Run(ctx, queue)
	if err != nil {
		return jobs.Handlers{}, err
	}
	switch run.Kind {
	case generateKind:
		var s generate.Settings
		if err := json.Unmarshal(run.Params, &s); err != nil {
			return jobs.Handlers{}, ethos.Errorf(ethos.Internal, "run %s: reading its settings: %w", run.ID, err)
		}
		pipe := generate.NewPipeline(p.store, completer, s)
		if pipe.RunID() != run.ID {
			return jobs.Handlers{}, ethos.Errorf(ethos.Internal, "run %s: its stored settings make run %s; a newer or older ethos wrote them", run.ID, pipe.RunID())
		}
		if err := pipe.Attach(ctx); err != nil {
			return jobs.Handlers{}, err
		}
		return jobs.Handlers{Tasks: pipe.Tasks(), Priorities: pipe.Priorities()}, nil
	case ethos.RunKindEval:
		var s eval.Settings
		if err := json.Unmarshal(run.Params, &s); err != nil {
			return jobs.Handlers{}, ethos.Errorf(ethos.Internal, "evaluation %s: reading its settings: %w", run.ID, err)
		}
		ev, err := eval.New(p.store, completer, s)
		if err != nil {
			return jobs.Handlers{}, err
		}
		if err := ev.Attach(ctx); err != nil {
			return jobs.Handlers{}, err
		}
		return jobs.Handlers{Tasks: ev.Tasks(), Priorities: ev.Priorities()}, nil
	}
	return jobs.Handlers{}, ethos.Errorf(ethos.Invalid, "run %s is a %s run, which has no tasks a worker works", run.ID, run.Kind)
}

// Worker is a job-queue client that works the tasks of the runs on the
// project's shared (PostgreSQL) store, beside other workers: a run's
// handlers are built from its stored settings (RunHandlers) the first time
// one of its tasks is worked. maxInFlight is the most tasks it holds at
// once; a worker whose heartbeat is deadAfter old is taken for dead. It is
// not started, and works no run until FollowRuns (or AddQueue) adds it.
func (p *Project) Worker(ctx context.Context, maxInFlight int, deadAfter time.Duration) (*jobs.Client, error) {
	if !p.shared {
		return nil, ethos.Errorf(ethos.Config, "ethos worker needs a PostgreSQL store (--db postgres://… or $ETHOS_DATABASE_URL); %s is a SQLite file, which one process works: run ethos generate there instead", p.storeName)
	}
	completer, err := p.Completer(ctx, 0)
	if err != nil {
		return nil, err
	}
	if err := jobs.MigrateOn(ctx, p.jobs); err != nil {
		return nil, err
	}
	return jobs.NewOn(p.jobs, jobs.Config{
		Workers:   maxInFlight,
		DeadAfter: deadAfter,
		Completer: completer,
		Kinds:     workerKinds,
		Resolve: func(ctx context.Context, queue string) (jobs.Handlers, error) {
			return p.RunHandlers(ctx, completer, queue)
		},
	})
}

// FollowRuns adds to q the queue of every running generation and
// evaluation (of only, when given) as it appears, and removes those of
// runs that ended, until ctx ends. It says on the log which runs it works.
func (p *Project) FollowRuns(ctx context.Context, q *jobs.Client, only []string) error {
	working := map[string]bool{}
	t := time.NewTicker(runPoll)
	defer t.Stop()
	for {
		runs, err := p.store.Runs(ctx, "", 0)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		running := map[string]bool{}
		for _, r := range runs {
			if r.Status != ethos.RunRunning || (len(only) > 0 && !slices.Contains(only, r.ID)) {
				continue
			}
			if r.Kind != generateKind && r.Kind != ethos.RunKindEval {
				continue
			}
			running[r.ID] = true
			if !working[r.ID] {
				if err := q.AddQueue(r.ID); err != nil {
					return err
				}
				working[r.ID] = true
				fmt.Fprintf(p.log, "working run %s (%s)\n", r.ID, r.Kind)
			}
		}
		for id := range working {
			if running[id] {
				continue
			}
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := q.RemoveQueue(rctx, id)
			cancel()
			if err != nil && ctx.Err() == nil {
				fmt.Fprintf(p.log, "warning: run %s ended, but its queue is still being let go: %v\n", id, err)
				continue
			}
			delete(working, id)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// FollowFineTunes follows the active fine-tune jobs with a monitor of
// settings s writing to out, as ethos monitor does, while this process holds the store's monitor lock: it
// tries to take it every few seconds, so that one process at a time
// follows the jobs (an ethos monitor, or one of the workers) and another
// takes over when it ends. It returns when ctx ends.
func (p *Project) FollowFineTunes(ctx context.Context, s MonitorSettings, out io.Writer, obs pipeline.MonitorObserver) {
	t := time.NewTicker(monitorTakeover)
	defer t.Stop()
	for {
		unlock, err := p.lock(ctx, MonitorLock)
		if err == nil {
			err = pipeline.FollowJobs(ctx, p.jobs, p.Monitor(s, out), obs)
			unlock()
		}
		if ctx.Err() != nil {
			return
		}
		if err != nil && ethos.KindOf(err) != ethos.Conflict {
			fmt.Fprintf(p.log, "warning: following the fine-tune jobs: %v; trying again in %s\n", err, monitorTakeover)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// CheckNoWork refuses to leave a run's work to other processes (noWork)
// where nothing would do it (a SQLite store, which one process works) and
// beside a cost cap (maxCost), which caps the calls of the process that
// makes them: the workers, not this one. command names the caller in the
// error.
func (p *Project) CheckNoWork(command string, noWork bool, maxCost float64) error {
	switch {
	case !noWork:
		return nil
	case !p.shared:
		return ethos.Errorf(ethos.Config, "%s --no-work: %s is a SQLite store, which no other process works; leave out --no-work, or use a PostgreSQL store with ethos worker processes", command, p.storeName)
	case maxCost > 0:
		return ethos.Errorf(ethos.Config, "%s --no-work: --max-cost caps the calls of the process that makes them, and with --no-work the workers make them; leave out --no-work to cap this run's cost, or --max-cost", command)
	}
	return nil
}

// MonitorSettings are how a process follows fine-tune jobs and notifies of
// their changes. They are never stored: a webhook's URL may hold a secret.
type MonitorSettings struct {
	// Interval is how often the active jobs are polled.
	Interval time.Duration
	// Webhook, when set, receives a JSON notification of every change.
	Webhook string
	// OnComplete, when set, is a shell command run when a job completes.
	OnComplete string

	intervalFlag string // the flag Interval was registered under, for Check's errors
}

// Monitor is the project's fine-tune monitor with settings s, writing its
// lines to out.
func (p *Project) Monitor(s MonitorSettings, out io.Writer) *finetune.Monitor {
	return &finetune.Monitor{Service: p.FineTune(), Interval: s.Interval, Webhook: s.Webhook,
		OnComplete: s.OnComplete, Dir: p.dir, Out: out, Queue: pipeline.MonitorQueue{}}
}

// WorkerOptions are how an ethos worker works the runs' tasks (see Worker
// and FollowRuns).
type WorkerOptions struct {
	// Queues are the runs whose tasks it works, by ID; none: every running
	// generation and evaluation.
	Queues []string
	// MaxInFlight is the most tasks it holds at once, across runs.
	MaxInFlight int
	// StopTimeout is how long tasks in hand may finish once it is told to
	// stop, before they are released to other workers.
	StopTimeout time.Duration
	// DeadAfter is how old a worker's heartbeat is when it is taken for
	// dead and its tasks are made available again.
	DeadAfter time.Duration
}

// RegisterFlags adds the options' flags to fs, as ethos worker takes them.
func (o *WorkerOptions) RegisterFlags(fs *flag.FlagSet) {
	fs.Func("queues", "work only these runs, by `ID`, comma-separated (default: every running generation and evaluation)", func(v string) error {
		for id := range strings.SplitSeq(v, ",") {
			if id = strings.TrimSpace(id); id != "" {
				o.Queues = append(o.Queues, id)
			}
		}
		return nil
	})
	fs.IntVar(&o.MaxInFlight, "max-in-flight", jobs.DefaultWorkers, "the most tasks this worker holds at once, across runs (each makes one model call at a time)")
	fs.DurationVar(&o.StopTimeout, "stop-timeout", 10*time.Second, "on SIGTERM or Ctrl-C, how long to let tasks in hand finish before releasing them to other workers")
	fs.DurationVar(&o.DeadAfter, "dead-after", jobs.DefaultDeadAfter, "take a worker whose heartbeat is this old for dead and make its tasks available again (workers beat every quarter of it; give every worker the same value)")
}

// Check refuses options no worker can work with, with errors of kind
// Config: a heartbeat must have time to beat before it is taken for dead.
func (o WorkerOptions) Check() error {
	if o.MaxInFlight < 1 || o.StopTimeout <= 0 {
		return ethos.Errorf(ethos.Config, "worker: --max-in-flight must be at least 1 and --stop-timeout positive")
	}
	if o.DeadAfter < 4*time.Second {
		return ethos.Errorf(ethos.Config, "worker: --dead-after %s is too short to tell a busy worker from a dead one; give 4s or more (default %s)", o.DeadAfter, jobs.DefaultDeadAfter)
	}
	return nil
}
