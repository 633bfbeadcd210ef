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
