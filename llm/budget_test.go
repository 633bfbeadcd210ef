package llm

import (
	"context"
	"testing"

	"github.com/ethos-toolkit/ethos"
)

// perMillion prices every model at $1 per million input and $5 per million
// output tokens, and knows no model called "unpriced/…".
var perMillion = PricerFunc(func(model string, u ethos.Usage) (float64, bool) {
	if p, _, _ := ethos.SplitModel(model); p == "unpriced" {
		return 0, false
	}
	return float64(u.In)*1e-6 + float64(u.Out)*5e-6, true
})

func TestBudgetRefusesBeforeSpending(t *testing.T) {
	t.Parallel()
	calls := 0
	next := ethos.CompleterFunc(func(ctx context.Context, req ethos.Request) (ethos.Response, error) {
		calls++
		return ethos.Response{Usage: ethos.Usage{In: 100, Out: 1000}}, nil
	})
	// Worst case of one call: ~0 input + 1000 output tokens = $0.005.
	b := NewBudget(0.012, 0, perMillion, next)
	req := ethos.Request{Model: "p/m", MaxTokens: 1000, Messages: []ethos.Message{{Role: ethos.RoleUser, Content: "hi"}}}
	for i := range 2 {
		if _, err := b.Complete(t.Context(), req); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	_, err := b.Complete(t.Context(), req)
	if ethos.KindOf(err) != ethos.Budget {
		t.Fatalf("third call: got %v, want a budget error", err)
	}
	if calls != 2 {
		t.Fatalf("%d calls reached the provider, want 2", calls)
	}
	if got, want := b.Spent(), 2*(100e-6+1000*5e-6); got != want {
		t.Fatalf("spent %v, want %v", got, want)
	}
}

func TestBudgetCountsPriorSpendAndUnknownPrice(t *testing.T) {
	t.Parallel()
	next := ethos.CompleterFunc(func(ctx context.Context, req ethos.Request) (ethos.Response, error) {
		return ethos.Response{}, nil
	})
	b := NewBudget(1, 0.999, perMillion, next)
	_, err := b.Complete(t.Context(), ethos.Request{Model: "p/m", MaxTokens: 1000})
	if ethos.KindOf(err) != ethos.Budget {
		t.Fatalf("got %v, want budget refusal from prior spend", err)
	}
	_, err = b.Complete(t.Context(), ethos.Request{Model: "unpriced/m", MaxTokens: 1})
	if ethos.KindOf(err) != ethos.Config {
		t.Fatalf("got %v, want a config error for a model without a price", err)
	}
	// No cap: anything goes, and spend is still tracked.
	free := NewBudget(0, 0, perMillion, next)
	if _, err := free.Complete(t.Context(), ethos.Request{Model: "unpriced/m"}); err != nil {
		t.Fatal(err)
	}
}

func TestBudgetReleasesReservationOnFailure(t *testing.T) {
	t.Parallel()
	fail := true
	next := ethos.CompleterFunc(func(ctx context.Context, req ethos.Request) (ethos.Response, error) {
		if fail {
			return ethos.Response{}, ethos.Errorf(ethos.Transient, "boom")
		}
		return ethos.Response{Usage: ethos.Usage{Out: 10}}, nil
	})
	b := NewBudget(0.006, 0, perMillion, next)
	req := ethos.Request{Model: "p/m", MaxTokens: 1000}
	for range 5 {
		if _, err := b.Complete(t.Context(), req); ethos.KindOf(err) != ethos.Transient {
			t.Fatalf("got %v, want the provider's transient error", err)
		}
	}
	fail = false
	if _, err := b.Complete(t.Context(), req); err != nil {
		t.Fatalf("after failures the budget should be whole again: %v", err)
	}
}
