// Package groupcommit lets many concurrent callers share one expensive
// step, such as a database transaction: each caller queues its work, and
// whichever caller finds no one flushing flushes everything queued, in
// batches, until the queue is empty. Every other caller waits only for
// its own work to be done, and all wake together once it is.
package groupcommit

import (
	"context"
	"sync"
)

// Queue is a group commit of work of type T. The zero value flushes
// batches of any size.
type Queue[T any] struct {
	// Max bounds the weight of a batch (a single heavier item still goes
	// alone); 0 means no bound.
	Max int
	// Weight is an item's share of Max; nil counts each item as 1.
	Weight func(T) int

	mu       sync.Mutex
	queue    []T
	flushing bool
}

// Do queues item and returns once done is closed. When no one else is
// flushing, the caller flushes every batch queued meanwhile itself, with
// a context that ignores ctx's cancellation (the work of other callers
// must not fail because this one's context ended). flush must close the
// done channel of every item it is given.
func (q *Queue[T]) Do(ctx context.Context, item T, done <-chan struct{}, flush func(ctx context.Context, batch []T)) {
	q.mu.Lock()
	q.queue = append(q.queue, item)
	lead := !q.flushing
	q.flushing = true
	q.mu.Unlock()
	if lead {
		fctx := context.WithoutCancel(ctx)
		for {
			batch := q.take()
			if len(batch) == 0 {
				break
			}
			flush(fctx, batch)
		}
	}
	<-done
}

// take removes the next batch from the queue; empty, it ends the flush.
func (q *Queue[T]) take() []T {
	q.mu.Lock()
	defer q.mu.Unlock()
	n, weight := 0, 0
	for n < len(q.queue) {
		w := 1
		if q.Weight != nil {
			w = q.Weight(q.queue[n])
		}
		if q.Max > 0 && n > 0 && weight+w > q.Max {
			break
		}
		weight += w
		n++
	}
	batch := q.queue[:n:n]
	q.queue = q.queue[n:]
	if n == 0 {
		q.flushing = false
		q.queue = nil
	}
	return batch
}
