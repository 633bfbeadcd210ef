package pipeline

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/config"
	"github.com/ethos-toolkit/ethos/eval"
	"github.com/ethos-toolkit/ethos/finetune"
	"github.com/ethos-toolkit/ethos/jobs"
)

// EvalInputs are an evaluation's choices as given (by flags, or by Run);
// empty and zero values take the config's defaults.
type EvalInputs struct {
	// Models are the models compared, as NAME=PROVIDER/MODEL,… (see
	// ParseEvalModels); empty: the newest registry model against its base.
	Models       string
	Judge        string
	PromptsFile  string // a regular file to read the held-out prompts from
	Traits       string // all, or T1,T2
	SystemPrompt string // config.WithSystemPrompt or WithoutSystemPrompt
	// TrainingFiles are the files the prompts are checked against, by
	// absolute path; none: see TrainingFiles.
	TrainingFiles               []string
	Prompts, Samples, MaxTokens int
	Pointwise                   bool
	Seed                        int64
	Mode                        string // config.ModeBatch, ModeOnline, or "" for each stage's own
}

// RegisterFlags adds the inputs' flags to fs, as ethos eval run takes
// them; a flag left out keeps the config's setting. PromptsFile and
// TrainingFiles are kept as given: the caller resolves them against its
// directory.
func (in *EvalInputs) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&in.Models, "models", "", "models compared, as `NAME=PROVIDER/MODEL,…` (default: the newest registry model and its base)")
	fs.StringVar(&in.Judge, "judge", "", "the judge `model` (default: eval.judge in the config)")
	fs.IntVar(&in.Prompts, "prompts", 0, "held-out prompts (`N`; default: eval.prompts, or every prompt of --prompts-file)")
	fs.StringVar(&in.PromptsFile, "prompts-file", "", "read the held-out prompts from `FILE` instead of writing them")
	fs.StringVar(&in.Traits, "traits", "all", "traits judged: all, or `T1,T2` (overall is always judged)")
	fs.StringVar(&in.SystemPrompt, "system-prompt", "", "answer `with` or without the character's system prompt (default: eval.system_prompt)")
	fs.IntVar(&in.Samples, "samples", 0, "answers per model and prompt (`K`; default: eval.samples)")
	fs.IntVar(&in.MaxTokens, "max-tokens", 0, "longest answer in tokens (`N`; default: eval.max_tokens); a longer one is cut there and judged as cut")
	fs.Func("training-file", "training `files` to check the prompts against, comma-separated", func(v string) error {
		for f := range strings.SplitSeq(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				in.TrainingFiles = append(in.TrainingFiles, f)
			}
		}
		return nil
	})
	fs.BoolVar(&in.Pointwise, "pointwise", false, "also score every answer 1–5 on every trait")
	fs.Int64Var(&in.Seed, "seed", 0, "seed of the held-out prompts (default: generate.seed + 9973)")
}

// EvalSettings resolves an evaluation's settings from the project's
// config and in.
func EvalSettings(ctx context.Context, d Deps, in EvalInputs) (eval.Settings, error) {
	cfg := d.Config
	e := cfg.Eval
	s := eval.Settings{
		EvalSpec: ethos.EvalSpec{
			Judge:     cmp.Or(in.Judge, e.Judge),
			Prompts:   in.Prompts,
			Seed:      in.Seed,
			Samples:   in.Samples,
			Pointwise: in.Pointwise,
		},
		Character:   cfg.Character,
		MaxTokens:   cmp.Or(in.MaxTokens, e.MaxTokens),
		Temperature: e.Temperature,
		Generate:    cfg.Generate,
		ConfigHash:  cfg.Hash(),
	}
	if s.Samples == 0 {
		s.Samples = e.Samples
	}
	if s.Seed == 0 {
		s.Seed = cfg.Generate.Seed + eval.DefaultSeedOffset
	}
	switch sp := cmp.Or(in.SystemPrompt, e.SystemPrompt); sp {
	case config.WithSystemPrompt:
		s.SystemPrompt = true
	case config.WithoutSystemPrompt:
	default:
		return s, ethos.Errorf(ethos.Config, "--system-prompt: want with or without, got %q", sp)
	}
	if in.PromptsFile != "" {
		s.PromptsFile = in.PromptsFile
	} else if s.Prompts == 0 {
		s.Prompts = e.Prompts
	}
	if in.Traits != "" && in.Traits != "all" {
		for t := range strings.SplitSeq(in.Traits, ",") {
			if t = strings.TrimSpace(t); t != "" && t != ethos.TraitOverall {
				s.Traits = append(s.Traits, t)
			}
		}
	}
	var err error
	if in.Models != "" {
		s.Models, err = ParseEvalModels(in.Models)
	} else {
		s.Models, err = DefaultEvalModels(ctx, d.Store)
	}
	if err != nil {
		return s, err
	}
	if s.TrainingFiles, err = TrainingFiles(ctx, d.Store, d.Dir, cfg.Generate.Output, in.TrainingFiles, s.Models); err != nil {
		return s, err
	}
	ResolveEvalModes(&s, cfg, in.Mode)
	return s, nil
}

// ResolveEvalModes fixes how the evaluation's stages send their calls (see
// ResolveModes), auto from the calls each is planned to make: an answer
// per prompt, model and sample; a verdict per prompt, pair of models,
// trait (and overall) and order; the held-out prompts' stages as a
// generation of one example per prompt.
func ResolveEvalModes(s *eval.Settings, cfg *config.Config, override string) {
	prompts := max(s.Prompts, 1)
	traits := len(s.Traits)
	if traits == 0 {
		traits = len(cfg.Character.Traits)
	}
	pairs := len(s.Models) * (len(s.Models) - 1) / 2
	answers := prompts * len(s.Models) * max(s.Samples, 1)
	verdicts := prompts * max(pairs, 1) * (traits + 1) * 2
	s.AnswerMode, s.JudgeMode = cfg.Eval.AnswerMode, cfg.Eval.JudgeMode
	resolveModes(cfg.Batch, override, []stageCalls{{&s.AnswerMode, answers}, {&s.JudgeMode, verdicts}})
	ResolveModes(&s.Generate, cfg.Batch, prompts, override)
}

// ParseEvalModels reads the models of an evaluation,
// "base=sandbox/base,tuned=sandbox/ft-7f3a": at least two.
func ParseEvalModels(v string) ([]ethos.EvalModel, error) {
	var out []ethos.EvalModel
	for part := range strings.SplitSeq(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, ref, ok := strings.Cut(part, "=")
		if !ok {
			return nil, ethos.Errorf(ethos.Config, "--models: %q: want NAME=PROVIDER/MODEL, e.g. base=sandbox/base", part)
		}
		out = append(out, ethos.EvalModel{Name: strings.TrimSpace(name), Ref: strings.TrimSpace(ref)})
	}
	if len(out) < 2 {
		return nil, ethos.Errorf(ethos.Config, "--models: name at least two models to compare, e.g. base=sandbox/base,tuned=sandbox/ft-7f3a")
	}
	return out, nil
}

// DefaultEvalModels compares the newest model of the registry with the
// base model it was trained from, served by the same provider.
func DefaultEvalModels(ctx context.Context, store Models) ([]ethos.EvalModel, error) {
	models, err := store.Models(ctx)
	if err != nil {
		return nil, err
	}
	if len(models) == 0 {
		return nil, ethos.Errorf(ethos.Config, "eval run: no trained model in the registry to compare; name the models with --models NAME=PROVIDER/MODEL,… "+
			"(e.g. --models base=sandbox/base,tuned=sandbox/ft-…), or train one with \"ethos finetune create\"")
	}
	m := models[0]
	if m.BaseModel == "" {
		return nil, ethos.Errorf(ethos.Config, "eval run: the registry's newest model %s does not say its base model; name the models with --models", m.Name)
	}
	return []ethos.EvalModel{{Name: "base", Ref: m.Provider + "/" + m.BaseModel}, {Name: "tuned", Ref: m.Name}}, nil
}

// TrainingFiles are the files an evaluation's held-out prompts are
// checked against (the contamination rule): those given, each of which
// must exist, else the datasets the compared models were trained on (from
// the registry, relative to the project's directory dir) and the
// project's generated dataset (generate.output), where they exist.
func TrainingFiles(ctx context.Context, registry Models, dir, generated string, given []string, models []ethos.EvalModel) ([]string, error) {
	var files []string
	add := func(path string) {
		for _, f := range files {
			if f == path {
				return
			}
		}
		files = append(files, path)
	}
	if len(given) > 0 {
		for _, path := range given {
			if _, err := os.Stat(path); err != nil {
				return nil, ethos.Errorf(ethos.Config, "--training-file: %w", err)
			}
			add(path)
		}
		return files, nil
	}
	exists := func(path string) bool {
		_, err := os.Stat(path)
		return err == nil
	}
	for _, m := range models {
		reg, err := registry.Model(ctx, m.Ref)
		switch {
		case ethos.KindOf(err) == ethos.NotFound:
			continue
		case err != nil:
			return nil, err
		}
		if path := finetune.ResolvePath(dir, reg.DatasetPath); path != "" && exists(path) {
			add(path)
		}
	}
	if out := filepath.Join(dir, generated); generated != "" && exists(out) {
		add(out)
	}
	return files, nil
}

// EvalOptions are the knobs of an evaluation besides its settings.
type EvalOptions struct {
	Workers int
	MaxCost float64 // USD cap for this evaluation on top of the project's budget; 0 for none
	// NoWork leaves the evaluation's tasks to ethos worker processes.
	NoWork bool
}

// Evaluate runs (or continues) an evaluation to its end and returns its
// summary; a finished one is summarised as it is. An incomplete one
// returns its summary with the *eval.Incomplete error.
func Evaluate(ctx context.Context, d Deps, settings eval.Settings, o EvalOptions) (eval.Summary, error) {
	obs := d.Observer
	refs := []string{settings.Judge}
	for _, em := range settings.Models {
		refs = append(refs, em.Ref)
	}
	if settings.PromptsFile == "" {
		refs = append(refs, settings.Generate.Ideas.Model, settings.Generate.Documents.Model)
	}
	// Everything that could stop the evaluation before it spends is
	// checked first: the settings, the keys of every model, the lock.
	completer, err := d.Chain(ctx, o.MaxCost)
	if err != nil {
		return eval.Summary{}, err
	}
	ev, err := eval.New(d.Store, completer, settings)
	if err != nil {
		return eval.Summary{}, err
	}
	if err := d.Router.Check(refs...); err != nil {
		return eval.Summary{}, err
	}
	unlock, err := d.runLock(ctx, ev.ID())
	if err != nil {
		return eval.Summary{}, err
	}
	defer unlock()
	var (
		sum  eval.Summary
		done bool // completed before this command
		stop func()
	)
	err = jobs.RunOn(ctx, d.Jobs, jobs.Config{Workers: o.Workers, Completer: completer, Tasks: ev.Tasks(), Priorities: ev.Priorities(), Queue: ev.ID()}, jobs.Work{
		Rescue: jobs.RescueAll,
		NoWork: o.NoWork,
		Prepare: func(ctx context.Context, rescued int64) (bool, error) {
			resumed, err := ev.Begin(ctx)
			switch {
			case errors.Is(err, eval.ErrCompleted):
				done = true
				return false, nil
			case err != nil:
				return false, err
			case resumed:
				obs.Logf("continuing evaluation %s (%d interrupted jobs rescued)", ev.ID(), rescued)
			default:
				s := ev.Settings()
				from := fmt.Sprintf("%d held-out prompts (seed %d)", s.Prompts, s.Seed)
				if s.PromptsFile != "" {
					from = "the prompts of " + s.PromptsFile
				}
				names := make([]string, len(s.Models))
				for i, em := range s.Models {
					names[i] = em.Name + "=" + em.Ref
				}
				obs.Logf("evaluation %s: %s on %s, judged by %s", ev.ID(), strings.Join(names, " vs "), from, s.Judge)
			}
			if o.NoWork {
				return true, sayWorkers(ctx, obs, ev.ID())
			}
			stop = d.Background(ctx)
			return true, nil
		},
		Drive: func(ctx context.Context) error {
			var err error
			sum, err = ev.Drive(ctx, obs.Evaluating(ev.ID()))
			return err
		},
	})
	if stop != nil {
		stop()
	}
	if done {
		obs.Logf("evaluation %s is complete", ev.ID())
		return eval.Summarize(ctx, d.Store, ev.ID())
	}
	if err != nil && ctx.Err() != nil {
		return eval.Summary{}, interrupted(ctx, err, ev.Interrupted, "ethos eval run --resume "+ev.ID())
	}
	return sum, err
}

// EvalComplete reports whether the evaluation of settings has finished
// with every judgment made.
func EvalComplete(ctx context.Context, store ethos.Store, settings eval.Settings) (bool, error) {
	resolved, err := settings.Resolve()
	if err != nil {
		return false, err
	}
	id := resolved.ID()
	if done, err := CompletedRun(ctx, store, id); err != nil || !done {
		return false, err
	}
	sum, err := eval.Summarize(ctx, store, id)
	if err != nil {
		return false, err
	}
	return !sum.Incomplete(), nil
}
