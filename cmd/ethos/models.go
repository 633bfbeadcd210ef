package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ethos-toolkit/ethos"
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
	rest, err := parseFlags(flags, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageErrorf("models takes no arguments, got %q", rest)
	}
	if *asJSON && *markdown != "" {
		return usageErrorf("models: --json and --markdown exclude each other")
	}
	p, err := c.m.openProject(ctx, flags, pf)
	if err != nil {
		return err
	}
	defer p.Close()
	models, err := p.Store().Models(ctx)
	if err != nil {
		return err
	}
	switch {
	case *asJSON:
		if models == nil {
			models = []ethos.Model{}
		}
		return writeJSON(c.m.Stdout, models)
	case *markdown != "":
		jobs, err := p.Store().Jobs(ctx, ethos.FineTuneFilter{})
		if err != nil {
			return err
		}
		byID := make(map[string]ethos.FineTuneJob, len(jobs))
		for _, j := range jobs {
			byID[j.ID] = j
		}
		var b bytes.Buffer
		if err := finetune.WriteRegistry(&b, models, byID, time.Now()); err != nil {
			return err
		}
		path := c.m.abs(*markdown)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return ethos.Errorf(ethos.Config, "models --markdown: %w", err)
		}
		// Atomic: a reader never sees half a registry.
		if err := writeFileAtomic(path, b.Bytes(), 0o644); err != nil {
			return ethos.Errorf(ethos.Config, "models --markdown: write %s: %w", *markdown, err)
		}
		fmt.Fprintf(c.m.Stderr, "wrote %s (%d models)\n", *markdown, len(models))
		return nil
	}
	if len(models) == 0 {
		fmt.Fprintln(c.m.Stdout, "no models yet: a fine-tune job registers its model when it completes (ethos finetune create --train FILE --wait)")
		return nil
	}
	finetune.WriteModels(c.m.Stdout, models)
	return nil
}
