package llm

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ethos-toolkit/ethos"
)

// This file is the text form of what the chain records and does: the
// ledger's calls and totals, prompt caching, the calls in flight, and the
// batches, as the ethos commands print them.

// CallsReport is what the ledger holds of a project or a run, as ethos
// calls shows it; its JSON form is ethos calls --json.
type CallsReport struct {
	Calls   []ethos.Call        `json:"calls"`   // the most recent, newest first
	Summary []ethos.CallSummary `json:"summary"` // per provider and model
	// InFlight are the snapshots each process wrote, stale ones
	// included; InFlightByProvider sums the live ones per provider, as
	// the text shows them (ethos.LiveLoads).
	InFlight           []ethos.ProviderLoad `json:"in_flight"`
	InFlightByProvider []ethos.ProviderLoad `json:"in_flight_by_provider"`
	// Prompt caching per stage, and per run, stage and model.
	PromptCache        []ethos.PromptCacheUse `json:"prompt_cache"`
	PromptCacheByModel []ethos.PromptCacheUse `json:"prompt_cache_by_model"`
}

// LoadCallsReport reads the calls f selects from store: the f.Limit most
// recent, and the totals, prompt caching (priced by p) and loads of all.
func LoadCallsReport(ctx context.Context, store ethos.CallStore, f ethos.CallFilter, p Pricer, now time.Time) (CallsReport, error) {
	var r CallsReport
	var err error
	if r.Calls, err = store.Calls(ctx, f); err != nil {
		return r, err
	}
	f.Limit = 0
	if r.Summary, err = store.SummarizeCalls(ctx, f); err != nil {
		return r, err
	}
	caching, err := store.PromptCaching(ctx, f)
	if err != nil {
		return r, err
	}
	ethos.PricePromptCache(caching, p.Cost)
	if r.InFlight, err = store.ProviderLoads(ctx); err != nil {
		return r, err
	}
	r.InFlightByProvider = nonNil(ethos.LiveLoads(r.InFlight, now))
	r.PromptCache, r.PromptCacheByModel = nonNil(ethos.PromptCacheByStage(caching)), nonNil(caching)
	return r, nil
}

// nonNil is s, or an empty slice for nil, which JSON shows as [].
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Write writes the report as text: the recent calls, the totals per
// model, prompt caching per stage and the calls in flight at now.
func (r CallsReport) Write(w io.Writer, now time.Time) {
	WriteCalls(w, r.Calls)
	fmt.Fprintln(w)
	WriteCallTotals(w, r.Summary)
	WritePromptCache(w, r.PromptCache)
	WriteLoads(w, r.InFlight, now)
}

// WriteCalls writes a table of calls: ID, local time, model, stage, tokens
// in and out, cost, latency and the result (ok, a cache hit, the error
// kind or the stop reason).
func WriteCalls(out io.Writer, calls []ethos.Call) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
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
}

// WriteCallTotals writes the totals per model (calls, cache hits, errors
// by kind, tokens, cost), what they cost in all, and how many calls were
// cut short by an interruption, which are not errors.
func WriteCallTotals(out io.Writer, summary []ethos.CallSummary) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "MODEL\tCALLS\tCACHE HITS\tERRORS\tIN\tOUT\tCOST")
	total, interrupted := 0.0, 0
	for _, s := range summary {
		fmt.Fprintf(w, "%s\t%d\t%d\t%s\t%d\t%d\t$%.6f\n", s.Model, s.Calls, s.CacheHits, formatErrors(s.Errors), s.Usage.In, s.Usage.Out, s.CostUSD)
		total += s.CostUSD
		interrupted += s.Interrupted
	}
	w.Flush()
	fmt.Fprintf(out, "total spent: $%.6f\n", total)
	if interrupted > 0 {
		fmt.Fprintf(out, "interrupted: %d calls cut short by Ctrl-C or a shutdown (not errors; running the command again makes them)\n", interrupted)
	}
}

// Spent sums a ledger summary: what its calls cost and how many failed.
func Spent(summary []ethos.CallSummary) (usd float64, errors int) {
	for _, s := range summary {
		usd += s.CostUSD
		for _, n := range s.Errors {
			errors += n
		}
	}
	return usd, errors
}

// formatErrors is a count of errors by kind, "0" or "rate_limit=2
// server=1" in the order of the kinds' names.
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

// WritePromptCache writes, per stage, how much of the input the providers
// read from their prompt caches and what that saved against billing every
// cache token at the input price, then the sums. It starts with a blank
// line.
func WritePromptCache(out io.Writer, stages []ethos.PromptCacheUse) {
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

// WriteLoads writes the calls in flight per provider, summed over the
// processes making them as they last recorded (ethos.LiveLoads at now),
// or that none is running. It starts with a blank line.
func WriteLoads(out io.Writer, loads []ethos.ProviderLoad, now time.Time) {
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

// InFlightLine describes the calls in flight per provider and the target
// the limiter sizes them to, for a progress line: " · in flight anthropic
// 212/251 (38 waiting)", or "" when the limiter has seen no provider.
func InFlightLine(states []GateState) string {
	var parts []string
	for _, s := range states {
		part := fmt.Sprintf("%s %d/%d", s.Provider, s.InFlight, int(s.Concurrency))
		if s.Waiting > 0 {
			part += fmt.Sprintf(" (%d waiting)", s.Waiting)
		}
		parts = append(parts, part)
	}
	if len(parts) == 0 {
		return ""
	}
	return " · in flight " + strings.Join(parts, ", ")
}

// BatchLine describes a run's batches for a progress line: " · batches: 2
// in flight (140 requests, oldest 3m12s), 5 ended", or "" when it has
// none.
func BatchLine(batches []ethos.Batch, now time.Time) string {
	if len(batches) == 0 {
		return ""
	}
	active, ended, failed, requests := 0, 0, 0, 0
	var oldest time.Time
	for _, b := range batches {
		switch {
		case b.State == ethos.BatchFailed:
			failed++
		case b.State.Done():
			ended++
		default:
			active++
			requests += b.Requests
			if oldest.IsZero() || b.CreatedAt.Before(oldest) {
				oldest = b.CreatedAt
			}
		}
	}
	line := fmt.Sprintf(" · batches: %d in flight", active)
	if active > 0 {
		line += fmt.Sprintf(" (%d requests, oldest %s)", requests, age(now, oldest))
	}
	line += fmt.Sprintf(", %d ended", ended)
	if failed > 0 {
		line += fmt.Sprintf(", %d failed", failed)
	}
	return line
}

// age is how long before now t was, to the second.
func age(now, t time.Time) string {
	return now.Sub(t).Round(time.Second).String()
}

// WriteBatches writes a table of batches: ID, provider, model, state,
// requests, how many succeeded, errored, expired or were cancelled, age at
// now, the provider's ID and the runs whose requests they hold.
func WriteBatches(out io.Writer, batches []ethos.Batch, now time.Time) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tPROVIDER\tMODEL\tSTATE\tREQUESTS\tDONE\tERRORED\tEXPIRED\tAGE\tPROVIDER ID\tRUNS")
	for _, b := range batches {
		c := b.Counts
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\n", b.ID, b.Provider, b.Model, b.StateText(), b.Requests,
			c.Succeeded, c.Errored, c.Expired+c.Cancelled, age(now, b.CreatedAt), cmp.Or(b.ProviderID, "-"), strings.Join(b.RunIDs, ","))
	}
	return w.Flush()
}

// BatchStatus is a batch with the state and outcome of each of its
// requests, as ethos batches status --json shows it.
type BatchStatus struct {
	ethos.Batch
	Items []BatchRequest `json:"items"`
}

// BatchRequest is one request of a batch as BatchStatus shows it: its key
// (the ledger's request key, the batch's custom ID), run, stage, state,
// outcome and error, without the request or its answer.
type BatchRequest struct {
	Key     string               `json:"key"`
	RunID   string               `json:"run_id,omitempty"`
	Stage   string               `json:"stage,omitempty"`
	State   ethos.BatchItemState `json:"state"`
	Outcome ethos.BatchOutcome   `json:"outcome,omitempty"`
	Error   string               `json:"error,omitempty"`
}

// BatchStatusOf is the status of batch b holding items.
func BatchStatusOf(b ethos.Batch, items []ethos.BatchItem) BatchStatus {
	out := BatchStatus{Batch: b, Items: make([]BatchRequest, 0, len(items))}
	for _, it := range items {
		out.Items = append(out.Items, BatchRequest{it.Key, it.RunID, it.Stage, it.State, it.Outcome, it.Error})
	}
	return out
}

// WriteBatch writes one batch as ethos batches status shows it: its
// label, provider and model, state, the provider's ID, size, counts, when
// it was made and ended, its error and the runs and stages it holds.
func WriteBatch(w io.Writer, b ethos.Batch, now time.Time) {
	fmt.Fprintf(w, "batch %d (%s) at %s, model %s\n", b.ID, b.Label, b.Provider, b.Model)
	fmt.Fprintf(w, "  state      %s\n  provider   %s\n  requests   %d (%d bytes)\n", b.StateText(), cmp.Or(b.ProviderID, "-"), b.Requests, b.Bytes)
	fmt.Fprintf(w, "  counts     %d succeeded, %d errored, %d expired, %d cancelled, %d processing\n",
		b.Counts.Succeeded, b.Counts.Errored, b.Counts.Expired, b.Counts.Cancelled, b.Counts.Processing)
	fmt.Fprintf(w, "  created    %s (%s ago)\n", b.CreatedAt.Format(time.RFC3339), age(now, b.CreatedAt))
	if !b.EndedAt.IsZero() {
		fmt.Fprintf(w, "  ended      %s\n", b.EndedAt.Format(time.RFC3339))
	}
	if b.Error != "" {
		fmt.Fprintf(w, "  error      %s\n", b.Error)
	}
	if len(b.RunIDs) > 0 {
		fmt.Fprintf(w, "  runs       %s (stages %s)\n", strings.Join(b.RunIDs, ", "), strings.Join(b.Stages, ", "))
	}
}
