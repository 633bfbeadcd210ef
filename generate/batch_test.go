package generate_test

import (
	"testing"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/config"
	"github.com/ethos-toolkit/ethos/sandbox"
)

// batchEnv is an environment whose every stage sends its calls by batch.
func batchEnv(t testing.TB, examples int, opts sandbox.Options) *env {
	e := newEnv(t, examples, opts)
	g := &e.settings.Generate
	g.Ideas.Mode, g.Documents.Mode, g.Responses.Mode, g.Review.Mode = config.ModeBatch, config.ModeBatch, config.ModeBatch, config.ModeBatch
	return e
}

// TestGenerateByBatch runs a whole generation with every stage sent
// through the sandbox's Message Batches: the dataset is complete, every
// paid call in the ledger was answered by a batch at half the price, and
// no request was submitted twice.
func TestGenerateByBatch(t *testing.T) {
	t.Parallel()
	const examples = 12
	e := batchEnv(t, examples, sandbox.Options{Seed: 3, Batch: sandbox.BatchOptions{ProcessingTime: 300 * time.Millisecond}})
	meta, err := e.run(t)
	if err != nil {
		t.Fatal(err)
	}
	if meta.Examples != examples {
		t.Fatalf("%d examples, want %d", meta.Examples, examples)
	}
	calls, err := e.store.Calls(t.Context(), ethos.CallFilter{RunID: e.settings.RunID()})
	if err != nil {
		t.Fatal(err)
	}
	paid := 0
	for _, c := range calls {
		if c.CacheHit || c.Response == nil {
			continue
		}
		paid++
		if c.Response.Batch == "" {
			t.Errorf("call %d (%s) was answered online", c.ID, c.Stage)
		}
		price, _ := e.cfg.PriceOf(c.Model)
		if online := price.Cost(c.Usage); online <= 0 || c.CostUSD > online*0.5+1e-12 {
			t.Errorf("call %d cost $%g; online it costs $%g, and by batch half that", c.ID, c.CostUSD, online)
		}
	}
	if paid == 0 {
		t.Fatal("no paid call in the ledger")
	}
	st := e.sandbox.Server.Stats()
	if st.BatchesCreated["anthropic"] == 0 || st.BatchResubmissions != 0 {
		t.Errorf("sandbox: %d batches, %d resubmissions; want some and none", st.BatchesCreated["anthropic"], st.BatchResubmissions)
	}
	if st.BatchRequests != int64(paid) {
		t.Errorf("the sandbox took %d requests by batch; the ledger has %d paid calls", st.BatchRequests, paid)
	}
	batches, err := e.store.Batches(t.Context(), ethos.BatchFilter{Active: true})
	if err != nil || len(batches) != 0 {
		t.Errorf("batches still active after the run: %d, %v", len(batches), err)
	}
}

// BenchmarkGenerateBatchVsOnline makes the same 200-example generation
// online and by batch against the sandbox and reports what each cost from
// the ledger, and their ratio (the batch price is half the online one).
func BenchmarkGenerateBatchVsOnline(b *testing.B) {
	const examples = 200
	var online, batch, batches float64
	var wallOnline, wallBatch time.Duration
	for b.Loop() {
		for _, byBatch := range []bool{false, true} {
			b.StopTimer()
			opts := sandbox.Options{Seed: 5, Batch: sandbox.BatchOptions{ProcessingTime: time.Second}}
			e := newEnv(b, examples, opts)
			if byBatch {
				e = batchEnv(b, examples, opts)
			}
			b.StartTimer()
			start := time.Now()
			if _, err := e.runWorkers(b, 64); err != nil {
				b.Fatal(err)
			}
			took := time.Since(start)
			spent, err := e.store.Spent(b.Context(), ethos.CallFilter{RunID: e.settings.RunID()})
			if err != nil {
				b.Fatal(err)
			}
			if byBatch {
				batch, wallBatch = batch+spent, wallBatch+took
				batches += float64(e.sandbox.Server.Stats().BatchesCreated["anthropic"])
			} else {
				online, wallOnline = online+spent, wallOnline+took
			}
		}
	}
	b.ReportMetric(online/float64(b.N), "online-USD")
	b.ReportMetric(batch/float64(b.N), "batch-USD")
	b.ReportMetric(batch/online, "batch/online")
	b.ReportMetric(batches/float64(b.N), "batches")
	b.ReportMetric(wallOnline.Seconds()/float64(b.N), "online-s")
	b.ReportMetric(wallBatch.Seconds()/float64(b.N), "batch-s")
}
