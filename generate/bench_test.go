package generate_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/config"
	"github.com/ethos-toolkit/ethos/generate"
	"github.com/ethos-toolkit/ethos/jobs"
	"github.com/ethos-toolkit/ethos/llm"
	"github.com/ethos-toolkit/ethos/sandbox"
)

// peakRSS is the process's peak resident set size in MB (Linux VmHWM).
func peakRSS(b *testing.B) float64 { return vmHWM(b, "/proc/self/status") }

// vmHWM reads the peak resident set size in MB from a /proc status file.
func vmHWM(b *testing.B, status string) float64 {
	data, err := os.ReadFile(status)
	if err != nil {
		b.Skipf("peak RSS needs /proc: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	b.Skip("no VmHWM in " + status)
	return 0
}

// benchGenerate runs one whole generation of n examples per iteration and
// reports calls per second, wall time per run and the peak RSS.
func benchGenerate(b *testing.B, n int, opts sandbox.Options, limits llm.Limits, workers int) *env {
	// As `ethos generate` does.
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(generate.MemoryLimit))
	defer debug.SetGCPercent(debug.SetGCPercent(generate.GCPercent))
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
		// The limit as configured, with concurrency sized automatically.
		e := newEnvLimits(b, 600, opts, llm.Limits{RPM: rpm})
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
		if _, err := e.runWorkers(b, jobs.DefaultWorkers); err != nil {
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

// BenchmarkGenerateRealPace10s runs `ethos generate --examples 1000` as a
// new user would against a provider at a real model's pace: the sandbox
// posing as Anthropic with 10 s ± 3 s a call and 1,200 requests a minute,
// ethos with the default config (anthropic's tier-1 50 RPM, which the
// headers correct, and auto concurrency) plus a price. Targets: the best
// 60-second window at ≥ 90% of the limit, ≤ 2% answered 429, the first
// example accepted within 4 latencies.
func BenchmarkGenerateRealPace10s(b *testing.B) {
	benchRealPace(b, 1000, 10*time.Second, 3*time.Second, 1200)
}

// BenchmarkGenerateRealPace30s is the same at 30 s ± 10 s and 2,000
// requests a minute with 3,000 examples: about 1,000 calls in flight.
// Target: ≥ 90% of the limit; peak RSS under 400 MB.
func BenchmarkGenerateRealPace30s(b *testing.B) {
	benchRealPace(b, 3000, 30*time.Second, 10*time.Second, 2000)
}

func benchRealPace(b *testing.B, examples int, latency, jitter time.Duration, rpm int) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(generate.MemoryLimit))
	defer debug.SetGCPercent(debug.SetGCPercent(generate.GCPercent))
	prov := config.Default().Providers["anthropic"]
	limits := llm.Limits{RPM: prov.RPM, TPM: prov.TPM, MaxConcurrency: prov.MaxConcurrency}
	for b.Loop() {
		b.StopTimer()
		// The sandbox runs in a process of its own, as a provider would:
		// the peak RSS is then ethos's alone.
		sb := startSandboxProcess(b, childSpec{Seed: 3, RPM: rpm, Latency: latency, Jitter: jitter})
		e := newEnvAt(b, examples, sb.URL, "anthropic", func(string) llm.Limits { return limits })
		b.StartTimer()
		type sample struct {
			at             time.Time
			answered, r429 int64
		}
		var (
			mu          sync.Mutex
			samples     []sample
			peak        int
			peakTarget  float64
			firstAt     time.Duration
			start       = time.Now()
			stop, ended = make(chan struct{}), make(chan struct{})
		)
		go func() {
			defer close(ended)
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case now := <-tick.C:
					st := sb.Stats(b)
					gs := e.limiter.State("anthropic")
					mu.Lock()
					samples = append(samples, sample{now, st.ByStatus["200"], st.ByStatus["429"]})
					peak, peakTarget = max(peak, gs.InFlight), max(peakTarget, gs.Concurrency)
					mu.Unlock()
				}
			}
		}()
		progress := func(p generate.Progress) {
			mu.Lock()
			defer mu.Unlock()
			if p.Examples > 0 && firstAt == 0 {
				firstAt = time.Since(start)
			}
		}
		if _, err := e.runProgress(b, jobs.DefaultWorkers, progress); err != nil {
			b.Fatal(err)
		}
		wall := time.Since(start)
		close(stop)
		<-ended
		// The best window of 60 seconds (or the whole run, if shorter).
		best := 0.0
		for i := range samples {
			for j := i + 1; j < len(samples) && samples[j].at.Sub(samples[i].at) <= 60*time.Second; j++ {
				if samples[j].at.Sub(samples[i].at) >= 59*time.Second {
					best = max(best, float64(samples[j].answered-samples[i].answered))
				}
			}
		}
		st := sb.Stats(b)
		b.ReportMetric(best, "best-60s-rpm")
		b.ReportMetric(100*best/float64(rpm), "%of-limit")
		b.ReportMetric(100*float64(st.ByStatus["429"])/float64(st.Requests), "%429")
		b.ReportMetric(firstAt.Seconds()/latency.Seconds(), "first-example-latencies")
		b.ReportMetric(float64(peak), "peak-in-flight")
		b.ReportMetric(peakTarget, "peak-target")
		b.ReportMetric(float64(st.Requests), "requests")
		b.ReportMetric(wall.Seconds(), "s/run")
		b.ReportMetric(peakRSS(b), "peak-MB")
		b.ReportMetric(sb.PeakRSS(b), "sandbox-peak-MB")
	}
}

// BenchmarkPipelineVsBareClient measures what the pipeline costs per call
// at zero latency: `ethos generate --examples 1000` with the default
// config against an in-process sandbox, then a bare net/http client (64
// goroutines, no SDK, no store) sending the very requests the pipeline
// made, streamed the same way, to the same server and reading every byte.
// It reports both rates and their ratio; the target is ≥ 600 calls/s for
// the pipeline on two cores.
func BenchmarkPipelineVsBareClient(b *testing.B) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(generate.MemoryLimit))
	defer debug.SetGCPercent(debug.SetGCPercent(generate.GCPercent))
	for b.Loop() {
		b.StopTimer()
		e := newEnvLimits(b, 1000, sandbox.Options{Seed: 1}, llm.Limits{})
		b.StartTimer()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start, cpuStart := time.Now(), cpuTime(b)
		if _, err := e.runWorkers(b, jobs.DefaultWorkers); err != nil {
			b.Fatal(err)
		}
		wall, cpu := time.Since(start), cpuTime(b)-cpuStart
		runtime.ReadMemStats(&after)
		requests := e.sandbox.Server.Stats().Requests
		pipeline := float64(requests) / wall.Seconds()

		calls, err := e.store.Calls(b.Context(), ethos.CallFilter{})
		if err != nil {
			b.Fatal(err)
		}
		bodies := make([][]byte, 0, len(calls))
		for _, c := range calls {
			if c.CacheHit {
				continue
			}
			bodies = append(bodies, anthropicBody(b, c))
		}
		start = time.Now()
		bareCalls(b, e.sandbox.URL+"/v1/messages", bodies, 64)
		bare := float64(len(bodies)) / time.Since(start).Seconds()

		b.ReportMetric(pipeline, "pipeline-calls/s")
		b.ReportMetric(bare, "bare-calls/s")
		b.ReportMetric(pipeline/bare, "ratio")
		b.ReportMetric(float64(cpu.Microseconds())/1000/float64(requests), "cpu-ms/call")
		b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/1024/float64(requests), "alloc-KB/call")
		b.ReportMetric(float64(after.NumGC-before.NumGC), "gc-cycles")
	}
}

// cpuTime is the CPU time (user and system) the process has used so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// anthropicBody is the Messages API body of a recorded call, as the SDK
// would send it.
func anthropicBody(b *testing.B, c ethos.Call) []byte {
	_, model, _ := ethos.SplitModel(c.Model)
	body := map[string]any{"model": model, "max_tokens": c.Request.MaxTokens, "messages": []map[string]string{}}
	var msgs []map[string]string
	for _, m := range c.Request.Messages {
		msgs = append(msgs, map[string]string{"role": string(m.Role), "content": m.Content})
	}
	body["messages"] = msgs
	if c.Request.System != "" {
		body["system"] = c.Request.System
	}
	if c.Request.Temperature != nil {
		body["temperature"] = *c.Request.Temperature
	}
	if c.Request.Stream {
		body["stream"] = true
	}
	data, err := json.Marshal(body)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// bareCalls posts every body with a plain http.Client from workers
// goroutines and reads each answer to its end.
func bareCalls(b *testing.B, url string, bodies [][]byte, workers int) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	next := make(chan []byte)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for body := range next {
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
				req.Header.Set("content-type", "application/json")
				req.Header.Set("x-api-key", "sandbox")
				req.Header.Set("anthropic-version", "2023-06-01")
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Errorf("bare client: %s", resp.Status)
				}
			}
		})
	}
	for _, body := range bodies {
		next <- body
	}
	close(next)
	wg.Wait()
}
