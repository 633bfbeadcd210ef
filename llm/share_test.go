package llm

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ethos-toolkit/ethos"
)

// peer is one process in a simulation of ShareOf: its demand and the
// snapshot it last wrote.
type peer struct {
	name   string
	demand int
	alive  bool
	row    ethos.ProviderLoad
}

// announce writes each peer's first snapshot as StoreShares.Join does:
// its demand and no share held yet.
func announce(key string, peers []*peer, now time.Time) {
	for _, p := range peers {
		p.row = ethos.ProviderLoad{Provider: "anthropic", Key: key, Process: p.name, Waiting: p.demand, UpdatedAt: now}
	}
}

// round has every live peer read the snapshots as they stood at the start
// of the round (they read at once, before any writes), take its share and
// write it at now. It returns the sum of the shares taken.
func round(key string, peers []*peer, now time.Time) float64 {
	var rows []ethos.ProviderLoad
	for _, p := range peers {
		if p.row.Process != "" {
			rows = append(rows, p.row)
		}
	}
	sum := 0.0
	for _, p := range peers {
		if !p.alive {
			continue
		}
		share := ShareOf(key, p.name, p.demand, rows, now)
		p.row = ethos.ProviderLoad{Provider: "anthropic", Key: key, Process: p.name, Waiting: p.demand, Share: share, UpdatedAt: now}
		sum += share
	}
	return sum
}

func TestShareOfAlone(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	if got := ShareOf("k", "me", 50, nil, now); got != 1 {
		t.Errorf("alone: share %v, want 1", got)
	}
	// Its own old snapshot and another account's do not count.
	rows := []ethos.ProviderLoad{
		{Key: "k", Process: "me", Waiting: 9, Share: 0.2, UpdatedAt: now},
		{Key: "other", Process: "p2", Waiting: 90, Share: 1, UpdatedAt: now},
	}
	if got := ShareOf("k", "me", 50, rows, now); got != 1 {
		t.Errorf("with only its own and another key's snapshots: share %v, want 1", got)
	}
}

// The shares of processes reading and writing together never add up to
// more than the whole (but for a newcomer's MinShare), and settle on the
// demand's proportions.
func TestShareOfNeverExceedsTheLimit(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	peers := []*peer{{name: "a", demand: 100, alive: true}, {name: "b", demand: 100, alive: true}, {name: "c", demand: 200, alive: true}}
	announce("k", peers, now)
	for i := range 10 {
		now = now.Add(time.Second)
		if sum := round("k", peers, now); sum > 1+1e-9 {
			t.Fatalf("round %d: shares add up to %v", i, sum)
		}
	}
	want := map[string]float64{"a": 101.0 / 403, "b": 101.0 / 403, "c": 201.0 / 403}
	for _, p := range peers {
		if math.Abs(p.row.Share-want[p.name]) > 1e-9 {
			t.Errorf("%s: share %v, want %v (its demand's part)", p.name, p.row.Share, want[p.name])
		}
	}
	// A newcomer gets MinShare at once while the others hold it all, and
	// its part once they have seen it and made room; the others shrink
	// as soon as they see it.
	d := &peer{name: "d", demand: 400, alive: true}
	announce("k", []*peer{d}, now)
	peers = append(peers, d)
	now = now.Add(time.Second)
	if sum := round("k", peers, now); sum > 1+MinShare+1e-9 || d.row.Share != MinShare {
		t.Fatalf("newcomer: share %v, sum %v; want %v and a sum within it", d.row.Share, sum, MinShare)
	}
	for i := range 5 {
		now = now.Add(time.Second)
		if sum := round("k", peers, now); sum > 1+1e-9 {
			t.Fatalf("round %d after the newcomer: shares add up to %v", i, sum)
		}
	}
	if want := 401.0 / 804; math.Abs(d.row.Share-want) > 1e-9 {
		t.Errorf("newcomer settled at %v, want %v", d.row.Share, want)
	}
}

// An idle process keeps a sliver; the busy one gets the rest.
func TestShareOfIdlePeerGivesWay(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	busy, idle := &peer{name: "busy", demand: 99, alive: true}, &peer{name: "idle", demand: 99, alive: true}
	peers := []*peer{busy, idle}
	announce("k", peers, now)
	for range 3 {
		now = now.Add(time.Second)
		round("k", peers, now)
	}
	if busy.row.Share != 0.5 {
		t.Fatalf("two equally busy: share %v, want 0.5", busy.row.Share)
	}
	idle.demand = 0
	for range 3 {
		now = now.Add(time.Second)
		if sum := round("k", peers, now); sum > 1+1e-9 {
			t.Fatalf("shares add up to %v", sum)
		}
	}
	if want := 100.0 / 101; math.Abs(busy.row.Share-want) > 1e-9 || math.Abs(idle.row.Share-1.0/101) > 1e-9 {
		t.Errorf("busy %v, idle %v; want %v and %v", busy.row.Share, idle.row.Share, want, 1.0/101)
	}
}

// A process that stops writing drops out ShareFreshness after its last
// snapshot, and the others take its room.
func TestShareOfStalePeerDropsOut(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	live, dead := &peer{name: "live", demand: 10, alive: true}, &peer{name: "dead", demand: 10, alive: true}
	peers := []*peer{live, dead}
	announce("k", peers, now)
	for range 3 {
		now = now.Add(time.Second)
		round("k", peers, now)
	}
	dead.alive = false // killed: its last snapshot stays in the store
	killed := dead.row.UpdatedAt
	for now.Add(time.Second).Sub(killed) <= ShareFreshness {
		now = now.Add(time.Second)
		round("k", peers, now)
		if live.row.Share != 0.5 {
			t.Fatalf("%v after the kill: share %v, want 0.5 while the dead one's snapshot is fresh", now.Sub(killed), live.row.Share)
		}
	}
	now = now.Add(time.Second)
	round("k", peers, now)
	if live.row.Share != 1 {
		t.Errorf("%v after the kill: share %v, want 1", now.Sub(killed), live.row.Share)
	}
}

func TestShareKey(t *testing.T) {
	t.Parallel()
	secret := "sk-ant-api03-very-secret"
	a, b := ShareKey("anthropic", secret), ShareKey("anthropic", secret+"x")
	if a == b || a != ShareKey("anthropic", secret) {
		t.Errorf("keys %q and %q: one account must give one key, two accounts two", a, b)
	}
	if !strings.HasPrefix(a, "anthropic#") || strings.Contains(a, "secret") || strings.Contains(a, "sk-") {
		t.Errorf("share key %q must name the provider and carry no part of the API key", a)
	}
	if got := ShareKey("ollama", ""); got != "ollama" {
		t.Errorf("no API key: %q, want the provider's name", got)
	}
}

// A share sizes the buckets: a process holding a third of 600 rpm has 200
// at once and 200 a minute after; a larger share refills faster without a
// burst, and a smaller one cuts the bucket at once.
func TestLimiterShare(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		next := &countingCompleter{}
		l := NewLimiter(next, func(string) Limits { return Limits{RPM: 600, MaxConcurrency: 8} })
		l.Shares = fixedShare(1.0 / 3)
		calls := func(d time.Duration) int {
			ctx, cancel := context.WithTimeout(t.Context(), d)
			defer cancel()
			var mu sync.Mutex
			n := 0
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					for {
						if _, err := l.Complete(ctx, ethos.Request{Model: "p/m", MaxTokens: 1}); err != nil {
							return
						}
						mu.Lock()
						n++
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			return n
		}
		if got := calls(59 * time.Second); got < 390 || got > 400 {
			t.Errorf("a third of 600 rpm for 59 s: %d calls, want the 200 in the bucket and about 196 more", got)
		}
		if st := l.State("p"); st.RPM != 600 || math.Abs(st.Share-1.0/3) > 1e-9 {
			t.Errorf("state: rpm %d, share %v; want the account's 600 and a third", st.RPM, st.Share)
		}
		l.SetShare("p", 1)
		// The bucket is empty: the larger share refills it at 10 a
		// second, no burst of the 400 more it may now hold.
		if got := calls(10 * time.Second); got < 99 || got > 101 {
			t.Errorf("the whole 600 rpm for 10 s from an empty bucket: %d calls, want about 100", got)
		}
		time.Sleep(time.Minute) // full again: 600
		l.SetShare("p", 0.1)
		if got := calls(time.Second); got < 60 || got > 62 {
			t.Errorf("cut to a tenth of a full bucket: %d calls in 1 s, want the 60 it holds and one more", got)
		}
	})
}

type fixedShare float64

func (f fixedShare) Join(string) Joined { return Joined{Share: float64(f)} }

// StoreShares against a store: processes joining one key see each other
// and split it; another key is not counted.
func TestStoreSharesJoin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &rowStore{}
		var shares []float64
		var wg sync.WaitGroup
		var mu sync.Mutex
		for i := range 3 {
			wg.Go(func() {
				l := NewLimiter(&countingCompleter{}, func(string) Limits { return Limits{RPM: 600} })
				ShareLimits(l, store, fmt.Sprintf("p%d", i), func(p string) string { return ShareKey(p, "k1") }, func(err error) { t.Error(err) })
				if _, err := l.Complete(t.Context(), ethos.Request{Model: "anthropic/m", MaxTokens: 1}); err != nil {
					t.Error(err)
				}
				mu.Lock()
				shares = append(shares, l.State("anthropic").Share)
				mu.Unlock()
			})
		}
		wg.Wait()
		for _, s := range shares {
			if math.Abs(s-1.0/3) > 1e-9 {
				t.Errorf("three joining together: shares %v, want a third each", shares)
				break
			}
		}
		l := NewLimiter(&countingCompleter{}, func(string) Limits { return Limits{RPM: 600} })
		ShareLimits(l, store, "other", func(p string) string { return ShareKey(p, "k2") }, func(err error) { t.Error(err) })
		if _, err := l.Complete(t.Context(), ethos.Request{Model: "anthropic/m", MaxTokens: 1}); err != nil {
			t.Fatal(err)
		}
		if got := l.State("anthropic").Share; got != 1 {
			t.Errorf("another account's processes took part of its limit: share %v", got)
		}
	})
}

// rowStore keeps snapshots as a store does: one per key and process.
type rowStore struct {
	ethos.CallStore
	mu   sync.Mutex
	rows map[[2]string]ethos.ProviderLoad
}

func (s *rowStore) PutProviderLoads(ctx context.Context, loads []ethos.ProviderLoad) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rows == nil {
		s.rows = map[[2]string]ethos.ProviderLoad{}
	}
	for _, l := range loads {
		l = l.Keyed()
		s.rows[[2]string{l.Key, l.Process}] = l
	}
	return nil
}

func (s *rowStore) ProviderLoads(ctx context.Context) ([]ethos.ProviderLoad, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ethos.ProviderLoad
	for _, l := range s.rows {
		out = append(out, l)
	}
	return out, nil
}

// A process joining an account whose limit it has no config for takes the
// limit its live peers published (learned from the headers), its share
// of it from the first call; with peers that know no limit either, it
// starts with one call in flight; alone, as before.
func TestStoreSharesJoinTakesPeersLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		key := func(p string) string { return ShareKey(p, "k1") }
		store := &rowStore{}
		join := func(name string) GateState {
			l := NewLimiter(&countingCompleter{}, func(string) Limits { return Limits{} })
			ShareLimits(l, store, name, key, func(err error) { t.Error(err) })
			return l.State("anthropic") // joins, without a call
		}
		if st := join("alone"); st.RPM != 0 || st.Share != 1 || st.Concurrency != autoStart {
			t.Errorf("alone: %+v, want no limit, the whole share and the usual start", st)
		}
		if st := join("second"); st.RPM != 0 || st.Concurrency != 1 {
			t.Errorf("beside a peer that knows no limit: %+v, want no limit and one call in flight", st)
		}
		store.PutProviderLoads(t.Context(), []ethos.ProviderLoad{{Provider: "anthropic", Key: key("anthropic"), Process: "learned",
			RPM: 600, TPM: 80000, Share: 0.5, InFlight: 3, UpdatedAt: time.Now()}})
		st := join("third")
		if st.RPM != 600 || st.TPM != 80000 || st.Share <= 0 || st.Share > 0.5 {
			t.Errorf("beside a peer that learned the limit: %+v, want its 600 rpm and 80000 tpm, and at most the half it leaves", st)
		}
		if st.Requests != 600*st.Share {
			t.Errorf("its bucket holds %v requests, want its share of the limit, %v", st.Requests, 600*st.Share)
		}
	})
}
