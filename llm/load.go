package llm

import (
	"context"
	"os"
	"sync"
	"time"

	"github.com/ethos-toolkit/ethos"
)

// Loads is the limiter's state of every provider it has seen, as the
// store keeps it for other processes to show (see ethos.ProviderLoad).
func (l *Limiter) Loads(now time.Time) []ethos.ProviderLoad {
	pid := os.Getpid()
	states := l.States()
	out := make([]ethos.ProviderLoad, 0, len(states))
	for _, s := range states {
		out = append(out, ethos.ProviderLoad{
			Provider: s.Provider, InFlight: s.InFlight, Waiting: s.Waiting, Target: int(s.Concurrency),
			Ceiling: s.Ceiling, Auto: s.Auto, Latency: s.Latency, RPM: s.RPM, TPM: s.TPM, Share: s.Share,
			PID: pid, UpdatedAt: now,
		})
	}
	return out
}

// PublishLoads writes l's state to store every interval until stop is
// called, and once more then, so that `ethos calls` and the dashboard show
// the calls in flight of a running process. When l shares its limits
// through the store (ShareLimits), each write also reads the other
// processes' and sets l's shares: the heartbeat the others count it by. A failed write is reported to
// onError (if not nil) and does not stop the publishing: the display is
// not worth failing a run for.
func PublishLoads(ctx context.Context, l *Limiter, store ethos.CallStore, interval time.Duration, onError func(error)) (stop func()) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	write := func(ctx context.Context) error {
		if s, ok := l.Shares.(*StoreShares); ok {
			return s.publish(ctx, time.Now())
		}
		return store.PutProviderLoads(ctx, l.Loads(time.Now()))
	}
	publish := func() {
		if err := write(ctx); err != nil && onError != nil && ctx.Err() == nil {
			onError(err)
		}
	}
	wg.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				publish()
			}
		}
	})
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			wg.Wait()
			// The last word: what is left in flight when the work stops,
			// and no share held any more.
			last := write
			if s, ok := l.Shares.(*StoreShares); ok {
				last = func(ctx context.Context) error { return s.leave(ctx, time.Now()) }
			}
			if err := last(context.WithoutCancel(ctx)); err != nil && onError != nil {
				onError(err)
			}
		})
	}
}
