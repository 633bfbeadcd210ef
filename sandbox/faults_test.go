package sandbox

import (
	"context"
	"errors"
	"flag"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// statuses sends n sequential Anthropic requests and returns their statuses.
func statuses(t *testing.T, run *Running, n int) []int {
	t.Helper()
	var out []int
	for range n {
		out = append(out, postAnthropic(t, run, anthropicBody("writer")).status)
	}
	return out
}

func TestErrorRatesReproducible(t *testing.T) {
	t.Parallel()
	faults := Faults{ErrorRates: map[int]float64{500: 0.2, 529: 0.2, 429: 0.1}}
	a := statuses(t, start(t, Options{Seed: 42, Faults: faults}), 60)
	b := statuses(t, start(t, Options{Seed: 42, Faults: faults}), 60)
	c := statuses(t, start(t, Options{Seed: 43, Faults: faults}), 60)
	if d := cmp.Diff(a, b); d != "" {
		t.Errorf("same seed, different faults (-first +second):\n%s", d)
	}
	if slices.Equal(a, c) {
		t.Errorf("different seeds gave the same faults")
	}
	count := map[int]int{}
	for _, s := range a {
		count[s]++
	}
	for _, s := range []int{200, 429, 500, 529} {
		if count[s] == 0 {
			t.Errorf("no %d in 60 requests: %v", s, count)
		}
	}
}

func TestErrorRateAlwaysAndRetryAfter(t *testing.T) {
	t.Parallel()
	run := start(t, Options{Faults: Faults{ErrorRates: map[int]float64{429: 1}, RetryAfter: 2 * time.Second}})
	r := postOpenAI(t, run, openaiBody("writer"))
	if r.status != 429 || r.header.Get("retry-after") != "2" {
		t.Errorf("status %d retry-after %q, want 429 and 2", r.status, r.header.Get("retry-after"))
	}
	r = postAnthropic(t, run, anthropicBody("writer"))
	if r.status != 429 || r.header.Get("retry-after") != "2" || r.json(t)["error"].(map[string]any)["type"] != "rate_limit_error" {
		t.Errorf("status %d retry-after %q body %s", r.status, r.header.Get("retry-after"), r.body)
	}
}

func TestCutStreamRate(t *testing.T) {
	t.Parallel()
	run := start(t, Options{Faults: Faults{CutStreamRate: 1}})
	r := postAnthropic(t, run, anthropicBody("writer", "stream", true))
	if !isUnexpectedEOF(r.readErr) {
		t.Errorf("stream not cut: %v", r.readErr)
	}
	for _, e := range parseSSE(t, r.body) {
		if e.name == "message_stop" {
			t.Errorf("cut stream sent message_stop")
		}
	}
	// Non-stream answers are never cut by the rate.
	if r := postAnthropic(t, run, anthropicBody("writer")); r.status != 200 || r.readErr != nil {
		t.Errorf("non-stream: %d %v", r.status, r.readErr)
	}
	stats := run.Server.Stats()
	if stats.Streams != 1 || stats.CutStreams != 1 {
		t.Errorf("streams %d cut %d, want 1 and 1", stats.Streams, stats.CutStreams)
	}
}

func TestStreamErrorRate(t *testing.T) {
	t.Parallel()
	run := start(t, Options{Faults: Faults{StreamErrorRate: 1}})
	events := parseSSE(t, postAnthropic(t, run, anthropicBody("writer", "stream", true)).body)
	if last := events[len(events)-1]; last.name != "error" {
		t.Errorf("last event %q, want error", last.name)
	}
}

func TestLatencyUsesSleep(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var slept []time.Duration
	sleep := func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		defer mu.Unlock()
		slept = append(slept, d)
		return nil
	}
	run := start(t, Options{Sleep: sleep, Faults: Faults{LatencyMean: 200 * time.Millisecond, LatencyJitter: 50 * time.Millisecond}})
	for range 20 {
		postAnthropic(t, run, anthropicBody("writer"))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(slept) != 20 {
		t.Fatalf("slept %d times, want 20", len(slept))
	}
	for _, d := range slept {
		if d < 150*time.Millisecond || d > 250*time.Millisecond {
			t.Errorf("latency %v outside 200ms±50ms", d)
		}
	}
	if slices.Min(slept) == slices.Max(slept) {
		t.Errorf("jitter had no effect: %v", slept)
	}
}

func TestLatencyCancelledSendsNothing(t *testing.T) {
	t.Parallel()
	sleep := func(ctx context.Context, d time.Duration) error { return context.Canceled }
	run := start(t, Options{Sleep: sleep, Faults: Faults{LatencyMean: time.Second}})
	req, err := http.NewRequestWithContext(t.Context(), "POST", run.URL+"/v1/messages", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = http.DefaultClient.Do(req)
	if err == nil {
		t.Errorf("a request whose latency wait failed got an answer")
	}
	if n := run.Server.Stats().Requests; n != 0 {
		t.Errorf("counted %d requests", n)
	}
}

func TestRegisterFlags(t *testing.T) {
	t.Parallel()
	var f Faults
	fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	f.RegisterFlags(fs)
	err := fs.Parse([]string{"--error-rate", "429=0.1,529=0.05", "--latency", "200ms", "--jitter", "50ms",
		"--cut-stream-rate", "0.1", "--stream-error-rate", "0.02", "--rpm", "60", "--tpm", "100000", "--retry-after", "2s"})
	if err != nil {
		t.Fatal(err)
	}
	want := Faults{ErrorRates: map[int]float64{429: 0.1, 529: 0.05}, LatencyMean: 200 * time.Millisecond,
		LatencyJitter: 50 * time.Millisecond, CutStreamRate: 0.1, StreamErrorRate: 0.02, RPM: 60, TPM: 100000, RetryAfter: 2 * time.Second}
	if d := cmp.Diff(want, f); d != "" {
		t.Errorf("faults (-want +got):\n%s", d)
	}
	if got := fs.Lookup("error-rate").Value.String(); got != "429=0.1,529=0.05" {
		t.Errorf("error-rate prints as %q", got)
	}

	for _, bad := range []string{"429", "abc=0.1", "200=0.1", "429=1.5", "429=-1", "429=x"} {
		fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
		fs.SetOutput(discard{})
		new(Faults).RegisterFlags(fs)
		if err := fs.Parse([]string{"--error-rate", bad}); err == nil {
			t.Errorf("--error-rate %q accepted", bad)
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func TestStartFailsOnBusyAddress(t *testing.T) {
	t.Parallel()
	run := start(t, Options{})
	_, err := Start(t.Context(), run.URL[len("http://"):], Options{})
	if err == nil {
		t.Fatal("second Start on the same address succeeded")
	}
	if err := run.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := run.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestStartStopsWithContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	run, err := Start(ctx, "127.0.0.1:0", Options{})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	<-run.done
	if _, err := http.Get(run.URL + "/v1/models"); err == nil || errors.Is(err, context.Canceled) {
		t.Errorf("server still answers after its context ended (err %v)", err)
	}
}
