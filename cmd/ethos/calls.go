package main

import (
	"context"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/llm"
)

// CallsCommand lists the model calls recorded in the ledger.
type CallsCommand struct{ m *Main }

// Run prints the most recent calls and the totals per provider and model.
func (c *CallsCommand) Run(ctx context.Context, args []string) error {
	flags, pf := c.m.projectFlagSet("calls", "calls [--run ID] [--limit N] [--json] [--config FILE] [--db PATH]")
	run := flags.String("run", "", "only calls of this run `ID`")
	limit := flags.Int("limit", 20, "show at most `N` recent calls")
	asJSON := flags.Bool("json", false, "print as JSON")
	if err := parseNoArgs(flags, args); err != nil {
		return err
	}
	p, err := c.m.openProject(ctx, flags, *pf)
	if err != nil {
		return err
	}
	defer p.Close()
	rep, err := llm.LoadCallsReport(ctx, p.Store(), ethos.CallFilter{RunID: *run, Limit: *limit}, p.Pricer(), time.Now())
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(c.m.Stdout, rep)
	}
	rep.Write(c.m.Stdout, time.Now())
	return nil
}
