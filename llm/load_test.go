package llm

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ethos-toolkit/ethos"
)

// loadStore keeps the snapshots PublishLoads writes.
type loadStore struct {
	ethos.CallStore
	mu     sync.Mutex
	writes [][]ethos.ProviderLoad
}

func (s *loadStore) PutProviderLoads(ctx context.Context, loads []ethos.ProviderLoad) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes = append(s.writes, loads)
	return nil
}

func TestPublishLoads(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hold := make(chan struct{})
		next := ethos.CompleterFunc(func(ctx context.Context, req ethos.Request) (ethos.Response, error) {
			<-hold
			return ethos.Response{}, nil
		})
		l := NewLimiter(next, func(string) Limits { return Limits{MaxConcurrency: 2} })
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() { l.Complete(t.Context(), ethos.Request{Model: "p/m"}) })
		}
		store := &loadStore{}
		stop := PublishLoads(t.Context(), l, store, time.Second, func(err error) { t.Error(err) })
		time.Sleep(2500 * time.Millisecond)
		close(hold)
		wg.Wait()
		stop()
		if len(store.writes) != 3 {
			t.Fatalf("%d writes in 2.5 s at one a second plus the last, want 3", len(store.writes))
		}
		first, last := store.writes[0][0], store.writes[2][0]
		if first.Provider != "p" || first.InFlight != 2 || first.Waiting != 1 || first.Target != 2 || first.Auto {
			t.Errorf("first snapshot %+v, want 2 in flight and 1 waiting of a fixed 2", first)
		}
		if last.InFlight != 0 || last.Waiting != 0 || !last.UpdatedAt.After(first.UpdatedAt) {
			t.Errorf("last snapshot %+v, want nothing in flight, written after the first", last)
		}
	})
}
