package llm_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/llm"
)

// eighth prices a call at $0.125 per 1000 output tokens and its input at
// nothing, so that a call's worst case is what it costs and sums are exact.
var eighth = llm.PricerFunc(func(model string, u ethos.Usage) (float64, bool) {
	return float64(u.Out) / 8000, true
})

// spender is one process's chain over a shared store: a ledger over a
// budget of $1 over a provider that answers with max_tokens of output.
type spender struct {
	chain  ethos.Completer
	budget *llm.Budget
	sent   int // calls that reached the provider
	next   int // the next request's number
	// gate, when set, holds each call at the provider until it is
	// closed; each call held is told on arrived first.
	gate    chan struct{}
	arrived chan struct{}
	mu      sync.Mutex
}

func newSpender(store ethos.CallStore, shared bool) *spender {
	s := &spender{}
	provider := ethos.CompleterFunc(func(ctx context.Context, req ethos.Request) (ethos.Response, error) {
		s.mu.Lock()
		s.sent++
		gate := s.gate
		s.mu.Unlock()
		if gate != nil {
			s.arrived <- struct{}{}
			<-gate
		}
		return ethos.Response{Text: "ok", Usage: ethos.Usage{Out: req.MaxTokens}}, nil
	})
	s.budget = llm.NewBudget(1, 0, eighth, provider)
	if shared {
		s.budget.Total = func(ctx context.Context) (float64, error) { return store.Spent(ctx, ethos.CallFilter{}) }
	}
	s.chain = &llm.Ledger{Store: store, Next: s.budget, Pricer: eighth}
	return s
}

// call makes one call of a request not made before.
func (s *spender) call(ctx context.Context, name string) error {
	s.mu.Lock()
	s.next++
	n := s.next
	s.mu.Unlock()
	_, err := s.chain.Complete(ctx, ethos.Request{Model: "p/m", MaxTokens: 1000,
		Messages: []ethos.Message{{Role: ethos.RoleUser, Content: fmt.Sprintf("%s %d", name, n)}}})
	return err
}

// callUntilRefused calls until the budget refuses, and returns how many
// calls it made.
func (s *spender) callUntilRefused(t *testing.T, name string) int {
	t.Helper()
	for n := 0; ; n++ {
		err := s.call(t.Context(), name)
		if ethos.KindOf(err) == ethos.Budget {
			return n
		}
		if err != nil {
			t.Fatal(err)
		}
		if n > 100 {
			t.Fatalf("%s: the budget never refused", name)
		}
	}
}

// Two processes over one store, each with a $1 budget, calling in turn at
// $0.125 a call: sharing the ledger, they make 8 calls together and spend
// exactly the cap; each on its own count, they make 8 each.
func TestBudgetSharedSQLite(t *testing.T)   { testBudgetShared(t, sqliteStores) }
func TestBudgetSharedPostgres(t *testing.T) { testBudgetShared(t, postgresStores) }

func testBudgetShared(t *testing.T, open openStore) {
	for _, shared := range []bool{true, false} {
		t.Run(fmt.Sprintf("shared=%v", shared), func(t *testing.T) {
			stores := open(t, 2)
			a, b := newSpender(stores[0], shared), newSpender(stores[1], shared)
			made := 0
			for aDone, bDone := false, false; !aDone || !bDone; {
				for _, s := range []struct {
					*spender
					name string
					done *bool
				}{{a, "a", &aDone}, {b, "b", &bDone}} {
					if *s.done {
						continue
					}
					err := s.call(t.Context(), s.name)
					if ethos.KindOf(err) == ethos.Budget {
						*s.done = true
						continue
					}
					if err != nil {
						t.Fatal(err)
					}
					made++
				}
			}
			spent, err := stores[0].Spent(t.Context(), ethos.CallFilter{})
			if err != nil {
				t.Fatal(err)
			}
			want, wantSpent := 16, 2.0
			if shared {
				want, wantSpent = 8, 1.0
			}
			if made != want || a.sent+b.sent != want || spent != wantSpent {
				t.Errorf("%d calls made (%d and %d reached the provider), $%v spent; want %d calls, $%v",
					made, a.sent, b.sent, spent, want, wantSpent)
			}
			if shared && (a.sent != 4 || b.sent != 4) {
				t.Errorf("calls made in turn: %d and %d, want 4 each", a.sent, b.sent)
			}
		})
	}
}

// The cap is overshot by at most the calls in flight elsewhere when it is
// crossed: a makes three calls that its provider holds, b spends the rest
// of the cap meanwhile (a's calls are not in the ledger yet), and once a's
// calls are answered neither makes another.
func TestBudgetSharedOvershootSQLite(t *testing.T)   { testBudgetSharedOvershoot(t, sqliteStores) }
func TestBudgetSharedOvershootPostgres(t *testing.T) { testBudgetSharedOvershoot(t, postgresStores) }

func testBudgetSharedOvershoot(t *testing.T, open openStore) {
	stores := open(t, 2)
	a, b := newSpender(stores[0], true), newSpender(stores[1], true)
	a.gate, a.arrived = make(chan struct{}), make(chan struct{}, 3)
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if err := a.call(context.Background(), "a"); err != nil {
				t.Error(err)
			}
		})
	}
	for range 3 {
		<-a.arrived
	}
	if n := b.callUntilRefused(t, "b"); n != 8 {
		t.Errorf("b made %d calls beside a's three in flight, want 8 (a's are not spent yet)", n)
	}
	close(a.gate)
	wg.Wait()
	if n := a.callUntilRefused(t, "a"); n != 0 {
		t.Errorf("a made %d more calls past the cap", n)
	}
	if n := b.callUntilRefused(t, "b"); n != 0 {
		t.Errorf("b made %d more calls past the cap", n)
	}
	spent, err := stores[1].Spent(t.Context(), ethos.CallFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if spent != 1.375 {
		t.Errorf("$%v spent, want $1.375: the $1 cap and a's three calls in flight when b crossed it", spent)
	}
	if got := b.budget.Spent(); got != 1.375 {
		t.Errorf("b's budget counts $%v spent, want $1.375", got)
	}
}
