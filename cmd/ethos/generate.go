package main

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/generate"
	"github.com/ethos-toolkit/ethos/jobs"
	"github.com/ethos-toolkit/ethos/pipeline"
	"github.com/ethos-toolkit/ethos/project"
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
		run, err := p.Store().Run(ctx, *resume)
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
	pipeline.ResolveModes(&settings.Generate, p.Config().Batch, settings.Examples, mode)

	if *dryRun {
		plan, quotas := pipeline.PlanGeneration(p.Config(), settings)
		if *asJSON {
			return writeJSON(c.m.Stdout, map[string]any{"run": settings.RunID(), "examples": settings.Examples, "categories": quotas, "files": out, "stages": plan})
		}
		pipeline.WritePlan(c.m.Stdout, settings, plan, quotas)
		return nil
	}

	if err := p.CheckNoWork("generate", *noWork, *maxCost); err != nil {
		return err
	}
	meta, err := pipeline.Generate(ctx, c.m.deps(p), settings, pipeline.GenerateOptions{Workers: *workers, MaxCost: *maxCost, Force: *force, NoWork: *noWork, MemoryLimit: p.MemoryLimit()})
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(c.m.Stdout, meta)
	}
	generate.WriteSummary(c.m.Stdout, meta)
	return nil
}

// settings resolves the run's settings from the config and flags (see
// pipeline.GenerateSettings).
func (c *GenerateCommand) settings(p *project.Project, examples int, systemPrompt, output string, seed int64) (generate.Settings, error) {
	in := pipeline.GenerateInputs{Examples: examples, Seed: seed, WorkDir: c.m.abs(".")}
	if systemPrompt != "" {
		text, err := pipeline.ReadTextArg(systemPrompt, c.m.Dir)
		if err != nil {
			return generate.Settings{}, err
		}
		if strings.TrimSpace(text) == "" {
			return generate.Settings{}, usageErrorf("generate: --system-prompt is empty")
		}
		in.SystemPrompt = text
	}
	if output != "" {
		in.Output = c.m.abs(output)
	}
	return pipeline.GenerateSettings(p.Config(), p.Dir(), in)
}
