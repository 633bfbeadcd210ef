package sqlite_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/sqlite"
)

// benchTaskRun is a generate run whose params (its settings, character
// included) are about 8 KB, as a real run's are.
func benchTaskRun(b *testing.B) *sqlite.DB {
	db := openTemp(b)
	params, _ := json.Marshal(map[string]any{"character": strings.Repeat("A trait described at length. ", 280), "examples": 1000})
	if err := db.CreateRun(b.Context(), &ethos.Run{ID: "bench", Kind: "generate", Params: params}); err != nil {
		b.Fatal(err)
	}
	return db
}

// BenchmarkTaskReads are the store reads every generate task makes: its
// run's status, to see that the run still wants work (status; run is the
// whole run it read before), and its idea.
func BenchmarkTaskReads(b *testing.B) {
	db := benchTaskRun(b)
	ctx := b.Context()
	idea := &ethos.Item{RunID: "bench", Stage: "idea", Key: "idea/c/1/1", Attempt: 1, Status: ethos.ItemAccepted,
		Data: json.RawMessage(`{"category":"hard conversations","summary":"A friend asks to borrow money again.","idea":"` +
			strings.Repeat("The situation in some detail. ", 25) + `"}`)}
	if _, err := db.PutItem(ctx, idea); err != nil {
		b.Fatal(err)
	}
	b.Run("run", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if r, err := db.Run(ctx, "bench"); err != nil || r.Status != ethos.RunRunning {
				b.Fatalf("Run = %v, %v", r.Status, err)
			}
		}
	})
	b.Run("status", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if status, err := db.RunStatus(ctx, "bench"); err != nil || status != ethos.RunRunning {
				b.Fatalf("RunStatus = %v, %v", status, err)
			}
		}
	})
	b.Run("item", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if it, err := db.Item(ctx, idea.ID); err != nil || len(it.Data) == 0 {
				b.Fatalf("Item = %v, %v", it, err)
			}
		}
	})
}

// BenchmarkUpdateItem saves a stage item's outcome, as every task does.
func BenchmarkUpdateItem(b *testing.B) {
	db := benchTaskRun(b)
	ctx := b.Context()
	it := benchItem("bench", "doc/1")
	if _, err := db.PutItem(ctx, it); err != nil {
		b.Fatal(err)
	}
	it.Status = ethos.ItemAccepted
	b.ReportAllocs()
	for b.Loop() {
		if err := db.UpdateItem(ctx, it); err != nil {
			b.Fatal(err)
		}
	}
}
