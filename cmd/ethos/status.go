package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/finetune"
)

// StatusCommand is a one-shot overview of the project for people and
// scripts: runs, fine-tune jobs, models; its exit status says whether
// anything failed. An interrupted run is shown as such, with how to go on,
// and is not a failure.
type StatusCommand struct{ m *Main }

// statusReport is what ethos status --json prints.
type statusReport struct {
	Runs   []ethos.Run   `json:"runs"`
	Jobs   []jobView     `json:"finetune_jobs"`
	Models []ethos.Model `json:"models"`
	// Endpoints are the dedicated endpoints ethos started that may still
	// be up, and billing.
	Endpoints []ethos.Endpoint `json:"endpoints_up"`
	// UnknownEndpoints are deploys an interrupted process left between
	// asking the provider for an endpoint and recording it: one may be
	// up, and billing, until a rerun (or ethos finetune undeploy JOB)
	// finds it and re-attaches.
	UnknownEndpoints []finetune.PendingDeploy `json:"endpoints_unknown,omitempty"`
	// Failed names every failed run and job, "run <id>" or "job <id>".
	Failed []string `json:"failed"`
	// Interrupted names every run stopped by Ctrl-C or a shutdown before
	// it finished, "run <id>": not failed, waiting to be continued.
	Interrupted []string `json:"interrupted"`
}

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

	rep := statusReport{Runs: []ethos.Run{}, Jobs: []jobView{}, Models: []ethos.Model{}, Endpoints: []ethos.Endpoint{}, Failed: []string{}, Interrupted: []string{}}
	runs, err := p.store.Runs(ctx, "", 0)
	if err != nil {
		return err
	}
	for _, r := range runs {
		// A fine-tune request's record, or a model's deploys: its job and
		// endpoints are listed below.
		if r.Kind == finetune.RunKind || r.Kind == finetune.DeployRunKind {
			continue
		}
		r.Kind = runKindLabel(r)
		r.Params = nil // settings, not state
		rep.Runs = append(rep.Runs, r)
		switch r.Status {
		case ethos.RunFailed:
			rep.Failed = append(rep.Failed, "run "+r.ID)
		case ethos.RunInterrupted:
			rep.Interrupted = append(rep.Interrupted, "run "+r.ID)
		}
	}
	updates, err := p.fineTune().List(ctx, ethos.FineTuneFilter{})
	if err != nil {
		return err
	}
	for _, u := range updates {
		rep.Jobs = append(rep.Jobs, viewOf(u))
		if u.Job.State == ethos.FineTuneFailed {
			rep.Failed = append(rep.Failed, "job "+u.Job.ID)
		}
	}
	models, err := p.store.Models(ctx)
	if err != nil {
		return err
	}
	if models != nil {
		rep.Models = models
	}
	up, err := p.store.Endpoints(ctx, ethos.EndpointFilter{Up: true})
	if err != nil {
		return err
	}
	if up != nil {
		rep.Endpoints = up
	}
	if rep.UnknownEndpoints, err = p.fineTune().PendingDeploys(ctx); err != nil {
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

// runKindLabel tells a generation run that writes an evaluation's held-out
// prompts (stopped after documents) from one that writes a dataset.
func runKindLabel(r ethos.Run) string {
	if r.Kind == "generate" {
		var p struct {
			StopAfter string `json:"stop_after"`
		}
		if json.Unmarshal(r.Params, &p) == nil && p.StopAfter != "" {
			return "generate (held-out prompts)"
		}
	}
	return r.Kind
}
