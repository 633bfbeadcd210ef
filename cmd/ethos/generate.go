package main

import (
	"context"
	"strings"

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
	flags, pf := c.m.projectFlagSet("generate", "generate [--examples N] [--system-prompt TEXT|@FILE] [--output data/agora.jsonl] [--seed S] [--max-cost USD]\n       [--workers N] [--no-work] [--batch|--online] [--dry-run] [--resume RUN_ID] [--force] [--json] [--config FILE] [--db PATH]")
	var in pipeline.GenerateInputs
	in.RegisterFlags(flags)
	maxCost := flags.Float64("max-cost", 0, "stop before this run could spend more than this many `USD`")
	dryRun := flags.Bool("dry-run", false, "print the planned calls, tokens and cost, and spend nothing")
	resume := flags.String("resume", "", "continue the run with this `ID` (running the same command again does this too)")
	force := flags.Bool("force", false, "replace existing output files")
	workers := flags.Int("workers", jobs.DefaultWorkers, "the most tasks held at once, waiting for the rate limiter or a model; the limiter sets the pace")
	noWork := flags.Bool("no-work", false, "on a PostgreSQL store: enqueue and follow the run while ethos worker processes make its calls, then write its files")
	asJSON := flags.Bool("json", false, "print the result (or the plan) as JSON")
	batch := flags.Bool("batch", false, "send every stage's calls through the providers' batch APIs, at their batch price (overrides each stage's mode)")
	online := flags.Bool("online", false, "send every stage's calls online (overrides each stage's mode)")
	if err := parseNoArgs(flags, args); err != nil {
		return err
	}
	mode, err := modeFlag(*batch, *online)
	if err != nil {
		return err
	}
	if in.Examples < 0 || *maxCost < 0 || *workers < 1 {
		return usageErrorf("generate: --examples and --max-cost must not be negative, --workers at least 1")
	}

	p, err := c.m.openProject(ctx, flags, *pf)
	if err != nil {
		return err
	}
	defer p.Close()

	var settings generate.Settings
	if *resume != "" {
		err = p.ResumeSettings(ctx, *resume, "generate", &settings)
	} else {
		settings, err = c.settings(p, in)
	}
	if err != nil {
		return err
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
	meta, err := pipeline.Generate(ctx, c.m.deps(p), settings, pipeline.GenerateOptions{Workers: *workers, MaxCost: *maxCost, Force: *force, NoWork: *noWork, MemoryLimit: p.MemoryLimit(), GCPercent: p.GCPercent()})
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
// pipeline.GenerateSettings): a system prompt's @FILE is read and the
// output found here.
func (c *GenerateCommand) settings(p *project.Project, in pipeline.GenerateInputs) (generate.Settings, error) {
	in.WorkDir = c.m.abs(".")
	if in.SystemPrompt != "" {
		text, err := pipeline.ReadTextArg(in.SystemPrompt, c.m.Dir)
		if err != nil {
			return generate.Settings{}, err
		}
		if strings.TrimSpace(text) == "" {
			return generate.Settings{}, usageErrorf("generate: --system-prompt is empty")
		}
		in.SystemPrompt = text
	}
	if in.Output != "" {
		in.Output = c.m.abs(in.Output)
	}
	return pipeline.GenerateSettings(p.Config(), p.Dir(), in)
}
