package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/eval"
	"github.com/ethos-toolkit/ethos/generate"
	"github.com/ethos-toolkit/ethos/jobs"
	"github.com/ethos-toolkit/ethos/pipeline"
)

// workerPoll is how often a worker looks for runs that have appeared or
// ended.
const workerPoll = time.Second

// workerKinds are the task names a worker registers: every stage's that a
// run on a shared store may queue.
var workerKinds = []string{
	generate.TaskIdeas, generate.TaskDocument, generate.TaskResponse, generate.TaskRejected,
	eval.TaskAnswer, eval.TaskJudge, eval.TaskScore,
}

// monitorTakeover is how often a worker that does not follow the
// fine-tune jobs tries to take the monitor's lock: when the process that
// holds it ends, another worker follows the jobs within this long.
const monitorTakeover = 5 * time.Second

// WorkerCommand works the tasks of every running generation and
// evaluation on a shared (PostgreSQL) store, beside other workers, and
// one worker at a time follows the fine-tune jobs.
type WorkerCommand struct{ m *Main }

// Run works runs' tasks until interrupted.
func (c *WorkerCommand) Run(ctx context.Context, args []string) error {
	flags := c.m.newFlagSet("worker", "worker [--queues RUN_ID,…] [--max-in-flight N] [--stop-timeout D] [--dead-after D] [--monitor-interval 2m] [--webhook URL] [--on-complete CMD] [--config FILE] [--db URL]")
	var pf projectFlags
	pf.register(flags)
	var ms monitorSettings
	ms.register(flags, "monitor-interval")
	queues := flags.String("queues", "", "work only these runs, by `ID`, comma-separated (default: every running generation and evaluation)")
	maxInFlight := flags.Int("max-in-flight", jobs.DefaultWorkers, "the most tasks this worker holds at once, across runs (each makes one model call at a time)")
	stopTimeout := flags.Duration("stop-timeout", 10*time.Second, "on SIGTERM or Ctrl-C, how long to let tasks in hand finish before releasing them to other workers")
	deadAfter := flags.Duration("dead-after", jobs.DefaultDeadAfter, "take a worker whose heartbeat is this old for dead and make its tasks available again (workers beat every quarter of it; give every worker the same value)")
	rest, err := parseFlags(flags, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageErrorf("worker takes no arguments, got %q", rest)
	}
	if *maxInFlight < 1 || *stopTimeout <= 0 {
		return usageErrorf("worker: --max-in-flight must be at least 1 and --stop-timeout positive")
	}
	if *deadAfter < 4*time.Second {
		return usageErrorf("worker: --dead-after %s is too short to tell a busy worker from a dead one; give 4s or more (default %s)", *deadAfter, jobs.DefaultDeadAfter)
	}
	if err := ms.check("worker", "monitor-interval", c.m.Getenv); err != nil {
		return err
	}
	var only []string
	for _, id := range strings.Split(*queues, ",") {
		if id = strings.TrimSpace(id); id != "" {
			only = append(only, id)
		}
	}

	p, err := c.m.openProject(ctx, flags, pf)
	if err != nil {
		return err
	}
	defer p.Close()
	if !p.postgres {
		return ethos.Errorf(ethos.Config, "ethos worker needs a PostgreSQL store (--db postgres://… or $ETHOS_DATABASE_URL); %s is a SQLite file, which one process works: run ethos generate there instead", p.dbPath)
	}
	completer, err := p.Completer(ctx, 0)
	if err != nil {
		return err
	}
	if err := jobs.MigrateOn(ctx, p.jobs); err != nil {
		return err
	}
	q, err := jobs.NewOn(p.jobs, jobs.Config{
		Workers:   *maxInFlight,
		DeadAfter: *deadAfter,
		Completer: completer,
		Kinds:     workerKinds,
		Resolve: func(ctx context.Context, queue string) (jobs.Handlers, error) {
			return runHandlers(ctx, p, completer, queue)
		},
	})
	if err != nil {
		return err
	}
	// The tasks run under a context the signal does not cancel: on
	// SIGTERM the worker stops taking tasks and lets those in hand finish
	// for --stop-timeout, then cancels them (see jobs.Client.Stop).
	if err := q.Start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	which := "every running run's tasks"
	if len(only) > 0 {
		which = "the tasks of " + strings.Join(only, ", ")
	}
	fmt.Fprintf(c.m.Stderr, "worker %s on %s: working %s, %d at most at once\n", q.ID(), p.dbPath, which, *maxInFlight)
	// The batches, like the tasks, go on past the signal until the tasks
	// in hand are done: some wait for a batch's answers.
	stopLoads, stopBatches := p.publishLoads(ctx), p.runBatches(context.WithoutCancel(ctx))
	monitored := make(chan struct{})
	go func() {
		defer close(monitored)
		c.followFineTunes(ctx, p, &ms)
	}()
	err = c.follow(ctx, p, q, only)

	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), *stopTimeout)
	defer cancel()
	serr := q.Stop(stopCtx)
	stopBatches()
	stopLoads()
	<-monitored
	if serr != nil {
		return serr
	}
	fmt.Fprintf(c.m.Stderr, "worker %s stopped\n", q.ID())
	if ctx.Err() != nil {
		return nil // asked to stop: done
	}
	return err
}

// follow adds the queue of every running run (of only, when given) as it
// appears, and removes those of runs that ended, until ctx ends.
func (c *WorkerCommand) follow(ctx context.Context, p *project, q *jobs.Client, only []string) error {
	working := map[string]bool{}
	t := time.NewTicker(workerPoll)
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
				fmt.Fprintf(c.m.Stderr, "working run %s (%s)\n", r.ID, r.Kind)
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
				fmt.Fprintf(c.m.Stderr, "warning: run %s ended, but its queue is still being let go: %v\n", id, err)
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

// followFineTunes follows the active fine-tune jobs, as ethos monitor
// does, while this worker holds the store's monitor lock: it tries to take
// it every monitorTakeover, so that one process at a time follows the jobs
// (an ethos monitor, or one of the workers) and another takes over when
// it ends. It returns when ctx ends.
func (c *WorkerCommand) followFineTunes(ctx context.Context, p *project, ms *monitorSettings) {
	t := time.NewTicker(monitorTakeover)
	defer t.Stop()
	for {
		unlock, err := p.lock(ctx, monitorLock)
		if err == nil {
			err = pipeline.FollowJobs(ctx, p.jobs, ms.monitor(p, c.m.Stderr), ms.observer(c.m.Stderr,
				"this worker holds the monitor's lock"))
			unlock()
		}
		if ctx.Err() != nil {
			return
		}
		if err != nil && ethos.KindOf(err) != ethos.Conflict {
			fmt.Fprintf(c.m.Stderr, "warning: following the fine-tune jobs: %v; trying again in %s\n", err, monitorTakeover)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// generateKind is the kind of a generation run's record.
const generateKind = "generate"

// runHandlers are the task handlers of the run whose queue is queue,
// built from the settings stored with it: a worker needs nothing of the
// process that started the run.
func runHandlers(ctx context.Context, p *project, completer ethos.Completer, queue string) (jobs.Handlers, error) {
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

// checkNoWork refuses --no-work where nothing would do the work (a SQLite
// store, which one process works) and beside --max-cost, which caps the
// calls of the process that makes them: the workers, not this one.
func checkNoWork(p *project, command string, noWork bool, maxCost float64) error {
	switch {
	case !noWork:
		return nil
	case !p.postgres:
		return ethos.Errorf(ethos.Config, "%s --no-work: %s is a SQLite store, which no other process works; leave out --no-work, or use a PostgreSQL store with ethos worker processes", command, p.dbPath)
	case maxCost > 0:
		return ethos.Errorf(ethos.Config, "%s --no-work: --max-cost caps the calls of the process that makes them, and with --no-work the workers make them; leave out --no-work to cap this run's cost, or --max-cost", command)
	}
	return nil
}
