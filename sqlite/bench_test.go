package sqlite_test

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethos-toolkit/ethos"
)

// benchCall is a typical ledger row: a few hundred bytes of request and
// response.
func benchCall(key string) *ethos.Call {
	resp := &ethos.Response{
		Text:       "A thoughtful answer of moderate length that stands in for a real model output.",
		StopReason: ethos.StopEnd,
		Usage:      ethos.Usage{In: 420, Out: 180},
		Model:      "claude-sonnet-4-5-20250929",
		RequestID:  "req_011CTq1xyz",
		Latency:    1200 * time.Millisecond,
	}
	return &ethos.Call{
		Key: key, Provider: "anthropic", Model: "anthropic/claude-sonnet-4-5",
		RunID: "bench", Stage: "generate.responses",
		Request: ethos.Request{
			Model:     "anthropic/claude-sonnet-4-5",
			System:    "You are a helpful assistant with a distinct character.",
			Messages:  []ethos.Message{{Role: ethos.RoleUser, Content: "Tell me about patience, in two sentences."}},
			MaxTokens: 1024,
			Metadata:  map[string]string{"run": "bench", "stage": "generate.responses", "item": key},
		},
		Response: resp, Usage: resp.Usage, CostUSD: 0.0039, Latency: resp.Latency, Attempts: 1,
	}
}

func reportCallsPerSecond(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}

func BenchmarkRecordCall(b *testing.B) {
	b.Run("serial", func(b *testing.B) {
		db := openTemp(b)
		ctx := b.Context()
		i := 0
		for b.Loop() {
			if err := db.RecordCall(ctx, benchCall(fmt.Sprintf("key-%d", i))); err != nil {
				b.Fatal(err)
			}
			i++
		}
		reportCallsPerSecond(b)
	})
	// parallel runs one writer per CPU; parallel16 runs 16, as a pipeline
	// stage with many calls in flight does, which lets group commit share
	// each transaction among several calls.
	for _, bc := range []struct {
		name        string
		parallelism int // goroutines per GOMAXPROCS
	}{
		{"parallel", 1},
		{"parallel16", (16 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			db := openTemp(b)
			ctx := b.Context()
			var n atomic.Int64
			b.SetParallelism(bc.parallelism)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := db.RecordCall(ctx, benchCall(fmt.Sprintf("key-%d", n.Add(1)))); err != nil {
						b.Error(err)
						return
					}
				}
			})
			reportCallsPerSecond(b)
		})
	}
}

func BenchmarkCachedResponse(b *testing.B) {
	db := openTemp(b)
	ctx := b.Context()
	const keys = 10_000
	for i := range keys {
		if err := db.RecordCall(ctx, benchCall(fmt.Sprintf("key-%d", i))); err != nil {
			b.Fatal(err)
		}
	}
	i := 0
	for b.Loop() {
		_, ok, err := db.CachedResponse(ctx, fmt.Sprintf("key-%d", i%keys))
		if err != nil || !ok {
			b.Fatalf("CachedResponse: ok=%v err=%v", ok, err)
		}
		i++
	}
	reportCallsPerSecond(b)
}
