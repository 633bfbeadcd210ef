package llm

import (
	"context"

	"github.com/ethos-toolkit/ethos"
)

// A request's model reference is parsed once, where it enters the chain
// (the Ledger) or is rewritten (an Alias), and carried in the context to
// the layers below, which read it with modelRef instead of parsing
// req.Model again.
type modelRefKey struct{}

// withModelRef is ctx carrying ref, the parsed model reference of the
// request passed on with it.
func withModelRef(ctx context.Context, ref ethos.ModelRef) context.Context {
	return context.WithValue(ctx, modelRefKey{}, ref)
}

// modelRef is req's model reference: the one parsed above in the chain
// when ctx carries it for this very reference, otherwise (a layer called
// on its own, a reference rewritten since) req.Model parsed here.
func modelRef(ctx context.Context, req ethos.Request) (ethos.ModelRef, error) {
	if r, ok := ctx.Value(modelRefKey{}).(ethos.ModelRef); ok && r.Names(req.Model) {
		return r, nil
	}
	return ethos.ParseModelRef(req.Model)
}
