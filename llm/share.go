package llm

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/ethos-toolkit/ethos"
)

// Shares divides a provider's limits between the processes that call it
// on one account, each with a Limiter of its own (see StoreShares).
type Shares interface {
	// Join returns the part of provider's limits this process may use
	// from its first call (Limiter.SetShare changes it later), and what
	// the other processes on its account know of it.
	Join(provider string) Joined
}

// Joined is what a process learns as it joins a provider's share key.
type Joined struct {
	// Share is the part of the limits it may use, 0 < Share ≤ 1.
	Share float64
	// Peers is how many other live processes call the provider on the
	// same account.
	Peers int
	// Limits are the account's RPM and TPM as the peers last published
	// them (configured, or learned from the provider's headers); zero
	// where none has one.
	Limits Limits
}

// ShareFreshness is how recent a process's snapshot must be for its demand
// and its share to count: a process that stopped writing (it ended, or was
// killed) drops out this long after its last write.
const ShareFreshness = 5 * time.Second

// MinShare is the least share a process is given when the others already
// hold the whole limit: enough for a newcomer to make its first calls
// while the others, seeing its demand, make room for it.
const MinShare = 0.01

// joinSettle is how long Join waits between announcing the process and
// reading the others, so that processes starting together see each other.
const joinSettle = 50 * time.Millisecond

// ShareOf is the share of key's limits that process self may take at now,
// with demand calls in flight and waiting, given the snapshots rows the
// store holds of every process (its own old one included, and ignored).
//
// The fair share is the process's weight over the sum of the weights of
// the live processes on key (those written within ShareFreshness), a
// weight being a process's demand plus one, so that an idle process keeps
// a sliver and a lone process has it all. A process takes at most what the
// others do not hold by their last snapshots, and at least MinShare of
// that (or its fair share, if less): a share grows only into room the
// others have given up, so the shares of the processes add up to no more
// than the whole, but for MinShare for each newcomer while it is seen.
func ShareOf(key, self string, demand int, rows []ethos.ProviderLoad, now time.Time) float64 {
	weight := float64(demand + 1)
	total, held := weight, 0.0
	for _, r := range peers(key, self, rows, now) {
		total += float64(r.InFlight + r.Waiting + 1)
		held += r.Share
	}
	fair := weight / total
	return min(fair, max(1-held, MinShare))
}

// peers are the live snapshots of processes other than self on key.
func peers(key, self string, rows []ethos.ProviderLoad, now time.Time) []ethos.ProviderLoad {
	var out []ethos.ProviderLoad
	for _, r := range rows {
		r = r.Keyed()
		if r.Key != key || r.Process == self || now.Sub(r.UpdatedAt) > ShareFreshness {
			continue
		}
		out = append(out, r)
	}
	return out
}

// clampShare keeps a share within (0, 1].
func clampShare(share float64) float64 {
	if share != share || share <= 0 { // NaN or none
		return MinShare
	}
	return min(share, 1)
}

// ShareKey is the key under which processes share provider's limits: its
// name, and when it has an API key a short hash of it, so that processes
// on one account share and processes on two do not. The key itself never
// appears in it.
func ShareKey(provider, apiKey string) string {
	if apiKey == "" {
		return provider
	}
	sum := sha256.Sum256([]byte("ethos share key\x00" + apiKey))
	return provider + "#" + hex.EncodeToString(sum[:6])
}

// NewProcessID names this process among those sharing a store: its host,
// its PID and a random part, since PIDs repeat across machines and over
// time.
func NewProcessID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	var r [4]byte
	rand.Read(r[:])
	return fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(r[:]))
}

// StoreShares shares a Limiter's limits with the other processes on the
// same store through its provider_load snapshots: each process writes its
// demand (calls in flight and waiting) and its share per provider about
// once a second (see PublishLoads), reads the others', and takes its share
// by ShareOf. A process alone on its account keeps the whole limit.
type StoreShares struct {
	Store ethos.CallStore
	// Process names this process (NewProcessID); each Limiter sharing a
	// store needs its own.
	Process string
	// KeyOf is the share key of a provider (ShareKey).
	KeyOf func(provider string) string
	// OnError hears of a failed read or write; the shares then stay as
	// they were (on Join: the whole limit, as with no store).
	OnError func(error)

	limiter *Limiter
	mu      sync.Mutex // orders the writes of this process's snapshots
	now     func() time.Time
}

// ShareLimits makes l take its share of each provider's limits with the
// other processes sharing store, as process, and returns the StoreShares
// that PublishLoads then keeps up to date. Call it before l's first call.
func ShareLimits(l *Limiter, store ethos.CallStore, process string, keyOf func(provider string) string, onError func(error)) *StoreShares {
	s := &StoreShares{Store: store, Process: process, KeyOf: keyOf, OnError: onError, limiter: l, now: time.Now}
	l.Shares = s
	return s
}

// Join announces this process on provider's key, waits for others starting
// with it to do the same, and returns its share of what it then sees, with
// the peers it saw and the highest limits they published.
func (s *StoreShares) Join(provider string) Joined {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	key := s.KeyOf(provider)
	// Announced with a demand of one and no share held, so as to take no
	// room from the others before it has looked.
	own := ethos.ProviderLoad{Provider: provider, Key: key, Process: s.Process, Waiting: 1, PID: os.Getpid(), UpdatedAt: s.now()}
	if err := s.Store.PutProviderLoads(ctx, []ethos.ProviderLoad{own}); err != nil {
		s.report(err)
		return Joined{Share: 1}
	}
	time.Sleep(joinSettle)
	rows, err := s.Store.ProviderLoads(ctx)
	if err != nil {
		s.report(err)
		return Joined{Share: 1}
	}
	own.UpdatedAt = s.now()
	own.Share = ShareOf(key, s.Process, 1, rows, own.UpdatedAt)
	if err := s.Store.PutProviderLoads(ctx, []ethos.ProviderLoad{own}); err != nil {
		s.report(err)
	}
	j := Joined{Share: own.Share}
	for _, r := range peers(key, s.Process, rows, own.UpdatedAt) {
		j.Peers++
		j.Limits.RPM, j.Limits.TPM = max(j.Limits.RPM, r.RPM), max(j.Limits.TPM, r.TPM)
	}
	return j
}

// publish reads the other processes' snapshots, sets this process's share
// of each provider it calls, and writes its own snapshots with them.
func (s *StoreShares) publish(ctx context.Context, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rows, err := s.Store.ProviderLoads(ctx)
	if err != nil {
		return err
	}
	loads := s.limiter.Loads(now)
	for i, l := range loads {
		l.Key, l.Process = s.KeyOf(l.Provider), s.Process
		l.Share = ShareOf(l.Key, s.Process, l.InFlight+l.Waiting, rows, now)
		s.limiter.SetShare(l.Provider, l.Share)
		loads[i] = l
	}
	return s.Store.PutProviderLoads(ctx, loads)
}

// leave writes this process's last snapshots, holding no share, so that
// the others may take its room at once instead of when it goes stale.
func (s *StoreShares) leave(ctx context.Context, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	loads := s.limiter.Loads(now)
	for i := range loads {
		loads[i].Key, loads[i].Process, loads[i].Share = s.KeyOf(loads[i].Provider), s.Process, 0
	}
	return s.Store.PutProviderLoads(ctx, loads)
}

func (s *StoreShares) report(err error) {
	if s.OnError != nil {
		s.OnError(err)
	}
}
