package web

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/google/go-cmp/cmp"
)

func TestBucketFor(t *testing.T) {
	for _, tc := range []struct {
		span time.Duration
		want time.Duration
	}{
		{0, time.Second},
		{90 * time.Second, time.Second},
		{121 * time.Second, 2 * time.Second},
		{time.Hour, 30 * time.Second},
		{10 * time.Hour, 5 * time.Minute},
		{1000 * 24 * time.Hour, 1000*24*time.Hour/maxBuckets + 1},
	} {
		if got := bucketFor(tc.span); got != tc.want {
			t.Errorf("bucketFor(%s) = %s, want %s", tc.span, got, tc.want)
		}
	}
}

func TestHistogram(t *testing.T) {
	h := newHistogram([]int{5, 1, 3, 3, 9})
	if h.Count != 5 || h.Min != 1 || h.Max != 9 || h.Median != 3 || h.Mean != 4.2 {
		t.Errorf("summary: %+v", h)
	}
	var counts []int
	total := 0
	for _, b := range h.Bins {
		counts = append(counts, b.Count)
		total += b.Count
		if b.H < 0 || b.H > 150 || b.Y+b.H != 150 {
			t.Errorf("bar geometry out of the chart: %+v", b)
		}
	}
	if diff := cmp.Diff([]int{1, 0, 2, 0, 1, 0, 0, 0, 1}, counts); diff != "" {
		t.Errorf("bins (-want +got):\n%s", diff)
	}
	if total != 5 {
		t.Errorf("bins hold %d values, want 5", total)
	}
	if h := newHistogram(nil); h.Count != 0 || h.Bins != nil {
		t.Errorf("empty: %+v", h)
	}
	// Wide ranges use at most about histBins bins.
	wide := make([]int, 1000)
	for i := range wide {
		wide[i] = i * 37
	}
	if h := newHistogram(wide); len(h.Bins) > histBins+1 {
		t.Errorf("%d bins, want at most %d", len(h.Bins), histBins+1)
	}
}

func TestParseDupReason(t *testing.T) {
	for _, tc := range []struct {
		reason string
		of     int64
		sim    float64
		ok     bool
	}{
		{"near-duplicate: of document #12 (similarity 0.91)", 12, 0.91, true},
		{"near-duplicate: of reply #7 (similarity 1.00) after 2 attempts", 7, 1, true},
		{"chatter: the reply talks about itself", 0, 0, false},
		{"near-duplicate: of document #x (similarity 0.9)", 0, 0, false},
		{"near-duplicate: of document #99999999999999999999 (similarity 0.9)", 0, 0, false},
		{"", 0, 0, false},
	} {
		of, sim, ok := parseDupReason(tc.reason)
		if of != tc.of || sim != tc.sim || ok != tc.ok {
			t.Errorf("parseDupReason(%q) = %d, %v, %v; want %d, %v, %v", tc.reason, of, sim, ok, tc.of, tc.sim, tc.ok)
		}
	}
}

// FuzzParseDupReason: reasons are store text; any of them parses or is
// refused without a panic, and a parse gives an item ID and a similarity
// that a page can show.
func FuzzParseDupReason(f *testing.F) {
	f.Add("near-duplicate: of document #12 (similarity 0.91)")
	f.Add("persona_break: the reply says it is an AI")
	f.Fuzz(func(t *testing.T, reason string) {
		of, sim, ok := parseDupReason(reason)
		if ok && (of < 0 || sim < 0) {
			t.Errorf("parseDupReason(%q) = %d, %v", reason, of, sim)
		}
		_ = ethos.ReasonClass(reason)
	})
}

func TestValidTopic(t *testing.T) {
	for topic, want := range map[string]bool{
		"overview": true, "models": true, "run:gen-1": true, "job:ft-1": true, "eval:e": true,
		"run:": false, "runs:x": false, "": false, "run:a\nevent: x": false, "job:a\rb": false,
	} {
		if got := validTopic(topic); got != want {
			t.Errorf("validTopic(%q) = %v, want %v", topic, got, want)
		}
	}
}

func TestEscapeLabel(t *testing.T) {
	if got := escapeLabel("a\\b\"c\nd"); got != `a\\b\"c\nd` {
		t.Errorf("escapeLabel = %q", got)
	}
}

// TestSnapshots checks the background aggregates: computed once per
// version, the previous value shown (marked stale) while a new one is
// computed, errors kept, nothing computed twice at once.
func TestSnapshots(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()

	// A long wait: the first request gets a fresh value.
	c := newSnapshots(ctx, &wg, time.Minute)
	var mu sync.Mutex
	calls := 0
	compute := func(v any, err error) func(context.Context) (any, error) {
		return func(context.Context) (any, error) {
			mu.Lock()
			calls++
			mu.Unlock()
			return v, err
		}
	}
	if got := c.get(ctx, "k", "v1", compute(1, nil)); got.Value != 1 || got.Stale || got.Pending {
		t.Fatalf("first get: %+v", got)
	}
	if got := c.get(ctx, "k", "v1", compute(2, nil)); got.Value != 1 || calls != 1 {
		t.Fatalf("same version computed again: %+v, %d calls", got, calls)
	}
	boom := errors.New("boom")
	if got := c.get(ctx, "e", "v1", compute(nil, boom)); !errors.Is(got.Err, boom) {
		t.Fatalf("error not kept: %+v", got)
	}

	// A computation that does not finish in time: the previous value,
	// stale; with none, pending. The hub hears when it ends.
	release := make(chan struct{})
	ended := make(chan string, 4)
	c.onDone = func(key string) { ended <- key }
	c.wait = time.Millisecond
	slow := func(v any) func(context.Context) (any, error) {
		return func(ctx context.Context) (any, error) {
			select {
			case <-release:
			case <-ctx.Done():
			}
			return v, nil
		}
	}
	if got := c.get(ctx, "k", "v2", slow(2)); got.Value != 1 || !got.Stale {
		t.Fatalf("while computing v2: %+v", got)
	}
	if got := c.get(ctx, "new", "v1", slow(9)); !got.Pending {
		t.Fatalf("a first computation still running should be pending: %+v", got)
	}
	close(release)
	for range 2 {
		<-ended
	}
	if got := c.get(ctx, "k", "v2", compute(3, nil)); got.Value != 2 || got.Stale {
		t.Fatalf("after v2 was computed: %+v", got)
	}
	if got := c.get(ctx, "new", "v1", compute(0, nil)); got.Value != 9 {
		t.Fatalf("new after its computation: %+v", got)
	}
}

func TestLossChart(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	c := lossChart([]ethos.FineTuneEvent{
		{Message: "queued"},
		{Step: 1, Loss: f(2)},
		{Step: 3, Loss: f(1.5)},
		{Step: 3, Loss: f(1.4), ValLoss: f(1.6)}, // the epoch's end repeats the step
		{Step: 2, Loss: f(9)},                    // out of order: dropped
		{Step: 6, Loss: f(1)},
	})
	var train, val []any
	for i := range c.X {
		if v := c.Series[0].Values[i]; v != nil {
			train = append(train, *v)
		} else {
			train = append(train, nil)
		}
		if v := c.Series[1].Values[i]; v != nil {
			val = append(val, *v)
		} else {
			val = append(val, nil)
		}
	}
	if diff := cmp.Diff([]float64{1, 3, 6}, c.X); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]any{2.0, 1.4, 1.0}, train); diff != "" {
		t.Errorf("training loss (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]any{nil, 1.6, nil}, val); diff != "" {
		t.Errorf("validation loss (-want +got):\n%s", diff)
	}
}

func TestTimeline(t *testing.T) {
	j := ethos.FineTuneJob{Provider: "sandbox", BaseModel: "base", Status: "running"}
	var whats []string
	for _, e := range timeline(j, []ethos.FineTuneEvent{
		{Type: "job_pending", Message: "created"},
		{Type: "checkpoint_save", Message: "step 1"},
		{Type: "epoch_complete", Message: "epoch 1"},
		{Type: "checkpoint_save", Message: "step 2"},
		{Level: "error", Type: "checkpoint_save", Message: "disk full"},
	}) {
		whats = append(whats, e.What)
	}
	want := []string{"created on sandbox from base", "job_pending: created", "checkpoint_save: step 1", "epoch_complete: epoch 1",
		"checkpoint_save: disk full", "now running"}
	if diff := cmp.Diff(want, whats); diff != "" {
		t.Errorf("timeline (-want +got):\n%s", diff)
	}
}
