package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ethos-toolkit/ethos"
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
		InFlight []ethos.ProviderLoad `json:"in_flight"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatal(err)
	}
	if len(out.InFlight) != 1 || out.InFlight[0].Provider != "sandbox" || !out.InFlight[0].Auto ||
		out.InFlight[0].InFlight != 0 || out.InFlight[0].Target < 1 || out.InFlight[0].Latency <= 0 {
		t.Fatalf("in flight after the run: %+v, want the sandbox's auto-sized gate with nothing left in flight", out.InFlight)
	}
}

func TestPrintLoads(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	live := ethos.ProviderLoad{Provider: "anthropic", InFlight: 212, Waiting: 38, Target: 251, Ceiling: 4096, Auto: true,
		Latency: 10230 * time.Millisecond, RPM: 1200, PID: 42, UpdatedAt: now.Add(-time.Second)}
	old := ethos.ProviderLoad{Provider: "together", InFlight: 5, Target: 8, Ceiling: 8, UpdatedAt: now.Add(-time.Hour)}
	var b strings.Builder
	printLoads(&b, []ethos.ProviderLoad{live, old}, now)
	got := b.String()
	for _, want := range []string{"anthropic", "212", "38", "251 (auto)", "10.23s", "1200 rpm", "1s ago (pid 42)"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "together") {
		t.Errorf("a snapshot an hour old is shown as in flight:\n%s", got)
	}
	b.Reset()
	printLoads(&b, []ethos.ProviderLoad{old}, now)
	if !strings.Contains(b.String(), "in flight: none") {
		t.Errorf("with only stale snapshots: %q, want none in flight", b.String())
	}
}
