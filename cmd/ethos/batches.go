package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/config"
	"github.com/ethos-toolkit/ethos/llm"
	"github.com/ethos-toolkit/ethos/project"
)

// modeFlag is the mode --batch or --online asks for, or "" for neither.
func modeFlag(batch, online bool) (string, error) {
	switch {
	case batch && online:
		return "", usageErrorf("--batch and --online exclude each other")
	case batch:
		return config.ModeBatch, nil
	case online:
		return config.ModeOnline, nil
	}
	return "", nil
}

// BatchesCommand lists, shows and cancels the provider batches ethos made.
type BatchesCommand struct{ m *Main }

// Run dispatches list (the default), status and cancel.
func (c *BatchesCommand) Run(ctx context.Context, args []string) error {
	flags := c.m.newFlagSet("batches", "batches [list] [--run ID] [--active] [--json] [--config FILE] [--db PATH]\n       batches status ID [--json] | batches cancel ID")
	var pf projectFlags
	pf.register(flags)
	run := flags.String("run", "", "only batches holding requests of this run `ID`")
	active := flags.Bool("active", false, "only batches not ended")
	asJSON := flags.Bool("json", false, "print as JSON")
	rest, err := parseFlags(flags, args)
	if err != nil {
		return err
	}
	sub := "list"
	if len(rest) > 0 {
		sub, rest = rest[0], rest[1:]
	}
	var id int64
	switch sub {
	case "list":
		if len(rest) > 0 {
			return usageErrorf("batches list takes no arguments, got %q", rest)
		}
	case "status", "cancel":
		if len(rest) != 1 {
			return usageErrorf("batches %s takes one batch ID (ethos batches lists them)", sub)
		}
		if id, err = strconv.ParseInt(strings.TrimPrefix(rest[0], "ethos-batch-"), 10, 64); err != nil || id <= 0 {
			return usageErrorf("batches %s: %q is not a batch ID; ethos batches lists them", sub, rest[0])
		}
	default:
		return usageErrorf("batches: unknown subcommand %q; want list, status or cancel", sub)
	}
	p, err := c.m.openProject(ctx, flags, pf)
	if err != nil {
		return err
	}
	defer p.Close()

	switch sub {
	case "status":
		return c.status(ctx, p, id, *asJSON)
	case "cancel":
		return c.cancel(ctx, p, id)
	}
	batches, err := p.Store().Batches(ctx, ethos.BatchFilter{RunID: *run, Active: *active})
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(c.m.Stdout, batches)
	}
	if len(batches) == 0 {
		fmt.Fprintln(c.m.Stdout, "no batches; a stage whose mode is batch (or --batch) sends its calls in them")
		return nil
	}
	return llm.WriteBatches(c.m.Stdout, batches, time.Now())
}

func (c *BatchesCommand) status(ctx context.Context, p *project.Project, id int64, asJSON bool) error {
	b, err := p.Store().GetBatch(ctx, id)
	if err != nil {
		return err
	}
	items, err := p.Store().BatchItems(ctx, id)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(c.m.Stdout, llm.BatchStatusOf(b, items))
	}
	llm.WriteBatch(c.m.Stdout, b, time.Now())
	return nil
}

// cancel asks the provider to stop a batch (see project.CancelBatch).
func (c *BatchesCommand) cancel(ctx context.Context, p *project.Project, id int64) error {
	b, err := p.CancelBatch(ctx, id)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.m.Stdout, "batch %d (%s): %s; its unprocessed requests go to the next batch when their run continues\n", id, b.ProviderID, b.StateText())
	return nil
}
