package sqlite_test

import (
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/sqlite"
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
	b.ReportAllocs()
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

// benchItem is a typical stage item: a document of a few hundred bytes.
func benchItem(run, key string) *ethos.Item {
	return &ethos.Item{
		RunID: run, Stage: "document", Key: key, Attempt: 1,
		Data: json.RawMessage(`{"idea":"A user asks for help with a hard decision about a friend.","text":"` +
			strings.Repeat("A paragraph of a generated document. ", 8) + `"}`),
	}
}

func reportItemsPerSecond(b *testing.B, perOp int) {
	b.ReportMetric(float64(b.N*perOp)/b.Elapsed().Seconds(), "items/s")
}

func BenchmarkPutItem(b *testing.B) {
	setup := func(b *testing.B) *sqlite.DB {
		db := openTemp(b)
		if err := db.CreateRun(b.Context(), &ethos.Run{ID: "bench", Kind: "generate"}); err != nil {
			b.Fatal(err)
		}
		return db
	}
	b.Run("new", func(b *testing.B) {
		db := setup(b)
		ctx := b.Context()
		i := 0
		for b.Loop() {
			if _, err := db.PutItem(ctx, benchItem("bench", fmt.Sprintf("doc/%d", i))); err != nil {
				b.Fatal(err)
			}
			i++
		}
		reportItemsPerSecond(b, 1)
	})
	// existing puts keys that are all taken, as a resumed run does for
	// everything it made before it stopped.
	b.Run("existing", func(b *testing.B) {
		db := setup(b)
		ctx := b.Context()
		const keys = 1000
		for i := range keys {
			if _, err := db.PutItem(ctx, benchItem("bench", fmt.Sprintf("doc/%d", i))); err != nil {
				b.Fatal(err)
			}
		}
		i := 0
		for b.Loop() {
			created, err := db.PutItem(ctx, benchItem("bench", fmt.Sprintf("doc/%d", i%keys)))
			if err != nil || created {
				b.Fatalf("PutItem: created=%v err=%v", created, err)
			}
			i++
		}
		reportItemsPerSecond(b, 1)
	})
	b.Run("parallel16", func(b *testing.B) {
		db := setup(b)
		ctx := b.Context()
		var n atomic.Int64
		b.SetParallelism((16 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := db.PutItem(ctx, benchItem("bench", fmt.Sprintf("doc/%d", n.Add(1)))); err != nil {
					b.Error(err)
					return
				}
			}
		})
		reportItemsPerSecond(b, 1)
	})
}

// BenchmarkItemsPage pages through a run of 100,000 items, 100 at a time,
// as an export or a resumed stage does; one op is one page. Another run's
// items sit beside them, so the run filter has work to do.
func BenchmarkItemsPage(b *testing.B) {
	const total, page = 100_000, 100
	db := openTemp(b)
	ctx := b.Context()
	for _, run := range []string{"bench", "other"} {
		if err := db.CreateRun(ctx, &ethos.Run{ID: run, Kind: "generate"}); err != nil {
			b.Fatal(err)
		}
	}
	// Filled in one transaction: a hundred thousand PutItem commits would
	// measure the setup, not the reads.
	tx, err := db.SQL().BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	insert, err := tx.PrepareContext(ctx, `INSERT INTO items (run_id, stage, key, attempt, status, reason, data, created_at, updated_at)
		VALUES (?, ?, ?, 1, ?, '', ?, '2025-03-14T15:09:26.535897000Z', '2025-03-14T15:09:26.535897000Z')`)
	if err != nil {
		b.Fatal(err)
	}
	for i := range total {
		for _, run := range []string{"bench", "other"} {
			it := benchItem(run, fmt.Sprintf("doc/%d", i))
			status := ethos.ItemAccepted
			if i%10 == 0 {
				status = ethos.ItemQuarantined
			}
			if _, err := insert.ExecContext(ctx, it.RunID, it.Stage, it.Key, string(status), string(it.Data)); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}

	for _, bc := range []struct {
		name string
		f    ethos.ItemFilter
	}{
		{"run", ethos.ItemFilter{RunID: "bench"}},
		{"run+stage", ethos.ItemFilter{RunID: "bench", Stage: "document"}},
		{"run+status", ethos.ItemFilter{RunID: "bench", Status: ethos.ItemAccepted}},
		{"run+stage+status", ethos.ItemFilter{RunID: "bench", Stage: "document", Status: ethos.ItemAccepted}},
		// What a generate run counts on every look at its progress.
		{"run+stage+status/nodata", ethos.ItemFilter{RunID: "bench", Stage: "document", Status: ethos.ItemAccepted, NoData: true}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			f := bc.f
			f.Limit = page
			n := 0
			for b.Loop() {
				items, err := db.Items(ctx, f)
				if err != nil {
					b.Fatal(err)
				}
				n += len(items)
				if len(items) < page {
					f.AfterID = 0 // start over
				} else {
					f.AfterID = items[len(items)-1].ID
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "items/s")
		})
	}
}

// BenchmarkCountItems reads the per-stage, per-status counts of a run of
// 331,000 items (a 100,000-example generation: ideas, documents, replies
// and their retries), as every progress display and dashboard page does.
func BenchmarkCountItems(b *testing.B) {
	db := openTemp(b)
	ctx := b.Context()
	if err := db.CreateRun(ctx, &ethos.Run{ID: "big", Kind: "generate", Status: ethos.RunCompleted}); err != nil {
		b.Fatal(err)
	}
	// One statement inserts them all; the triggers keep the counts.
	_, err := db.SQL().ExecContext(ctx, `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 330999)
		INSERT INTO items (run_id, stage, key, attempt, status, reason, created_at, updated_at)
		SELECT 'big', CASE i % 3 WHEN 0 THEN 'idea' WHEN 1 THEN 'document' ELSE 'response' END, 'k/' || i, 0,
			CASE WHEN i % 100 = 0 THEN 'quarantined' WHEN i % 20 = 0 THEN 'rejected' ELSE 'accepted' END, '',
			'2026-11-30T00:00:00.000000000Z', '2026-11-30T00:00:00.000000000Z' FROM n`)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("kept", func(b *testing.B) {
		for b.Loop() {
			counts, err := db.CountItems(ctx, "big")
			if err != nil || len(counts) != 9 {
				b.Fatalf("%d counts, %v", len(counts), err)
			}
		}
	})
	// What CountItems did before the counts were kept, for comparison.
	b.Run("counted", func(b *testing.B) {
		for b.Loop() {
			rows, err := db.SQL().QueryContext(ctx, `SELECT stage, status, COUNT(*) FROM items WHERE run_id = 'big' GROUP BY stage, status`)
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for rows.Next() {
				n++
			}
			rows.Close()
			if n != 9 {
				b.Fatalf("%d groups", n)
			}
		}
	})
}
