package main

import (
	"context"
	"fmt"

	"github.com/ethos-toolkit/ethos/finetune"
	"github.com/ethos-toolkit/ethos/pipeline"
	"github.com/ethos-toolkit/ethos/project"
)

// MonitorCommand follows active fine-tune jobs as a durable periodic job
// and notifies on changes.
type MonitorCommand struct{ m *Main }

// Run polls every active job each interval until interrupted, or once.
func (c *MonitorCommand) Run(ctx context.Context, args []string) error {
	flags, pf := c.m.projectFlagSet("monitor", "monitor [--interval 2m] [--once] [--webhook URL] [--on-complete CMD] [--config FILE] [--db PATH]")
	var ms project.MonitorSettings
	ms.RegisterFlags(flags, "interval")
	once := flags.Bool("once", false, "poll once, deliver what changed, and exit (exit 1 if a job could not be polled)")
	if err := parseNoArgs(flags, args); err != nil {
		return err
	}
	if err := ms.Check("monitor", c.m.Getenv); err != nil {
		return err
	}

	p, err := c.m.openProject(ctx, flags, *pf)
	if err != nil {
		return err
	}
	defer p.Close()
	unlock, err := p.LockMonitor(ctx)
	if err != nil {
		return err
	}
	defer unlock()

	mon := p.Monitor(ms, c.m.Stderr)
	if *once {
		return pipeline.PollOnce(ctx, p.Jobs(), mon, pipeline.MonitorObserver{Polled: func(r finetune.Round) {
			fmt.Fprintf(c.m.Stderr, "polled %d active job(s): %d change(s)\n", r.Polled, len(r.Changes))
		}})
	}
	return pipeline.FollowJobs(ctx, p.Jobs(), mon, ms.Observer(c.m.Stderr,
		"Ctrl-C to stop (jobs are followed again when the monitor restarts)"))
}
