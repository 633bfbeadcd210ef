package project

import (
	"context"
	"time"

	"github.com/ethos-toolkit/ethos"
)

// batchTick is how often a process that works runs makes, submits and
// follows batches; each batch is asked for its state once per batch.poll.
const batchTick = time.Second

// BatchAPI returns the batch API of a provider, when its settings name one
// (providers.<name>.batch) and its adapter speaks it.
func (p *Project) BatchAPI(provider string) (ethos.BatchAPI, bool, error) {
	return p.Providers().BatchAPI(p.Router())(provider)
}

// RunBatches makes, submits and follows batches while a caller works;
// stop ends it. Without a chain built yet (Completer) it does nothing.
func (p *Project) RunBatches(ctx context.Context) (stop func()) {
	p.mu.Lock()
	b := p.batcher
	p.mu.Unlock()
	if b == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.Run(ctx, batchTick)
	}()
	return func() {
		cancel()
		<-done
	}
}

// CancelBatch asks the provider to stop batch id and records its answer.
// Its unprocessed requests end cancelled and go to the next batch when
// their run continues. A batch that has ended, or that the provider has
// not confirmed yet, is not cancelled.
func (p *Project) CancelBatch(ctx context.Context, id int64) (ethos.Batch, error) {
	b, err := p.store.GetBatch(ctx, id)
	if err != nil {
		return b, err
	}
	if b.State.Done() {
		return b, ethos.Errorf(ethos.Config, "batch %d has %s already; nothing to cancel", id, b.State)
	}
	if b.ProviderID == "" {
		return b, ethos.Errorf(ethos.Config, "batch %d is not confirmed at %s yet; a running command finds it there or sends its requests again — cancel it then", id, b.Provider)
	}
	api, ok, err := p.BatchAPI(b.Provider)
	if err != nil {
		return b, err
	}
	if !ok {
		return b, ethos.Errorf(ethos.Config, "provider %s has no batch API configured (providers.%s.batch)", b.Provider, b.Provider)
	}
	info, err := api.CancelBatch(ctx, b.ProviderID)
	if err != nil {
		return b, err
	}
	b.State, b.Status, b.Counts = info.State, info.ProviderStatus, info.Counts
	return b, p.store.UpdateBatch(ctx, b)
}
