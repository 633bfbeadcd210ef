package llm_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/llm"
)

func TestWriteCalls(t *testing.T) {
	t.Parallel()
	when := time.Date(2026, 12, 3, 9, 5, 7, 0, time.Local)
	calls := []ethos.Call{
		{ID: 3, CreatedAt: when, Model: "anthropic/claude", Stage: "ideas", Usage: ethos.Usage{In: 1200, Out: 300}, CostUSD: 0.0123,
			Latency: 1234567 * time.Microsecond, Response: &ethos.Response{StopReason: ethos.StopEnd}},
		{ID: 2, CreatedAt: when, Model: "anthropic/claude", Stage: "ideas", Usage: ethos.Usage{In: 1200, Out: 300}, Latency: 2 * time.Millisecond,
			CacheHit: true, Response: &ethos.Response{StopReason: ethos.StopEnd}},
		{ID: 1, CreatedAt: when, Model: "anthropic/claude", Stage: "documents", ErrorKind: ethos.RateLimited},
		{ID: 4, CreatedAt: when, Model: "together/llama"},
	}
	var b strings.Builder
	llm.WriteCalls(&b, calls)
	want := "ID  WHEN            MODEL             STAGE      IN    OUT  COST       LATENCY  RESULT\n" +
		"3   12-03 09:05:07  anthropic/claude  ideas      1200  300  $0.012300  1.235s   end_turn\n" +
		"2   12-03 09:05:07  anthropic/claude  ideas      1200  300  $0.000000  2ms      cache hit\n" +
		"1   12-03 09:05:07  anthropic/claude  documents  0     0    $0.000000  0s       rate_limited\n" +
		"4   12-03 09:05:07  together/llama               0     0    $0.000000  0s       ok\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("WriteCalls (-want +got):\n%s", diff)
	}
}

func TestWriteCallTotals(t *testing.T) {
	t.Parallel()
	summary := []ethos.CallSummary{
		{Model: "anthropic/claude", Calls: 10, CacheHits: 2, Errors: map[ethos.Kind]int{ethos.Transient: 1, ethos.RateLimited: 2},
			Usage: ethos.Usage{In: 12000, Out: 3000}, CostUSD: 0.123456, Interrupted: 1},
		{Model: "together/llama", Calls: 3, Usage: ethos.Usage{In: 100, Out: 50}, CostUSD: 0.001},
	}
	var b strings.Builder
	llm.WriteCallTotals(&b, summary)
	want := "MODEL             CALLS  CACHE HITS  ERRORS                      IN     OUT   COST\n" +
		"anthropic/claude  10     2           rate_limited=2 transient=1  12000  3000  $0.123456\n" +
		"together/llama    3      0           0                           100    50    $0.001000\n" +
		"total spent: $0.124456\n" +
		"interrupted: 1 calls cut short by Ctrl-C or a shutdown (not errors; running the command again makes them)\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("WriteCallTotals (-want +got):\n%s", diff)
	}
	usd, errs := llm.Spent(summary)
	if math.Abs(usd-0.124456) > 1e-12 || errs != 3 {
		t.Errorf("Spent = $%v, %d errors; want $0.124456, 3", usd, errs)
	}
}

func TestInFlightLine(t *testing.T) {
	t.Parallel()
	states := []llm.GateState{{Provider: "anthropic", Concurrency: 251.7, InFlight: 212, Waiting: 38}, {Provider: "together", Concurrency: 8, InFlight: 5}}
	if got, want := llm.InFlightLine(states), " · in flight anthropic 212/251 (38 waiting), together 5/8"; got != want {
		t.Errorf("InFlightLine = %q, want %q", got, want)
	}
	if got := llm.InFlightLine(nil); got != "" {
		t.Errorf("InFlightLine(nil) = %q, want none", got)
	}
}

func TestBatchLine(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		batches []ethos.Batch
		want    string
	}{
		{nil, ""},
		{[]ethos.Batch{
			{State: ethos.BatchInProgress, Requests: 100, CreatedAt: now.Add(-3*time.Minute - 12*time.Second)},
			{State: ethos.BatchPreparing, Requests: 40, CreatedAt: now.Add(-time.Minute)},
			{State: ethos.BatchEnded, Requests: 7}, {State: ethos.BatchEnded},
			{State: ethos.BatchFailed, Requests: 9},
		}, " · batches: 2 in flight (140 requests, oldest 3m12s), 2 ended, 1 failed"},
		{[]ethos.Batch{{State: ethos.BatchEnded}}, " · batches: 0 in flight, 1 ended"},
	} {
		if got := llm.BatchLine(tc.batches, now); got != tc.want {
			t.Errorf("BatchLine = %q, want %q", got, tc.want)
		}
	}
}

func TestWriteBatches(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	batches := []ethos.Batch{
		{ID: 7, Provider: "anthropic", Model: "anthropic/claude", State: ethos.BatchInProgress, Status: "finalizing", Requests: 100,
			Counts: ethos.BatchCounts{Succeeded: 60, Errored: 2, Expired: 1, Cancelled: 1}, CreatedAt: now.Add(-3*time.Minute - 12*time.Second),
			ProviderID: "msgbatch_1", RunIDs: []string{"gen-1", "eval-2"}},
		{ID: 8, Provider: "openai", Model: "openai/gpt", State: ethos.BatchPreparing, Requests: 5, CreatedAt: now.Add(-time.Hour)},
	}
	var b strings.Builder
	if err := llm.WriteBatches(&b, batches, now); err != nil {
		t.Fatal(err)
	}
	want := "ID  PROVIDER   MODEL             STATE                     REQUESTS  DONE  ERRORED  EXPIRED  AGE     PROVIDER ID  RUNS\n" +
		"7   anthropic  anthropic/claude  in_progress (finalizing)  100       60    2        2        3m12s   msgbatch_1   gen-1,eval-2\n" +
		"8   openai     openai/gpt        preparing                 5         0     0        0        1h0m0s  -            \n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("WriteBatches (-want +got):\n%s", diff)
	}
}

func TestWriteBatch(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		b    ethos.Batch
		want string
	}{
		{ethos.Batch{ID: 7, Label: "ethos-batch-7", Provider: "anthropic", Model: "anthropic/claude", State: ethos.BatchEnded, Status: "ended",
			ProviderID: "msgbatch_1", Requests: 100, Bytes: 2048, Counts: ethos.BatchCounts{Succeeded: 97, Errored: 1, Expired: 1, Cancelled: 1},
			CreatedAt: now.Add(-2 * time.Hour), EndedAt: now.Add(-time.Hour), RunIDs: []string{"gen-1"}, Stages: []string{"ideas", "documents"}},
			"batch 7 (ethos-batch-7) at anthropic, model anthropic/claude\n" +
				"  state      ended\n" +
				"  provider   msgbatch_1\n" +
				"  requests   100 (2048 bytes)\n" +
				"  counts     97 succeeded, 1 errored, 1 expired, 1 cancelled, 0 processing\n" +
				"  created    2026-12-03T10:00:00Z (2h0m0s ago)\n" +
				"  ended      2026-12-03T11:00:00Z\n" +
				"  runs       gen-1 (stages ideas, documents)\n"},
		{ethos.Batch{ID: 8, Label: "ethos-batch-8", Provider: "openai", Model: "openai/gpt", State: ethos.BatchFailed, Requests: 5, Bytes: 10,
			CreatedAt: now.Add(-time.Minute), Error: "invalid file"},
			"batch 8 (ethos-batch-8) at openai, model openai/gpt\n" +
				"  state      failed\n" +
				"  provider   -\n" +
				"  requests   5 (10 bytes)\n" +
				"  counts     0 succeeded, 0 errored, 0 expired, 0 cancelled, 0 processing\n" +
				"  created    2026-12-03T11:59:00Z (1m0s ago)\n" +
				"  error      invalid file\n"},
	} {
		var b strings.Builder
		llm.WriteBatch(&b, tc.b, now)
		if diff := cmp.Diff(tc.want, b.String()); diff != "" {
			t.Errorf("WriteBatch %d (-want +got):\n%s", tc.b.ID, diff)
		}
	}
}

func TestBatchStatusOf(t *testing.T) {
	t.Parallel()
	b := ethos.Batch{ID: 7}
	items := []ethos.BatchItem{{Key: "k1", Provider: "anthropic", RunID: "gen-1", Stage: "ideas", State: ethos.BatchItemAnswered,
		Outcome: ethos.BatchErrored, Error: "overloaded", Submissions: 2}}
	want := llm.BatchStatus{Batch: b, Items: []llm.BatchRequest{{Key: "k1", RunID: "gen-1", Stage: "ideas", State: ethos.BatchItemAnswered,
		Outcome: ethos.BatchErrored, Error: "overloaded"}}}
	if diff := cmp.Diff(want, llm.BatchStatusOf(b, items)); diff != "" {
		t.Errorf("BatchStatusOf (-want +got):\n%s", diff)
	}
	if got := llm.BatchStatusOf(b, nil); got.Items == nil {
		t.Error("a batch without items has Items nil, which JSON shows as null; want []")
	}
}

func TestWritePromptCache(t *testing.T) {
	t.Parallel()
	stages := []ethos.PromptCacheUse{
		{Stage: "eval.answer", Calls: 4, Usage: ethos.Usage{In: 4000, CacheWrite: 2000}, CostUSD: 0.0195, UncachedUSD: 0.018},
		{Stage: "eval.judge", Calls: 20, Usage: ethos.Usage{In: 1000, CacheRead: 8000, CacheWrite: 1000}, CostUSD: 0.01315, UncachedUSD: 0.03, Unpriced: 2},
	}
	var b strings.Builder
	llm.WritePromptCache(&b, stages)
	got := b.String()
	for _, want := range []string{
		"eval.answer  4      6000   0           2000         0.0%       $0.019500  $0.018000  -$0.001500",
		"eval.judge   20     10000  8000        1000         80.0%      $0.013150  $0.030000  $0.016850",
		"prompt cache saved $0.015350 of $0.048000 uncached (50.0% of input tokens read from cache)",
		"saving unknown for 2 calls whose model has no price",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	b.Reset()
	llm.WritePromptCache(&b, nil)
	if !strings.Contains(b.String(), "prompt cache: no calls sent to a provider") {
		t.Errorf("with no calls: %q", b.String())
	}
}

func TestWriteLoads(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	live := ethos.ProviderLoad{Provider: "anthropic", InFlight: 212, Waiting: 38, Target: 251, Ceiling: 4096, Auto: true,
		Latency: 10230 * time.Millisecond, RPM: 1200, PID: 42, UpdatedAt: now.Add(-time.Second)}
	old := ethos.ProviderLoad{Provider: "together", InFlight: 5, Target: 8, Ceiling: 8, UpdatedAt: now.Add(-time.Hour)}
	var b strings.Builder
	llm.WriteLoads(&b, []ethos.ProviderLoad{live, old}, now)
	got := b.String()
	for _, want := range []string{"anthropic", "212", "38", "251 (auto)", "10.23s", "1200 rpm", "1s ago (pid 42)"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "together") {
		t.Errorf("a snapshot an hour old is shown as in flight:\n%s", got)
	}
	// Two more processes on the account: one line, their sums.
	b.Reset()
	peer := live
	peer.Process, peer.InFlight, peer.Waiting, peer.Target, peer.PID = "host-b:43:aa", 100, 2, 120, 43
	gone := peer
	gone.Process, gone.UpdatedAt = "host-c:44:bb", now.Add(-time.Minute)
	llm.WriteLoads(&b, []ethos.ProviderLoad{live, peer, gone}, now)
	got = b.String()
	for _, want := range []string{"312", "40", "371 (auto)", "(2 processes)"} {
		if !strings.Contains(got, want) {
			t.Errorf("two processes: output lacks %q:\n%s", want, got)
		}
	}
	b.Reset()
	llm.WriteLoads(&b, []ethos.ProviderLoad{old}, now)
	if !strings.Contains(b.String(), "in flight: none") {
		t.Errorf("with only stale snapshots: %q, want none in flight", b.String())
	}
}
