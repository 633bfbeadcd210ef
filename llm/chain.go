package llm

import (
	"context"
	"sync"
	"time"

	"github.com/ethos-toolkit/ethos"
)

// ChainStore is what a chain keeps in the store: the ledger of calls and
// the queue of requests sent by batch.
type ChainStore interface {
	ethos.CallStore
	ethos.BatchStore
}

// ChainConfig is what NewChain builds a chain from.
type ChainConfig struct {
	Store ChainStore
	// Router is the innermost layer: it sends each call to the adapter of
	// its provider.
	Router ethos.Completer
	// Limits are a provider's rate limits (see NewLimiter).
	Limits func(provider string) Limits
	// ShareKey, when set, makes the chain take its share of each
	// provider's limits with every other process calling the same account
	// through the same store (see ShareLimits); OnShareError hears of a
	// failed read or write of the shares.
	ShareKey     func(provider string) string
	OnShareError func(error)
	// Batch configures the batch layer; its Store and Next are the chain's.
	Batch BatchConfig
	// Resolve, when set, calls a trained model by the name its provider
	// answers it by now (see Alias, CallNames); nil calls every model by
	// the very name asked for, as a probe of how a model is served must.
	Resolve func(ctx context.Context, model string) (string, bool, error)
	// Pricer prices calls for the budgets and the ledger.
	Pricer BatchPricer
	// MaxUSD is the project's budget (zero or less: no cap), of which
	// SpentUSD is already spent; CommandMaxUSD, when above zero, is a
	// further cap on what this chain alone may spend.
	MaxUSD, SpentUSD, CommandMaxUSD float64
	// SpentTotal, when set, reads what every process on the store has
	// spent against MaxUSD: processes sharing a store and its budget (see
	// Budget.Total) read it once a second, so that together they keep to
	// it. CommandMaxUSD stays this chain's own.
	SpentTotal func(ctx context.Context) (float64, error)
}

// SharedSpendRefresh is how often a budget shared through the store reads
// what the other processes spent.
const SharedSpendRefresh = time.Second

// BatchConfig is the settings of a chain's Batcher.
type BatchConfig struct {
	API            func(provider string) (api ethos.BatchAPI, ok bool, err error)
	Window, Poll   time.Duration
	MaxSubmissions int
	Log            func(format string, args ...any)
}

// Chain is the middleware a model call goes through, outermost first:
//
//	Ledger → Budget (project) → Budget (command) → Alias → Batcher → Limiter → Router
//
// The ledger sits outermost so that every call, refused or not, is
// recorded; the budgets see the registry name of a trained model, so what
// a call is priced as does not depend on where it is served; calls sent by
// batch wait in the Batcher, above the Limiter, so they take no share of
// the online rate limits.
type Chain struct {
	ethos.Completer // the ledger
	// Limiter is the chain's rate limiter, for PublishLoads.
	Limiter *Limiter
	// Batcher is the chain's batch layer, worked by its Run.
	Batcher *Batcher
}

// NewChain builds the chain of c.
func NewChain(c ChainConfig) *Chain {
	limiter := NewLimiter(c.Router, c.Limits)
	if c.ShareKey != nil {
		ShareLimits(limiter, c.Store, NewProcessID(), c.ShareKey, c.OnShareError)
	}
	batcher := &Batcher{Store: c.Store, API: c.Batch.API, Next: limiter,
		Window: c.Batch.Window, Poll: c.Batch.Poll, MaxSubmissions: c.Batch.MaxSubmissions, Log: c.Batch.Log}
	var next ethos.Completer = batcher
	if c.Resolve != nil {
		next = &Alias{Next: next, Resolve: c.Resolve}
	}
	if c.CommandMaxUSD > 0 {
		next = NewBudget(c.CommandMaxUSD, 0, c.Pricer, next)
	}
	project := NewBudget(c.MaxUSD, c.SpentUSD, c.Pricer, next)
	if c.SpentTotal != nil {
		project.Total, project.Refresh = c.SpentTotal, SharedSpendRefresh
	}
	next = project
	return &Chain{Completer: &Ledger{Store: c.Store, Next: next, Pricer: c.Pricer}, Limiter: limiter, Batcher: batcher}
}

// ModelRegistry looks a trained model up by its registry name.
type ModelRegistry interface {
	Model(ctx context.Context, name string) (ethos.Model, error)
}

// CallNames is an Alias's Resolve over a model registry: a trained
// model's registry name resolves to the name its provider answers it by
// now (its CallAs), looked up once per model for the life of the
// function; any other name is called as it is.
func CallNames(models ModelRegistry) func(ctx context.Context, model string) (string, bool, error) {
	var seen sync.Map // model → string ("" when it is called as it is)
	return func(ctx context.Context, model string) (string, bool, error) {
		if v, ok := seen.Load(model); ok {
			to := v.(string)
			return to, to != "", nil
		}
		m, err := models.Model(ctx, model)
		switch {
		case ethos.KindOf(err) == ethos.NotFound:
			seen.Store(model, "")
			return "", false, nil
		case err != nil:
			return "", false, err
		}
		to := ""
		if m.CallAs != "" && m.CallAs != m.Name {
			to = m.CallAs
		}
		seen.Store(model, to)
		return to, to != "", nil
	}
}
