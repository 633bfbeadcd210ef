package llm

import (
	"context"

	"github.com/ethos-toolkit/ethos"
)

// Alias sends a call for a model under the name its provider answers it
// by. A trained model keeps one name in the ledger, the budget and every
// run's settings — its registry name — while the name it is called by can
// change: an adapter name on serverless, or the name of whichever
// dedicated endpoint serves it now. Put it below the ledger and the
// budget, so that what a call is recorded and priced as does not depend
// on where it was served.
type Alias struct {
	Next ethos.Completer
	// Resolve returns the name to call model by, and false to call it as
	// it is.
	Resolve func(ctx context.Context, model string) (string, bool, error)
}

// Complete calls Next with the request's model resolved; the response
// keeps what the provider said.
func (a *Alias) Complete(ctx context.Context, req ethos.Request) (ethos.Response, error) {
	if a.Resolve != nil {
		to, ok, err := a.Resolve(ctx, req.Model)
		if err != nil {
			return ethos.Response{}, err
		}
		if ok {
			ref, err := ethos.ParseModelRef(to)
			if err != nil {
				return ethos.Response{}, err
			}
			req.Model, ctx = to, withModelRef(ctx, ref)
		}
	}
	return a.Next.Complete(ctx, req)
}
