package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/config"
	"github.com/ethos-toolkit/ethos/generate"
	"github.com/ethos-toolkit/ethos/jobs"
	"github.com/ethos-toolkit/ethos/llm"
)

// GenerateCommand produces a fine-tuning dataset for the project's
// character: ideas → context documents → in-character replies → review.
type GenerateCommand struct{ m *Main }

// Run plans or runs (or continues) a generation run and writes its files.
func (c *GenerateCommand) Run(ctx context.Context, args []string) error {
	flags := c.m.newFlagSet("generate", "generate [--examples N] [--system-prompt TEXT|@FILE] [--output data/agora.jsonl] [--seed S] [--max-cost USD]\n       [--workers N] [--no-work] [--batch|--online] [--dry-run] [--resume RUN_ID] [--force] [--json] [--config FILE] [--db PATH]")
	var pf projectFlags
	pf.register(flags)
	examples := flags.Int("examples", 0, "accepted examples to produce (default: generate.examples in the config)")
	systemPrompt := flags.String("system-prompt", "", "the character's system prompt, replacing the config's (@FILE reads a file)")
	output := flags.String("output", "", "dataset `path` (default: generate.output); the detailed and metadata files go beside it")
	seed := flags.Int64("seed", 0, "seed for the plan and variation (default: generate.seed)")
	maxCost := flags.Float64("max-cost", 0, "stop before this run could spend more than this many `USD`")
	dryRun := flags.Bool("dry-run", false, "print the planned calls, tokens and cost, and spend nothing")
	resume := flags.String("resume", "", "continue the run with this `ID` (running the same command again does this too)")
	force := flags.Bool("force", false, "replace existing output files")
	workers := flags.Int("workers", jobs.DefaultWorkers, "the most tasks held at once, waiting for the rate limiter or a model; the limiter sets the pace")
	noWork := flags.Bool("no-work", false, "on a PostgreSQL store: enqueue and follow the run while ethos worker processes make its calls, then write its files")
	asJSON := flags.Bool("json", false, "print the result (or the plan) as JSON")
	batch := flags.Bool("batch", false, "send every stage's calls through the providers' batch APIs, at their batch price (overrides each stage's mode)")
	online := flags.Bool("online", false, "send every stage's calls online (overrides each stage's mode)")
	rest, err := parseFlags(flags, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageErrorf("generate takes no arguments, got %q", rest)
	}
	mode, err := modeFlag(*batch, *online)
	if err != nil {
		return err
	}
	if *examples < 0 || *maxCost < 0 || *workers < 1 {
		return usageErrorf("generate: --examples and --max-cost must not be negative, --workers at least 1")
	}

	p, err := c.m.openProject(ctx, flags, pf)
	if err != nil {
		return err
	}
	defer p.Close()

	var settings generate.Settings
	if *resume != "" {
		run, err := p.store.Run(ctx, *resume)
		if err != nil {
			return ethos.Errorf(ethos.Config, "--resume %s: %w", *resume, err)
		}
		if run.Kind != "generate" {
			return ethos.Errorf(ethos.Config, "--resume %s: a %s run, not a generation run", *resume, run.Kind)
		}
		if err := json.Unmarshal(run.Params, &settings); err != nil {
			return ethos.Errorf(ethos.Internal, "run %s: reading its settings: %w", run.ID, err)
		}
	} else {
		if settings, err = c.settings(p, *examples, *systemPrompt, *output, *seed); err != nil {
			return err
		}
	}
	out := settings.Outputs()
	resolveModes(&settings.Generate, p.cfg.Batch, settings.Examples, mode)

	if *dryRun {
		return c.printPlan(p, settings, out, *asJSON)
	}

	if err := checkNoWork(p, "generate", *noWork, *maxCost); err != nil {
		return err
	}
	meta, err := c.m.generateDataset(ctx, p, settings, generateOptions{workers: *workers, maxCost: *maxCost, force: *force, noWork: *noWork})
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(c.m.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(meta)
	}
	c.printSummary(meta)
	return nil
}

// generateOptions are the knobs of a generation besides its settings.
type generateOptions struct {
	workers int
	maxCost float64 // USD cap for this run on top of the project's budget; 0 for none
	force   bool    // replace existing output files
	// noWork leaves the run's tasks to ethos worker processes: this one
	// enqueues, drives and exports.
	noWork bool
}

// generateDataset runs (or continues) the generation run of settings and
// writes its files. ethos generate and ethos run share it.
func (m *Main) generateDataset(ctx context.Context, p *project, settings generate.Settings, o generateOptions) (generate.Metadata, error) {
	out := settings.Outputs()
	id := settings.RunID()
	completed, err := completedRun(ctx, p, id)
	if err != nil {
		return generate.Metadata{}, err
	}
	if completed && !o.force {
		// Done, as ethos run says: the files are the run's own.
		if meta, ok := writtenMetadata(out, id); ok {
			fmt.Fprintf(m.Stderr, "run %s is done: its files are in place (--force writes them again from the store)\n", id)
			return meta, nil
		}
		// A file is gone: write them all again from the store.
		o.force = true
	}
	// Everything that could stop the run before it spends is checked first:
	// the outputs, the keys and prices of every model it will call, the
	// store lock.
	if err := out.CheckOutputs(o.force); err != nil {
		return generate.Metadata{}, err
	}
	if !completed {
		pf := p.newPreflight(o.maxCost)
		pf.generation(settings.Generate)
		if err := pf.err(ctx); err != nil {
			return generate.Metadata{}, err
		}
	}
	unlock, err := p.runLock(ctx, id)
	if err != nil {
		return generate.Metadata{}, err
	}
	defer unlock()

	if m.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(generate.MemoryLimit)
	}
	completer, err := p.Completer(ctx, o.maxCost)
	if err != nil {
		return generate.Metadata{}, err
	}
	pipe := generate.NewPipeline(p.store, completer, settings)
	var show *progress
	var stopLoads, stopBatches func()
	err = jobs.RunOn(ctx, p.jobs, jobs.Config{Workers: o.workers, Completer: completer, Tasks: pipe.Tasks(), Priorities: pipe.Priorities(), Queue: pipe.RunID()}, jobs.Work{
		Rescue: jobs.RescueAll,
		NoWork: o.noWork,
		Prepare: func(ctx context.Context, rescued int64) (bool, error) {
			resumed, err := pipe.Begin(ctx)
			completed = errors.Is(err, generate.ErrRunCompleted)
			switch {
			case completed:
				fmt.Fprintf(m.Stderr, "run %s is done; writing its files again from the store → %s\n", pipe.RunID(), out.Dataset)
				return false, nil
			case err != nil:
				return false, err
			case resumed:
				fmt.Fprintf(m.Stderr, "continuing run %s (%d interrupted jobs rescued)\n", pipe.RunID(), rescued)
			default:
				fmt.Fprintf(m.Stderr, "run %s: %d examples for %s → %s\n", pipe.RunID(), settings.Examples, settings.Character.Name, out.Dataset)
			}
			show = newProgress(m.Stderr, p.store, pipe.RunID(), settings.Examples)
			if o.noWork {
				// The workers make the calls, send the batches and
				// publish their loads.
				return true, sayWorkers(ctx, m, pipe.RunID())
			}
			show.limiter = p.limiter
			stopLoads, stopBatches = p.publishLoads(ctx), p.runBatches(ctx)
			return true, nil
		},
		Drive: func(ctx context.Context) error {
			err := pipe.Drive(ctx, show.update)
			show.done()
			return err
		},
	})
	if stopBatches != nil {
		stopBatches()
		stopLoads()
	}
	if err != nil && ctx.Err() != nil && !completed {
		return generate.Metadata{}, interrupted(ctx, err, pipe.Interrupted, "ethos generate --resume "+pipe.RunID())
	}
	if err != nil {
		return generate.Metadata{}, err
	}
	return pipe.Export(context.WithoutCancel(ctx), out, true)
}

// completedRun reports whether the run id (a generation or an evaluation)
// has completed.
func completedRun(ctx context.Context, p *project, id string) (bool, error) {
	run, err := p.store.Run(ctx, id)
	switch {
	case ethos.KindOf(err) == ethos.NotFound:
		return false, nil
	case err != nil:
		return false, err
	}
	return run.Status == ethos.RunCompleted, nil
}

// writtenMetadata reads the metadata the run id wrote to out, when all of
// its files are still there.
func writtenMetadata(out generate.OutputPaths, id string) (generate.Metadata, bool) {
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

// settings resolves the run's settings from the config and flags.
func (c *GenerateCommand) settings(p *project, examples int, systemPrompt, output string, seed int64) (generate.Settings, error) {
	cfg := p.cfg
	g := cfg.Generate
	ch := cfg.Character
	if systemPrompt != "" {
		text, err := readTextArg(c.m, systemPrompt)
		if err != nil {
			return generate.Settings{}, err
		}
		if strings.TrimSpace(text) == "" {
			return generate.Settings{}, usageErrorf("generate: --system-prompt is empty")
		}
		ch.SystemPrompt = text
	}
	if examples == 0 {
		examples = g.Examples
	}
	if seed == 0 {
		seed = g.Seed
	}
	if output == "" {
		output = filepath.Join(p.dir, g.Output)
	} else {
		output = c.m.abs(output)
	}
	// The directory a relative output is relative to is stored with the
	// run, so that a process started elsewhere (--resume with --db) writes
	// the same files; the output itself stays as given, and so the run's ID.
	dir, err := filepath.Abs(c.m.abs("."))
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

// printPlan shows what a run would do and cost, spending nothing.
func (c *GenerateCommand) printPlan(p *project, s generate.Settings, out generate.OutputPaths, asJSON bool) error {
	g := s.Generate
	quotas := generate.PlanCategories(s.Character.Categories, s.Examples, s.Weights)
	perCall := max(g.Ideas.PerCall, 1)
	ideaCalls := 0
	for _, q := range quotas {
		ideaCalls += (q + perCall - 1) / perCall
	}
	// Typical sizes of outputs, for the expected estimate; the worst case
	// assumes every call uses its full max_tokens.
	cat := s.Character.Categories[0]
	idea := generate.Idea{Summary: "a typical idea", Situation: strings.Repeat("word ", 60), Traits: []string{s.Character.Traits[0].Name}}
	docWords := g.Documents.Pages * 500
	doc := strings.Repeat("word ", docWords)
	type stagePlan struct {
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
	mk := func(stage, model, mode string, calls int, prompt generate.Prompt, typicalOut, maxOut int) stagePlan {
		in := llm.EstimateInput(ethos.Request{System: prompt.System, Messages: []ethos.Message{{Role: ethos.RoleUser, Content: prompt.User}}})
		sp := stagePlan{Stage: stage, Model: model, Mode: mode, Calls: calls, InTokens: calls * in, OutTokens: calls * min(typicalOut, maxOut), MaxOut: calls * maxOut}
		price, ok := p.cfg.PriceOf(model)
		sp.PriceKnown = ok
		if ok {
			online := price.Cost(ethos.Usage{In: sp.InTokens, Out: sp.OutTokens})
			batch := online * p.cfg.BatchMultiplier(model)
			sp.CostUSD, sp.WorstUSD, sp.OnlineUSD, sp.BatchUSD = online, price.Cost(ethos.Usage{In: sp.InTokens, Out: sp.MaxOut}), online, batch
			if mode == config.ModeBatch {
				sp.CostUSD, sp.WorstUSD = batch, sp.WorstUSD*p.cfg.BatchMultiplier(model)
			}
		}
		return sp
	}
	plan := []stagePlan{
		mk("ideas", g.Ideas.Model, g.Ideas.Mode, ideaCalls, generate.IdeasPrompt(s.Character, cat, perCall, nil), perCall*120, g.Ideas.MaxTokens),
		mk("documents", g.Documents.Model, g.Documents.Mode, s.Examples, generate.DocumentPrompt(s.Character, cat, idea, "memo", docWords), docWords*4/3, g.Documents.MaxTokens),
		mk("responses", g.Responses.Model, g.Responses.Mode, s.Examples, generate.ResponsePrompt(s.Character, doc), 700, g.Responses.MaxTokens),
	}
	if g.Review.LLM {
		plan = append(plan, mk("review", g.Review.Model, g.Review.Mode, s.Examples, generate.ReviewPrompt(s.Character, doc, strings.Repeat("word ", 500)), 300, 1024))
	}
	if asJSON {
		enc := json.NewEncoder(c.m.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"run": s.RunID(), "examples": s.Examples, "categories": quotas, "files": out, "stages": plan})
	}
	fmt.Fprintf(c.m.Stdout, "plan for run %s: %d examples of %s over %d categories → %s\n(first attempts only: rejected items are written again, up to %d times)\n\n",
		s.RunID(), s.Examples, s.Character.Name, len(quotas), out.Dataset, max(g.Review.MaxAttempts, 1))
	w := tabwriter.NewWriter(c.m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "STAGE\tMODEL\tMODE\tCALLS\tIN TOKENS\tOUT TOKENS (expected / max)\tCOST (expected / worst)\tONLINE / BATCH (expected)")
	var total, worst, allOnline, allBatch float64
	for _, sp := range plan {
		cost, both := "no price", "no price"
		if sp.PriceKnown {
			cost = fmt.Sprintf("$%.4f / $%.4f", sp.CostUSD, sp.WorstUSD)
			both = fmt.Sprintf("$%.4f / $%.4f", sp.OnlineUSD, sp.BatchUSD)
			allOnline += sp.OnlineUSD
			allBatch += sp.BatchUSD
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%d\t%d / %d\t%s\t%s\n", sp.Stage, sp.Model, sp.Mode, sp.Calls, sp.InTokens, sp.OutTokens, sp.MaxOut, cost, both)
		total += sp.CostUSD
		worst += sp.WorstUSD
	}
	w.Flush()
	fmt.Fprintf(c.m.Stdout, "\ntotal: $%.4f expected, $%.4f worst case; nothing was spent (--dry-run)\n", total, worst)
	fmt.Fprintf(c.m.Stdout, "every stage online: $%.4f expected; every stage by batch: $%.4f (--batch; answers within the providers' batch window, up to 24 h)\n", allOnline, allBatch)
	return nil
}

func (c *GenerateCommand) printSummary(meta generate.Metadata) {
	w := c.m.Stdout
	fmt.Fprintf(w, "\n%d examples written (run %s)\n", meta.Examples, meta.Run)
	fmt.Fprintf(w, "  dataset   %s\n  detailed  %s\n  metadata  %s\n", meta.Files.Dataset, meta.Files.Detailed, meta.Files.Metadata)
	calls, hits := 0, 0
	for _, sc := range meta.Calls {
		calls += sc.Calls
		hits += sc.CacheHits
	}
	fmt.Fprintf(w, "  calls     %d (%d from cache), cost $%.4f, wall %s\n", calls, hits, meta.TotalCostUSD, meta.WallTime)
	if len(meta.Rejections) > 0 {
		fmt.Fprintln(w, "  rejected or quarantined, by reason:")
		for _, reason := range sortedKeys(meta.Rejections) {
			fmt.Fprintf(w, "    %5d  %s\n", meta.Rejections[reason], reason)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
