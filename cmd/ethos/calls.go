package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/ethos-toolkit/ethos"
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
	calls, err := p.Store().Calls(ctx, filter)
	if err != nil {
		return err
	}
	filter.Limit = 0
	summary, err := p.Store().SummarizeCalls(ctx, filter)
	if err != nil {
		return err
	}
	caching, err := p.Store().PromptCaching(ctx, filter)
	if err != nil {
		return err
	}
	ethos.PricePromptCache(caching, p.Pricer().Cost)
	stages := ethos.PromptCacheByStage(caching)
	loads, err := p.Store().ProviderLoads(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(c.m.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
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
	w := tabwriter.NewWriter(c.m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tWHEN\tMODEL\tSTAGE\tIN\tOUT\tCOST\tLATENCY\tRESULT")
	for _, call := range calls {
		result := "ok"
		switch {
		case call.CacheHit:
			result = "cache hit"
		case call.ErrorKind != "":
			result = string(call.ErrorKind)
		case call.Response != nil:
			result = string(call.Response.StopReason)
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%d\t%d\t$%.6f\t%s\t%s\n", call.ID, call.CreatedAt.Local().Format("01-02 15:04:05"),
			call.Model, call.Stage, call.Usage.In, call.Usage.Out, call.CostUSD, call.Latency.Round(time.Millisecond), result)
	}
	w.Flush()
	fmt.Fprintln(c.m.Stdout)
	w = tabwriter.NewWriter(c.m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "MODEL\tCALLS\tCACHE HITS\tERRORS\tIN\tOUT\tCOST")
	total, interrupted := 0.0, 0
	for _, s := range summary {
		fmt.Fprintf(w, "%s\t%d\t%d\t%s\t%d\t%d\t$%.6f\n", s.Model, s.Calls, s.CacheHits, formatErrors(s.Errors), s.Usage.In, s.Usage.Out, s.CostUSD)
		total += s.CostUSD
		interrupted += s.Interrupted
	}
	w.Flush()
	fmt.Fprintf(c.m.Stdout, "total spent: $%.6f\n", total)
	if interrupted > 0 {
		fmt.Fprintf(c.m.Stdout, "interrupted: %d calls cut short by Ctrl-C or a shutdown (not errors; running the command again makes them)\n", interrupted)
	}
	printPromptCache(c.m.Stdout, stages)
	printLoads(c.m.Stdout, loads, time.Now())
	return nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// printPromptCache shows, per stage, how much of the input the providers
// read from their prompt caches and what that saved against billing every
// cache token at the input price.
func printPromptCache(out io.Writer, stages []ethos.PromptCacheUse) {
	fmt.Fprintln(out)
	if len(stages) == 0 {
		fmt.Fprintln(out, "prompt cache: no calls sent to a provider")
		return
	}
	fmt.Fprintln(out, "prompt cache (calls sent to a provider; those answered from the ledger are left out):")
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "STAGE\tCALLS\tINPUT\tCACHE READ\tCACHE WRITE\tHIT SHARE\tCOST\tUNCACHED\tSAVED")
	var total ethos.PromptCacheUse
	for _, s := range stages {
		stage := s.Stage
		if stage == "" {
			stage = "-"
		}
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%.1f%%\t$%.6f\t$%.6f\t%s\n", stage, s.Calls, s.Input(), s.Usage.CacheRead, s.Usage.CacheWrite,
			100*s.Share(), s.CostUSD, s.UncachedUSD, signedUSD(s.SavedUSD()))
		total.Add(s)
	}
	w.Flush()
	fmt.Fprintf(out, "prompt cache saved %s of $%.6f uncached (%.1f%% of input tokens read from cache)\n",
		signedUSD(total.SavedUSD()), total.UncachedUSD, 100*total.Share())
	if total.SavedUSD() < 0 {
		fmt.Fprintln(out, "  (negative: cache writes cost more than the reads saved)")
	}
	if total.Unpriced > 0 {
		fmt.Fprintf(out, "  saving unknown for %d calls whose model has no price (add it under prices:)\n", total.Unpriced)
	}
}

// signedUSD writes a dollar amount with its sign before the dollar; an
// amount that rounds to zero has none.
func signedUSD(usd float64) string {
	if usd <= -0.0000005 {
		return fmt.Sprintf("-$%.6f", -usd)
	}
	return fmt.Sprintf("$%.6f", usd)
}

// printLoads shows the calls in flight per provider, summed over the
// processes making them as they last recorded, or that none is running.
func printLoads(out io.Writer, loads []ethos.ProviderLoad, now time.Time) {
	live := ethos.LiveLoads(loads, now)
	fmt.Fprintln(out)
	if len(live) == 0 {
		fmt.Fprintln(out, "in flight: none (no ethos process is making calls)")
		return
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "PROVIDER	IN FLIGHT	WAITING	TARGET	CEILING	LATENCY	LIMIT	AS OF")
	for _, l := range live {
		target := strconv.Itoa(l.Target)
		if l.Auto {
			target += " (auto)"
		}
		limit := "-"
		if l.RPM > 0 {
			limit = fmt.Sprintf("%d rpm", l.RPM)
		}
		if l.TPM > 0 {
			limit += fmt.Sprintf(", %d tpm", l.TPM)
		}
		who := fmt.Sprintf("pid %d", l.PID)
		if l.Processes > 1 {
			who = fmt.Sprintf("%d processes", l.Processes)
		}
		fmt.Fprintf(w, "%s\t%d\t%d\t%s\t%d\t%s\t%s\t%s ago (%s)\n", l.Provider, l.InFlight, l.Waiting, target, l.Ceiling,
			l.Latency.Round(10*time.Millisecond), limit, now.Sub(l.UpdatedAt).Round(time.Second), who)
	}
	w.Flush()
}

func formatErrors(m map[ethos.Kind]int) string {
	if len(m) == 0 {
		return "0"
	}
	kinds := make([]string, 0, len(m))
	for k := range m {
		kinds = append(kinds, string(k))
	}
	sort.Strings(kinds)
	s := ""
	for i, k := range kinds {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%s=%d", k, m[ethos.Kind(k)])
	}
	return s
}
