package web

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/eval"
	"github.com/ethos-toolkit/ethos/jobs"
)

// How much the overview lists.
const (
	overviewRuns = 50
	overviewJobs = 50
	// rateWindow is the span the live rates are measured over.
	rateWindow = time.Minute
)

// overviewData is the overview page and GET /api/overview.
type overviewData struct {
	Runs     section[[]runRow]              `json:"runs"`
	Evals    section[[]runRow]              `json:"evals"`
	Jobs     section[[]ethos.FineTuneJob]   `json:"finetune_jobs"`
	Spend    section[spendData]             `json:"spend"`
	Live     section[liveData]              `json:"live"`
	InFlight *section[[]ethos.ProviderLoad] `json:"in_flight,omitempty"` // nil when no process is making calls
	Queue    *section[jobs.QueueStats]      `json:"queue,omitempty"`
	// Batches are the provider batches not done and the most recent done
	// ones; nil when the store holds none.
	Batches   *section[[]batchRow] `json:"batches,omitempty"`
	Attention []attention          `json:"attention"`
}

// runRow is a run in a list, with its item counts.
type runRow struct {
	ethos.Run
	Target      int    `json:"target,omitempty"` // examples asked for, for a generation run
	Examples    int    `json:"examples"`         // accepted replies
	Pending     int    `json:"pending"`          // items in flight
	Rejected    int    `json:"rejected"`         // attempts written again
	Quarantined int    `json:"quarantined"`      // items given up on
	Failed      int    `json:"failed,omitempty"` // items whose tasks gave up on the provider; a rerun retries them
	CountsErr   string `json:"counts_error,omitempty"`
}

// attention is something failed or quarantined that the overview puts
// first.
type attention struct {
	What string `json:"what"` // "run", "finetune", "eval", "batch"
	ID   string `json:"id"`
	Link string `json:"link"`
	Why  string `json:"why"`
}

// spendData is the ledger's totals: per provider, per model, per stage,
// and errors by kind.
type spendData struct {
	TotalUSD  float64     `json:"total_usd"`
	Calls     int         `json:"calls"`
	CacheHits int         `json:"cache_hits"`
	Usage     ethos.Usage `json:"usage"`
	Providers []spendRow  `json:"providers"`
	Models    []spendRow  `json:"models"`
	Stages    []spendRow  `json:"stages"`
	Errors    []kindCount `json:"errors"`
	// PromptCache is what the providers' prompt caching did per stage.
	PromptCache promptCacheData `json:"prompt_cache"`
	ComputedAt  time.Time       `json:"computed_at"`
	Took        time.Duration   `json:"-"`
}

type spendRow struct {
	Name      string      `json:"name"`
	Provider  string      `json:"provider,omitempty"` // for rows per model
	Calls     int         `json:"calls"`
	CacheHits int         `json:"cache_hits"`
	Errors    int         `json:"errors"`
	Usage     ethos.Usage `json:"usage"`
	CostUSD   float64     `json:"cost_usd"`
	// ErrorKinds breaks Errors down by kind, for rows per model.
	ErrorKinds map[ethos.Kind]int `json:"error_kinds,omitempty"`
	// Interrupted counts the calls cut short by Ctrl-C or a shutdown,
	// which are not errors, for rows per model.
	Interrupted int `json:"interrupted,omitempty"`
}

type kindCount struct {
	Kind  ethos.Kind `json:"kind"`
	Count int        `json:"count"`
}

// liveData is the last minute of the ledger.
type liveData struct {
	Window         time.Duration `json:"window_ns"`
	Calls          int           `json:"calls"`
	RequestsPerSec float64       `json:"requests_per_second"`
	TokensPerSec   float64       `json:"tokens_per_second"`
	CostUSD        float64       `json:"cost_usd"`
	Errors         []kindCount   `json:"errors"`
}

func (s *Server) overview(ctx context.Context) overviewData {
	var d overviewData
	runs, err := s.store.Runs(ctx, "", overviewRuns)
	var gen, evals []runRow
	for _, r := range runs {
		row := s.runRow(ctx, r)
		if r.Kind == ethos.RunKindEval {
			evals = append(evals, row)
		} else {
			gen = append(gen, row)
		}
	}
	d.Runs = newSection(gen, err)
	d.Evals = newSection(evals, err)
	jobsList, err := s.store.Jobs(ctx, ethos.FineTuneFilter{Limit: overviewJobs})
	d.Jobs = newSection(jobsList, err)
	d.Spend = s.spend(ctx)
	d.Live = s.liveRates(ctx)
	if loads, err := s.liveLoads(ctx); err != nil || len(loads) > 0 {
		sec := newSection(loads, err)
		d.InFlight = &sec
	}
	if s.opts.QueueStats != nil {
		qs, err := s.opts.QueueStats(ctx)
		sec := newSection(qs, err)
		d.Queue = &sec
	}

	d.Batches = s.overviewBatchList(ctx)

	for _, r := range append(append([]runRow(nil), gen...), evals...) {
		link := "/runs/" + r.ID
		what := "run"
		if r.Kind == ethos.RunKindEval {
			link, what = "/evals/"+r.ID, "eval"
		}
		if r.Status == ethos.RunFailed {
			d.Attention = append(d.Attention, attention{What: what, ID: r.ID, Link: link, Why: "failed: " + r.Error})
		}
		if r.Quarantined > 0 {
			d.Attention = append(d.Attention, attention{What: what, ID: r.ID, Link: link + "?status=quarantined",
				Why: num(r.Quarantined) + " items quarantined"})
		}
		if r.Failed > 0 {
			d.Attention = append(d.Attention, attention{What: what, ID: r.ID, Link: link + "?status=failed",
				Why: num(r.Failed) + " items failed at the provider; running the same command again retries them"})
		}
	}
	for _, j := range jobsList {
		if j.State == ethos.FineTuneFailed {
			d.Attention = append(d.Attention, attention{What: "finetune", ID: j.ID, Link: "/finetune/" + j.ID, Why: "failed: " + j.Error})
		}
	}
	if d.Batches != nil {
		d.Attention = append(d.Attention, batchAttention(d.Batches.Value)...)
	}
	return d
}

// liveLoads are the rate limiter snapshots of the processes making calls
// now (those refreshed within ethos.LoadFreshness), summed per provider.
func (s *Server) liveLoads(ctx context.Context) ([]ethos.ProviderLoad, error) {
	loads, err := s.store.ProviderLoads(ctx)
	if err != nil {
		return nil, err
	}
	return ethos.LiveLoads(loads, s.now()), nil
}

// runRow adds a run's item counts (one index-only query).
func (s *Server) runRow(ctx context.Context, r ethos.Run) runRow {
	row := runRow{Run: r, Target: runTarget(r)}
	counts, err := s.counts(ctx, r)
	if err != nil {
		row.CountsErr = err.Error()
		return row
	}
	for _, c := range counts {
		switch c.Status {
		case ethos.ItemPending:
			row.Pending += c.Count
		case ethos.ItemRejected:
			row.Rejected += c.Count
		case ethos.ItemQuarantined:
			row.Quarantined += c.Count
		case ethos.ItemFailed:
			row.Failed += c.Count
		case ethos.ItemAccepted:
			if c.Stage == stageResponse {
				row.Examples = c.Count
			}
		}
	}
	return row
}

// runTarget is the number of examples a generation run asked for, 0 when
// its settings do not say.
func runTarget(r ethos.Run) int {
	var p struct {
		Examples int `json:"examples"`
	}
	if len(r.Params) > 0 && json.Unmarshal(r.Params, &p) == nil {
		return p.Examples
	}
	return 0
}

// callStages are the ledger stages the spend table breaks out; calls of
// any other stage are summed as "other".
var callStages = []string{stageIdeas, stageDocument, stageResponse, "review", eval.TaskAnswer, eval.TaskJudge, eval.TaskScore}

// spend is the ledger's totals, a background aggregate: summing the whole
// ledger reads every row, which on a large store takes seconds. Its
// version is the newest ledger row.
func (s *Server) spend(ctx context.Context) section[spendData] {
	version := "none"
	newest, err := s.store.Calls(ctx, ethos.CallFilter{Limit: 1})
	if err != nil {
		return section[spendData]{Err: err}
	}
	if len(newest) > 0 {
		version = strconv.FormatInt(newest[0].ID, 10)
	}
	c := s.snaps.get(ctx, topicOverview+"|spend", version, func(ctx context.Context) (any, error) {
		return s.computeSpend(ctx)
	})
	return fromCache[spendData](c)
}

func (s *Server) computeSpend(ctx context.Context) (spendData, error) {
	began := time.Now()
	sums, err := s.store.SummarizeCalls(ctx, ethos.CallFilter{})
	if err != nil {
		return spendData{}, err
	}
	d := spendData{ComputedAt: s.now()}
	providers := map[string]*spendRow{}
	errs := map[ethos.Kind]int{}
	for _, c := range sums {
		row := summaryRow(c.Model, c)
		row.Provider, row.ErrorKinds, row.Interrupted = c.Provider, c.Errors, c.Interrupted
		d.Models = append(d.Models, row)
		p := providers[c.Provider]
		if p == nil {
			p = &spendRow{Name: c.Provider}
			providers[c.Provider] = p
		}
		addRow(p, summaryRow(c.Provider, c))
		d.TotalUSD += c.CostUSD
		d.Calls += c.Calls
		d.CacheHits += c.CacheHits
		addUsage(&d.Usage, c.Usage)
		for k, n := range c.Errors {
			errs[k] += n
		}
	}
	for _, p := range providers {
		d.Providers = append(d.Providers, *p)
	}
	sort.Slice(d.Providers, func(i, j int) bool { return d.Providers[i].Name < d.Providers[j].Name })
	d.Errors = kindCounts(errs)

	var staged spendRow
	for _, stage := range callStages {
		sums, err := s.store.SummarizeCalls(ctx, ethos.CallFilter{Stage: stage})
		if err != nil {
			return spendData{}, err
		}
		row := spendRow{Name: stage}
		for _, c := range sums {
			addRow(&row, summaryRow("", c))
		}
		if row.Calls > 0 {
			d.Stages = append(d.Stages, row)
			addRow(&staged, row)
		}
	}
	if other := d.Calls - staged.Calls; other > 0 {
		d.Stages = append(d.Stages, spendRow{Name: "other", Calls: other, CacheHits: d.CacheHits - staged.CacheHits,
			CostUSD: d.TotalUSD - staged.CostUSD, Usage: ethos.Usage{In: d.Usage.In - staged.Usage.In, Out: d.Usage.Out - staged.Usage.Out}})
	}
	if d.PromptCache, err = s.promptCache(ctx, ethos.CallFilter{}); err != nil {
		return spendData{}, err
	}
	d.Took = time.Since(began)
	return d, nil
}

// promptCacheData is what the providers' prompt caching did for the calls
// sent to them, per stage and in all: the share of input tokens read from
// their caches, and the saving against billing every cache token at the
// input price. Calls answered from the ledger are not in it.
type promptCacheData struct {
	Stages []ethos.PromptCacheUse `json:"stages"`
	Total  ethos.PromptCacheUse   `json:"total"` // its Stage is empty
	// NoPrices is set when the dashboard has no price table (Options.Cost).
	NoPrices bool `json:"no_prices,omitempty"`
}

func (s *Server) promptCache(ctx context.Context, f ethos.CallFilter) (promptCacheData, error) {
	uses, err := s.store.PromptCaching(ctx, f)
	if err != nil {
		return promptCacheData{}, err
	}
	cost := s.opts.Cost
	if cost == nil {
		cost = func(string, ethos.Usage) (float64, bool) { return 0, false }
	}
	ethos.PricePromptCache(uses, cost)
	d := promptCacheData{Stages: ethos.PromptCacheByStage(uses), NoPrices: s.opts.Cost == nil}
	for _, u := range d.Stages {
		d.Total.Add(u)
	}
	d.Total.Stage = ""
	return d, nil
}

func summaryRow(name string, c ethos.CallSummary) spendRow {
	row := spendRow{Name: name, Calls: c.Calls, CacheHits: c.CacheHits, Usage: c.Usage, CostUSD: c.CostUSD}
	for _, n := range c.Errors {
		row.Errors += n
	}
	return row
}

func addRow(dst *spendRow, r spendRow) {
	dst.Calls += r.Calls
	dst.CacheHits += r.CacheHits
	dst.Errors += r.Errors
	dst.CostUSD += r.CostUSD
	addUsage(&dst.Usage, r.Usage)
}

func addUsage(dst *ethos.Usage, u ethos.Usage) {
	dst.In += u.In
	dst.Out += u.Out
	dst.CacheRead += u.CacheRead
	dst.CacheWrite += u.CacheWrite
}

func kindCounts(m map[ethos.Kind]int) []kindCount {
	out := make([]kindCount, 0, len(m))
	for k, n := range m {
		out = append(out, kindCount{k, n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Kind < out[j].Kind
	})
	return out
}

// liveRates sums the last minute of the ledger (a range of the created_at
// index, cheap at any store size).
func (s *Server) liveRates(ctx context.Context) section[liveData] {
	sums, err := s.store.SummarizeCalls(ctx, ethos.CallFilter{Since: s.now().Add(-rateWindow)})
	if err != nil {
		return section[liveData]{Err: err}
	}
	d := liveData{Window: rateWindow}
	errs := map[ethos.Kind]int{}
	tokens := 0
	for _, c := range sums {
		d.Calls += c.Calls
		d.CostUSD += c.CostUSD
		tokens += c.Usage.In + c.Usage.Out
		for k, n := range c.Errors {
			errs[k] += n
		}
	}
	d.RequestsPerSec = float64(d.Calls) / rateWindow.Seconds()
	d.TokensPerSec = float64(tokens) / rateWindow.Seconds()
	d.Errors = kindCounts(errs)
	return newSection(d, nil)
}

func (s *Server) handleOverview(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	version := s.fingerprint(ctx, topicOverview)
	s.render(w, r, http.StatusOK, "overview", &page{Title: "Overview", Nav: "overview",
		Topic: topicOverview, Version: version, Data: s.overview(ctx)})
}
