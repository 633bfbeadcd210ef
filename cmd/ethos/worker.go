package main

import (
	"context"
	"fmt"
	"strings"

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
	var o project.WorkerOptions
	o.RegisterFlags(flags)
	if err := parseNoArgs(flags, args); err != nil {
		return err
	}
	if err := o.Check(); err != nil {
		return err
	}
	if err := ms.Check("worker", c.m.Getenv); err != nil {
		return err
	}

	p, err := c.m.openProject(ctx, flags, *pf)
	if err != nil {
		return err
	}
	defer p.Close()
	q, err := p.Worker(ctx, o.MaxInFlight, o.DeadAfter)
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
	if len(o.Queues) > 0 {
		which = "the tasks of " + strings.Join(o.Queues, ", ")
	}
	fmt.Fprintf(c.m.Stderr, "worker %s on %s: working %s, %d at most at once\n", q.ID(), p.StoreName(), which, o.MaxInFlight)
	// The batches, like the tasks, go on past the signal until the tasks
	// in hand are done: some wait for a batch's answers.
	stopLoads, stopBatches := p.PublishLoads(ctx), p.RunBatches(context.WithoutCancel(ctx))
	monitored := make(chan struct{})
	go func() {
		defer close(monitored)
		p.FollowFineTunes(ctx, ms, c.m.Stderr, ms.Observer(c.m.Stderr,
			"this worker holds the monitor's lock"))
	}()
	err = p.FollowRuns(ctx, q, o.Queues)

	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.StopTimeout)
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
