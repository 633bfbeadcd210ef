package llm

import (
	"context"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

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

// sleepyCompleter answers after a fixed (fake) latency with the rate-limit
// headers of a provider allowing rpm requests a minute, and tracks how
// many calls are in flight at once.
type sleepyCompleter struct {
	latency time.Duration
	rpm     int

	mu             sync.Mutex
	inFlight, peak int
	calls          int
}

func (c *sleepyCompleter) Complete(ctx context.Context, req ethos.Request) (ethos.Response, error) {
	c.mu.Lock()
	c.inFlight++
	c.calls++
	c.peak = max(c.peak, c.inFlight)
	c.mu.Unlock()
	time.Sleep(c.latency)
	c.mu.Lock()
	c.inFlight--
	c.mu.Unlock()
	return ethos.Response{Text: "ok", Usage: ethos.Usage{In: 10, Out: 10},
		RateLimit: ethos.RateLimit{HasRequests: true, RequestsLimit: c.rpm, RequestsRemaining: c.rpm / 2}}, nil
}

// TestLimiterAutoFollowsLittlesLaw: at 10 s a call and 1,200 requests a
// minute, the provider's limit needs about 200 calls in flight; an
// auto-sized provider must get there from its small start and use the
// whole limit, not a fixed number of slots.
func TestLimiterAutoFollowsLittlesLaw(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		next := &sleepyCompleter{latency: 10 * time.Second, rpm: 1200}
		l := NewLimiter(next, func(string) Limits { return Limits{RPM: 50} }) // a tier-1 guess the headers correct
		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		for range 3000 {
			wg.Go(func() { l.Complete(ctx, ethos.Request{Model: "p/m", MaxTokens: 10}) })
		}
		time.Sleep(2 * time.Minute)
		st := l.State("p")
		if !st.Auto || st.RPM != 1200 {
			t.Fatalf("state %+v: want an auto-sized gate that learned 1200 rpm", st)
		}
		next.mu.Lock()
		calls, peak := next.calls, next.peak
		next.mu.Unlock()
		// 2 minutes at 20 a second is 2,400 requests at most; the first
		// 10 s go at the configured 50 a minute until the headers arrive.
		if calls < 2000 || calls > 2450 {
			t.Errorf("%d calls in 2 minutes at 1200 rpm, want 2000..2450", calls)
		}
		if peak < 190 || peak > 400 {
			t.Errorf("peak in flight %d, want about 200 (1200 rpm × 10 s)", peak)
		}
		if st.Concurrency < 200 || st.Concurrency > 400 {
			t.Errorf("target concurrency %v, want 200..400", st.Concurrency)
		}
		cancel()
		wg.Wait()
	})
}

// TestLimiterAutoSlowStart: with no rate known, an auto-sized provider
// doubles its calls in flight each round trip, up to what is asked.
func TestLimiterAutoSlowStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		next := &sleepyCompleter{latency: time.Second}
		l := NewLimiter(next, func(string) Limits { return Limits{} })
		var wg sync.WaitGroup
		for range 500 {
			wg.Go(func() { l.Complete(t.Context(), ethos.Request{Model: "p/m"}) })
		}
		time.Sleep(500 * time.Millisecond)
		if got := l.State("p").InFlight; got != autoStart {
			t.Fatalf("in flight at start = %d, want %d", got, autoStart)
		}
		time.Sleep(time.Second)
		if got := l.State("p").InFlight; got != 2*autoStart {
			t.Fatalf("in flight after one round trip = %d, want %d", got, 2*autoStart)
		}
		wg.Wait()
		if next.peak < 128 {
			t.Fatalf("peak in flight %d, want slow start to reach well past 128", next.peak)
		}
	})
}

// TestLimiterServesUrgentFirst: calls that finish items go before calls
// that start new ones, whatever the order they arrived in.
func TestLimiterServesUrgentFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var order []string
		gate := make(chan struct{})
		next := ethos.CompleterFunc(func(ctx context.Context, req ethos.Request) (ethos.Response, error) {
			mu.Lock()
			order = append(order, req.System)
			mu.Unlock()
			if req.System == "first" {
				<-gate
			}
			return ethos.Response{}, nil
		})
		l := NewLimiter(next, func(string) Limits { return Limits{MaxConcurrency: 1} })
		var wg sync.WaitGroup
		wg.Go(func() { l.Complete(t.Context(), ethos.Request{Model: "p/m", System: "first"}) })
		synctest.Wait()
		for i, p := range []Priority{PriorityStart, PriorityStart, PriorityMiddle, PriorityFinish} {
			name := []string{"start-1", "start-2", "middle", "finish"}[i]
			wg.Go(func() { l.Complete(WithPriority(t.Context(), p), ethos.Request{Model: "p/m", System: name}) })
			synctest.Wait()
		}
		close(gate)
		wg.Wait()
		want := []string{"first", "finish", "middle", "start-1", "start-2"}
		if diff := cmp.Diff(want, order); diff != "" {
			t.Fatalf("order (-want +got):\n%s", diff)
		}
	})
}

// TestLimiterSeparateTokenBuckets: a provider that limits output tokens on
// their own (Anthropic's -output-tokens- headers) holds calls whose
// max_tokens the output bucket cannot cover, even with requests to spare.
func TestLimiterSeparateTokenBuckets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		next := &countingCompleter{resp: func(n int) (ethos.Response, error) {
			return ethos.Response{Usage: ethos.Usage{In: 1, Out: 600}, RateLimit: ethos.RateLimit{
				HasOutputTokens: true, OutputTokensLimit: 600, OutputTokensRemaining: 0}}, nil
		}}
		l := NewLimiter(next, func(string) Limits { return Limits{} })
		l.Complete(t.Context(), ethos.Request{Model: "p/m", MaxTokens: 600})
		before := time.Now()
		l.Complete(t.Context(), ethos.Request{Model: "p/m", MaxTokens: 600})
		if waited := next.calls[1].Sub(before); waited != time.Minute {
			t.Fatalf("with 0 of 600 output tokens a minute left, a 600-token call waited %v, want 1m", waited)
		}
		if st := l.State("p"); st.OutputTPM != 600 || st.RPM != 0 {
			t.Fatalf("state %+v: want output TPM 600 and no request limit", st)
		}
	})
}

// TestLimiterCancelledWaiterLeavesTheQueue: a call given up while waiting
// takes no slot, and the calls behind it still go.
func TestLimiterCancelledWaiterLeavesTheQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hold := make(chan struct{})
		next := ethos.CompleterFunc(func(ctx context.Context, req ethos.Request) (ethos.Response, error) {
			if req.System == "hold" {
				<-hold
			}
			return ethos.Response{}, nil
		})
		l := NewLimiter(next, func(string) Limits { return Limits{MaxConcurrency: 1} })
		var wg sync.WaitGroup
		wg.Go(func() { l.Complete(t.Context(), ethos.Request{Model: "p/m", System: "hold"}) })
		synctest.Wait()
		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error, 1)
		go func() { _, err := l.Complete(ctx, ethos.Request{Model: "p/m"}); errc <- err }()
		var after error
		wg.Go(func() { _, after = l.Complete(t.Context(), ethos.Request{Model: "p/m"}) })
		synctest.Wait()
		if st := l.State("p"); st.Waiting != 2 {
			t.Fatalf("waiting = %d, want 2", st.Waiting)
		}
		cancel()
		if err := <-errc; ethos.KindOf(err) != ethos.Transient {
			t.Fatalf("cancelled wait: %v, want transient", err)
		}
		close(hold)
		wg.Wait()
		if after != nil {
			t.Fatal(after)
		}
		if st := l.State("p"); st.InFlight != 0 || st.Waiting != 0 {
			t.Fatalf("after all: %+v, want nothing in flight or waiting", st)
		}
	})
}

// TestLimiterStopsOnA429ThatNeverClears: a provider that answers nothing
// but 429s for RateLimitTimeout fails the next 429 as Quota (which stops
// a run); one success restarts the clock.
func TestLimiterStopsOnA429ThatNeverClears(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		succeed := false
		next := ethos.CompleterFunc(func(ctx context.Context, req ethos.Request) (ethos.Response, error) {
			mu.Lock()
			defer mu.Unlock()
			if succeed {
				return ethos.Response{Text: "ok"}, nil
			}
			return ethos.Response{}, &ethos.Error{Kind: ethos.RateLimited, Status: 429, RetryAfter: 10 * time.Second, Msg: "slow down"}
		})
		l := NewLimiter(next, func(string) Limits { return Limits{RateLimitTimeout: time.Minute} })
		start := time.Now()
		var err error
		for ethos.KindOf(err) != ethos.Quota {
			_, err = l.Complete(t.Context(), ethos.Request{Model: "p/m"})
			if k := ethos.KindOf(err); k != ethos.RateLimited && k != ethos.Quota {
				t.Fatalf("got %v", err)
			}
		}
		if waited := time.Since(start); waited < time.Minute || waited > time.Minute+15*time.Second {
			t.Fatalf("gave up after %v of only 429s, want just over the 1m timeout", waited)
		}
		if !strings.Contains(err.Error(), "nothing but 429") || !strings.Contains(err.Error(), "run the same command again") {
			t.Errorf("message %q does not say what happened and how to continue", err)
		}
		mu.Lock()
		succeed = true
		mu.Unlock()
		if _, err := l.Complete(t.Context(), ethos.Request{Model: "p/m"}); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		succeed = false
		mu.Unlock()
		if _, err := l.Complete(t.Context(), ethos.Request{Model: "p/m"}); ethos.KindOf(err) != ethos.RateLimited {
			t.Fatalf("a 429 right after a success: %v, want rate_limited", err)
		}
	})
}
