package llm_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/llm"
	"github.com/ethos-toolkit/ethos/sqlite"
)

// TestLedgerRecordsEveryCall checks the ledger over a real store: a miss
// is paid for and recorded, the identical request is a free recorded hit,
// a different sample index is a new call, and a failure is recorded with
// its kind and never cached.
func TestLedgerRecordsEveryCall(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ethos.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	calls := 0
	next := ethos.CompleterFunc(func(ctx context.Context, req ethos.Request) (ethos.Response, error) {
		calls++
		if req.Messages[0].Content == "fail" {
			return ethos.Response{}, &ethos.Error{Kind: ethos.Overloaded, Status: 529, Msg: "busy"}
		}
		return ethos.Response{Text: "answer", StopReason: ethos.StopEnd, Usage: ethos.Usage{In: 1000, Out: 2000}}, nil
	})
	pricer := llm.PricerFunc(func(model string, u ethos.Usage) (float64, bool) {
		return float64(u.In)*1e-6 + float64(u.Out)*5e-6, true
	})
	ledger := &llm.Ledger{Store: db, Next: next, Pricer: pricer}
	req := ethos.Request{Model: "p/m", MaxTokens: 10, Messages: []ethos.Message{{Role: ethos.RoleUser, Content: "hi"}},
		Metadata: map[string]string{"run": "r1", "stage": "test", "attempt": "2"}}

	for range 2 { // a miss, then a hit: both carry the call's key
		resp, err := ledger.Complete(ctx, req)
		if err != nil || resp.Text != "answer" {
			t.Fatalf("Complete = %+v, %v", resp, err)
		}
		if resp.CallKey != llm.Key(req) {
			t.Errorf("CallKey = %q, want %q", resp.CallKey, llm.Key(req))
		}
	}
	other := req
	other.Sample = 1
	if _, err := ledger.Complete(ctx, other); err != nil {
		t.Fatal(err)
	}
	failing := req
	failing.Messages = []ethos.Message{{Role: ethos.RoleUser, Content: "fail"}}
	for range 2 {
		resp, err := ledger.Complete(ctx, failing)
		if ethos.KindOf(err) != ethos.Overloaded {
			t.Fatalf("failing call: got %v, want overloaded", err)
		}
		if resp.CallKey != llm.Key(failing) {
			t.Errorf("failing call: CallKey = %q, want %q", resp.CallKey, llm.Key(failing))
		}
	}
	if calls != 4 {
		t.Fatalf("%d calls reached the provider, want 4 (miss, sample 1, two failures)", calls)
	}
	recorded, err := db.Calls(ctx, ethos.CallFilter{RunID: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(recorded) != 5 {
		t.Fatalf("%d calls recorded, want 5", len(recorded))
	}
	// Newest first: failure, failure, sample 1, hit, miss.
	want := []struct {
		hit  bool
		kind ethos.Kind
		cost float64
	}{{false, ethos.Overloaded, 0}, {false, ethos.Overloaded, 0}, {false, "", 0.011}, {true, "", 0}, {false, "", 0.011}}
	for i, w := range want {
		c := recorded[i]
		if c.CacheHit != w.hit || c.ErrorKind != w.kind || c.CostUSD < w.cost-1e-9 || c.CostUSD > w.cost+1e-9 ||
			c.Stage != "test" || c.Provider != "p" || c.Attempts != 2 || c.Key != llm.Key(c.Request) {
			t.Errorf("call %d: %+v, want hit=%v kind=%q cost=%v", i, c, w.hit, w.kind, w.cost)
		}
	}
	if recorded[0].Error == "" {
		t.Error("a failed call was recorded without its error")
	}
	if spent, _ := db.Spent(ctx, ethos.CallFilter{RunID: "r1"}); spent < 0.022-1e-9 || spent > 0.022+1e-9 {
		t.Errorf("spent $%v, want $0.022: hits and failures are free", spent)
	}
}

// TestLedgerRecordsInterruptedCalls cancels the caller's context while a
// call is at the provider, as Ctrl-C does: the call is recorded as
// interrupted, not as a provider error, and the summary does not count it
// among the errors.
func TestLedgerRecordsInterruptedCalls(t *testing.T) {
	t.Parallel()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "ethos.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	atProvider := make(chan struct{})
	next := ethos.CompleterFunc(func(ctx context.Context, req ethos.Request) (ethos.Response, error) {
		close(atProvider)
		<-ctx.Done()
		// What the adapters return for a call whose caller gave up.
		return ethos.Response{}, &ethos.Error{Kind: ethos.Transient, Msg: "call abandoned: context canceled", Err: ctx.Err()}
	})
	ledger := &llm.Ledger{Store: db, Next: next}
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-atProvider
		cancel()
	}()
	req := ethos.Request{Model: "p/m", MaxTokens: 10, Messages: []ethos.Message{{Role: ethos.RoleUser, Content: "hi"}},
		Metadata: map[string]string{"run": "r1", "stage": "test"}}
	_, err = ledger.Complete(ctx, req)
	if ethos.KindOf(err) != ethos.Interrupted || !errors.Is(err, context.Canceled) {
		t.Fatalf("Complete after cancel = %v (kind %s), want interrupted wrapping context.Canceled", err, ethos.KindOf(err))
	}
	recorded, err := db.Calls(t.Context(), ethos.CallFilter{RunID: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(recorded) != 1 || recorded[0].ErrorKind != ethos.Interrupted || recorded[0].Error == "" {
		t.Fatalf("recorded %+v, want one interrupted call with its error text", recorded)
	}
	sums, err := db.SummarizeCalls(t.Context(), ethos.CallFilter{RunID: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	want := []ethos.CallSummary{{Provider: "p", Model: "p/m", Calls: 1, Interrupted: 1, Latency: recorded[0].Latency}}
	if diff := cmp.Diff(want, sums); diff != "" {
		t.Errorf("summary mismatch (-want +got):\n%s", diff)
	}
}
