package main

import (
	"context"

	"github.com/ethos-toolkit/ethos/jobs"
	"github.com/ethos-toolkit/ethos/pipeline"
)

// RunCommand runs the whole pipeline from the project's ethos.yaml:
// generate → split and check → fine-tune → wait → evaluate base against
// fine-tuned → report → registry. Every step is durable and skipped when
// already done, so running it again after any interruption continues.
type RunCommand struct{ m *Main }

// Run runs the pipeline and prints where its results are.
func (c *RunCommand) Run(ctx context.Context, args []string) error {
	flags, pf := c.m.projectFlagSet("run", "run [--max-cost USD] [--workers N] [--no-work] [--json] [--config FILE] [--db PATH]")
	maxCost := flags.Float64("max-cost", 0, "stop before the model calls of this run could spend more than this many `USD`")
	workers := flags.Int("workers", jobs.DefaultWorkers, "the most tasks held at once, waiting for the rate limiter or a model; the limiter sets the pace")
	noWork := flags.Bool("no-work", false, "on a PostgreSQL store: drive the run while ethos worker processes make the generation's and the evaluation's calls")
	asJSON := flags.Bool("json", false, "print the result as JSON")
	if err := parseNoArgs(flags, args); err != nil {
		return err
	}
	if *maxCost < 0 || *workers < 1 {
		return usageErrorf("run: --max-cost must not be negative, --workers at least 1")
	}
	p, err := c.m.openProject(ctx, flags, *pf)
	if err != nil {
		return err
	}
	defer p.Close()
	if err := p.CheckNoWork("run", *noWork, *maxCost); err != nil {
		return err
	}
	res, err := pipeline.Run(ctx, c.m.deps(p), pipeline.RunOptions{Workers: *workers, MaxCost: *maxCost, NoWork: *noWork, MemoryLimit: p.MemoryLimit(), GCPercent: p.GCPercent()})
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(c.m.Stdout, res)
	}
	pipeline.WriteRunResult(c.m.Stdout, res)
	return nil
}

// pipelineResult is what ethos run and ethos demo print.
type pipelineResult = pipeline.RunResult
