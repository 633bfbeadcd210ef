package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/dataset"
	"github.com/ethos-toolkit/ethos/eval"
	"github.com/ethos-toolkit/ethos/eval/report"
	"github.com/ethos-toolkit/ethos/finetune"
	"github.com/ethos-toolkit/ethos/generate"
	"github.com/ethos-toolkit/ethos/jobs"
)

// RunCommand runs the whole pipeline from the project's ethos.yaml:
// generate → split and check → fine-tune → wait → evaluate base against
// fine-tuned → report → registry. Every step is durable and skipped when
// already done, so running it again after any interruption continues.
type RunCommand struct{ m *Main }

// Run runs the pipeline and prints where its results are.
func (c *RunCommand) Run(ctx context.Context, args []string) error {
	flags := c.m.newFlagSet("run", "run [--max-cost USD] [--workers N] [--json] [--config FILE] [--db PATH]")
	var pf projectFlags
	pf.register(flags)
	maxCost := flags.Float64("max-cost", 0, "stop before the model calls of this run could spend more than this many `USD`")
	workers := flags.Int("workers", jobs.DefaultWorkers, "the most tasks held at once, waiting for the rate limiter or a model; the limiter sets the pace")
	asJSON := flags.Bool("json", false, "print the result as JSON")
	rest, err := parseFlags(flags, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageErrorf("run takes no arguments, got %q", rest)
	}
	if *maxCost < 0 || *workers < 1 {
		return usageErrorf("run: --max-cost must not be negative, --workers at least 1")
	}
	p, err := c.m.openProject(ctx, flags, pf)
	if err != nil {
		return err
	}
	defer p.Close()
	res, err := c.m.runPipeline(ctx, p, pipelineOptions{workers: *workers, maxCost: *maxCost, log: c.m.Stderr})
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(c.m.Stdout, res)
	}
	printPipelineResult(c.m.Stdout, res)
	return nil
}

// pipelineOptions are the knobs of runPipeline.
type pipelineOptions struct {
	workers int
	maxCost float64
	log     io.Writer // step lines and progress
}

// pipelineResult says what a pipeline run made and where it is.
type pipelineResult struct {
	Dir         string              `json:"dir"`
	GenerateRun string              `json:"generate_run"`
	Dataset     string              `json:"dataset"`
	Train       string              `json:"train"`
	Validation  string              `json:"validation,omitempty"`
	Warnings    int                 `json:"dataset_warnings"`
	Job         ethos.FineTuneJob   `json:"job"`
	Model       ethos.Model         `json:"model"`
	EvalID      string              `json:"eval_id"`
	Counts      eval.Counts         `json:"eval_counts"`
	Reports     []string            `json:"reports"`
	Registry    string              `json:"registry"`
	Results     []report.PairResult `json:"results"` // the tuned model against the base, per trait
	Sandbox     bool                `json:"sandbox"`
}

// runPipeline is ethos run: each step finds what an earlier run of the
// same settings already did and does only the rest.
func (m *Main) runPipeline(ctx context.Context, p *project, o pipelineOptions) (_ *pipelineResult, err error) {
	cfg := p.cfg
	logf := func(format string, args ...any) { fmt.Fprintf(o.log, format+"\n", args...) }
	res := &pipelineResult{Dir: p.dir}

	// 1. The dataset.
	settings, err := (&GenerateCommand{m}).settings(p, 0, "", "", 0)
	if err != nil {
		return nil, err
	}
	out := settings.Outputs()
	res.GenerateRun, res.Dataset = settings.RunID(), out.Dataset
	done, err := generationDone(ctx, p, settings.RunID(), out)
	if err != nil {
		return nil, err
	}
	// Everything the later steps will call is checked before the first
	// paid call: a run that stops at its evaluation has paid for its
	// generation and training by then.
	pf := p.newPreflight(o.maxCost)
	if !done {
		pf.generation(settings.Generate)
	}
	pf.pipelineEval()
	if err := pf.err(ctx); err != nil {
		return nil, err
	}
	if done {
		logf("[1/6] generate: done before (run %s, %s)", settings.RunID(), rel(p.dir, out.Dataset))
	} else {
		logf("[1/6] generate: %d examples of %s with %s", settings.Examples, settings.Character.Name, settings.Generate.Responses.Model)
		// A completed run whose files are gone writes them again.
		meta, err := m.generateDataset(ctx, p, settings, generateOptions{workers: o.workers, maxCost: o.maxCost, force: true})
		if err != nil {
			return nil, fmt.Errorf("generate: %w", err)
		}
		logf("      %d examples → %s ($%.4f)", meta.Examples, rel(p.dir, out.Dataset), meta.TotalCostUSD)
	}

	// 2. Split and check. The split depends only on the file and the seed,
	// so doing it again gives the same files (and the same uploads).
	ft := cfg.FineTune
	res.Train = out.Dataset
	if ft.Validation > 0 {
		sp, err := dataset.Split(ctx, out.Dataset, ft.Validation, settings.Seed, "", "", true)
		if err != nil {
			return nil, fmt.Errorf("split: %w", err)
		}
		res.Train, res.Validation = sp.Train, sp.Validation
		logf("[2/6] check: split %d training + %d validation examples", sp.TrainExamples, sp.ValidationExamples)
	} else {
		logf("[2/6] check: no validation split (finetune.validation is 0)")
	}
	for _, path := range []string{res.Train, res.Validation} {
		if path == "" {
			continue
		}
		// A validation file is checked like a training file, except for the
		// provider's minimum number of examples.
		rep, err := dataset.CheckFileWith(ctx, path, dataset.Options{Provider: ft.Provider, Validation: path == res.Validation})
		if err != nil {
			return nil, err
		}
		if rep.Errors() > 0 {
			for _, pr := range firstProblems(rep, 10) {
				logf("      %s:%d: %s: %s", rel(p.dir, path), pr.Line, pr.Rule, pr.Message)
			}
			return nil, ethos.Errorf(ethos.Invalid, "check: %s has %d problems %s would refuse; see ethos dataset check %s", rel(p.dir, path), rep.Errors(), ft.Provider, rel(p.dir, path))
		}
		res.Warnings += len(rep.Problems)
	}
	logf("      %s passes %s's checks (%d warnings)", rel(p.dir, res.Train), ft.Provider, res.Warnings)

	// 3. Fine-tune: Create returns the job an earlier run made for the same
	// request, or attaches to the one an interrupted run left.
	svc := p.fineTune()
	h := fineTuneSettings(ft, ft.Provider, res.Validation != "")
	created, err := svc.Create(ctx, finetune.CreateOptions{Provider: ft.Provider, BaseModel: ft.Model,
		TrainPath: res.Train, ValidationPath: res.Validation, Hyperparameters: h, RunID: settings.RunID()})
	if err != nil {
		return nil, fmt.Errorf("fine-tune: %w", err)
	}
	logf("[3/6] fine-tune: %s job %s on %s (%s)", ft.Provider, created.Job.ID, created.Job.BaseModel, created.How)

	// 4. Wait for it.
	last := ""
	job, err := svc.Wait(ctx, created.Job.ID, pollInterval(ft.Provider), func(u finetune.Update, err error) {
		if err != nil {
			logf("      %s: provider not reachable, trying again: %v", created.Job.ID, err)
			return
		}
		line := u.Job.Status
		if pr := formatProgress(u.Job.Progress); pr != "" {
			line += ", " + pr
		}
		if line != last {
			logf("[4/6] wait: %s", line)
			last = line
		}
	})
	if err != nil && ctx.Err() != nil {
		return nil, &interruptedError{err: err,
			how: fmt.Sprintf("stopped waiting; fine-tune job %s goes on at %s: run the same command again to continue", created.Job.ID, ft.Provider)}
	}
	if err != nil {
		return nil, fmt.Errorf("fine-tune %s: %w", created.Job.ID, err)
	}
	if err := finetune.JobError(job); err != nil {
		return nil, err
	}
	res.Job = job
	if res.Model, err = p.store.Model(ctx, finetune.ModelName(job)); err != nil {
		return nil, fmt.Errorf("fine-tune %s completed, but its model is not registered: %w", job.ID, err)
	}
	logf("      model %s", res.Model.Name)

	// 5. Evaluate the base model against the trained one, on held-out
	// prompts checked against the whole dataset. The trained model is
	// named by its registry name: the evaluation (and the ledger) keep one
	// name for it however it is served, and the chain calls it by the name
	// its provider answers it by now (llm.Alias).
	base := cfg.Eval.Baseline
	if base == "" {
		base = ft.Provider + "/" + finetune.BaseModel(ft.Provider, ft.Model)
	}
	es, err := p.evalSettings(ctx, evalInputs{models: "base=" + base + ",tuned=" + res.Model.Name, trainingFiles: out.Dataset, traits: "all"})
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	// An evaluation already complete needs no model served (an endpoint
	// would only bill while the run reads its results).
	evalDone, err := evalComplete(ctx, p, es)
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	if evalDone {
		if err := m.stopLeftEndpoints(ctx, p, res.Model, logf); err != nil {
			return nil, fmt.Errorf("serve %s: %w", res.Model.Name, err)
		}
	} else {
		var stopEndpoint func() error
		res.Model, stopEndpoint, err = m.serveForEval(ctx, p, res.Model, o.maxCost, logf)
		if stopEndpoint != nil {
			// The endpoint bills while up: it stops when the evaluation
			// ends, however it ends. A killed process leaves it recorded,
			// and the next run re-attaches to it and stops it.
			defer func() {
				if serr := stopEndpoint(); serr != nil {
					if err == nil {
						err = serr
					} else {
						logf("      %v", serr)
					}
				}
			}()
		}
		if err != nil {
			return nil, fmt.Errorf("serve %s: %w", res.Model.Name, err)
		}
	}
	logf("[5/6] eval: base=%s vs tuned=%s, judged by %s", base, res.Model.Name, es.Judge)
	sum, err := m.runEval(ctx, p, es, evalOptions{workers: o.workers, maxCost: o.maxCost})
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	res.EvalID, res.Counts, res.Sandbox = sum.EvalID, sum.Counts, sum.Sandbox
	logf("      %s: %d prompts, %d judgments (%d unparsed, %d failed)", sum.EvalID, sum.Prompts, sum.Judgments, sum.JudgmentsUnparsed, sum.JudgmentsFailed)

	// 6. Report and registry: derived from the store, so written every time.
	rep, err := p.evalReport(ctx, sum.EvalID, report.Options{Now: time.Now()})
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	dir := filepath.Join(p.dir, "reports")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, ethos.Errorf(ethos.Config, "report: %w", err)
	}
	for _, f := range []string{"md", "html", "json"} {
		var b bytes.Buffer
		if err := report.Render(&b, rep, f); err != nil {
			return nil, err
		}
		path := filepath.Join(dir, sum.EvalID+"."+f)
		if err := writeFileAtomic(path, b.Bytes(), 0o644); err != nil {
			return nil, ethos.Errorf(ethos.Config, "report: write %s: %w", path, err)
		}
		res.Reports = append(res.Reports, path)
	}
	models, err := p.store.Models(ctx)
	if err != nil {
		return nil, err
	}
	ftJobs, err := p.store.Jobs(ctx, ethos.FineTuneFilter{})
	if err != nil {
		return nil, err
	}
	byID := make(map[string]ethos.FineTuneJob, len(ftJobs))
	for _, j := range ftJobs {
		byID[j.ID] = j
	}
	var b bytes.Buffer
	if err := finetune.WriteRegistry(&b, models, byID, time.Now()); err != nil {
		return nil, err
	}
	res.Registry = filepath.Join(dir, "models.md")
	if err := writeFileAtomic(res.Registry, b.Bytes(), 0o644); err != nil {
		return nil, ethos.Errorf(ethos.Config, "registry: write %s: %w", res.Registry, err)
	}
	for _, pr := range rep.Pairs {
		if pr.Model == "tuned" && pr.Baseline == "base" || pr.Model == "base" && pr.Baseline == "tuned" {
			res.Results = append(res.Results, pr)
		}
	}
	logf("[6/6] report: %s; registry: %s", rel(p.dir, res.Reports[0]), rel(p.dir, res.Registry))
	return res, nil
}

// generationDone reports whether the generation run id completed and its
// files are on disk.
func generationDone(ctx context.Context, p *project, id string, out generate.OutputPaths) (bool, error) {
	completed, err := completedRun(ctx, p, id)
	if err != nil || !completed {
		return false, err
	}
	_, written := writtenMetadata(out, id)
	return written, nil
}

// firstProblems are the first n error-severity problems of a report.
func firstProblems(rep *dataset.Report, n int) []dataset.Problem {
	var out []dataset.Problem
	for _, pr := range rep.Problems {
		if pr.Severity == dataset.SeverityError && len(out) < n {
			out = append(out, pr)
		}
	}
	return out
}

// rel shows path relative to dir when it is inside it.
func rel(dir, path string) string {
	if r, err := filepath.Rel(dir, path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}

// printPipelineResult is the human summary of a pipeline run: where things
// are and the headline result per trait with its confidence interval.
func printPipelineResult(w io.Writer, res *pipelineResult) {
	fmt.Fprintf(w, "\ndataset   %s (train %s", rel(res.Dir, res.Dataset), rel(res.Dir, res.Train))
	if res.Validation != "" {
		fmt.Fprintf(w, ", validation %s", rel(res.Dir, res.Validation))
	}
	fmt.Fprintf(w, ")\nmodel     %s (job %s, base %s)\n", res.Model.Name, res.Job.ID, res.Model.BaseModel)
	fmt.Fprintf(w, "registry  %s\n", rel(res.Dir, res.Registry))
	for i, r := range res.Reports {
		label := "report"
		if i > 0 {
			label = ""
		}
		fmt.Fprintf(w, "%-9s %s\n", label, rel(res.Dir, r))
	}
	fmt.Fprintf(w, "\ntuned vs base, per trait (score = share of judgments won, ties ½; 95%% bootstrap CI over %d prompts):\n", res.Counts.Prompts)
	for _, r := range res.Results {
		score, ci := "n/a", ""
		if r.Score != nil {
			score = fmt.Sprintf("%.3f", *r.Score)
		}
		if r.Bootstrap != nil {
			ci = fmt.Sprintf("[%.3f, %.3f]", r.Bootstrap.Low, r.Bootstrap.High)
		}
		fmt.Fprintf(w, "  %-22s %s %-16s W/L/T %d/%d/%d  p(Holm) %.3g  %s\n", r.Trait, score, ci, r.Wins, r.Losses, r.Ties, r.PHolm, r.Verdict)
	}
	if res.Sandbox {
		fmt.Fprintln(w, "\n(sandbox models and judge: this shows the pipeline working, not how real models compare)")
	}
}

// evalComplete reports whether the evaluation of settings has finished
// with every judgment made.
func evalComplete(ctx context.Context, p *project, settings eval.Settings) (bool, error) {
	resolved, err := settings.Resolve()
	if err != nil {
		return false, err
	}
	id := resolved.ID()
	if done, err := completedRun(ctx, p, id); err != nil || !done {
		return false, err
	}
	sum, err := eval.Summarize(ctx, p.store, id)
	if err != nil {
		return false, err
	}
	return !sum.Incomplete(), nil
}
