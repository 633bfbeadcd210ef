package storecopy_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/internal/pgtest"
	"github.com/ethos-toolkit/ethos/internal/storecopy"
)

// BenchmarkCopyToPostgres copies a SQLite store of one run with 10,000
// items (a few hundred bytes of JSON each) and 10,000 calls to PostgreSQL.
func BenchmarkCopyToPostgres(b *testing.B) {
	const n = 10_000
	src := open(b, "sqlite:"+filepath.Join(b.TempDir(), "src.db"))
	s := store(src)
	ctx := b.Context()
	if err := s.CreateRun(ctx, &ethos.Run{ID: "gen", Kind: "generate"}); err != nil {
		b.Fatal(err)
	}
	data := json.RawMessage(fmt.Sprintf(`{"text": %q}`, "a reply of some length, as a document or a response would be, repeated to fill the row a little"))
	for i := range n {
		if _, err := s.PutItem(ctx, &ethos.Item{RunID: "gen", Stage: "response", Key: fmt.Sprintf("r/%05d", i), Data: data}); err != nil {
			b.Fatal(err)
		}
		c := &ethos.Call{Key: fmt.Sprintf("k%05d", i), Provider: "sandbox", Model: "sandbox/m", RunID: "gen",
			Request:  ethos.Request{Model: "sandbox/m", Messages: []ethos.Message{{Role: "user", Content: "hello"}}, MaxTokens: 100},
			Response: &ethos.Response{Text: "a reply"}, CostUSD: 0.001}
		if err := s.RecordCall(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		b.StopTimer()
		dst := open(b, pgtest.URL(b))
		b.StartTimer()
		if _, err := storecopy.Copy(ctx, src, dst); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(2*n), "rows/op")
}
