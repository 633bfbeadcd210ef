package llm

import (
	"context"
	"sync"

	"github.com/ethos-toolkit/ethos"
)

// Budget refuses a call that could take total spend past Cap. It charges
// each call its worst case — the estimated input and the full max_tokens
// of output — while the call is in flight, so concurrent calls cannot
// jointly overshoot, and settles on the real cost when the call returns.
type Budget struct {
	Cap    float64 // USD; zero or less means no cap
	Pricer Pricer
	Next   ethos.Completer

	mu       sync.Mutex
	spent    float64
	reserved float64
	// pending holds the worst case of each request sent by batch and not
	// answered yet, by key: it stays reserved between the calls that ask
	// for its answer.
	pending map[string]float64
}

// NewBudget returns a budget that has already spent spent (from the ledger).
func NewBudget(capUSD, spent float64, pricer Pricer, next ethos.Completer) *Budget {
	return &Budget{Cap: capUSD, Pricer: pricer, Next: next, spent: spent}
}

// Spent is the USD spent so far through this budget, plus what it started with.
func (b *Budget) Spent() float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.spent
}

// Complete checks the worst-case cost of req against the cap, then calls Next.
func (b *Budget) Complete(ctx context.Context, req ethos.Request) (ethos.Response, error) {
	if b.Cap <= 0 {
		resp, err := b.Next.Complete(ctx, req)
		if err == nil {
			b.settle(req.Model, 0, resp)
		}
		return resp, err
	}
	worst, known := b.Pricer.Cost(req.Model, ethos.Usage{In: EstimateInput(req), Out: req.MaxTokens})
	if !known {
		return ethos.Response{}, ethos.Errorf(ethos.Config, "no price for model %s, so the budget cap cannot be enforced; add it under prices: in ethos.yaml", req.Model)
	}
	key := Key(req)
	b.mu.Lock()
	if held, ok := b.pending[key]; ok {
		// Already reserved while its batch answer is on its way.
		delete(b.pending, key)
		b.reserved -= held
	}
	if b.spent+b.reserved+worst > b.Cap {
		spent, reserved := b.spent, b.reserved
		b.mu.Unlock()
		return ethos.Response{}, ethos.Errorf(ethos.Budget,
			"budget: this call could cost up to $%.4f, and $%.4f is spent and $%.4f in flight of the $%.2f cap; raise budget.max_usd or --max-cost",
			worst, spent, reserved, b.Cap)
	}
	b.reserved += worst
	b.mu.Unlock()

	resp, err := b.Next.Complete(ctx, req)
	if ethos.KindOf(err) == ethos.Pending {
		b.mu.Lock()
		if b.pending == nil {
			b.pending = map[string]float64{}
		}
		b.pending[key] = worst // stays reserved
		b.mu.Unlock()
		return resp, err
	}
	if err != nil {
		b.settle(req.Model, worst, ethos.Response{})
		return resp, err
	}
	b.settle(req.Model, worst, resp)
	return resp, nil
}

func (b *Budget) settle(model string, reserved float64, resp ethos.Response) {
	cost, _ := costOf(b.Pricer, model, resp)
	b.mu.Lock()
	b.reserved -= reserved
	b.spent += cost
	b.mu.Unlock()
}
