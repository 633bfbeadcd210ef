package llm

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/ethos-toolkit/ethos"
)

// Budget refuses a call that could take total spend past Cap. It charges
// each call its worst case — the estimated input and the full max_tokens
// of output — while the call is in flight, so concurrent calls cannot
// jointly overshoot, and settles on the real cost when the call returns.
//
// Alone, a budget counts what it started with and what its own calls
// cost. Processes that share a store and a cap (workers on PostgreSQL)
// each set Total: a budget then also counts what the others have spent
// since it started, read from the store's ledger at most once per Refresh,
// so that together they stay under the cap. What they may overshoot it by
// is the calls the others have in flight when it is crossed (the store
// holds their spend, not their reservations).
type Budget struct {
	Cap    float64 // USD; zero or less means no cap
	Pricer Pricer
	Next   ethos.Completer
	// Total, when set, reads what every process on the store has spent in
	// the budget's scope, this one's recorded calls included.
	Total func(ctx context.Context) (float64, error)
	// Refresh is how stale the others' spend may be before a call reads
	// Total again; zero reads it before every call.
	Refresh time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu       sync.Mutex
	spent    float64 // what it started with and what its calls cost
	others   float64 // what other processes spent since, as last read
	readAt   time.Time
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

// Spent is the USD spent so far through this budget, plus what it started
// with and what other processes spent since, as last read (see Total).
func (b *Budget) Spent() float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.spent + b.others
}

// readOthers brings the others' spend up to date when it is older than
// Refresh. The caller holds b.mu, so no call of this process settles
// during the read: what the store holds beyond b.spent is the others'.
// A call of this one settled but not yet in the ledger makes the others
// look that much smaller until the next read; they never look larger
// than they are.
func (b *Budget) readOthers(ctx context.Context) error {
	if b.Total == nil {
		return nil
	}
	now := time.Now
	if b.Now != nil {
		now = b.Now
	}
	t := now()
	if !b.readAt.IsZero() && t.Sub(b.readAt) < b.Refresh {
		return nil
	}
	total, err := b.Total(ctx)
	if err != nil {
		return fmt.Errorf("budget: reading what other processes spent: %w", err)
	}
	b.others = max(b.others, total-b.spent)
	b.readAt = t
	return nil
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
	if err := b.readOthers(ctx); err != nil {
		b.mu.Unlock()
		return ethos.Response{}, err
	}
	if held, ok := b.pending[key]; ok {
		// Already reserved while its batch answer is on its way.
		delete(b.pending, key)
		b.reserved -= held
	}
	if b.spent+b.others+b.reserved+worst > b.Cap {
		spent, reserved := b.spent+b.others, b.reserved
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
