package generate_test

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

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
	benchGenerate(b, 1000, sandbox.Options{Seed: 1}, llm.Limits{MaxConcurrency: 64}, 32)
}

// BenchmarkGenerate10000 makes 10,000 examples; its peak RSS must stay
// under 200 MB. Run alone with -benchtime 1x.
func BenchmarkGenerateTenThousand(b *testing.B) {
	benchGenerate(b, 10000, sandbox.Options{Seed: 1}, llm.Limits{MaxConcurrency: 64}, 32)
}

// BenchmarkGenerateAt600RPM runs against a sandbox that enforces 600
// requests per minute with about 200 ms of latency, with ethos's limiter
// set to the same limit, and reports the request rate achieved after the
// opening burst (target: ≥ 95% of the limit) and the share of requests
// answered 429 (target: < 2%).
func BenchmarkGenerateAt600RPM(b *testing.B) {
	var sb *sandbox.Server
	opts := sandbox.Options{Seed: 2, Faults: sandbox.Faults{RPM: 600, LatencyMean: 200 * time.Millisecond, LatencyJitter: 50 * time.Millisecond}}
	e := benchGenerate(b, 400, opts, llm.Limits{RPM: 600, MaxConcurrency: 32}, 32)
	sb = e.sandbox.Server
	st := sb.Stats()
	b.ReportMetric(100*float64(st.ByStatus["429"])/float64(st.Requests), "%429")
}
