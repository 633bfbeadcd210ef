package llm_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/anthropic"
	"github.com/ethos-toolkit/ethos/internal/pgtest"
	"github.com/ethos-toolkit/ethos/llm"
	"github.com/ethos-toolkit/ethos/postgres"
	"github.com/ethos-toolkit/ethos/sandbox"
	"github.com/ethos-toolkit/ethos/sqlite"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// openStore opens the shared store once for each of n processes.
type openStore func(tb testing.TB, n int) []ethos.CallStore

func sqliteStores(tb testing.TB, n int) []ethos.CallStore {
	path := filepath.Join(tb.TempDir(), "ethos.db")
	var out []ethos.CallStore
	for range n {
		db, err := sqlite.Open(context.Background(), path)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { db.Close() })
		out = append(out, db)
	}
	return out
}

func postgresStores(tb testing.TB, n int) []ethos.CallStore {
	url := pgtest.URL(tb)
	var out []ethos.CallStore
	for range n {
		db, err := postgres.Open(context.Background(), url)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { db.Close() })
		out = append(out, db)
	}
	return out
}

// fleet is n processes calling one sandbox account, each with its own
// limiter, sharing the limit through the store or not.
type fleet struct {
	limiters []*llm.Limiter
	sent     atomic.Int64 // requests that reached the sandbox
	limited  atomic.Int64 // of them, answered 429
}

const (
	teamKey    = "team-key"
	sandboxRPM = 600 // the account's limit the sandbox enforces
)

func newFleet(tb testing.TB, sb *sandbox.Running, stores []ethos.CallStore, shared bool) *fleet {
	return newFleetRPM(tb, sb, stores, shared, sandboxRPM)
}

// newFleetRPM is newFleet with rpm as the limit configured for the
// sandbox; 0 leaves it to the rate-limit headers.
func newFleetRPM(tb testing.TB, sb *sandbox.Running, stores []ethos.CallStore, shared bool, rpm int) *fleet {
	f := &fleet{}
	for i, store := range stores {
		adapter, err := anthropic.New(anthropic.Config{Provider: "sandbox", BaseURL: sb.URL, APIKey: teamKey})
		if err != nil {
			tb.Fatal(err)
		}
		router := llm.NewRouter()
		router.Register("sandbox", func() (ethos.Completer, error) { return adapter, nil })
		counted := ethos.CompleterFunc(func(ctx context.Context, req ethos.Request) (ethos.Response, error) {
			resp, err := router.Complete(ctx, req)
			f.sent.Add(1)
			if ethos.KindOf(err) == ethos.RateLimited {
				f.limited.Add(1)
			}
			return resp, err
		})
		// The account's limit, as rpm: in ethos.yaml gives it; the
		// headers then confirm it.
		l := llm.NewLimiter(counted, func(string) llm.Limits { return llm.Limits{RPM: rpm} })
		if shared {
			llm.ShareLimits(l, store, fmt.Sprintf("test-host:%d", i), func(p string) string { return llm.ShareKey(p, teamKey) },
				func(err error) { tb.Error(err) })
		}
		stop := llm.PublishLoads(context.Background(), l, store, time.Second, func(err error) { tb.Error(err) })
		tb.Cleanup(stop)
		f.limiters = append(f.limiters, l)
	}
	return f
}

// run makes calls successful calls from each process, with workers
// goroutines each, retrying those answered 429 as the job queue does.
// sample, if set, is called after each success while every process still
// has calls to make.
func (f *fleet) run(tb testing.TB, calls, workers int, sample func()) {
	var wg sync.WaitGroup
	var busy atomic.Int64
	busy.Store(int64(len(f.limiters)))
	for _, l := range f.limiters {
		var left atomic.Int64
		left.Store(int64(calls))
		var done sync.WaitGroup
		for w := range workers {
			done.Add(1)
			wg.Go(func() {
				defer done.Done()
				for i := 0; left.Add(-1) >= 0; i++ {
					req := benchRequest(int64(w*calls + i))
					for {
						_, err := l.Complete(context.Background(), req)
						if err == nil {
							break
						}
						if k := ethos.KindOf(err); k != ethos.RateLimited && k != ethos.Overloaded {
							tb.Error(err)
							return
						}
					}
					if sample != nil && busy.Load() == int64(len(f.limiters)) {
						sample()
					}
				}
			})
		}
		wg.Go(func() {
			done.Wait()
			busy.Add(-1)
		})
	}
	wg.Wait()
}

// share is the sum of the processes' shares of the sandbox's limit.
func (f *fleet) share() float64 {
	sum := 0.0
	for _, l := range f.limiters {
		sum += l.State("sandbox").Share
	}
	return sum
}

// Three processes on one account share its 600 rpm through the store:
// almost none of their calls is answered 429, and while all three are
// busy they hold the whole limit between them and never more.
func TestSharedLimitSQLite(t *testing.T)   { testSharedLimit(t, sqliteStores) }
func TestSharedLimitPostgres(t *testing.T) { testSharedLimit(t, postgresStores) }

func testSharedLimit(t *testing.T, open openStore) {
	sb, err := sandbox.Start(context.Background(), "127.0.0.1:0", sandbox.Options{Seed: 1, APIKey: teamKey,
		Faults: sandbox.Faults{RPM: sandboxRPM, LatencyMean: 20 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	f := newFleet(t, sb, open(t, 3), true)
	var mu sync.Mutex
	var shares []float64
	// 660 calls: the 600 the sandbox's bucket starts with, and a few
	// seconds of its refill, shared.
	f.run(t, 220, 16, func() {
		s := f.share()
		mu.Lock()
		shares = append(shares, s)
		mu.Unlock()
	})
	sent, limited := f.sent.Load(), f.limited.Load()
	t.Logf("%d requests sent, %d answered 429; %d share samples", sent, limited, len(shares))
	if sent < 660 || float64(limited) >= 0.02*float64(sent) {
		t.Errorf("%d of %d requests answered 429, want fewer than 2%%", limited, sent)
	}
	if len(shares) == 0 {
		t.Fatal("no share sampled while all three were busy")
	}
	slices.Sort(shares)
	// Each newcomer may hold MinShare before the others make room: two of
	// the three join a process that already holds the whole limit.
	if top := shares[len(shares)-1]; top > 1+float64(len(f.limiters)-1)*llm.MinShare+1e-9 {
		t.Errorf("the shares added up to %v, more than the limit and a newcomer's floor each", top)
	}
	if median := shares[len(shares)/2]; median < 0.9 {
		t.Errorf("the shares of three busy processes added up to %v (median), want most of the limit", median)
	}
}

// BenchmarkSharedLimit runs three processes on one account against the
// sandbox enforcing 600 rpm at 100 ms a call, sharing the limit through a
// SQLite store or each with a limiter of its own, and reports the
// requests answered a minute and the share answered 429. Each first works
// through the sandbox's full bucket and a few seconds more, untimed, so
// what is measured is the steady pace of a long run. b.N is the number of
// calls of the three together: run it with -benchtime=300x (30 s each).
func BenchmarkSharedLimit(b *testing.B) {
	for _, shared := range []bool{true, false} {
		name := "independent"
		if shared {
			name = "shared"
		}
		b.Run(name, func(b *testing.B) {
			sb, err := sandbox.Start(context.Background(), "127.0.0.1:0", sandbox.Options{Seed: 1, APIKey: teamKey,
				Faults: sandbox.Faults{RPM: sandboxRPM, LatencyMean: 100 * time.Millisecond}})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { sb.Close() })
			f := newFleet(b, sb, sqliteStores(b, 3), shared)
			f.run(b, 220, 16, nil)
			f.sent.Store(0)
			f.limited.Store(0)
			b.ResetTimer()
			f.run(b, max(b.N/3, 1), 16, nil)
			b.StopTimer()
			sent, limited := f.sent.Load(), f.limited.Load()
			b.ReportMetric(float64(sent-limited)/b.Elapsed().Minutes(), "answered/min")
			b.ReportMetric(float64(limited)/float64(max(sent, 1)), "429-share")
		})
	}
}

// Three processes start together on an account whose limit no config
// gives (no rpm:), with only 10 requests left of its minute: each makes
// one call until the first answer's headers tell it the limit and what is
// left, instead of a burst each into the little that is left, and fewer
// than 2% of their calls are answered 429.
func TestSharedLimitFromHeadersSQLite(t *testing.T)   { testSharedLimitFromHeaders(t, sqliteStores) }
func TestSharedLimitFromHeadersPostgres(t *testing.T) { testSharedLimitFromHeaders(t, postgresStores) }

func testSharedLimitFromHeaders(t *testing.T, open openStore) {
	sb, err := sandbox.Start(context.Background(), "127.0.0.1:0", sandbox.Options{Seed: 1, APIKey: teamKey,
		Faults: sandbox.Faults{RPM: sandboxRPM, LatencyMean: 20 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	// Another client has used all but 10 of the minute's requests.
	adapter, err := anthropic.New(anthropic.Config{Provider: "sandbox", BaseURL: sb.URL, APIKey: teamKey})
	if err != nil {
		t.Fatal(err)
	}
	other := llm.NewRouter()
	other.Register("sandbox", func() (ethos.Completer, error) { return adapter, nil })
	var wg sync.WaitGroup
	var next atomic.Int64
	for range 16 {
		wg.Go(func() {
			for i := next.Add(1); i <= sandboxRPM-10; i = next.Add(1) {
				if _, err := other.Complete(context.Background(), benchRequest(-i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()

	f := newFleetRPM(t, sb, open(t, 3), true, 0)
	f.run(t, 30, 16, nil)
	sent, limited := f.sent.Load(), f.limited.Load()
	t.Logf("%d requests sent, %d answered 429", sent, limited)
	if sent < 90 || float64(limited) >= 0.02*float64(sent) {
		t.Errorf("%d of %d requests answered 429, want fewer than 2%%", limited, sent)
	}
	for i, l := range f.limiters {
		if st := l.State("sandbox"); st.RPM != sandboxRPM {
			t.Errorf("process %d: rpm %d, want the %d the headers give", i, st.RPM, sandboxRPM)
		}
	}
}
