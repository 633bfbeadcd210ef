package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/config"
	"github.com/ethos-toolkit/ethos/jobs"
	"github.com/ethos-toolkit/ethos/pipeline"
	"github.com/ethos-toolkit/ethos/project"
)

// DemoCommand runs the whole pipeline offline: it makes DIR an ordinary
// ethos project whose every model is a sandbox model, then runs ethos run
// inside it. ethos status, models and serve run in DIR show what it did.
type DemoCommand struct{ m *Main }

// Demo defaults: small enough to finish in well under two minutes on two
// cores, large enough for the statistics to say something.
const (
	demoExamples = 60
	demoPrompts  = 30
)

// Run writes DIR/ethos.yaml unless it exists, then runs the pipeline there.
func (c *DemoCommand) Run(ctx context.Context, args []string) error {
	flags := c.m.newFlagSet("demo", "demo [--dir ethos-demo] [--examples N] [--prompts N] [--recipe sft|dpo|sft+dpo|dpo+introspection] [--workers N] [--json]")
	dir := flags.String("dir", "ethos-demo", "the project `directory` the demo makes (or continues)")
	examples := flags.Int("examples", demoExamples, "training examples to generate")
	prompts := flags.Int("prompts", demoPrompts, "held-out prompts to evaluate on")
	recipe := flags.String("recipe", "", "how to train: sft, dpo (preference pairs against the student's answers) sft+dpo (DPO continued from SFT) or dpo+introspection (SFT on the DPO model's self-reflections and self-interactions, continued from DPO); default: finetune.recipe, sft")
	workers := flags.Int("workers", jobs.DefaultWorkers, "the most tasks held at once, waiting for the rate limiter or a model; the limiter sets the pace")
	asJSON := flags.Bool("json", false, "print the result as JSON")
	if err := parseNoArgs(flags, args); err != nil {
		return err
	}
	if *recipe != "" && !slices.Contains(config.Recipes, *recipe) {
		return usageErrorf("demo: --recipe %q: want sft, dpo, sft+dpo or dpo+introspection", *recipe)
	}
	if *examples < 10 || *prompts < 5 || *workers < 1 {
		return usageErrorf("demo: --examples must be at least 10 (OpenAI and Together want ten), --prompts at least 5, --workers at least 1")
	}
	root, err := filepath.Abs(c.m.abs(*dir))
	if err != nil {
		return ethos.Errorf(ethos.Config, "demo: --dir %s: %w", *dir, err)
	}
	cfgPath, written, err := config.WriteFile(root, config.Demo(*examples, *prompts), false)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if written {
		fmt.Fprintf(c.m.Stderr, "wrote %s: the example character Agora, every model a sandbox model\n", cfgPath)
	} else {
		fmt.Fprintf(c.m.Stderr, "using %s as it is (delete it to start afresh); what earlier runs did is reused\n", cfgPath)
	}

	// The project is DIR: its store, data and reports live there, whatever
	// ETHOS_DB says.
	p, err := project.Open(ctx, project.Options{Config: cfgPath, ConfigExplicit: true, DB: filepath.Join(root, ".ethos", "ethos.db"),
		Dir: root, Getenv: c.m.Getenv, Log: c.m.Stderr})
	if err != nil {
		return err
	}
	defer p.Close()
	// Offline, training is free: a recipe that starts with DPO gets an SFT
	// model beside it, so the demo shows base, SFT and DPO side by side.
	res, err := pipeline.Run(ctx, c.m.deps(p), pipeline.RunOptions{Workers: *workers, Recipe: *recipe, SFTReference: true, MemoryLimit: p.MemoryLimit(), GCPercent: p.GCPercent()})
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(c.m.Stdout, res)
	}
	pipeline.WriteRunResult(c.m.Stdout, res)
	fmt.Fprintf(c.m.Stdout, "\nDIR is an ordinary ethos project; inside it try:\n  cd %s\n  ethos status\n  ethos models\n  ethos eval report --format html --output report.html\n  ethos serve            # the dashboard on http://127.0.0.1:8080\n", *dir)
	return nil
}
