package pipeline

import (
	"context"
	"encoding/json"

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
