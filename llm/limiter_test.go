package llm

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ethos-toolkit/ethos"
)

// okCompleter answers every request at once and counts calls.
type countingCompleter struct {
	mu    sync.Mutex
	calls []time.Time
	resp  func(n int) (ethos.Response, error)
}

func (c *countingCompleter) Complete(ctx context.Context, req ethos.Request) (ethos.Response, error) {
	c.mu.Lock()
	c.calls = append(c.calls, time.Now())
	n := len(c.calls)
	c.mu.Unlock()
	if c.resp != nil {
		return c.resp(n)
	}
	return ethos.Response{Text: "ok", StopReason: ethos.StopEnd, Usage: ethos.Usage{In: 1, Out: 1}}, nil
}

func TestLimiterEnforcesRPM(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		next := &countingCompleter{}
		l := NewLimiter(next, func(string) Limits { return Limits{RPM: 60, MaxConcurrency: 4} })
		start := time.Now()
		// 60 requests fill the first minute's bucket; the next 30 must
		// wait for refill at one a second.
		for i := range 90 {
			if _, err := l.Complete(t.Context(), ethos.Request{Model: "p/m", MaxTokens: 1}); err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
		}
		elapsed := time.Since(start) // fake time inside the bubble
		if elapsed < 29*time.Second || elapsed > 31*time.Second {
			t.Fatalf("90 calls at 60 rpm took %v of virtual time, want about 30s", elapsed)
		}
	})
}

func TestLimiterHonoursRetryAfterAndHalvesConcurrency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		next := &countingCompleter{resp: func(n int) (ethos.Response, error) {
			if n == 1 {
				return ethos.Response{}, &ethos.Error{Kind: ethos.RateLimited, Status: 429, RetryAfter: 7 * time.Second, Msg: "slow down"}
			}
			return ethos.Response{Text: "ok"}, nil
		}}
		l := NewLimiter(next, func(string) Limits { return Limits{MaxConcurrency: 8} })
		_, err := l.Complete(t.Context(), ethos.Request{Model: "p/m"})
		if ethos.KindOf(err) != ethos.RateLimited {
			t.Fatalf("first call: got %v, want rate_limited", err)
		}
		if got := l.State("p").Concurrency; got != 4 {
			t.Fatalf("concurrency after 429 = %v, want 4 (halved from 8)", got)
		}
		before := time.Now()
		if _, err := l.Complete(t.Context(), ethos.Request{Model: "p/m"}); err != nil {
			t.Fatal(err)
		}
		if waited := next.calls[1].Sub(before); waited != 7*time.Second {
			t.Fatalf("second call went out after %v, want the 7s retry-after", waited)
		}
		// Other providers are not paused.
		other := time.Now()
		if _, err := l.Complete(t.Context(), ethos.Request{Model: "q/m"}); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(other); d != 0 {
			t.Fatalf("provider q waited %v for p's retry-after", d)
		}
	})
}

func TestLimiterConcurrencyCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		var mu sync.Mutex
		inFlight, peak := 0, 0
		next := ethos.CompleterFunc(func(ctx context.Context, req ethos.Request) (ethos.Response, error) {
			mu.Lock()
			inFlight++
			peak = max(peak, inFlight)
			mu.Unlock()
			<-release
			mu.Lock()
			inFlight--
			mu.Unlock()
			return ethos.Response{}, nil
		})
		l := NewLimiter(next, func(string) Limits { return Limits{MaxConcurrency: 3} })
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() { l.Complete(t.Context(), ethos.Request{Model: "p/m"}) })
		}
		synctest.Wait()
		if l.State("p").InFlight != 3 {
			t.Fatalf("in flight = %d, want 3", l.State("p").InFlight)
		}
		close(release)
		wg.Wait()
		if peak != 3 {
			t.Fatalf("peak concurrency %d, want 3", peak)
		}
	})
}

func TestLimiterLearnsFromHeaders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		next := &countingCompleter{resp: func(n int) (ethos.Response, error) {
			return ethos.Response{RateLimit: ethos.RateLimit{HasRequests: true, RequestsLimit: 120, RequestsRemaining: 0}}, nil
		}}
		// No configured RPM: the provider's headers impose one.
		l := NewLimiter(next, func(string) Limits { return Limits{MaxConcurrency: 1} })
		l.Complete(t.Context(), ethos.Request{Model: "p/m"})
		before := time.Now()
		l.Complete(t.Context(), ethos.Request{Model: "p/m"})
		if waited := next.calls[1].Sub(before); waited != 500*time.Millisecond {
			t.Fatalf("after remaining=0 of 120/min the next call waited %v, want 500ms", waited)
		}
	})
}

func TestLimiterContextCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		next := &countingCompleter{}
		l := NewLimiter(next, func(string) Limits { return Limits{RPM: 1} })
		l.Complete(t.Context(), ethos.Request{Model: "p/m"})
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		_, err := l.Complete(ctx, ethos.Request{Model: "p/m"})
		if ethos.KindOf(err) != ethos.Transient {
			t.Fatalf("got %v, want a transient error from the cancelled wait", err)
		}
		if len(next.calls) != 1 {
			t.Fatalf("%d calls reached the provider, want 1", len(next.calls))
		}
	})
}
