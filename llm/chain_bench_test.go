package llm_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/anthropic"
	"github.com/ethos-toolkit/ethos/llm"
	"github.com/ethos-toolkit/ethos/sandbox"
	"github.com/ethos-toolkit/ethos/sqlite"
)

// chain builds the production middleware chain — ledger (cache + record) →
// budget → limiter → router → Anthropic adapter — over a real SQLite store
// and an in-process sandbox with zero latency, as cmd/ethos wires it.
func chain(tb testing.TB) (ethos.Completer, *sqlite.DB) {
	tb.Helper()
	ctx := context.Background()
	sb, err := sandbox.Start(ctx, "127.0.0.1:0", sandbox.Options{Seed: 1})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { sb.Close() })
	db, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "ethos.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	adapter, err := anthropic.New(anthropic.Config{Provider: "sandbox", BaseURL: sb.URL, APIKey: "sandbox"})
	if err != nil {
		tb.Fatal(err)
	}
	router := llm.NewRouter()
	router.Register("sandbox", func() (ethos.Completer, error) { return adapter, nil })
	pricer := llm.PricerFunc(func(model string, u ethos.Usage) (float64, bool) {
		return float64(u.In)*1e-6 + float64(u.Out)*5e-6, true
	})
	limiter := llm.NewLimiter(router, func(string) llm.Limits { return llm.Limits{MaxConcurrency: 64} })
	budget := llm.NewBudget(1e9, 0, pricer, limiter)
	return &llm.Ledger{Store: db, Next: budget, Pricer: pricer}, db
}

func benchRequest(i int64) ethos.Request {
	return ethos.Request{
		Model:     "sandbox/writer",
		System:    "You are Agora, a collaborative thinking partner.",
		Messages:  []ethos.Message{{Role: ethos.RoleUser, Content: fmt.Sprintf("Scenario %d: help me plan a workshop.", i)}},
		MaxTokens: 64,
		Metadata:  map[string]string{"run": "bench", "stage": "bench"},
	}
}

// BenchmarkChainMiss measures the full path for requests that are not in
// the cache: middleware, an HTTP round trip to the sandbox through the
// official SDK, and the ledger write. Target: ≥ 3,000 calls/s on 2 cores.
func BenchmarkChainMiss(b *testing.B) {
	c, db := chain(b)
	var n atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Complete(context.Background(), benchRequest(n.Add(1))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
	checkRecorded(b, db, b.N)
}

// BenchmarkChainHit measures a cache hit: the ledger lookup and the
// recording of the hit, with no provider call.
func BenchmarkChainHit(b *testing.B) {
	c, db := chain(b)
	req := benchRequest(0)
	if _, err := c.Complete(context.Background(), req); err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Complete(context.Background(), req); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
	checkRecorded(b, db, b.N+1)
}

// checkRecorded fails the benchmark unless every call reached the ledger.
func checkRecorded(b *testing.B, db *sqlite.DB, want int) {
	b.Helper()
	sum, err := db.SummarizeCalls(context.Background(), ethos.CallFilter{})
	if err != nil {
		b.Fatal(err)
	}
	got := 0
	for _, s := range sum {
		got += s.Calls
	}
	if got != want {
		b.Fatalf("%d calls recorded, want %d", got, want)
	}
}
