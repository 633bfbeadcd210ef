package ethos

import (
	"context"
	"fmt"
	"time"
)

// Call is one model call as the ledger records it: every call, whether it
// was served from the cache, paid for, or failed.
type Call struct {
	ID       int64  `json:"id"`
	Key      string `json:"key"`      // cache key: hash of the rendered request and sample index
	Provider string `json:"provider"` // provider name, e.g. "anthropic"
	Model    string `json:"model"`    // full reference, e.g. "anthropic/claude-sonnet-4-5"
	RunID    string `json:"run_id,omitempty"`
	Stage    string `json:"stage,omitempty"`

	Request  Request   `json:"request"`
	Response *Response `json:"response,omitempty"` // nil when the call failed

	Usage     Usage         `json:"usage"`
	CostUSD   float64       `json:"cost_usd"` // zero for cache hits and failures
	Latency   time.Duration `json:"latency"`
	Attempts  int           `json:"attempts"`
	CacheHit  bool          `json:"cache_hit"`
	ErrorKind Kind          `json:"error_kind,omitempty"`
	Error     string        `json:"error,omitempty"` // never contains a secret
	CreatedAt time.Time     `json:"created_at"`
}

// CallFilter selects calls from the ledger. Zero fields match everything.
type CallFilter struct {
	RunID    string
	Stage    string
	Provider string
	Since    time.Time
	Limit    int // 0 means no limit; results are newest first
}

// CallSummary aggregates calls per provider and model.
type CallSummary struct {
	Provider  string       `json:"provider"`
	Model     string       `json:"model"`
	Calls     int          `json:"calls"`
	CacheHits int          `json:"cache_hits"`
	Errors    map[Kind]int `json:"errors,omitempty"` // failed calls by kind (see IsFailure)
	// Interrupted counts the calls cut short because the caller stopped
	// waiting (Ctrl-C, a shutdown); they are not among Errors.
	Interrupted int           `json:"interrupted,omitempty"`
	Usage       Usage         `json:"usage"`
	CostUSD     float64       `json:"cost_usd"`
	Latency     time.Duration `json:"mean_latency"`
}

// CallGroup sums the calls of one provider, model and error kind: what a
// store reads from its ledger before SummarizeCallGroups folds the groups
// of one provider and model into their CallSummary.
type CallGroup struct {
	Provider, Model  string
	ErrorKind        Kind
	Calls, CacheHits int
	Usage            Usage
	CostUSD          float64
	Latency          time.Duration // the sum over the group's calls
}

// SummarizeCallGroups folds groups, ordered by provider then model, into
// one summary per provider and model: failures are counted by kind, other
// error kinds as interrupted, and latency is the mean over all the calls.
func SummarizeCallGroups(groups []CallGroup) []CallSummary {
	var (
		out        []CallSummary
		latencySum []time.Duration
	)
	for _, g := range groups {
		if len(out) == 0 || out[len(out)-1].Provider != g.Provider || out[len(out)-1].Model != g.Model {
			out = append(out, CallSummary{Provider: g.Provider, Model: g.Model})
			latencySum = append(latencySum, 0)
		}
		s := &out[len(out)-1]
		s.Calls += g.Calls
		s.CacheHits += g.CacheHits
		s.Usage.Add(g.Usage)
		s.CostUSD += g.CostUSD
		latencySum[len(out)-1] += g.Latency
		switch k := g.ErrorKind; {
		case IsFailure(k):
			if s.Errors == nil {
				s.Errors = make(map[Kind]int)
			}
			s.Errors[k] += g.Calls
		case k != "":
			s.Interrupted += g.Calls
		}
	}
	for i := range out {
		out[i].Latency = latencySum[i] / time.Duration(out[i].Calls)
	}
	return out
}

// ProviderLoad is what a running process's rate limiter said of one
// provider at UpdatedAt: the calls in flight and waiting, the target it
// sizes them to, and the limits and latency that target comes from. The
// process that makes the calls writes it every second or so, so that other
// processes (ethos calls, the dashboard) can show it and so that processes
// on one account can share its rate limit (see llm.StoreShares); a snapshot
// that has not been refreshed for a while belongs to a process that has
// ended. The store keeps one per share key and process.
type ProviderLoad struct {
	Provider string `json:"provider"`
	// Key is the share key: the provider's name, and a short hash of its
	// API key when it has one (never the key itself), so that processes
	// on one account share its limits and processes on two do not.
	Key string `json:"key,omitempty"`
	// Process names the writing process, unique among those sharing the
	// store (host, PID and a random part).
	Process  string        `json:"process,omitempty"`
	InFlight int           `json:"in_flight"`
	Waiting  int           `json:"waiting"`
	Target   int           `json:"target"`  // calls in flight the limiter aims for
	Ceiling  int           `json:"ceiling"` // the most it may reach
	Auto     bool          `json:"auto"`    // target sized from the rate limit and latency
	Latency  time.Duration `json:"latency"` // moving average of call durations
	RPM      int           `json:"rpm,omitempty"`
	TPM      int           `json:"tpm,omitempty"`
	// Share is the part of the key's limits the process holds, 0 < Share
	// ≤ 1: 1 when it is the only one.
	Share float64 `json:"share,omitempty"`
	PID   int     `json:"pid"` // the process that wrote it
	// Processes is how many processes LiveLoads summed into this one; 0 in
	// a stored snapshot.
	Processes int `json:"processes,omitempty"`
	// UpdatedAt is when it was written; Stale tells an old one.
	UpdatedAt time.Time `json:"updated_at"`
}

// LoadFreshness is how long a ProviderLoad is taken for the current state
// of a running process.
const LoadFreshness = 10 * time.Second

// LoadRetention is how long the store keeps a snapshot no one refreshes:
// writing one deletes those older than this.
const LoadRetention = time.Hour

// Stale reports whether the snapshot is too old to describe a running
// process at now.
func (l ProviderLoad) Stale(now time.Time) bool { return now.Sub(l.UpdatedAt) > LoadFreshness }

// Keyed is l as the store keeps it: an empty Key is the provider's name,
// an empty Process "pid" and the PID.
func (l ProviderLoad) Keyed() ProviderLoad {
	if l.Key == "" {
		l.Key = l.Provider
	}
	if l.Process == "" {
		l.Process = fmt.Sprintf("pid %d", l.PID)
	}
	return l
}

// LiveLoads sums the snapshots that are not stale at now per provider, in
// the order of loads: the calls in flight, waiting, targeted and the
// ceilings of every process calling it, how many processes that is, the
// largest limits and latency any reported, and the newest time. The PID is that of the newest
// snapshot.
func LiveLoads(loads []ProviderLoad, now time.Time) []ProviderLoad {
	var out []ProviderLoad
	at := map[string]int{}
	for _, l := range loads {
		if l.Stale(now) {
			continue
		}
		i, ok := at[l.Provider]
		if !ok {
			at[l.Provider] = len(out)
			l.Key, l.Process, l.Share, l.Processes = "", "", 0, 1
			out = append(out, l)
			continue
		}
		s := &out[i]
		s.InFlight += l.InFlight
		s.Waiting += l.Waiting
		s.Target += l.Target
		s.Ceiling += l.Ceiling
		s.Auto = s.Auto || l.Auto
		s.Latency = max(s.Latency, l.Latency)
		s.RPM, s.TPM = max(s.RPM, l.RPM), max(s.TPM, l.TPM)
		s.Processes++
		if l.UpdatedAt.After(s.UpdatedAt) {
			s.UpdatedAt, s.PID = l.UpdatedAt, l.PID
		}
	}
	return out
}

// CallStore is the part of the store the LLM middleware needs.
type CallStore interface {
	// CachedResponse returns the response of the most recent successful,
	// non-cache-hit call recorded with key. ok is false when there is none.
	CachedResponse(ctx context.Context, key string) (resp Response, ok bool, err error)
	// RecordCall appends c to the ledger and sets c.ID and c.CreatedAt.
	RecordCall(ctx context.Context, c *Call) error
	// Spent is the USD cost of the calls matching f (cache hits cost nothing).
	Spent(ctx context.Context, f CallFilter) (float64, error)
	// Calls lists calls matching f, newest first.
	Calls(ctx context.Context, f CallFilter) ([]Call, error)
	// SummarizeCalls aggregates calls matching f per provider and model.
	// Its Usage counts every call's tokens as recorded, those of cache hits
	// (the tokens of the answer they repeat) included.
	SummarizeCalls(ctx context.Context, f CallFilter) ([]CallSummary, error)
	// PromptCaching sums the calls matching f that were sent to a provider
	// (cache hits left out) per run, stage, provider and model, in that
	// order; f.Limit is ignored. UncachedUSD is the recorded cost until
	// PricePromptCache prices the cache tokens.
	PromptCaching(ctx context.Context, f CallFilter) ([]PromptCacheUse, error)
	// PutProviderLoads replaces the snapshots of the share keys and
	// processes in loads (Key empty is taken for Provider), and deletes
	// those older than LoadRetention before the first one's UpdatedAt.
	PutProviderLoads(ctx context.Context, loads []ProviderLoad) error
	// ProviderLoads lists the latest snapshot of every share key and
	// process, by provider, key and process.
	ProviderLoads(ctx context.Context) ([]ProviderLoad, error)
}

// Store is ethos's durable ledger. The SQLite implementation is the
// default; every implementation passes the same conformance suite.
type Store interface {
	CallStore
	RunStore
	FineTuneStore
	EndpointStore
	EvalStore
	BatchStore
	// Ping checks that the store answers.
	Ping(ctx context.Context) error
	Close() error
}
