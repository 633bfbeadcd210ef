package ethos_test

import (
	"testing"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/google/go-cmp/cmp"
)

func TestLiveLoads(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	loads := []ethos.ProviderLoad{
		{Provider: "anthropic", Key: "anthropic#aa", Process: "a", InFlight: 10, Waiting: 5, Target: 20, Ceiling: 4096, Auto: true,
			Latency: time.Second, RPM: 600, Share: 0.5, PID: 1, UpdatedAt: now.Add(-2 * time.Second)},
		{Provider: "anthropic", Key: "anthropic#aa", Process: "b", InFlight: 7, Waiting: 1, Target: 18, Ceiling: 4096, Auto: true,
			Latency: 2 * time.Second, RPM: 600, Share: 0.5, PID: 2, UpdatedAt: now.Add(-time.Second)},
		{Provider: "anthropic", Key: "anthropic#aa", Process: "dead", InFlight: 50, Target: 50, Ceiling: 4096,
			RPM: 600, Share: 0.5, PID: 3, UpdatedAt: now.Add(-time.Hour)},
		{Provider: "ollama", Key: "ollama", Process: "a", InFlight: 2, Target: 4, Ceiling: 4, Share: 1, PID: 1, UpdatedAt: now},
	}
	want := []ethos.ProviderLoad{
		{Provider: "anthropic", InFlight: 17, Waiting: 6, Target: 38, Ceiling: 8192, Auto: true, Latency: 2 * time.Second,
			RPM: 600, PID: 2, Processes: 2, UpdatedAt: now.Add(-time.Second)},
		{Provider: "ollama", InFlight: 2, Target: 4, Ceiling: 4, PID: 1, Processes: 1, UpdatedAt: now},
	}
	if diff := cmp.Diff(want, ethos.LiveLoads(loads, now)); diff != "" {
		t.Errorf("LiveLoads (-want +got):\n%s", diff)
	}
	if got := ethos.LiveLoads(loads[2:3], now); len(got) != 0 {
		t.Errorf("only a stale snapshot: %+v, want none", got)
	}
}
