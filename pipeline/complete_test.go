package pipeline_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/config"
	"github.com/ethos-toolkit/ethos/jobs"
	"github.com/ethos-toolkit/ethos/llm"
	"github.com/ethos-toolkit/ethos/pipeline"
)

// TestComplete: the first call is priced and recorded; the same request
// again is answered by the ledger, free; an unknown provider fails before
// anything is queued.
func TestComplete(t *testing.T) {
	t.Parallel()
	db := openStore(t)
	calls := 0
	adapter := ethos.CompleterFunc(func(_ context.Context, req ethos.Request) (ethos.Response, error) {
		calls++
		return ethos.Response{Text: "hello", StopReason: ethos.StopEnd, Usage: ethos.Usage{In: 1_000_000, Out: 10}}, nil
	})
	router := llm.NewRouter()
	router.Register("acme", func() (ethos.Completer, error) { return adapter, nil })
	cfg := config.Default()
	cfg.Prices["acme/writer"] = config.Price{Input: 2, Output: 0}
	pricer := pipeline.Pricer{Config: cfg, Models: registry{}}
	chains := 0
	d := pipeline.Deps{Store: db, Jobs: jobs.SQLite(db.SQL()), Router: router, Pricer: pricer,
		Chain: func(_ context.Context, maxCost float64) (ethos.Completer, error) {
			chains++
			if maxCost != 0.5 {
				t.Errorf("chain capped at %v, want 0.5", maxCost)
			}
			return &llm.Ledger{Store: db, Next: adapter, Pricer: pricer}, nil
		}}
	req := ethos.Request{Model: "acme/writer", MaxTokens: 16, Messages: []ethos.Message{{Role: ethos.RoleUser, Content: "Hi"}},
		Metadata: map[string]string{"stage": "complete"}}
	first, err := pipeline.Complete(t.Context(), d, req, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	if first.Text != "hello" || first.CacheHit || first.CostUSD != 2 || first.Model != "acme/writer" || first.Usage.In != 1_000_000 {
		t.Errorf("first call: %+v; want hello, a miss costing $2", first)
	}
	again, err := pipeline.Complete(t.Context(), d, req, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	if again.Text != "hello" || !again.CacheHit || again.CostUSD != 0 || calls != 1 {
		t.Errorf("the same request again: %+v after %d adapter calls; want a free hit after one", again, calls)
	}

	req.Model = "nowhere/writer"
	if _, err := pipeline.Complete(t.Context(), d, req, 0.5); err == nil || chains != 2 {
		t.Errorf("unknown provider: %v after %d chains built; want an error before a third", err, chains)
	}
}

func TestReadTextArg(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "system.txt"), []byte("Be kind.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ arg, want string }{
		{"plain text", "plain text"},
		{"", ""},
		{"@system.txt", "Be kind.\n"},
		{"@" + filepath.Join(dir, "system.txt"), "Be kind.\n"},
	} {
		if got, err := pipeline.ReadTextArg(c.arg, dir); err != nil || got != c.want {
			t.Errorf("ReadTextArg(%q) = %q, %v; want %q", c.arg, got, err, c.want)
		}
	}
	_, err := pipeline.ReadTextArg("@missing.txt", dir)
	if ethos.KindOf(err) != ethos.Config || !strings.Contains(err.Error(), "reading missing.txt") {
		t.Errorf("missing file: %v (kind %s); want a Config error naming it", err, ethos.KindOf(err))
	}
}
