package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ethos-toolkit/ethos/jobs"
	"github.com/ethos-toolkit/ethos/project"
)

// WorkerCommand works the tasks of every running generation and
// evaluation on a shared (PostgreSQL) store, beside other workers, and
// one worker at a time follows the fine-tune jobs.
type WorkerCommand struct{ m *Main }

// Run works runs' tasks until interrupted.
func (c *WorkerCommand) Run(ctx context.Context, args []string) error {
	flags, pf := c.m.projectFlagSet("worker", "worker [--queues RUN_ID,…] [--max-in-flight N] [--stop-timeout D] [--dead-after D] [--monitor-interval 2m] [--webhook URL] [--on-complete CMD] [--config FILE] [--db URL]")
	var ms project.MonitorSettings
	ms.RegisterFlags(flags, "monitor-interval")
	queues := flags.String("queues", "", "work only these runs, by `ID`, comma-separated (default: every running generation and evaluation)")
	maxInFlight := flags.Int("max-in-flight", jobs.DefaultWorkers, "the most tasks this worker holds at once, across runs (each makes one model call at a time)")
	stopTimeout := flags.Duration("stop-timeout", 10*time.Second, "on SIGTERM or Ctrl-C, how long to let tasks in hand finish before releasing them to other workers")
	deadAfter := flags.Duration("dead-after", jobs.DefaultDeadAfter, "take a worker whose heartbeat is this old for dead and make its tasks available again (workers beat every quarter of it; give every worker the same value)")
	if err := parseNoArgs(flags, args); err != nil {
		return err
	}
	if *maxInFlight < 1 || *stopTimeout <= 0 {
		return usageErrorf("worker: --max-in-flight must be at least 1 and --stop-timeout positive")
	}
	if *deadAfter < 4*time.Second {
		return usageErrorf("worker: --dead-after %s is too short to tell a busy worker from a dead one; give 4s or more (default %s)", *deadAfter, jobs.DefaultDeadAfter)
	}
	if err := ms.Check("worker", c.m.Getenv); err != nil {
		return err
	}
	var only []string
	for _, id := range strings.Split(*queues, ",") {
		if id = strings.TrimSpace(id); id != "" {
			only = append(only, id)
		}
	}

	p, err := c.m.openProject(ctx, flags, *pf)
	if err != nil {
		return err
	}
	defer p.Close()
	q, err := p.Worker(ctx, *maxInFlight, *deadAfter)
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
	fmt.Fprintf(c.m.Stderr, "worker %s on %s: working %s, %d at most at once\n", q.ID(), p.StoreName(), which, *maxInFlight)
	// The batches, like the tasks, go on past the signal until the tasks
	// in hand are done: some wait for a batch's answers.
	stopLoads, stopBatches := p.PublishLoads(ctx), p.RunBatches(context.WithoutCancel(ctx))
	monitored := make(chan struct{})
	go func() {
		defer close(monitored)
		p.FollowFineTunes(ctx, ms, c.m.Stderr, ms.Observer(c.m.Stderr,
			"this worker holds the monitor's lock"))
	}()
	err = p.FollowRuns(ctx, q, only)

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
