package llm

import (
	"context"
	"errors"
	"time"

	"github.com/ethos-toolkit/ethos"
)

// Pricer prices a call's usage. known is false when the model has no price,
// which a budget with a cap treats as an error rather than as free.
type Pricer interface {
	Cost(model string, u ethos.Usage) (usd float64, known bool)
}

// PricerFunc adapts a function to Pricer.
type PricerFunc func(model string, u ethos.Usage) (float64, bool)

// Cost calls f.
func (f PricerFunc) Cost(model string, u ethos.Usage) (float64, bool) { return f(model, u) }

// BatchPricer is a Pricer that knows what a model's calls cost when sent
// by batch, as a share of the online price (0.5 for half price).
type BatchPricer interface {
	Pricer
	BatchMultiplier(model string) float64
}

// costOf is what resp cost: its usage at the model's price, times the
// batch multiplier when a batch answered it. known is false when the model
// has no price; a nil pricer prices everything at zero.
func costOf(p Pricer, model string, resp ethos.Response) (usd float64, known bool) {
	if p == nil {
		return 0, true
	}
	usd, known = p.Cost(model, resp.Usage)
	if resp.Batch != "" {
		if bp, ok := p.(BatchPricer); ok {
			usd *= bp.BatchMultiplier(model)
		}
	}
	return usd, known
}

// Ledger is the outermost middleware: it answers a request it has already
// paid for from the store, and records every call in the store — cache
// hits, successes and failures alike, with tokens, cost, latency and the
// error kind. A call cut short because ctx was cancelled is returned and
// recorded as ethos.Interrupted, not as the provider error it surfaced as.
type Ledger struct {
	Store  ethos.CallStore
	Next   ethos.Completer
	Pricer Pricer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Complete serves req from the cache or passes it on, and records the call.
// The response it returns, with or without an error, carries the call's
// key in CallKey.
func (l *Ledger) Complete(ctx context.Context, req ethos.Request) (ethos.Response, error) {
	key := Key(req)
	resp, err := l.complete(ctx, req, key)
	resp.CallKey = key
	return resp, err
}

func (l *Ledger) complete(ctx context.Context, req ethos.Request, key string) (ethos.Response, error) {
	now := time.Now
	if l.Now != nil {
		now = l.Now
	}
	start := now()
	ref, err := ethos.ParseModelRef(req.Model)
	if err != nil {
		return ethos.Response{}, err
	}
	ctx = withModelRef(ctx, ref)
	call := ethos.Call{
		Key:      key,
		Provider: ref.Provider,
		Model:    req.Model,
		RunID:    req.Metadata["run"],
		Stage:    req.Metadata["stage"],
		Request:  req,
		Attempts: attemptOf(req),
	}

	cached, ok, err := l.Store.CachedResponse(ctx, key)
	if err != nil {
		return ethos.Response{}, err
	}
	if ok {
		cached.Latency = now().Sub(start)
		call.CacheHit = true
		call.Response = &cached
		call.Usage = cached.Usage
		call.Latency = cached.Latency
		if err := l.Store.RecordCall(ctx, &call); err != nil {
			return ethos.Response{}, err
		}
		return cached, nil
	}

	// The call's turn at the limiter and its time on the wire are not
	// local work: the job layer lends the task's slot meanwhile.
	back := ethos.Away(ctx)
	resp, callErr := l.Next.Complete(ctx, req)
	back()
	if ethos.KindOf(callErr) == ethos.Pending {
		// Sent by batch and not answered yet: not a call (yet). The
		// answer is recorded when it is asked for again and found.
		return resp, callErr
	}
	call.Latency = now().Sub(start)
	if callErr != nil && errors.Is(ctx.Err(), context.Canceled) {
		// The caller stopped waiting (Ctrl-C, a shutdown): whatever the
		// layers below made of it, the provider did nothing wrong.
		callErr = &ethos.Error{Kind: ethos.Interrupted, Msg: "interrupted: " + callErr.Error(), Err: callErr}
	}
	if callErr != nil {
		call.ErrorKind = ethos.KindOf(callErr)
		call.Error = callErr.Error()
	} else {
		if resp.Latency == 0 {
			resp.Latency = call.Latency
		}
		call.Response = &resp
		call.Usage = resp.Usage
		call.CostUSD, _ = costOf(l.Pricer, req.Model, resp)
	}
	// Record even when the caller has gone away: a paid call that is not
	// in the ledger would be paid for again.
	recordCtx := context.WithoutCancel(ctx)
	if err := l.Store.RecordCall(recordCtx, &call); err != nil {
		return ethos.Response{}, errors.Join(callErr, err)
	}
	return resp, callErr
}

// attemptOf reads the attempt number the job layer puts in the request's
// metadata; a call made outside a job is attempt 1.
func attemptOf(req ethos.Request) int {
	n := 0
	for _, c := range req.Metadata["attempt"] {
		if c < '0' || c > '9' {
			return 1
		}
		n = n*10 + int(c-'0')
	}
	if n == 0 {
		return 1
	}
	return n
}
