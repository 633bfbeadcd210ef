package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/config"
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
	recipe  string    // overrides finetune.recipe when set
	// sftReference trains an SFT model from the base beside a DPO-only
	// recipe, only to compare with (the demo does: it costs nothing).
	sftReference bool
}

// pipelineResult says what a pipeline run made and where it is.
type pipelineResult struct {
	Dir         string            `json:"dir"`
	GenerateRun string            `json:"generate_run"`
	Dataset     string            `json:"dataset"`
	Train       string            `json:"train"`
	Validation  string            `json:"validation,omitempty"`
	Warnings    int               `json:"dataset_warnings"`
	Job         ethos.FineTuneJob `json:"job"`   // the last job of the recipe
	Model       ethos.Model       `json:"model"` // the last model of the recipe
	Recipe      string            `json:"recipe"`
	Pairs       string            `json:"pairs,omitempty"` // the preference pairs, for a recipe with DPO
	// Introspection is what the DPO model wrote about itself, for the
	// recipe dpo+introspection.
	Introspection *introspectionResult `json:"introspection,omitempty"`
	// Trained are the recipe's models in the order trained, by the names
	// the evaluation gives them (tuned for SFT alone; sft, dpo otherwise).
	Trained  []trainedModel      `json:"trained"`
	EvalID   string              `json:"eval_id"`
	Counts   eval.Counts         `json:"eval_counts"`
	Reports  []string            `json:"reports"`
	Registry string              `json:"registry"`
	Results  []report.PairResult `json:"results"` // each trained model against the base (and DPO against SFT), per trait
	Sandbox  bool                `json:"sandbox"`
}

// introspectionResult is the introspection data of a recipe.
type introspectionResult struct {
	Run              string         `json:"run"`
	Dataset          string         `json:"dataset"`
	Metadata         string         `json:"metadata"`
	Model            string         `json:"model"` // the model that wrote it
	PromptSet        string         `json:"prompt_set"`
	Reflections      int            `json:"reflections"`
	Dialogues        int            `json:"dialogues"`
	Turns            int            `json:"turns"`
	Accepted         int            `json:"accepted"`
	Rejected         int            `json:"rejected"`
	RejectedByReason map[string]int `json:"rejected_by_reason,omitempty"`
}

// trainedModel is one model a recipe trained.
type trainedModel struct {
	Name   string            `json:"name"`   // its name in the evaluation
	Method string            `json:"method"` // sft or dpo (introspection is SFT)
	Job    ethos.FineTuneJob `json:"job"`
	Model  ethos.Model       `json:"model"`
	// Reference is set for a model trained only to compare with, not a
	// step of the recipe.
	Reference bool `json:"reference,omitempty"`
}

// stageIntrospection is the recipe stage that trains by SFT on the
// previous model's introspection data.
const stageIntrospection = "introspection"

// recipeStages are the stages of a recipe, in order: a training method,
// or stageIntrospection.
func recipeStages(recipe string) []string {
	if recipe == "" {
		return []string{ethos.FineTuneSFT}
	}
	return strings.Split(recipe, "+")
}

// evalName is the name a recipe's model has in the evaluation: "tuned"
// when SFT is the whole recipe (as before recipes), else its stage.
func evalName(stages []string, stage string) string {
	if len(stages) == 1 && stage == ethos.FineTuneSFT {
		return "tuned"
	}
	return stage
}

// stageMethod is the training method of a recipe stage.
func stageMethod(stage string) string {
	if stage == stageIntrospection {
		return ethos.FineTuneSFT
	}
	return stage
}

// runPipeline is ethos run: each step finds what an earlier run of the
// same settings already did and does only the rest.
func (m *Main) runPipeline(ctx context.Context, p *project, o pipelineOptions) (_ *pipelineResult, err error) {
	var stops []func() error // of the endpoints started for the run
	cfg := p.cfg
	logf := func(format string, args ...any) { fmt.Fprintf(o.log, format+"\n", args...) }
	res := &pipelineResult{Dir: p.dir}

	recipe := cfg.FineTune.Recipe
	if o.recipe != "" {
		recipe = o.recipe
	}
	if recipe == "" {
		recipe = config.RecipeSFT
	}
	stages := recipeStages(recipe)
	res.Recipe = recipe
	// A later stage continues from the one before (sft+dpo,
	// dpo+introspection); an SFT reference beside a recipe that starts
	// with DPO starts from the base, as the DPO model does.
	continued, reference := len(stages) > 1, false
	if o.sftReference && stages[0] == ethos.FineTuneDPO {
		stages, reference = append([]string{ethos.FineTuneSFT}, stages...), true
	}
	ft := cfg.FineTune
	base := cfg.Eval.Baseline
	if base == "" {
		base = ft.Provider + "/" + finetune.BaseModel(ft.Provider, ft.Model)
	}

	// 1. The dataset, with preference pairs for a recipe with DPO: the
	// student is the model the evaluation takes as the base, unless
	// generate.pairs names one.
	settings, err := (&GenerateCommand{m}).settings(p, 0, "", "", 0)
	if err != nil {
		return nil, err
	}
	if slices.Contains(stages, ethos.FineTuneDPO) && settings.Generate.Pairs == nil {
		settings.Generate.Pairs = &config.Pairs{Student: base, Mode: config.ModeOnline}
	}
	out := settings.Outputs()
	res.GenerateRun, res.Dataset, res.Pairs = settings.RunID(), out.Dataset, out.Pairs
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

	// 2. Split and check each file the recipe trains on. The split depends
	// only on the file and the seed, so doing it again gives the same
	// files (and the same uploads).
	files := map[string][2]string{} // stage → train, validation
	for _, stage := range stages {
		path, kind := out.Dataset, dataset.MethodSFT
		switch stage {
		case stageIntrospection:
			continue // written by the model trained before it
		case ethos.FineTuneDPO:
			path, kind = out.Pairs, dataset.MethodPreference
		}
		train, validation, warnings, err := p.splitAndCheck(ctx, path, kind, stage, settings.Seed, logf)
		if err != nil {
			return nil, err
		}
		res.Warnings += warnings
		files[stage] = [2]string{train, validation}
	}
	res.Train, res.Validation = files[stages[0]][0], files[stages[0]][1]

	// 3–4. Fine-tune each stage of the recipe, a later one continued from
	// the one before: Create returns the job an earlier run made for the
	// same request, or attaches to the one an interrupted run left.
	svc := p.fineTune()
	from := ""
	// Models served for the introspection stay served for the evaluation;
	// a dedicated endpoint stops when the run ends, however it ends.
	served := map[string]ethos.Model{}
	serve := func(model ethos.Model) (ethos.Model, error) {
		if s, ok := served[model.Name]; ok {
			return s, nil
		}
		s, stopEndpoint, err := m.serveForEval(ctx, p, model, o.maxCost, logf)
		if stopEndpoint != nil {
			stops = append(stops, stopEndpoint)
		}
		if err != nil {
			return model, fmt.Errorf("serve %s: %w", model.Name, err)
		}
		served[model.Name] = s
		return s, nil
	}
	defer func() {
		for _, stop := range stops {
			if serr := stop(); serr != nil {
				if err == nil {
					err = serr
				} else {
					logf("      %v", serr)
				}
			}
		}
	}()
	for i, stage := range stages {
		method, runID := stageMethod(stage), settings.RunID()
		// The registry records the recipe each model is a step of; the SFT
		// reference trained beside a DPO recipe is a recipe of its own.
		jobRecipe := recipe
		if reference && i == 0 {
			jobRecipe = config.RecipeSFT
		}
		if stage == stageIntrospection {
			intro, err := m.introspection(ctx, p, settings, res.Trained[len(res.Trained)-1].Model, serve, o, logf)
			if err != nil {
				return nil, err
			}
			res.Introspection, runID = intro, intro.Run
			train, validation, warnings, err := p.splitAndCheck(ctx, intro.Dataset, dataset.MethodSFT, stage, settings.Seed, logf)
			if err != nil {
				return nil, err
			}
			res.Warnings += warnings
			files[stage] = [2]string{train, validation}
		}
		train, validation := files[stage][0], files[stage][1]
		h := fineTuneSettings(ft, ft.Provider, validation != "")
		if method == ethos.FineTuneDPO {
			// SFT stays unnamed: the request of an SFT job is what it was
			// before recipes, so a rerun finds the job it made then.
			h.Method = method
		}
		created, err := svc.Create(ctx, finetune.CreateOptions{Provider: ft.Provider, BaseModel: ft.Model,
			TrainPath: train, ValidationPath: validation, Hyperparameters: h, RunID: runID, FromCheckpoint: from, Recipe: jobRecipe})
		if err != nil {
			return nil, fmt.Errorf("fine-tune (%s): %w", stage, err)
		}
		how := created.How
		if from != "" {
			how += ", continued from " + from
		}
		logf("[3/6] fine-tune: %s %s job %s on %s (%s)", ft.Provider, stage, created.Job.ID, created.Job.BaseModel, how)
		job, model, err := m.waitTrained(ctx, p, svc, created.Job.ID, ft.Provider, logf)
		if err != nil {
			return nil, err
		}
		logf("      model %s", model.Name)
		isReference := reference && stage == ethos.FineTuneSFT
		res.Trained = append(res.Trained, trainedModel{Name: evalName(stages, stage), Method: method, Job: job, Model: model, Reference: isReference})
		res.Job, res.Model = job, model
		if continued && !isReference {
			from = job.ID
		}
	}

	// 5. Evaluate the base model against every trained one, on held-out
	// prompts checked against the whole dataset. A trained model is named
	// by its registry name: the evaluation (and the ledger) keep one name
	// for it however it is served, and the chain calls it by the name its
	// provider answers it by now (llm.Alias).
	names := []string{"base=" + base}
	for _, tm := range res.Trained {
		names = append(names, tm.Name+"="+tm.Model.Name)
	}
	es, err := p.evalSettings(ctx, evalInputs{models: strings.Join(names, ","), trainingFiles: out.Dataset, traits: "all"})
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	// An evaluation already complete needs no model served (an endpoint
	// would only bill while the run reads its results).
	evalDone, err := evalComplete(ctx, p, es)
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	for i := range res.Trained {
		tm := &res.Trained[i]
		if evalDone {
			if err := m.stopLeftEndpoints(ctx, p, tm.Model, logf); err != nil {
				return nil, fmt.Errorf("serve %s: %w", tm.Model.Name, err)
			}
			continue
		}
		if tm.Model, err = serve(tm.Model); err != nil {
			return nil, err
		}
	}
	res.Model = res.Trained[len(res.Trained)-1].Model
	logf("[5/6] eval: %s, judged by %s", strings.Join(names, " vs "), es.Judge)
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
	// Each trained model against the base, and each against the one it
	// was continued from.
	compared := map[[2]string]bool{}
	prev := "base"
	for _, tm := range res.Trained {
		compared[[2]string{tm.Name, "base"}] = true
		compared[[2]string{tm.Name, prev}] = true
		prev = tm.Name
	}
	for _, pr := range rep.Pairs {
		if compared[[2]string{pr.Model, pr.Baseline}] || compared[[2]string{pr.Baseline, pr.Model}] {
			res.Results = append(res.Results, pr)
		}
	}
	logf("[6/6] report: %s; registry: %s", rel(p.dir, res.Reports[0]), rel(p.dir, res.Registry))
	return res, nil
}

// introspection has model, trained by the stage before, write about
// itself (served as serve serves it) and returns what it wrote.
func (m *Main) introspection(ctx context.Context, p *project, gen generate.Settings, model ethos.Model, serve func(ethos.Model) (ethos.Model, error), o pipelineOptions, logf func(string, ...any)) (*introspectionResult, error) {
	settings := p.introspectionSettings(gen, model.Name)
	in := settings.Introspection
	logf("[3/6] introspection: %d self-reflections (%s) and %d dialogues of %d turns, written by %s", in.Reflections, generate.IntrospectionPromptSet, in.Dialogues, in.Turns, model.Name)
	ready := func() error {
		_, err := serve(model)
		return err
	}
	meta, err := m.introspect(ctx, p, settings, ready, o)
	if err != nil {
		return nil, fmt.Errorf("introspection: %w", err)
	}
	logf("      %d records → %s (%d texts accepted, %d rejected; $%.4f)", meta.Records, rel(p.dir, meta.Files.Dataset), meta.Accepted, meta.Rejected, meta.TotalCostUSD)
	return &introspectionResult{Run: meta.Run, Dataset: meta.Files.Dataset, Metadata: meta.Files.Metadata, Model: meta.Model, PromptSet: meta.PromptSet,
		Reflections: meta.Reflections, Dialogues: meta.Dialogues, Turns: meta.Turns, Accepted: meta.Accepted, Rejected: meta.Rejected,
		RejectedByReason: meta.RejectedByReason}, nil
}

// splitAndCheck splits path for validation (when finetune.validation asks)
// and checks each file by the provider's rules for kind, logging what it
// does. The split depends only on the file and the seed, so doing it again
// gives the same files (and the same uploads).
func (p *project) splitAndCheck(ctx context.Context, path string, kind, stage string, seed int64, logf func(string, ...any)) (train, validation string, warnings int, _ error) {
	ft := p.cfg.FineTune
	train, validation = path, ""
	if ft.Validation > 0 {
		sp, err := dataset.Split(ctx, path, ft.Validation, seed, "", "", true)
		if err != nil {
			return "", "", 0, fmt.Errorf("split: %w", err)
		}
		train, validation = sp.Train, sp.Validation
		logf("[2/6] check: %s: split %d training + %d validation examples", rel(p.dir, path), sp.TrainExamples, sp.ValidationExamples)
	} else {
		logf("[2/6] check: %s: no validation split (finetune.validation is 0)", rel(p.dir, path))
	}
	for _, f := range []string{train, validation} {
		if f == "" {
			continue
		}
		// A validation file is checked like a training file, except for
		// the provider's minimum number of examples.
		rep, err := dataset.CheckFileWith(ctx, f, dataset.Options{Provider: ft.Provider, Validation: f == validation, Method: kind})
		if err != nil {
			return "", "", 0, err
		}
		if rep.Errors() > 0 {
			for _, pr := range firstProblems(rep, 10) {
				logf("      %s:%d: %s: %s", rel(p.dir, f), pr.Line, pr.Rule, pr.Message)
			}
			return "", "", 0, ethos.Errorf(ethos.Invalid, "check: %s has %d problems %s would refuse; see ethos dataset check %s", rel(p.dir, f), rep.Errors(), ft.Provider, rel(p.dir, f))
		}
		warnings += len(rep.Problems)
	}
	logf("      %s passes %s's checks for %s (%d warnings)", rel(p.dir, train), ft.Provider, stage, warnings)
	return train, validation, warnings, nil
}

// waitTrained follows a fine-tune job to its end and returns it with its
// registered model.
func (m *Main) waitTrained(ctx context.Context, p *project, svc *finetune.Service, id, provider string, logf func(string, ...any)) (ethos.FineTuneJob, ethos.Model, error) {
	last := ""
	job, err := svc.Wait(ctx, id, pollInterval(provider), func(u finetune.Update, err error) {
		if err != nil {
			logf("      %s: provider not reachable, trying again: %v", id, err)
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
		return job, ethos.Model{}, &interruptedError{err: err,
			how: fmt.Sprintf("stopped waiting; fine-tune job %s goes on at %s: run the same command again to continue", id, provider)}
	}
	if err != nil {
		return job, ethos.Model{}, fmt.Errorf("fine-tune %s: %w", id, err)
	}
	if err := finetune.JobError(job); err != nil {
		return job, ethos.Model{}, err
	}
	model, err := p.store.Model(ctx, finetune.ModelName(job))
	if err != nil {
		return job, ethos.Model{}, fmt.Errorf("fine-tune %s completed, but its model is not registered: %w", job.ID, err)
	}
	return job, model, nil
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
	fmt.Fprint(w, ")\n")
	if res.Pairs != "" {
		fmt.Fprintf(w, "pairs     %s\n", rel(res.Dir, res.Pairs))
	}
	if in := res.Introspection; in != nil {
		fmt.Fprintf(w, "introspection %s (%d self-reflections, %d dialogues of %d turns, by %s; %d texts accepted, %d rejected; prompts %s)\n",
			rel(res.Dir, in.Dataset), in.Reflections, in.Dialogues, in.Turns, in.Model, in.Accepted, in.Rejected, in.PromptSet)
	}
	for _, tm := range res.Trained {
		role := strings.ToUpper(tm.Method)
		if tm.Name == stageIntrospection {
			role += " on the introspection data"
		}
		if tm.Reference {
			role += ", a reference to compare with"
		}
		fmt.Fprintf(w, "model     %s (%s, job %s, base %s)\n", tm.Model.Name, role, tm.Job.ID, tm.Model.BaseModel)
	}
	fmt.Fprintf(w, "registry  %s\n", rel(res.Dir, res.Registry))
	for i, r := range res.Reports {
		label := "report"
		if i > 0 {
			label = ""
		}
		fmt.Fprintf(w, "%-9s %s\n", label, rel(res.Dir, r))
	}
	fmt.Fprintf(w, "\nrecipe %s; per trait (score = share of judgments won, ties ½; 95%% bootstrap CI over %d prompts):\n", res.Recipe, res.Counts.Prompts)
	// Grouped by pair of models, in the order the pairs first appear.
	var order [][2]string
	byPair := map[[2]string][]report.PairResult{}
	for _, r := range res.Results {
		k := [2]string{r.Model, r.Baseline}
		if _, seen := byPair[k]; !seen {
			order = append(order, k)
		}
		byPair[k] = append(byPair[k], r)
	}
	for _, k := range order {
		fmt.Fprintf(w, "%s vs %s\n", k[0], k[1])
		printPairResults(w, byPair[k])
	}
	if res.Sandbox {
		fmt.Fprintln(w, "\n(sandbox models and judge: this shows the pipeline working, not how real models compare)")
	}
}

// printPairResults prints one line per trait of a pair of models.
func printPairResults(w io.Writer, results []report.PairResult) {
	for _, r := range results {
		score, ci := "n/a", ""
		if r.Score != nil {
			score = fmt.Sprintf("%.3f", *r.Score)
		}
		if r.Bootstrap != nil {
			ci = fmt.Sprintf("[%.3f, %.3f]", r.Bootstrap.Low, r.Bootstrap.High)
		}
		fmt.Fprintf(w, "  %-22s %s %-16s W/L/T %d/%d/%d  p(Holm) %.3g  %s\n", r.Trait, score, ci, r.Wins, r.Losses, r.Ties, r.PHolm, r.Verdict)
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
