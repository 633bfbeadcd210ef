package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/config"
	"github.com/ethos-toolkit/ethos/generate"
	"github.com/ethos-toolkit/ethos/jobs"
	"github.com/ethos-toolkit/ethos/llm"
)

// GenerateInputs are a generation's choices as given; empty and zero
// values take the config's defaults.
type GenerateInputs struct {
	Examples int
	Seed     int64
	// SystemPrompt replaces the character's system prompt.
	SystemPrompt string
	// Output is the dataset's path, absolute; "" is generate.output in
	// the project's directory.
	Output string
	// WorkDir is the directory a relative output is relative to; it is
	// stored with the run, so that a process started elsewhere writes the
	// same files.
	WorkDir string
}

// RegisterFlags adds the inputs' flags to fs, as ethos generate takes
// them; a flag left out keeps the config's setting. SystemPrompt and
// Output are kept as given (@FILE, a relative path): the caller resolves
// them.
func (in *GenerateInputs) RegisterFlags(fs *flag.FlagSet) {
	fs.IntVar(&in.Examples, "examples", 0, "accepted examples to produce (default: generate.examples in the config)")
	fs.StringVar(&in.SystemPrompt, "system-prompt", "", "the character's system prompt, replacing the config's (@FILE reads a file)")
	fs.StringVar(&in.Output, "output", "", "dataset `path` (default: generate.output); the detailed and metadata files go beside it")
	fs.Int64Var(&in.Seed, "seed", 0, "seed for the plan and variation (default: generate.seed)")
}

// GenerateSettings resolves a generation run's settings from the config
// and in.
func GenerateSettings(cfg *config.Config, projectDir string, in GenerateInputs) (generate.Settings, error) {
	g := cfg.Generate
	ch := cfg.Character
	if in.SystemPrompt != "" {
		ch.SystemPrompt = in.SystemPrompt
	}
	examples, seed, output := in.Examples, in.Seed, in.Output
	if examples == 0 {
		examples = g.Examples
	}
	if seed == 0 {
		seed = g.Seed
	}
	if output == "" {
		output = filepath.Join(projectDir, g.Output)
	}
	// The output itself stays as given, and so the run's ID.
	dir, err := filepath.Abs(in.WorkDir)
	if err != nil {
		return generate.Settings{}, ethos.Errorf(ethos.Internal, "generate: the working directory: %w", err)
	}
	var weights map[string]float64
	for _, c := range ch.Categories {
		if c.Weight > 0 {
			if weights == nil {
				weights = map[string]float64{}
			}
			weights[c.Name] = c.Weight
		}
	}
	return generate.Settings{
		Examples: examples, Seed: seed, Output: output, Character: ch, Generate: g, Weights: weights,
		ConfigHash: cfg.Hash(), PromptHashes: generate.TemplateVersions(), Dir: dir,
	}, nil
}

// GenerateOptions are the knobs of a generation besides its settings.
type GenerateOptions struct {
	Workers int
	MaxCost float64 // USD cap for this run on top of the project's budget; 0 for none
	Force   bool    // replace existing output files
	// NoWork leaves the run's tasks to ethos worker processes: this
	// process enqueues, drives and exports.
	NoWork bool
	// MemoryLimit, when set, is the soft memory limit of the process
	// while it works the run (see generate.MemoryLimit).
	MemoryLimit int64
	// GCPercent, when set, is the collector's pacing meanwhile (see
	// generate.GCPercent).
	GCPercent int
}

// Generate runs (or continues) the generation run of settings and writes
// its files. A run done before whose files are in place is returned as
// it is; one whose files are gone writes them again from the store.
func Generate(ctx context.Context, d Deps, settings generate.Settings, o GenerateOptions) (generate.Metadata, error) {
	obs := d.Observer
	out := settings.Outputs()
	id := settings.RunID()
	completed, err := CompletedRun(ctx, d.Store, id)
	if err != nil {
		return generate.Metadata{}, err
	}
	if completed && !o.Force {
		if meta, ok := WrittenMetadata(out, id); ok {
			obs.Logf("run %s is done: its files are in place (--force writes them again from the store)", id)
			return meta, nil
		}
		o.Force = true
	}
	// Everything that could stop the run before it spends is checked first:
	// the outputs, the keys and prices of every model it will call, the
	// store lock.
	if err := out.CheckOutputs(o.Force); err != nil {
		return generate.Metadata{}, err
	}
	if !completed {
		pf := d.preflight(o.MaxCost)
		pf.Generation(settings.Generate)
		if err := pf.Err(ctx); err != nil {
			return generate.Metadata{}, err
		}
	}
	unlock, err := d.runLock(ctx, id)
	if err != nil {
		return generate.Metadata{}, err
	}
	defer unlock()

	if o.MemoryLimit > 0 {
		debug.SetMemoryLimit(o.MemoryLimit)
	}
	if o.GCPercent > 0 {
		debug.SetGCPercent(o.GCPercent)
	}
	completer, err := d.Chain(ctx, o.MaxCost)
	if err != nil {
		return generate.Metadata{}, err
	}
	pipe := generate.NewPipeline(d.Store, completer, settings)
	var (
		update func(generate.Progress)
		done   func()
		stop   func()
	)
	err = jobs.RunOn(ctx, d.Jobs, jobs.Config{Workers: o.Workers, Completer: completer, Tasks: pipe.Tasks(), Priorities: pipe.Priorities(), Queue: pipe.RunID()}, jobs.Work{
		Rescue: jobs.RescueAll,
		NoWork: o.NoWork,
		Prepare: func(ctx context.Context, rescued int64) (bool, error) {
			resumed, err := pipe.Begin(ctx)
			completed = errors.Is(err, generate.ErrRunCompleted)
			switch {
			case completed:
				obs.Logf("run %s is done; writing its files again from the store → %s", pipe.RunID(), out.Dataset)
				return false, nil
			case err != nil:
				return false, err
			case resumed:
				obs.Logf("continuing run %s (%d interrupted jobs rescued)", pipe.RunID(), rescued)
			default:
				obs.Logf("run %s: %d examples for %s → %s", pipe.RunID(), settings.Examples, settings.Character.Name, out.Dataset)
			}
			update, done = obs.Generating(pipe.RunID(), settings.Examples, !o.NoWork)
			if o.NoWork {
				// The workers make the calls, send the batches and
				// publish their loads.
				return true, sayWorkers(ctx, obs, pipe.RunID())
			}
			stop = d.Background(ctx)
			return true, nil
		},
		Drive: func(ctx context.Context) error {
			err := pipe.Drive(ctx, update)
			done()
			return err
		},
	})
	if stop != nil {
		stop()
	}
	if err != nil && ctx.Err() != nil && !completed {
		return generate.Metadata{}, interrupted(ctx, err, pipe.Interrupted, "ethos generate --resume "+pipe.RunID())
	}
	if err != nil {
		return generate.Metadata{}, err
	}
	return pipe.Export(context.WithoutCancel(ctx), out, true)
}

// WrittenMetadata reads the metadata the run id wrote to out, when all of
// its files are still there.
func WrittenMetadata(out generate.OutputPaths, id string) (generate.Metadata, bool) {
	var meta generate.Metadata
	for _, path := range []string{out.Dataset, out.Detailed} {
		if _, err := os.Stat(path); err != nil {
			return meta, false
		}
	}
	data, err := os.ReadFile(out.Metadata)
	if err != nil || json.Unmarshal(data, &meta) != nil || meta.Run != id {
		return meta, false
	}
	return meta, true
}

// GenerationDone reports whether the generation run id completed and its
// files are on disk.
func GenerationDone(ctx context.Context, store ethos.Store, id string, out generate.OutputPaths) (bool, error) {
	completed, err := CompletedRun(ctx, store, id)
	if err != nil || !completed {
		return false, err
	}
	_, written := WrittenMetadata(out, id)
	return written, nil
}

// StagePlan is what one stage of a generation run is planned to call and
// cost (first attempts only).
type StagePlan struct {
	Stage     string  `json:"stage"`
	Model     string  `json:"model"`
	Calls     int     `json:"calls"`
	InTokens  int     `json:"in_tokens"`
	OutTokens int     `json:"out_tokens_expected"`
	MaxOut    int     `json:"out_tokens_max"`
	CostUSD   float64 `json:"cost_usd_expected"`
	WorstUSD  float64 `json:"cost_usd_worst"`
	// OnlineUSD and BatchUSD are the expected cost of the stage online
	// and by batch, whichever its mode.
	OnlineUSD  float64 `json:"cost_usd_online_expected"`
	BatchUSD   float64 `json:"cost_usd_batch_expected"`
	Mode       string  `json:"mode"`
	PriceKnown bool    `json:"price_known"`
}

// PlanGeneration estimates each stage of the run of s: its calls, tokens
// (expected from typical sizes of outputs; worst when every call uses its
// full max_tokens) and cost, from cfg's prices. quotas are the examples
// per category.
func PlanGeneration(cfg *config.Config, s generate.Settings) (plan []StagePlan, quotas map[string]int) {
	g := s.Generate
	quotas = generate.PlanCategories(s.Character.Categories, s.Examples, s.Weights)
	perCall := max(g.Ideas.PerCall, 1)
	ideaCalls := 0
	for _, q := range quotas {
		ideaCalls += (q + perCall - 1) / perCall
	}
	cat := s.Character.Categories[0]
	idea := generate.Idea{Summary: "a typical idea", Situation: strings.Repeat("word ", 60), Traits: []string{s.Character.Traits[0].Name}}
	docWords := g.Documents.Pages * 500
	doc := strings.Repeat("word ", docWords)
	mk := func(stage, model, mode string, calls int, prompt generate.Prompt, typicalOut, maxOut int) StagePlan {
		in := llm.EstimateInput(ethos.Request{System: prompt.System, Messages: []ethos.Message{{Role: ethos.RoleUser, Content: prompt.User}}})
		sp := StagePlan{Stage: stage, Model: model, Mode: mode, Calls: calls, InTokens: calls * in, OutTokens: calls * min(typicalOut, maxOut), MaxOut: calls * maxOut}
		price, ok := cfg.PriceOf(model)
		sp.PriceKnown = ok
		if ok {
			online := price.Cost(ethos.Usage{In: sp.InTokens, Out: sp.OutTokens})
			batch := online * cfg.BatchMultiplier(model)
			sp.CostUSD, sp.WorstUSD, sp.OnlineUSD, sp.BatchUSD = online, price.Cost(ethos.Usage{In: sp.InTokens, Out: sp.MaxOut}), online, batch
			if mode == config.ModeBatch {
				sp.CostUSD, sp.WorstUSD = batch, sp.WorstUSD*cfg.BatchMultiplier(model)
			}
		}
		return sp
	}
	plan = []StagePlan{
		mk("ideas", g.Ideas.Model, g.Ideas.Mode, ideaCalls, generate.IdeasPrompt(s.Character, cat, perCall, nil), perCall*120, g.Ideas.MaxTokens),
		mk("documents", g.Documents.Model, g.Documents.Mode, s.Examples, generate.DocumentPrompt(s.Character, cat, idea, "memo", docWords), docWords*4/3, g.Documents.MaxTokens),
		mk("responses", g.Responses.Model, g.Responses.Mode, s.Examples, generate.ResponsePrompt(s.Character, doc), 700, g.Responses.MaxTokens),
	}
	if g.Review.LLM {
		plan = append(plan, mk("review", g.Review.Model, g.Review.Mode, s.Examples, generate.ReviewPrompt(s.Character, doc, strings.Repeat("word ", 500)), 300, 1024))
	}
	return plan, quotas
}
