package pipeline

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/finetune"
)

// Status is a one-shot overview of a project: its runs, fine-tune jobs,
// models and endpoints, and what failed.
type Status struct {
	Runs   []ethos.Run        `json:"runs"`
	Jobs   []finetune.JobView `json:"finetune_jobs"`
	Models []ethos.Model      `json:"models"`
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

// LoadStatus reads the overview of the project svc's store holds, its
// active jobs refreshed from their providers (updates, in the order of
// Jobs). A fine-tune request's record and a model's deploys are not listed
// as runs: their jobs and endpoints are. A run's kind says whether a
// generation run writes a dataset or an evaluation's held-out prompts;
// its settings are left out (they are not state).
func LoadStatus(ctx context.Context, svc *finetune.Service) (Status, []finetune.Update, error) {
	st := Status{Runs: []ethos.Run{}, Jobs: []finetune.JobView{}, Models: []ethos.Model{}, Endpoints: []ethos.Endpoint{}, Failed: []string{}, Interrupted: []string{}}
	runs, err := svc.Store.Runs(ctx, "", 0)
	if err != nil {
		return st, nil, err
	}
	for _, r := range runs {
		if r.Kind == finetune.RunKind || r.Kind == finetune.DeployRunKind {
			continue
		}
		r.Kind = runKindLabel(r)
		r.Params = nil
		st.Runs = append(st.Runs, r)
		switch r.Status {
		case ethos.RunFailed:
			st.Failed = append(st.Failed, "run "+r.ID)
		case ethos.RunInterrupted:
			st.Interrupted = append(st.Interrupted, "run "+r.ID)
		}
	}
	updates, err := svc.List(ctx, ethos.FineTuneFilter{})
	if err != nil {
		return st, nil, err
	}
	for _, u := range updates {
		st.Jobs = append(st.Jobs, finetune.ViewOf(u))
		if u.Job.State == ethos.FineTuneFailed {
			st.Failed = append(st.Failed, "job "+u.Job.ID)
		}
	}
	models, err := svc.Store.Models(ctx)
	if err != nil {
		return st, nil, err
	}
	if models != nil {
		st.Models = models
	}
	up, err := svc.Store.Endpoints(ctx, ethos.EndpointFilter{Up: true})
	if err != nil {
		return st, nil, err
	}
	if up != nil {
		st.Endpoints = up
	}
	if st.UnknownEndpoints, err = svc.PendingDeploys(ctx); err != nil {
		return st, nil, err
	}
	return st, updates, nil
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

// WriteStatus writes the overview as ethos status shows it: the runs, the
// fine-tune jobs (updates, as LoadStatus returned them), the models, the
// endpoints that may be up with their cost by now, and what failed or was
// interrupted. Why a job could not be refreshed is for
// finetune.WriteStale.
func WriteStatus(out io.Writer, st Status, updates []finetune.Update, now time.Time) {
	fmt.Fprintf(out, "RUNS (%d)\n", len(st.Runs))
	if len(st.Runs) > 0 {
		w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "ID\tKIND\tSTATUS\tUPDATED\tERROR")
		for _, r := range st.Runs {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", r.ID, r.Kind, r.Status, r.UpdatedAt.Local().Format("2006-01-02 15:04"), cmp.Or(r.Error, "-"))
		}
		w.Flush()
	}
	fmt.Fprintf(out, "\nFINE-TUNE JOBS (%d)\n", len(updates))
	if len(updates) > 0 {
		finetune.WriteJobs(out, updates)
	}
	fmt.Fprintf(out, "\nMODELS (%d)\n", len(st.Models))
	if len(st.Models) > 0 {
		finetune.WriteModels(out, st.Models)
	}
	if n := len(st.UnknownEndpoints); n > 0 {
		fmt.Fprintf(out, "\nENDPOINTS UP (%d, and %d unknown)\n", len(st.Endpoints), n)
	} else {
		fmt.Fprintf(out, "\nENDPOINTS UP (%d)\n", len(st.Endpoints))
	}
	if len(st.Endpoints)+len(st.UnknownEndpoints) > 0 {
		finetune.WriteEndpoints(out, st.Endpoints, st.UnknownEndpoints, now)
		fmt.Fprintln(out, "each bills while up: \"ethos finetune undeploy ID\" stops one")
	}
	for _, u := range st.UnknownEndpoints {
		fmt.Fprintf(out, "unknown: a deploy of %s was interrupted after asking %s for an endpoint and before recording it;\n"+
			"  rerun the command to find that endpoint and re-attach to it, or stop it with: ethos finetune undeploy %s\n",
			u.ModelName, u.Provider, u.JobID)
	}
	fmt.Fprintln(out)
	if len(st.Failed) == 0 {
		fmt.Fprintln(out, "nothing failed")
	} else {
		fmt.Fprintf(out, "%d failed: %s\n", len(st.Failed), strings.Join(st.Failed, " "))
	}
	if len(st.Interrupted) > 0 {
		fmt.Fprintf(out, "%d interrupted (not failed): %s; run the command that started it again to continue\n",
			len(st.Interrupted), strings.Join(st.Interrupted, " "))
	}
}
