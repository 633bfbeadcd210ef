package generate_test

import (
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ethos-toolkit/ethos/generate"
	"github.com/ethos-toolkit/ethos/jobs"
	"github.com/ethos-toolkit/ethos/llm"
	"github.com/ethos-toolkit/ethos/sandbox"
)

// peakRSS is the process's peak resident set size in MB (Linux VmHWM).
func peakRSS(b *testing.B) float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Skipf("peak RSS needs /proc: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	b.Skip("no VmHWM in /proc/self/status")
	return 0
}

// benchGenerate runs one whole generation of n examples per iteration and
// reports calls per second, wall time per run and the peak RSS.
func benchGenerate(b *testing.B, n int, opts sandbox.Options, limits llm.Limits, workers int) *env {
	// As `ethos generate` does.
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(generate.MemoryLimit))
	var last *env
	var wall time.Duration
	var requests int64
	for b.Loop() {
		b.StopTimer()
		e := newEnvLimits(b, n, opts, limits)
		b.StartTimer()
		start := time.Now()
		if _, err := e.runWorkers(b, workers); err != nil {
			b.Fatal(err)
		}
		wall += time.Since(start)
		requests += e.sandbox.Server.Stats().Requests
		last = e
	}
	b.ReportMetric(float64(requests)/wall.Seconds(), "calls/s")
	b.ReportMetric(wall.Seconds()/float64(b.N), "s/run")
	b.ReportMetric(peakRSS(b), "peak-MB")
	return last
}

// BenchmarkGenerate1000 makes 1,000 examples against a zero-latency sandbox.
// Run alone (-bench GenerateThousand -benchtime 1x) so the peak RSS is its own.
func BenchmarkGenerateThousand(b *testing.B) {
	benchGenerate(b, 1000, sandbox.Options{Seed: 1}, llm.Limits{}, jobs.DefaultWorkers)
}

// BenchmarkGenerate10000 makes 10,000 examples; its peak RSS must stay
// under 200 MB. Run alone with -benchtime 1x.
func BenchmarkGenerateTenThousand(b *testing.B) {
	benchGenerate(b, 10000, sandbox.Options{Seed: 1}, llm.Limits{}, jobs.DefaultWorkers)
}

// BenchmarkGenerateAt600RPM runs against a sandbox that enforces 600
// requests per minute with about 200 ms of latency, with ethos's limiter
// set to the same limit, and reports the request rate achieved after the
// opening burst (target: ≥ 95% of the limit) and the share of requests
// answered 429 (target: < 2%).
func BenchmarkGenerateAt600RPM(b *testing.B) {
	const rpm = 600
	opts := sandbox.Options{Seed: 2, Faults: sandbox.Faults{RPM: rpm, LatencyMean: 200 * time.Millisecond, LatencyJitter: 50 * time.Millisecond}}
	for b.Loop() {
		b.StopTimer()
		e := newEnvLimits(b, 600, opts, llm.Limits{RPM: rpm, MaxConcurrency: 32})
		b.StartTimer()
		// Sample the sandbox's request count once a second: the rate is
		// measured after the opening burst (both buckets start full, so the
		// first minute's worth goes at once) until the run ends.
		type sample struct {
			at time.Time
			n  int64
		}
		var samples []sample
		stop := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case now := <-tick.C:
					samples = append(samples, sample{now, e.sandbox.Server.Stats().Requests})
				}
			}
		}()
		if _, err := e.runWorkers(b, 32); err != nil {
			b.Fatal(err)
		}
		close(stop)
		<-sampled
		// The steady state starts once the rate over five seconds has
		// fallen to the limit's neighbourhood: the opening burst and the
		// tokens both buckets refilled during it are spent.
		var first, last sample
		for i := 5; i < len(samples); i++ {
			perSec := float64(samples[i].n-samples[i-5].n) / samples[i].at.Sub(samples[i-5].at).Seconds()
			if first.at.IsZero() && samples[i].n > rpm && perSec <= 1.2*rpm/60 {
				first = samples[i]
			}
			last = samples[i]
		}
		if first.at.IsZero() || !last.at.After(first.at) {
			b.Fatalf("the run ended before the opening burst was spent (%d samples)", len(samples))
		}
		steady := float64(last.n-first.n) / last.at.Sub(first.at).Minutes()
		st := e.sandbox.Server.Stats()
		b.ReportMetric(steady, "steady-rpm")
		b.ReportMetric(100*steady/rpm, "%of-limit")
		b.ReportMetric(100*float64(st.ByStatus["429"])/float64(st.Requests), "%429")
		b.ReportMetric(float64(st.Requests), "requests")
	}
}
