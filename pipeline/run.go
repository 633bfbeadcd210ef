package pipeline

import (
	"bytes"
	"context"
	"fmt"
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
	"github.com/ethos-toolkit/ethos/internal/atomicfile"
)

// RunOptions are the knobs of Run.
type RunOptions struct {
	Workers int
	MaxCost float64 // USD cap for the run on top of the project's budget; 0 for none
	// NoWork leaves the generation's and the evaluation's tasks to ethos
	// worker processes (on a shared store).
	NoWork bool
	// MemoryLimit is the generation's (see GenerateOptions).
	MemoryLimit int64
	// GCPercent is the generation's (see GenerateOptions).
	GCPercent int
	Recipe    string // overrides finetune.recipe when set
	// SFTReference trains an SFT model from the base beside a DPO-only
	// recipe, only to compare with (the demo does: it costs nothing).
	SFTReference bool
}

// RunResult says what a run of the whole pipeline made and where it is.
type RunResult struct {
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
	Introspection *IntrospectionResult `json:"introspection,omitempty"`
	// Trained are the recipe's models in the order trained, by the names
	// the evaluation gives them (tuned for SFT alone; sft, dpo otherwise).
	Trained  []TrainedModel      `json:"trained"`
	EvalID   string              `json:"eval_id"`
	Counts   eval.Counts         `json:"eval_counts"`
	Reports  []string            `json:"reports"`
	Registry string              `json:"registry"`
	Results  []report.PairResult `json:"results"` // each trained model against the base (and DPO against SFT), per trait
	Sandbox  bool                `json:"sandbox"`
}

// IntrospectionResult is the introspection data of a recipe.
type IntrospectionResult struct {
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

// TrainedModel is one model a recipe trained.
type TrainedModel struct {
	Name   string            `json:"name"`   // its name in the evaluation
	Method string            `json:"method"` // sft or dpo (introspection is SFT)
	Job    ethos.FineTuneJob `json:"job"`
	Model  ethos.Model       `json:"model"`
	// Reference is set for a model trained only to compare with, not a
	// step of the recipe.
	Reference bool `json:"reference,omitempty"`
}

// StageIntrospection is the recipe stage that trains by SFT on the
// previous model's introspection data.
const StageIntrospection = "introspection"

// RecipeStages are the stages of a recipe, in order: a training method,
// or StageIntrospection.
func RecipeStages(recipe string) []string {
	if recipe == "" {
		return []string{ethos.FineTuneSFT}
	}
	return strings.Split(recipe, "+")
}

// EvalName is the name a recipe's model has in the evaluation: "tuned"
// when SFT is the whole recipe (as before recipes), else its stage.
func EvalName(stages []string, stage string) string {
	if len(stages) == 1 && stage == ethos.FineTuneSFT {
		return "tuned"
	}
	return stage
}

// StageMethod is the training method of a recipe stage.
func StageMethod(stage string) string {
	if stage == StageIntrospection {
		return ethos.FineTuneSFT
	}
	return stage
}

// Run runs the whole pipeline of the project: generate → split and check
// → fine-tune each stage of the recipe → wait → serve → evaluate base
// against every trained model → report and registry. Each step finds what
// an earlier run of the same settings already did and does only the rest,
// so running it again after any interruption continues.
func Run(ctx context.Context, d Deps, o RunOptions) (_ *RunResult, err error) {
	var stops []func() error // of the endpoints started for the run
	cfg := d.Config
	logf := d.Observer.Logf
	res := &RunResult{Dir: d.Dir}

	recipe := cfg.FineTune.Recipe
	if o.Recipe != "" {
		recipe = o.Recipe
	}
	if recipe == "" {
		recipe = config.RecipeSFT
	}
	stages := RecipeStages(recipe)
	res.Recipe = recipe
	// A later stage continues from the one before (sft+dpo,
	// dpo+introspection); an SFT reference beside a recipe that starts
	// with DPO starts from the base, as the DPO model does.
	continued, reference := len(stages) > 1, false
	if o.SFTReference && stages[0] == ethos.FineTuneDPO {
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
	settings, err := GenerateSettings(cfg, d.Dir, GenerateInputs{WorkDir: d.WorkDir})
	if err != nil {
		return nil, err
	}
	if slices.Contains(stages, ethos.FineTuneDPO) && settings.Generate.Pairs == nil {
		settings.Generate.Pairs = &config.Pairs{Student: base, Mode: config.ModeOnline}
	}
	out := settings.Outputs()
	res.GenerateRun, res.Dataset, res.Pairs = settings.RunID(), out.Dataset, out.Pairs
	done, err := GenerationDone(ctx, d.Store, settings.RunID(), out)
	if err != nil {
		return nil, err
	}
	// Everything the later steps will call is checked before the first
	// paid call: a run that stops at its evaluation has paid for its
	// generation and training by then.
	pf := d.preflight(o.MaxCost)
	if !done {
		pf.Generation(settings.Generate)
	}
	pf.FineTuneAndEval()
	if err := pf.Err(ctx); err != nil {
		return nil, err
	}
	if done {
		logf("[1/6] generate: done before (run %s, %s)", settings.RunID(), Rel(d.Dir, out.Dataset))
	} else {
		logf("[1/6] generate: %d examples of %s with %s", settings.Examples, settings.Character.Name, settings.Generate.Responses.Model)
		// A completed run whose files are gone writes them again.
		meta, err := Generate(ctx, d, settings, GenerateOptions{Workers: o.Workers, MaxCost: o.MaxCost, Force: true, NoWork: o.NoWork, MemoryLimit: o.MemoryLimit, GCPercent: o.GCPercent})
		if err != nil {
			return nil, fmt.Errorf("generate: %w", err)
		}
		logf("      %d examples → %s ($%.4f)", meta.Examples, Rel(d.Dir, out.Dataset), meta.TotalCostUSD)
	}

	// 2. Split and check each file the recipe trains on. The split depends
	// only on the file and the seed, so doing it again gives the same
	// files (and the same uploads).
	files := map[string][2]string{} // stage → train, validation
	for _, stage := range stages {
		path, kind := out.Dataset, dataset.MethodSFT
		switch stage {
		case StageIntrospection:
			continue // written by the model trained before it
		case ethos.FineTuneDPO:
			path, kind = out.Pairs, dataset.MethodPreference
		}
		train, validation, warnings, err := SplitAndCheck(ctx, d, path, kind, stage, settings.Seed)
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
	svc := d.FineTune
	from := ""
	// Models served for the introspection stay served for the evaluation;
	// a dedicated endpoint stops when the run ends, however it ends.
	served := map[string]ethos.Model{}
	serve := func(model ethos.Model) (ethos.Model, error) {
		if s, ok := served[model.Name]; ok {
			return s, nil
		}
		s, stopEndpoint, err := d.Serving(model, o.MaxCost, logf).ForEval(ctx, model)
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
		method, runID := StageMethod(stage), settings.RunID()
		// The registry records the recipe each model is a step of; the SFT
		// reference trained beside a DPO recipe is a recipe of its own.
		jobRecipe := recipe
		if reference && i == 0 {
			jobRecipe = config.RecipeSFT
		}
		if stage == StageIntrospection {
			intro, err := introspection(ctx, d, settings, res.Trained[len(res.Trained)-1].Model, serve, o)
			if err != nil {
				return nil, err
			}
			res.Introspection, runID = intro, intro.Run
			train, validation, warnings, err := SplitAndCheck(ctx, d, intro.Dataset, dataset.MethodSFT, stage, settings.Seed)
			if err != nil {
				return nil, err
			}
			res.Warnings += warnings
			files[stage] = [2]string{train, validation}
		}
		train, validation := files[stage][0], files[stage][1]
		// SFT stays unnamed: the request of an SFT job is what it was
		// before recipes, so a rerun finds the job it made then.
		h, err := finetune.Overrides{Method: method}.Apply(FineTuneSettings(ft, ft.Provider, validation != ""))
		if err != nil {
			return nil, fmt.Errorf("fine-tune (%s): %w", stage, err)
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
		job, model, err := waitTrained(ctx, d, created.Job.ID, ft.Provider)
		if err != nil {
			return nil, err
		}
		logf("      model %s", model.Name)
		isReference := reference && stage == ethos.FineTuneSFT
		res.Trained = append(res.Trained, TrainedModel{Name: EvalName(stages, stage), Method: method, Job: job, Model: model, Reference: isReference})
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
	es, err := EvalSettings(ctx, d, EvalInputs{Models: strings.Join(names, ","), TrainingFiles: []string{out.Dataset}, Traits: "all"})
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	// An evaluation already complete needs no model served (an endpoint
	// would only bill while the run reads its results).
	evalDone, err := EvalComplete(ctx, d.Store, es)
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	for i := range res.Trained {
		tm := &res.Trained[i]
		if evalDone {
			if err := d.Serving(tm.Model, 0, logf).StopLeft(ctx, tm.Model); err != nil {
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
	sum, err := Evaluate(ctx, d, es, EvalOptions{Workers: o.Workers, MaxCost: o.MaxCost, NoWork: o.NoWork})
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	res.EvalID, res.Counts, res.Sandbox = sum.EvalID, sum.Counts, sum.Sandbox
	logf("      %s: %d prompts, %d judgments (%d unparsed, %d failed)", sum.EvalID, sum.Prompts, sum.Judgments, sum.JudgmentsUnparsed, sum.JudgmentsFailed)

	// 6. Report and registry: derived from the store, so written every time.
	if err := writeReports(ctx, d, res, sum.EvalID); err != nil {
		return nil, err
	}
	logf("[6/6] report: %s; registry: %s", Rel(d.Dir, res.Reports[0]), Rel(d.Dir, res.Registry))
	return res, nil
}

// writeReports writes the report of evaluation id in every format and the
// model registry to the project's reports directory, and keeps in res the
// results of each trained model against the base and against the one it
// was continued from.
func writeReports(ctx context.Context, d Deps, res *RunResult, id string) error {
	rep, err := report.Load(ctx, d.Store, id, report.LoadOptions{Options: report.Options{Now: time.Now()}, Cost: d.Pricer.Cost, Where: d.StoreName})
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	dir := filepath.Join(d.Dir, "reports")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return ethos.Errorf(ethos.Config, "report: %w", err)
	}
	for _, f := range []string{"md", "html", "json"} {
		var b bytes.Buffer
		if err := report.Render(&b, rep, f); err != nil {
			return err
		}
		path := filepath.Join(dir, id+"."+f)
		if err := atomicfile.Write(path, b.Bytes(), 0o644); err != nil {
			return ethos.Errorf(ethos.Config, "report: write %s: %w", path, err)
		}
		res.Reports = append(res.Reports, path)
	}
	res.Registry = filepath.Join(dir, "models.md")
	if _, err := finetune.WriteRegistryFile(ctx, d.Store, res.Registry, time.Now()); err != nil {
		return err
	}
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
	return nil
}

// SplitAndCheck splits path for validation (when finetune.validation
// asks) and checks each file by the provider's rules for kind, saying
// what it does. The split depends only on the file and the seed, so doing
// it again gives the same files (and the same uploads).
func SplitAndCheck(ctx context.Context, d Deps, path string, kind, stage string, seed int64) (train, validation string, warnings int, _ error) {
	ft, logf := d.Config.FineTune, d.Observer.Logf
	train, validation = path, ""
	if ft.Validation > 0 {
		sp, err := dataset.Split(ctx, path, ft.Validation, seed, "", "", true)
		if err != nil {
			return "", "", 0, fmt.Errorf("split: %w", err)
		}
		train, validation = sp.Train, sp.Validation
		logf("[2/6] check: %s: split %d training + %d validation examples", Rel(d.Dir, path), sp.TrainExamples, sp.ValidationExamples)
	} else {
		logf("[2/6] check: %s: no validation split (finetune.validation is 0)", Rel(d.Dir, path))
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
			for _, pr := range FirstProblems(rep, 10) {
				logf("      %s:%d: %s: %s", Rel(d.Dir, f), pr.Line, pr.Rule, pr.Message)
			}
			return "", "", 0, ethos.Errorf(ethos.Invalid, "check: %s has %d problems %s would refuse; see ethos dataset check %s", Rel(d.Dir, f), rep.Errors(), ft.Provider, Rel(d.Dir, f))
		}
		warnings += len(rep.Problems)
	}
	logf("      %s passes %s's checks for %s (%d warnings)", Rel(d.Dir, train), ft.Provider, stage, warnings)
	return train, validation, warnings, nil
}

// FirstProblems are the first n error-severity problems of a report.
func FirstProblems(rep *dataset.Report, n int) []dataset.Problem {
	var out []dataset.Problem
	for _, pr := range rep.Problems {
		if pr.Severity == dataset.SeverityError && len(out) < n {
			out = append(out, pr)
		}
	}
	return out
}

// Rel shows path relative to dir when it is inside it.
func Rel(dir, path string) string {
	if r, err := filepath.Rel(dir, path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}

// waitTrained follows a fine-tune job to its end and returns it with its
// registered model (see finetune.Service.CompletedModel).
func waitTrained(ctx context.Context, d Deps, id, provider string) (ethos.FineTuneJob, ethos.Model, error) {
	job, err := d.FineTune.Wait(ctx, id, finetune.PollInterval(provider), func(u finetune.Update, err error) {
		d.Observer.Training(id, u, err)
	})
	if err != nil && ctx.Err() != nil {
		return job, ethos.Model{}, &Interrupted{Err: err,
			How: fmt.Sprintf("stopped waiting; fine-tune job %s goes on at %s: run the same command again to continue", id, provider)}
	}
	if err != nil {
		return job, ethos.Model{}, fmt.Errorf("fine-tune %s: %w", id, err)
	}
	if err := finetune.JobError(job); err != nil {
		return job, ethos.Model{}, err
	}
	model, err := d.FineTune.CompletedModel(ctx, job.ID)
	return job, model, err
}

// introspectionSettings are the settings of the introspection run in
// which model writes about itself, beside the generation run of gen.
func introspectionSettings(cfg *config.Config, gen generate.Settings, model string) generate.IntrospectionSettings {
	g, in := gen.Generate, cfg.FineTune.Introspection
	maxTokens := in.MaxTokens
	if maxTokens <= 0 {
		maxTokens = g.Responses.MaxTokens
	}
	return generate.IntrospectionSettings{
		Model: model, Character: gen.Character, Introspection: in, Review: g.Review,
		MaxTokens: maxTokens, Temperature: g.Responses.Temperature, IncludeSystem: g.Responses.IncludeSystem,
		Output: generate.IntrospectionOutput(gen.Output), Dir: gen.Dir, ConfigHash: gen.ConfigHash,
	}
}
