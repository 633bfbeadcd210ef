package main

import (
	"context"
	"fmt"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/llm"
)

// CallsCommand lists the model calls recorded in the ledger.
type CallsCommand struct{ m *Main }

// Run prints the most recent calls and the totals per provider and model.
func (c *CallsCommand) Run(ctx context.Context, args []string) error {
	flags := c.m.newFlagSet("calls", "calls [--run ID] [--limit N] [--json] [--config FILE] [--db PATH]")
	var pf projectFlags
	pf.register(flags)
	run := flags.String("run", "", "only calls of this run `ID`")
	limit := flags.Int("limit", 20, "show at most `N` recent calls")
	asJSON := flags.Bool("json", false, "print as JSON")
	rest, err := parseFlags(flags, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageErrorf("calls takes no arguments, got %q", rest)
	}
	p, err := c.m.openProject(ctx, flags, pf)
	if err != nil {
		return err
	}
	defer p.Close()
	filter := ethos.CallFilter{RunID: *run, Limit: *limit}
	calls, err := p.store.Calls(ctx, filter)
	if err != nil {
		return err
	}
	filter.Limit = 0
	summary, err := p.store.SummarizeCalls(ctx, filter)
	if err != nil {
		return err
	}
	caching, err := p.store.PromptCaching(ctx, filter)
	if err != nil {
		return err
	}
	ethos.PricePromptCache(caching, p.pricer().Cost)
	stages := ethos.PromptCacheByStage(caching)
	loads, err := p.store.ProviderLoads(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(c.m.Stdout, struct {
			Calls   []ethos.Call        `json:"calls"`
			Summary []ethos.CallSummary `json:"summary"`
			// InFlight are the snapshots each process wrote, stale ones
			// included; InFlightByProvider sums the live ones per
			// provider, as the text shows them (ethos.LiveLoads).
			InFlight           []ethos.ProviderLoad `json:"in_flight"`
			InFlightByProvider []ethos.ProviderLoad `json:"in_flight_by_provider"`
			// Prompt caching per stage, and per run, stage and model.
			PromptCache        []ethos.PromptCacheUse `json:"prompt_cache"`
			PromptCacheByModel []ethos.PromptCacheUse `json:"prompt_cache_by_model"`
		}{calls, summary, loads, nonNil(ethos.LiveLoads(loads, time.Now())), nonNil(stages), nonNil(caching)})
	}
	llm.WriteCalls(c.m.Stdout, calls)
	fmt.Fprintln(c.m.Stdout)
	llm.WriteCallTotals(c.m.Stdout, summary)
	llm.WritePromptCache(c.m.Stdout, stages)
	llm.WriteLoads(c.m.Stdout, loads, time.Now())
	return nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
