package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
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
	flags := c.m.newFlagSet("status", "status [--json] [--config FILE] [--db PATH]")
	var pf projectFlags
	pf.register(flags)
	asJSON := flags.Bool("json", false, "print as JSON")
	rest, err := parseFlags(flags, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageErrorf("status takes no arguments, got %q", rest)
	}
	p, err := c.m.openProject(ctx, flags, pf)
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
		c.print(rep, updates)
	}
	if len(rep.Failed) > 0 {
		return errSilent
	}
	return nil
}

func (c *StatusCommand) print(rep statusReport, updates []finetune.Update) {
	out := c.m.Stdout
	fmt.Fprintf(out, "RUNS (%d)\n", len(rep.Runs))
	if len(rep.Runs) > 0 {
		w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "ID\tKIND\tSTATUS\tUPDATED\tERROR")
		for _, r := range rep.Runs {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", r.ID, r.Kind, r.Status, r.UpdatedAt.Local().Format("2006-01-02 15:04"), orDash(r.Error))
		}
		w.Flush()
	}
	fmt.Fprintf(out, "\nFINE-TUNE JOBS (%d)\n", len(updates))
	if len(updates) > 0 {
		c.m.printJobs(out, updates)
	}
	fmt.Fprintf(out, "\nMODELS (%d)\n", len(rep.Models))
	if len(rep.Models) > 0 {
		printModels(out, rep.Models)
	}
	if n := len(rep.UnknownEndpoints); n > 0 {
		fmt.Fprintf(out, "\nENDPOINTS UP (%d, and %d unknown)\n", len(rep.Endpoints), n)
	} else {
		fmt.Fprintf(out, "\nENDPOINTS UP (%d)\n", len(rep.Endpoints))
	}
	if len(rep.Endpoints)+len(rep.UnknownEndpoints) > 0 {
		printEndpoints(out, rep.Endpoints, rep.UnknownEndpoints, time.Now())
		fmt.Fprintln(out, "each bills while up: \"ethos finetune undeploy ID\" stops one")
	}
	for _, u := range rep.UnknownEndpoints {
		fmt.Fprintf(out, "unknown: a deploy of %s was interrupted after asking %s for an endpoint and before recording it;\n"+
			"  rerun the command to find that endpoint and re-attach to it, or stop it with: ethos finetune undeploy %s\n",
			u.ModelName, u.Provider, u.JobID)
	}
	fmt.Fprintln(out)
	if len(rep.Failed) == 0 {
		fmt.Fprintln(out, "nothing failed")
	} else {
		fmt.Fprintf(out, "%d failed: %s\n", len(rep.Failed), strings.Join(rep.Failed, " "))
	}
	if len(rep.Interrupted) > 0 {
		fmt.Fprintf(out, "%d interrupted (not failed): %s; run the command that started it again to continue\n",
			len(rep.Interrupted), strings.Join(rep.Interrupted, " "))
	}
}
