package project

import (
	"context"

	"github.com/ethos-toolkit/ethos/jobs"
	"github.com/ethos-toolkit/ethos/web"
)

// Dashboard is the dashboard over the project's store: opts (the token,
// the poll interval) completed with the project's fine-tune cancel, queue
// depth, pricing and, on PostgreSQL, the store's change notices. The job
// queue's tables are created if the store has never run a pipeline.
// Close the server when done.
func (p *Project) Dashboard(ctx context.Context, opts web.Options) (*web.Server, error) {
	// A client that only reports: it has no tasks and no completer, so it
	// never works a job; it backs the overview's queue depth and /metrics.
	if err := jobs.MigrateOn(ctx, p.jobs); err != nil {
		return nil, err
	}
	queue, err := jobs.NewOn(p.jobs, jobs.Config{Queue: "serve"})
	if err != nil {
		return nil, err
	}
	opts.Canceller = p.CancelFineTune
	opts.QueueStats = queue.Stats
	opts.Cost = p.Pricer().Cost
	// A PostgreSQL store announces its changes: pages update as soon as
	// a write commits, from any process. SQLite's are found by polling.
	if w, ok := p.store.(changeWatcher); ok {
		opts.Changes = w.WatchChanges
	}
	return web.New(p.store, opts)
}

// changeWatcher is a store that tells of its changes as they commit.
type changeWatcher interface {
	WatchChanges(ctx context.Context, changed func(topic string)) error
}
