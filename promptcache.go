package ethos

import (
	"encoding/json"
	"sort"
)

// PromptCacheUse is what the providers' prompt caching did for a group of
// calls: the calls of one run, stage and model as the ledger groups them,
// or any sum of such groups (Add). Only calls sent to a provider count:
// a call answered from ethos's own ledger (Call.CacheHit) repeats the
// tokens of the call it copies and was not billed, so it is left out.
//
// Usage.In excludes the cache reads and writes, as in every Usage, so the
// call's whole input is Input().
type PromptCacheUse struct {
	RunID    string  `json:"run_id,omitempty"`
	Stage    string  `json:"stage,omitempty"`
	Provider string  `json:"provider,omitempty"`
	Model    string  `json:"model,omitempty"`
	Calls    int     `json:"calls"` // sent to the provider, failed ones included
	Usage    Usage   `json:"usage"`
	CostUSD  float64 `json:"cost_usd"` // as the ledger recorded it
	// UncachedUSD is what the calls would have cost had nothing been
	// cached: cache reads and writes billed at the model's plain input
	// price. PricePromptCache sets it; for calls whose model has no price
	// it is their recorded cost, and Unpriced counts them.
	UncachedUSD float64 `json:"uncached_usd"`
	Unpriced    int     `json:"unpriced_calls,omitempty"`
}

// Input is every input token of the calls: plain, read from the cache and
// written to it.
func (u PromptCacheUse) Input() int { return u.Usage.In + u.Usage.CacheRead + u.Usage.CacheWrite }

// Share is the cache-hit share: the part of all input tokens read from the
// provider's cache; 0 when there is no input.
func (u PromptCacheUse) Share() float64 {
	if in := u.Input(); in > 0 {
		return float64(u.Usage.CacheRead) / float64(in)
	}
	return 0
}

// SavedUSD is what caching saved: the uncached cost less the cost. It is
// negative when cache writes (billed above the input price by Anthropic)
// cost more than the reads saved.
func (u PromptCacheUse) SavedUSD() float64 { return u.UncachedUSD - u.CostUSD }

// Add folds o into u. Labels that differ are cleared: the sum of two
// stages belongs to no one stage.
func (u *PromptCacheUse) Add(o PromptCacheUse) {
	if u.Calls == 0 && u.RunID == "" && u.Stage == "" && u.Provider == "" && u.Model == "" {
		u.RunID, u.Stage, u.Provider, u.Model = o.RunID, o.Stage, o.Provider, o.Model
	}
	if u.RunID != o.RunID {
		u.RunID = ""
	}
	if u.Stage != o.Stage {
		u.Stage = ""
	}
	if u.Provider != o.Provider {
		u.Provider = ""
	}
	if u.Model != o.Model {
		u.Model = ""
	}
	u.Calls += o.Calls
	u.Usage.Add(o.Usage)
	u.CostUSD += o.CostUSD
	u.UncachedUSD += o.UncachedUSD
	u.Unpriced += o.Unpriced
}

// MarshalJSON adds the derived input, share and saving to the fields, so
// that a reader of the JSON need not know how they are computed.
func (u PromptCacheUse) MarshalJSON() ([]byte, error) {
	type plain PromptCacheUse
	return json.Marshal(struct {
		plain
		Input    int     `json:"input_tokens"`
		Share    float64 `json:"cache_hit_share"`
		SavedUSD float64 `json:"saved_usd"`
	}{plain(u), u.Input(), u.Share(), u.SavedUSD()})
}

// PricePromptCache sets the UncachedUSD of every use from cost, a price
// table's cost of a model's usage (ok false when the model has no price).
// The recorded cost is kept and only the difference is priced — the cache
// tokens at the input price instead of the cache prices — so that the
// saving does not move when the price table has changed since the calls.
func PricePromptCache(uses []PromptCacheUse, cost func(model string, u Usage) (usd float64, ok bool)) {
	for i := range uses {
		u := &uses[i]
		u.UncachedUSD, u.Unpriced = u.CostUSD, 0
		if u.Usage.CacheRead == 0 && u.Usage.CacheWrite == 0 {
			continue
		}
		asInput, ok1 := cost(u.Model, Usage{In: u.Usage.CacheRead + u.Usage.CacheWrite})
		asCache, ok2 := cost(u.Model, Usage{CacheRead: u.Usage.CacheRead, CacheWrite: u.Usage.CacheWrite})
		if !ok1 || !ok2 {
			u.Unpriced = u.Calls
			continue
		}
		u.UncachedUSD += asInput - asCache
	}
}

// PromptCacheByStage sums uses per stage, in stage order, with the run,
// provider and model labels of each sum kept only where all its uses
// agree.
func PromptCacheByStage(uses []PromptCacheUse) []PromptCacheUse {
	by := map[string]*PromptCacheUse{}
	var stages []string
	for _, u := range uses {
		s := by[u.Stage]
		if s == nil {
			s = &PromptCacheUse{}
			by[u.Stage] = s
			stages = append(stages, u.Stage)
		}
		s.Add(u)
	}
	sort.Strings(stages)
	out := make([]PromptCacheUse, 0, len(stages))
	for _, st := range stages {
		out = append(out, *by[st])
	}
	return out
}
