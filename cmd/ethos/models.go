package main

import (
	"context"
	"fmt"
	"time"

	"github.com/ethos-toolkit/ethos/finetune"
)

// ModelsCommand shows the registry of trained models.
type ModelsCommand struct{ m *Main }

// Run prints the registry as a table or JSON, or writes it as a Markdown
// document.
func (c *ModelsCommand) Run(ctx context.Context, args []string) error {
	flags := c.m.newFlagSet("models", "models [--json | --markdown FILE] [--config FILE] [--db PATH]")
	var pf projectFlags
	pf.register(flags)
	asJSON := flags.Bool("json", false, "print the registry as JSON")
	markdown := flags.String("markdown", "", "write the registry as a Markdown document to `FILE` (replaced)")
	if err := parseNoArgs(flags, args); err != nil {
		return err
	}
	if *asJSON && *markdown != "" {
		return usageErrorf("models: --json and --markdown exclude each other")
	}
	p, err := c.m.openProject(ctx, flags, pf)
	if err != nil {
		return err
	}
	defer p.Close()
	if *markdown != "" {
		n, err := finetune.WriteRegistryFile(ctx, p.Store(), c.m.abs(*markdown), time.Now())
		if err != nil {
			return fmt.Errorf("models --markdown: %w", err)
		}
		fmt.Fprintf(c.m.Stderr, "wrote %s (%d models)\n", *markdown, n)
		return nil
	}
	models, err := p.Store().Models(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(c.m.Stdout, models)
	}
	if len(models) == 0 {
		fmt.Fprintln(c.m.Stdout, "no models yet: a fine-tune job registers its model when it completes (ethos finetune create --train FILE --wait)")
		return nil
	}
	finetune.WriteModels(c.m.Stdout, models)
	return nil
}
