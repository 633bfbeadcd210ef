package groupcommit

import (
	"context"
	"sync"
	"testing"
)

type work struct {
	n, weight int
	done      chan struct{}
}

// Concurrent callers: every item is flushed exactly once, no batch
// exceeds Max unless one item alone does, and every caller returns.
func TestEveryItemFlushedOnceWithinMax(t *testing.T) {
	q := Queue[*work]{Max: 10, Weight: func(w *work) int { return w.weight }}
	var mu sync.Mutex
	seen := map[int]int{}
	var batches [][]*work
	flush := func(_ context.Context, batch []*work) {
		mu.Lock()
		batches = append(batches, batch)
		for _, w := range batch {
			seen[w.n]++
		}
		mu.Unlock()
		for _, w := range batch {
			close(w.done)
		}
	}
	var wg sync.WaitGroup
	for i := range 500 {
		wg.Go(func() {
			w := &work{n: i, weight: 1 + i%4, done: make(chan struct{})}
			if i == 7 {
				w.weight = 25 // heavier than Max: goes alone
			}
			q.Do(t.Context(), w, w.done, flush)
		})
	}
	wg.Wait()
	if len(seen) != 500 {
		t.Fatalf("%d items flushed, want 500", len(seen))
	}
	for n, c := range seen {
		if c != 1 {
			t.Errorf("item %d flushed %d times", n, c)
		}
	}
	for _, b := range batches {
		total := 0
		for _, w := range b {
			total += w.weight
		}
		if total > 10 && len(b) > 1 {
			t.Errorf("a batch of %d items weighs %d, over Max", len(b), total)
		}
	}
}

// A caller whose context is cancelled still has its work, and the work
// it flushes for others, done with a live context.
func TestFlushIgnoresTheLeadersCancellation(t *testing.T) {
	var q Queue[*work]
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w := &work{done: make(chan struct{})}
	var flushErr error
	q.Do(ctx, w, w.done, func(fctx context.Context, batch []*work) {
		flushErr = fctx.Err()
		for _, w := range batch {
			close(w.done)
		}
	})
	if flushErr != nil {
		t.Errorf("flush context: %v, want live", flushErr)
	}
}
