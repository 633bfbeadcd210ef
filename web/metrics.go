package web

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/ethos-toolkit/ethos"
)

// metricsWriter writes the Prometheus text exposition format (version
// 0.0.4): a HELP and TYPE line per family, then its samples.
type metricsWriter struct {
	buf bytes.Buffer
}

func (m *metricsWriter) family(name, typ, help string) {
	fmt.Fprintf(&m.buf, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

// sample writes one sample; labels alternate names and values.
func (m *metricsWriter) sample(name string, value float64, labels ...string) {
	m.buf.WriteString(name)
	if len(labels) > 0 {
		m.buf.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				m.buf.WriteByte(',')
			}
			m.buf.WriteString(labels[i])
			m.buf.WriteString(`="`)
			m.buf.WriteString(escapeLabel(labels[i+1]))
			m.buf.WriteByte('"')
		}
		m.buf.WriteByte('}')
	}
	m.buf.WriteByte(' ')
	m.buf.WriteString(strconv.FormatFloat(value, 'g', -1, 64))
	m.buf.WriteByte('\n')
}

// escapeLabel escapes a label value: backslash, double quote and newline.
func escapeLabel(v string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v)
}

// handleMetrics serves /metrics. Ledger totals come from the same
// background aggregate as the overview's spend; while it is first being
// computed they are left out rather than reported as zero (which a
// Prometheus server would read as a counter reset). A source that fails
// is reported by ethos_scrape_error{source} = 1 and its series are left
// out.
func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	m := &metricsWriter{}
	failed := map[string]bool{}

	spend := s.spend(ctx)
	switch {
	case spend.Err != nil:
		failed["ledger"] = true
	case !spend.Pending:
		sp := spend.Value
		m.family("ethos_calls_total", "counter", "Model calls recorded in the ledger, cache hits and failures included.")
		for _, row := range sp.Models {
			m.sample("ethos_calls_total", float64(row.Calls), "provider", row.Provider, "model", row.Name)
		}
		m.family("ethos_cache_hits_total", "counter", "Model calls served from the ledger's cache.")
		for _, row := range sp.Models {
			m.sample("ethos_cache_hits_total", float64(row.CacheHits), "provider", row.Provider, "model", row.Name)
		}
		m.family("ethos_tokens_total", "counter", "Tokens of recorded model calls, by direction.")
		for _, row := range sp.Models {
			for _, t := range []struct {
				dir string
				n   int
			}{{"in", row.Usage.In}, {"out", row.Usage.Out}, {"cache_read", row.Usage.CacheRead}, {"cache_write", row.Usage.CacheWrite}} {
				m.sample("ethos_tokens_total", float64(t.n), "provider", row.Provider, "model", row.Name, "direction", t.dir)
			}
		}
		m.family("ethos_cost_usd_total", "counter", "USD spent on model calls (cache hits and failures cost nothing).")
		for _, row := range sp.Models {
			m.sample("ethos_cost_usd_total", row.CostUSD, "provider", row.Provider, "model", row.Name)
		}
		m.family("ethos_call_errors_total", "counter", "Failed model calls by error kind.")
		for _, row := range sp.Models {
			for _, k := range sortedKinds(row.ErrorKinds) {
				m.sample("ethos_call_errors_total", float64(row.ErrorKinds[k]), "provider", row.Provider, "model", row.Name, "kind", string(k))
			}
		}
		m.family("ethos_calls_interrupted_total", "counter", "Model calls cut short by Ctrl-C or a shutdown (not failures).")
		for _, row := range sp.Models {
			m.sample("ethos_calls_interrupted_total", float64(row.Interrupted), "provider", row.Provider, "model", row.Name)
		}
	}

	if live := s.liveRates(ctx); live.Err != nil {
		failed["ledger"] = true
	} else {
		m.family("ethos_requests_per_second", "gauge", "Model calls per second over the last minute.")
		m.sample("ethos_requests_per_second", live.Value.RequestsPerSec)
		m.family("ethos_tokens_per_second", "gauge", "Input and output tokens per second over the last minute.")
		m.sample("ethos_tokens_per_second", live.Value.TokensPerSec)
	}

	if loads, err := s.liveLoads(ctx); err != nil {
		failed["ledger"] = true
	} else if len(loads) > 0 {
		m.family("ethos_calls_in_flight", "gauge", "Model calls in flight in a running ethos process, by provider.")
		for _, l := range loads {
			m.sample("ethos_calls_in_flight", float64(l.InFlight), "provider", l.Provider)
		}
		m.family("ethos_calls_waiting", "gauge", "Model calls waiting for the rate limiter, by provider.")
		for _, l := range loads {
			m.sample("ethos_calls_waiting", float64(l.Waiting), "provider", l.Provider)
		}
		m.family("ethos_concurrency_target", "gauge", "Calls in flight the rate limiter aims for, by provider.")
		for _, l := range loads {
			m.sample("ethos_concurrency_target", float64(l.Target), "provider", l.Provider)
		}
	}

	if runs, err := s.store.Runs(ctx, "", 0); err != nil {
		failed["runs"] = true
	} else {
		byState := map[[2]string]int{}
		for _, r := range runs {
			byState[[2]string{r.Kind, string(r.Status)}]++
		}
		m.family("ethos_runs", "gauge", "Pipeline runs by kind and status.")
		for _, k := range sortedPairs(byState) {
			m.sample("ethos_runs", float64(byState[k]), "kind", k[0], "status", k[1])
		}
		evals := map[string]int{}
		for _, r := range runs {
			if r.Kind == ethos.RunKindEval {
				evals[string(r.Status)]++
			}
		}
		m.family("ethos_evals", "gauge", "Evaluations by status.")
		for _, st := range sortedKeys(evals) {
			m.sample("ethos_evals", float64(evals[st]), "status", st)
		}
		m.family("ethos_run_items", "gauge", "Items of running runs by stage and status.")
		for _, r := range runs {
			if r.Status != ethos.RunRunning {
				continue
			}
			counts, err := s.counts(ctx, r)
			if err != nil {
				failed["runs"] = true
				continue
			}
			for _, c := range counts {
				m.sample("ethos_run_items", float64(c.Count), "run", r.ID, "stage", c.Stage, "status", string(c.Status))
			}
		}
	}

	if s.opts.QueueStats != nil {
		if qs, err := s.opts.QueueStats(ctx); err != nil {
			failed["queue"] = true
		} else {
			m.family("ethos_queue_jobs", "gauge", "Durable jobs in the queue by state (finished ones until they are pruned).")
			for _, st := range []struct {
				name string
				n    int
			}{{"available", qs.Available}, {"pending", qs.Pending}, {"running", qs.Running}, {"retryable", qs.Retryable},
				{"scheduled", qs.Scheduled}, {"completed", qs.Completed}, {"cancelled", qs.Cancelled}, {"discarded", qs.Discarded}} {
				m.sample("ethos_queue_jobs", float64(st.n), "state", st.name)
			}
			m.family("ethos_queue_depth", "gauge", "Durable jobs still to be worked (available, pending, running, retryable, scheduled).")
			m.sample("ethos_queue_depth", float64(qs.Available+qs.Pending+qs.Running+qs.Retryable+qs.Scheduled))
		}
	}

	if !s.batchMetrics(ctx, m) {
		failed["batches"] = true
	}

	if jobs, err := s.store.Jobs(ctx, ethos.FineTuneFilter{}); err != nil {
		failed["finetune"] = true
	} else {
		byState := map[[2]string]int{}
		for _, j := range jobs {
			byState[[2]string{j.Provider, string(j.State)}]++
		}
		m.family("ethos_finetune_jobs", "gauge", "Fine-tune jobs by provider and state.")
		for _, k := range sortedPairs(byState) {
			m.sample("ethos_finetune_jobs", float64(byState[k]), "provider", k[0], "state", k[1])
		}
	}
	if models, err := s.store.Models(ctx); err != nil {
		failed["models"] = true
	} else {
		m.family("ethos_models", "gauge", "Trained models in the registry.")
		m.sample("ethos_models", float64(len(models)))
	}

	m.family("ethos_scrape_error", "gauge", "1 when a part of the store could not be read for this scrape.")
	for _, src := range []string{"batches", "finetune", "ledger", "models", "queue", "runs"} {
		v := 0.0
		if failed[src] {
			v = 1
		}
		m.sample("ethos_scrape_error", v, "source", src)
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(m.buf.Bytes())
}

// batchStates are the states ethos_batches reports for every provider that
// has a batch, so that a state emptied reads 0 rather than vanishing.
var batchStates = []ethos.BatchState{ethos.BatchPreparing, ethos.BatchInProgress, ethos.BatchCancelling, ethos.BatchEnded, ethos.BatchFailed}

// batchMetrics writes the provider batches by state and the requests
// waiting in them; it reports false when the store could not say.
func (s *Server) batchMetrics(ctx context.Context, m *metricsWriter) bool {
	batches, err := s.store.Batches(ctx, ethos.BatchFilter{})
	if err != nil {
		return false
	}
	queued, err := s.store.QueuedBatchModels(ctx)
	if err != nil {
		return false
	}
	byState := map[[2]string]int{}
	providers := map[string]bool{}
	// The requests of a batch not done are all submitted: the store
	// answers or requeues them only when the batch ends (or fails).
	waiting := map[[2]string]*[2]int{} // provider, model → queued, submitted
	count := func(provider, model string) *[2]int {
		k := [2]string{provider, model}
		if waiting[k] == nil {
			waiting[k] = new([2]int)
		}
		return waiting[k]
	}
	for _, b := range batches {
		providers[b.Provider] = true
		byState[[2]string{b.Provider, string(b.State)}]++
		if !b.State.Done() {
			count(b.Provider, b.Model)[1] += b.Requests
		}
	}
	for _, q := range queued {
		count(q.Provider, q.Model)[0] += q.Count
	}
	m.family("ethos_batches", "gauge", "Provider batches by provider and state (preparing, in_progress, cancelling, ended, failed).")
	for _, p := range sortedKeys(providers) {
		for _, st := range batchStates {
			m.sample("ethos_batches", float64(byState[[2]string{p, string(st)}]), "provider", p, "state", string(st))
		}
	}
	m.family("ethos_batch_requests", "gauge", "Model calls waiting on a provider batch: queued for the next batch, or submitted in one not done.")
	for _, k := range sortedPairs(waiting) {
		n := waiting[k]
		m.sample("ethos_batch_requests", float64(n[0]), "provider", k[0], "model", k[1], "state", "queued")
		m.sample("ethos_batch_requests", float64(n[1]), "provider", k[0], "model", k[1], "state", "submitted")
	}
	return true
}

func sortedKinds(m map[ethos.Kind]int) []ethos.Kind {
	out := make([]ethos.Kind, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func sortedPairs[V any](m map[[2]string]V) [][2]string {
	out := make([][2]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i][0] != out[j][0] {
			return out[i][0] < out[j][0]
		}
		return out[i][1] < out[j][1]
	})
	return out
}
