package main

import (
	"context"
	"time"

	"github.com/ethos-toolkit/ethos/finetune"
	"github.com/ethos-toolkit/ethos/pipeline"
)

// StatusCommand is a one-shot overview of the project for people and
// scripts: runs, fine-tune jobs, models; its exit status says whether
// anything failed. An interrupted run is shown as such, with how to go on,
// and is not a failure.
type StatusCommand struct{ m *Main }

// statusReport is what ethos status --json prints.
type statusReport = pipeline.Status

// Run prints the overview and exits 1 when a run or job failed.
func (c *StatusCommand) Run(ctx context.Context, args []string) error {
	flags, pf := c.m.projectFlagSet("status", "status [--json] [--config FILE] [--db PATH]")
	asJSON := flags.Bool("json", false, "print as JSON")
	if err := parseNoArgs(flags, args); err != nil {
		return err
	}
	p, err := c.m.openProject(ctx, flags, *pf)
	if err != nil {
		return err
	}
	defer p.Close()

	rep, updates, err := pipeline.LoadStatus(ctx, p.FineTune())
	if err != nil {
		return err
	}

	if *asJSON {
		for i := range rep.Jobs {
			rep.Jobs[i].Payload = nil // the provider's object is for ethos finetune status
		}
		if err := writeJSON(c.m.Stdout, rep); err != nil {
			return err
		}
	} else {
		pipeline.WriteStatus(c.m.Stdout, rep, updates, time.Now())
		finetune.WriteStale(c.m.Stderr, updates)
	}
	if len(rep.Failed) > 0 {
		return errSilent
	}
	return nil
}
