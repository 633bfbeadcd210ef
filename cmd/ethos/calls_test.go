package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/sqlite"
)

// TestCallsShowsInFlight: a generation records its rate limiter's state
// for other processes, and ethos calls shows it.
func TestCallsShowsInFlight(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if r := ethosCLI(t, dir, nil, "generate", "--examples", "6"); r.code != 0 {
		t.Fatalf("generate: exit %d\n%s", r.code, r.stderr)
	}
	r := ethosCLI(t, dir, nil, "calls", "--json")
	if r.code != 0 {
		t.Fatalf("calls: exit %d\n%s", r.code, r.stderr)
	}
	var out struct {
		InFlight    []ethos.ProviderLoad `json:"in_flight"`
		Summary     []ethos.CallSummary  `json:"summary"`
		PromptCache []struct {
			Stage       string      `json:"stage"`
			Calls       int         `json:"calls"`
			Usage       ethos.Usage `json:"usage"`
			Input       int         `json:"input_tokens"`
			Share       *float64    `json:"cache_hit_share"`
			CostUSD     float64     `json:"cost_usd"`
			UncachedUSD float64     `json:"uncached_usd"`
			SavedUSD    *float64    `json:"saved_usd"`
		} `json:"prompt_cache"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatal(err)
	}
	if len(out.InFlight) != 1 || out.InFlight[0].Provider != "sandbox" || !out.InFlight[0].Auto ||
		out.InFlight[0].InFlight != 0 || out.InFlight[0].Target < 1 || out.InFlight[0].Latency <= 0 {
		t.Fatalf("in flight after the run: %+v, want the sandbox's auto-sized gate with nothing left in flight", out.InFlight)
	}

	// The prompt-cache section covers every call sent to the sandbox, per
	// stage, with its share and saving.
	calls, sent := 0, 0
	for _, s := range out.Summary {
		calls, sent = calls+s.Calls, sent+s.Calls-s.CacheHits
	}
	staged := 0
	for _, s := range out.PromptCache {
		staged += s.Calls
		if s.Stage == "" || s.Input != s.Usage.In+s.Usage.CacheRead+s.Usage.CacheWrite || s.Share == nil || s.SavedUSD == nil ||
			s.UncachedUSD < s.CostUSD-1e-9 && s.Usage.CacheWrite == 0 {
			t.Errorf("prompt_cache row %+v: want a stage, its input, share and saving", s)
		}
	}
	if staged != sent || calls == 0 {
		t.Errorf("prompt_cache counts %d calls, want the %d sent to the provider", staged, sent)
	}
	if text := ethosCLI(t, dir, nil, "calls"); !strings.Contains(text.stdout, "HIT SHARE") || !strings.Contains(text.stdout, "prompt cache saved $") {
		t.Errorf("ethos calls shows no prompt-cache section:\n%s", text.stdout)
	}
}

// TestCallsJSONSumsProcesses: ethos calls --json gives each process's
// snapshot under in_flight and their sums per provider beside them.
func TestCallsJSONSumsProcesses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db, err := sqlite.Open(t.Context(), filepath.Join(dir, ".ethos", "ethos.db"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	err = db.PutProviderLoads(t.Context(), []ethos.ProviderLoad{
		{Provider: "anthropic", Key: "anthropic#k", Process: "a:1:aa", InFlight: 5, Waiting: 1, Target: 8, Ceiling: 64, RPM: 600, Share: 0.5, PID: 1, UpdatedAt: now},
		{Provider: "anthropic", Key: "anthropic#k", Process: "b:2:bb", InFlight: 3, Target: 6, Ceiling: 64, RPM: 600, Share: 0.5, PID: 2, UpdatedAt: now},
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	r := ethosCLI(t, dir, nil, "calls", "--json")
	if r.code != 0 {
		t.Fatalf("calls: exit %d\n%s", r.code, r.stderr)
	}
	var out struct {
		InFlight   []ethos.ProviderLoad `json:"in_flight"`
		ByProvider []ethos.ProviderLoad `json:"in_flight_by_provider"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatal(err)
	}
	if len(out.InFlight) != 2 {
		t.Errorf("in_flight: %+v, want both processes' rows", out.InFlight)
	}
	if len(out.ByProvider) != 1 {
		t.Fatalf("in_flight_by_provider: %+v, want one row for anthropic", out.ByProvider)
	}
	got := out.ByProvider[0]
	if got.Provider != "anthropic" || got.Processes != 2 || got.InFlight != 8 || got.Waiting != 1 || got.Target != 14 || got.RPM != 600 {
		t.Errorf("in_flight_by_provider: %+v, want 2 processes, 8 in flight, 1 waiting, target 14, 600 rpm", got)
	}
}
