// Package storetest is the conformance suite for ethos.Store. Every store
// implementation (SQLite, Postgres) runs it from its own tests, so they
// all behave the same way behind the interface.
package storetest

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// Run runs the conformance suite. open must return a new, empty store each
// time it is called and close it when the test ends (t.Cleanup); closing a
// store twice must be harmless. Subtests run in parallel, so open must be
// safe to call concurrently.
func Run(t *testing.T, open func(t *testing.T) ethos.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s ethos.Store)
	}{
		{"RecordAndReadBack", testRecordAndReadBack},
		{"CreatedAtKeptWhenGiven", testCreatedAtKept},
		{"RecordNilCall", testRecordNil},
		{"EmptyStore", testEmptyStore},
		{"CacheMissThenHit", testCacheMissThenHit},
		{"FailuresAndHitsAreNotCached", testNotCached},
		{"LatestSuccessWins", testLatestSuccessWins},
		{"Spent", testSpent},
		{"CallsFilterLimitOrder", testCallsFilter},
		{"SummarizeCalls", testSummarize},
		{"PromptCachingLeavesOutCacheHits", testPromptCaching},
		{"ConcurrentRecordCall", testConcurrentRecord},
		{"UnencodableCallRefusedAlone", testUnencodableCall},
		{"Ping", testPing},
		{"ProviderLoads", testProviderLoads},
	}
	tests = append(tests, runTests...)
	tests = append(tests, fineTuneTests...)
	tests = append(tests, evalTests...)
	tests = append(tests, batchTests...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

// base is a fixed instant, microsecond-aligned so that stores with
// microsecond timestamps (Postgres) keep it exactly.
var base = time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC)

func success(key, text string) *ethos.Call {
	resp := &ethos.Response{
		Text:       text,
		StopReason: ethos.StopEnd,
		Usage:      ethos.Usage{In: 10, Out: 20},
		Model:      "claude-sonnet-4-5-20250929",
		RequestID:  "req_" + key,
		Latency:    1500 * time.Millisecond,
	}
	return &ethos.Call{
		Key:      key,
		Provider: "anthropic",
		Model:    "anthropic/claude-sonnet-4-5",
		Request: ethos.Request{
			Model:     "anthropic/claude-sonnet-4-5",
			Messages:  []ethos.Message{{Role: ethos.RoleUser, Content: "say " + text}},
			MaxTokens: 100,
		},
		Response: resp,
		Usage:    resp.Usage,
		CostUSD:  0.25,
		Latency:  resp.Latency,
		Attempts: 1,
	}
}

func failure(key string, kind ethos.Kind) *ethos.Call {
	c := success(key, "")
	c.Response, c.Usage, c.CostUSD, c.Attempts = nil, ethos.Usage{}, 0, 3
	c.ErrorKind, c.Error = kind, "anthropic: messages.create: "+string(kind)
	return c
}

func cacheHit(key, text string) *ethos.Call {
	c := success(key, text)
	c.CacheHit, c.CostUSD, c.Latency, c.Attempts = true, 0, time.Millisecond, 0
	return c
}

func record(t *testing.T, s ethos.Store, calls ...*ethos.Call) {
	t.Helper()
	for _, c := range calls {
		if err := s.RecordCall(t.Context(), c); err != nil {
			t.Fatalf("RecordCall(%s): %v", c.Key, err)
		}
	}
}

func cached(t *testing.T, s ethos.Store, key string) (ethos.Response, bool) {
	t.Helper()
	resp, ok, err := s.CachedResponse(t.Context(), key)
	if err != nil {
		t.Fatalf("CachedResponse(%s): %v", key, err)
	}
	return resp, ok
}

func listCalls(t *testing.T, s ethos.Store, f ethos.CallFilter) []ethos.Call {
	t.Helper()
	calls, err := s.Calls(t.Context(), f)
	if err != nil {
		t.Fatalf("Calls(%+v): %v", f, err)
	}
	return calls
}

func keys(calls []ethos.Call) []string {
	ks := []string{}
	for _, c := range calls {
		ks = append(ks, c.Key)
	}
	return ks
}

func testRecordAndReadBack(t *testing.T, s ethos.Store) {
	temp := 0.7
	ok := success("k1", "hello")
	ok.RunID, ok.Stage = "run-1", "generate.ideas"
	ok.Request.System = "You are terse."
	ok.Request.Temperature = &temp
	ok.Request.Stop = []string{"\n\nHuman:"}
	ok.Request.Stream = true
	ok.Request.Sample = 2
	ok.Request.Metadata = map[string]string{"run": "run-1", "stage": "generate.ideas", "item": "idea-7"}
	ok.Usage = ethos.Usage{In: 10, Out: 20, CacheRead: 30, CacheWrite: 40}
	ok.Response.Usage = ok.Usage
	ok.Response.StopReason = ethos.StopMaxTokens
	ok.Attempts = 2
	failed := failure("k2", ethos.RateLimited)
	failed.RunID = "run-1"

	before := time.Now().Truncate(time.Microsecond)
	record(t, s, ok, failed)
	after := time.Now()

	for _, c := range []*ethos.Call{ok, failed} {
		if c.ID == 0 {
			t.Errorf("call %s: ID not set", c.Key)
		}
		if c.CreatedAt.Before(before) || c.CreatedAt.After(after) {
			t.Errorf("call %s: CreatedAt = %v, want between %v and %v", c.Key, c.CreatedAt, before, after)
		}
	}
	if ok.ID == failed.ID {
		t.Errorf("both calls have ID %d", ok.ID)
	}

	got := listCalls(t, s, ethos.CallFilter{})
	want := []ethos.Call{*failed, *ok}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Calls mismatch (-want +got):\n%s", diff)
	}
	for _, c := range got {
		if c.CreatedAt.Location() != time.UTC {
			t.Errorf("call %s: CreatedAt in %v, want UTC", c.Key, c.CreatedAt.Location())
		}
	}
}

func testCreatedAtKept(t *testing.T, s ethos.Store) {
	c := success("k", "x")
	c.CreatedAt = base.In(time.FixedZone("CET", 3600))
	record(t, s, c)
	if !c.CreatedAt.Equal(base) || c.CreatedAt.Location() != time.UTC {
		t.Errorf("after RecordCall, CreatedAt = %v, want %v", c.CreatedAt, base)
	}
	got := listCalls(t, s, ethos.CallFilter{})
	if len(got) != 1 {
		t.Fatalf("Calls returned %d calls, want 1", len(got))
	}
	if !got[0].CreatedAt.Equal(base) || got[0].CreatedAt.Location() != time.UTC {
		t.Errorf("read back CreatedAt = %v, want %v", got[0].CreatedAt, base)
	}
}

func testRecordNil(t *testing.T, s ethos.Store) {
	err := s.RecordCall(t.Context(), nil)
	if got := ethos.KindOf(err); got != ethos.Invalid {
		t.Errorf("RecordCall(nil) = %v (kind %q), want kind %q", err, got, ethos.Invalid)
	}
}

func testEmptyStore(t *testing.T, s ethos.Store) {
	ctx := t.Context()
	if calls := listCalls(t, s, ethos.CallFilter{}); len(calls) != 0 {
		t.Errorf("Calls on an empty store = %d calls", len(calls))
	}
	if spent, err := s.Spent(ctx, ethos.CallFilter{}); err != nil || spent != 0 {
		t.Errorf("Spent on an empty store = %v, %v; want 0, nil", spent, err)
	}
	if sums, err := s.SummarizeCalls(ctx, ethos.CallFilter{}); err != nil || len(sums) != 0 {
		t.Errorf("SummarizeCalls on an empty store = %v, %v; want none", sums, err)
	}
}

func testCacheMissThenHit(t *testing.T, s ethos.Store) {
	if _, ok := cached(t, s, "k"); ok {
		t.Fatal("CachedResponse on an empty store: ok = true")
	}
	c := success("k", "cached text")
	record(t, s, c)
	resp, ok := cached(t, s, "k")
	if !ok {
		t.Fatal("CachedResponse after a successful call: ok = false")
	}
	if diff := cmp.Diff(*c.Response, resp); diff != "" {
		t.Errorf("cached response mismatch (-want +got):\n%s", diff)
	}
	if _, ok := cached(t, s, "other"); ok {
		t.Error("CachedResponse(other key): ok = true")
	}
}

func testNotCached(t *testing.T, s ethos.Store) {
	// A response that the caller judged failed (it did not parse) is no
	// answer to reuse either.
	unparsed := success("parse", "not json")
	unparsed.ErrorKind, unparsed.Error = ethos.Parse, "no JSON object in output"
	record(t, s,
		failure("failed", ethos.Transient),
		cacheHit("hit", "from an older store"),
		unparsed,
	)
	for _, k := range []string{"failed", "hit", "parse"} {
		if _, ok := cached(t, s, k); ok {
			t.Errorf("CachedResponse(%s): ok = true, want false", k)
		}
	}

	// A later failure or hit does not displace a cached success.
	good := success("k", "good")
	record(t, s, good, failure("k", ethos.Overloaded), cacheHit("k", "hit text"))
	resp, ok := cached(t, s, "k")
	if !ok || resp.Text != "good" {
		t.Errorf("CachedResponse(k) = %q, %v; want %q, true", resp.Text, ok, "good")
	}
}

func testLatestSuccessWins(t *testing.T, s ethos.Store) {
	first, second := success("k", "first"), success("k", "second")
	// Given times are older than the recording order: the latest recorded
	// success wins regardless.
	first.CreatedAt, second.CreatedAt = base.Add(time.Hour), base
	record(t, s, first, second)
	resp, ok := cached(t, s, "k")
	if !ok || resp.Text != "second" {
		t.Errorf("CachedResponse(k) = %q, %v; want %q, true", resp.Text, ok, "second")
	}
}

func testSpent(t *testing.T, s ethos.Store) {
	a, b, c := success("a", "a"), success("b", "b"), success("c", "c")
	a.RunID, b.RunID, c.RunID = "r1", "r1", "r2"
	a.CostUSD, b.CostUSD, c.CostUSD = 0.25, 0.5, 0.125
	c.Provider = "openai"
	hit, failed := cacheHit("a", "a"), failure("d", ethos.Transient)
	hit.RunID, failed.RunID = "r1", "r1"
	record(t, s, a, b, c, hit, failed)

	tests := []struct {
		name string
		f    ethos.CallFilter
		want float64
	}{
		{"total", ethos.CallFilter{}, 0.875},
		{"run r1", ethos.CallFilter{RunID: "r1"}, 0.75},
		{"run r2", ethos.CallFilter{RunID: "r2"}, 0.125},
		{"unknown run", ethos.CallFilter{RunID: "r3"}, 0},
		{"provider", ethos.CallFilter{Provider: "anthropic"}, 0.75},
		{"limit is not a filter", ethos.CallFilter{Limit: 1}, 0.875},
	}
	for _, tt := range tests {
		got, err := s.Spent(t.Context(), tt.f)
		if err != nil {
			t.Fatalf("Spent(%s): %v", tt.name, err)
		}
		// The costs are binary fractions, so their sum is exact.
		if got != tt.want {
			t.Errorf("Spent(%s) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func testCallsFilter(t *testing.T, s ethos.Store) {
	type spec struct {
		key, run, provider string
		at                 time.Duration // after base
	}
	// Recorded out of time order; c3 and c4 share a timestamp, so the one
	// recorded later (c4) counts as newer.
	specs := []spec{
		{"c2", "r1", "openai", 2 * time.Minute},
		{"c0", "r1", "anthropic", 0},
		{"c3", "r2", "anthropic", 3 * time.Minute},
		{"c4", "r2", "openai", 3 * time.Minute},
		{"c1", "r2", "anthropic", time.Minute},
		{"c5", "", "anthropic", 5 * time.Minute},
	}
	for _, sp := range specs {
		c := success(sp.key, sp.key)
		c.RunID, c.Provider, c.CreatedAt = sp.run, sp.provider, base.Add(sp.at)
		if sp.provider == "openai" {
			c.Stage = "document"
		}
		record(t, s, c)
	}

	tests := []struct {
		name string
		f    ethos.CallFilter
		want []string
	}{
		{"all newest first", ethos.CallFilter{}, []string{"c5", "c4", "c3", "c2", "c1", "c0"}},
		{"run", ethos.CallFilter{RunID: "r2"}, []string{"c4", "c3", "c1"}},
		{"provider", ethos.CallFilter{Provider: "openai"}, []string{"c4", "c2"}},
		{"stage", ethos.CallFilter{Stage: "document"}, []string{"c4", "c2"}},
		{"stage and run", ethos.CallFilter{Stage: "document", RunID: "r1"}, []string{"c2"}},
		{"since is inclusive", ethos.CallFilter{Since: base.Add(2 * time.Minute)}, []string{"c5", "c4", "c3", "c2"}},
		{"since in another zone", ethos.CallFilter{Since: base.Add(3 * time.Minute).In(time.FixedZone("X", -7*3600))}, []string{"c5", "c4", "c3"}},
		{"since between", ethos.CallFilter{Since: base.Add(90 * time.Second)}, []string{"c5", "c4", "c3", "c2"}},
		{"limit", ethos.CallFilter{Limit: 2}, []string{"c5", "c4"}},
		{"limit above count", ethos.CallFilter{Limit: 100}, []string{"c5", "c4", "c3", "c2", "c1", "c0"}},
		{"combined", ethos.CallFilter{RunID: "r2", Provider: "anthropic", Since: base.Add(time.Minute), Limit: 1}, []string{"c3"}},
		{"no match", ethos.CallFilter{RunID: "r9"}, []string{}},
	}
	for _, tt := range tests {
		got := keys(listCalls(t, s, tt.f))
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Calls(%s) keys mismatch (-want +got):\n%s", tt.name, diff)
		}
	}
}

func testSummarize(t *testing.T, s ethos.Store) {
	var calls []*ethos.Call
	add := func(c *ethos.Call, provider, model, run string) {
		c.Provider, c.Model, c.RunID = provider, model, run
		calls = append(calls, c)
	}
	a1, a2 := success("a1", "x"), success("a2", "y")
	a1.Usage, a1.CostUSD, a1.Latency = ethos.Usage{In: 100, Out: 50, CacheRead: 10, CacheWrite: 5}, 0.5, 2*time.Second
	a2.Usage, a2.CostUSD, a2.Latency = ethos.Usage{In: 200, Out: 25}, 0.25, 4*time.Second
	hit := cacheHit("a1", "x")
	hit.Usage, hit.Latency = ethos.Usage{}, 0
	fa, fb, fc := failure("a3", ethos.RateLimited), failure("a4", ethos.RateLimited), failure("a5", ethos.Transient)
	fa.Latency, fb.Latency, fc.Latency = 0, 0, 0
	// A call cut short by Ctrl-C is counted apart from the errors.
	cut := failure("a6", ethos.Interrupted)
	cut.Latency = time.Second
	add(a1, "anthropic", "anthropic/sonnet", "r1")
	add(a2, "anthropic", "anthropic/sonnet", "r1")
	add(hit, "anthropic", "anthropic/sonnet", "r1")
	add(fa, "anthropic", "anthropic/sonnet", "r1")
	add(fb, "anthropic", "anthropic/sonnet", "r2")
	add(fc, "anthropic", "anthropic/sonnet", "r1")
	add(cut, "anthropic", "anthropic/sonnet", "r1")
	o1 := success("o1", "z")
	o1.Usage, o1.CostUSD, o1.Latency = ethos.Usage{In: 7, Out: 3}, 0.125, time.Second
	add(o1, "openai", "openai/gpt-5", "r1")
	h1 := success("h1", "w")
	h1.Usage, h1.CostUSD, h1.Latency = ethos.Usage{In: 1, Out: 1}, 0.0625, 3*time.Second
	add(h1, "anthropic", "anthropic/haiku", "r2")
	record(t, s, calls...)

	tests := []struct {
		name string
		f    ethos.CallFilter
		want []ethos.CallSummary
	}{
		{"all", ethos.CallFilter{}, []ethos.CallSummary{
			{Provider: "anthropic", Model: "anthropic/haiku", Calls: 1, Usage: ethos.Usage{In: 1, Out: 1}, CostUSD: 0.0625, Latency: 3 * time.Second},
			{
				Provider: "anthropic", Model: "anthropic/sonnet", Calls: 7, CacheHits: 1,
				Errors:      map[ethos.Kind]int{ethos.RateLimited: 2, ethos.Transient: 1},
				Interrupted: 1,
				Usage:       ethos.Usage{In: 300, Out: 75, CacheRead: 10, CacheWrite: 5},
				CostUSD:     0.75, Latency: time.Second, // 7s over 7 calls
			},
			{Provider: "openai", Model: "openai/gpt-5", Calls: 1, Usage: ethos.Usage{In: 7, Out: 3}, CostUSD: 0.125, Latency: time.Second},
		}},
		{"run r2", ethos.CallFilter{RunID: "r2"}, []ethos.CallSummary{
			{Provider: "anthropic", Model: "anthropic/haiku", Calls: 1, Usage: ethos.Usage{In: 1, Out: 1}, CostUSD: 0.0625, Latency: 3 * time.Second},
			{Provider: "anthropic", Model: "anthropic/sonnet", Calls: 1, Errors: map[ethos.Kind]int{ethos.RateLimited: 1}},
		}},
		{"provider", ethos.CallFilter{Provider: "openai"}, []ethos.CallSummary{
			{Provider: "openai", Model: "openai/gpt-5", Calls: 1, Usage: ethos.Usage{In: 7, Out: 3}, CostUSD: 0.125, Latency: time.Second},
		}},
		{"no match", ethos.CallFilter{RunID: "r9"}, nil},
	}
	for _, tt := range tests {
		got, err := s.SummarizeCalls(t.Context(), tt.f)
		if err != nil {
			t.Fatalf("SummarizeCalls(%s): %v", tt.name, err)
		}
		if diff := cmp.Diff(tt.want, got, cmpEmpty); diff != "" {
			t.Errorf("SummarizeCalls(%s) mismatch (-want +got):\n%s", tt.name, diff)
		}
	}
}

// testPromptCaching checks that the prompt-caching sums count only calls
// sent to a provider: a ledger cache hit carries the tokens of the answer
// it repeats, and those were neither billed nor read from any provider's
// cache.
func testPromptCaching(t *testing.T, s ethos.Store) {
	var calls []*ethos.Call
	add := func(c *ethos.Call, run, stage, model string, u ethos.Usage, cost float64) {
		c.RunID, c.Stage, c.Model, c.Usage, c.CostUSD = run, stage, model, u, cost
		calls = append(calls, c)
	}
	add(success("j1", "x"), "r1", "eval.judge", "anthropic/sonnet", ethos.Usage{In: 100, Out: 10, CacheWrite: 2000}, 0.5)
	add(success("j2", "x"), "r1", "eval.judge", "anthropic/sonnet", ethos.Usage{In: 120, Out: 12, CacheRead: 2000}, 0.25)
	// A repeat of j2 answered from the ledger: its tokens are j2's.
	add(cacheHit("j2", "x"), "r1", "eval.judge", "anthropic/sonnet", ethos.Usage{In: 120, Out: 12, CacheRead: 2000}, 0)
	add(failure("j3", ethos.Transient), "r1", "eval.judge", "anthropic/sonnet", ethos.Usage{}, 0)
	add(success("a1", "y"), "r1", "eval.answer", "anthropic/haiku", ethos.Usage{In: 50, Out: 300}, 0.125)
	add(success("g1", "z"), "r2", "response", "anthropic/sonnet", ethos.Usage{In: 10, Out: 5, CacheRead: 1024}, 0.0625)
	// Only hits: the group is absent, not a row of zeros.
	add(cacheHit("g1", "z"), "r2", "idea", "anthropic/sonnet", ethos.Usage{In: 10, Out: 5, CacheRead: 1024}, 0)
	record(t, s, calls...)

	judge := ethos.PromptCacheUse{RunID: "r1", Stage: "eval.judge", Provider: "anthropic", Model: "anthropic/sonnet", Calls: 3,
		Usage: ethos.Usage{In: 220, Out: 22, CacheRead: 2000, CacheWrite: 2000}, CostUSD: 0.75, UncachedUSD: 0.75}
	answer := ethos.PromptCacheUse{RunID: "r1", Stage: "eval.answer", Provider: "anthropic", Model: "anthropic/haiku", Calls: 1,
		Usage: ethos.Usage{In: 50, Out: 300}, CostUSD: 0.125, UncachedUSD: 0.125}
	gen := ethos.PromptCacheUse{RunID: "r2", Stage: "response", Provider: "anthropic", Model: "anthropic/sonnet", Calls: 1,
		Usage: ethos.Usage{In: 10, Out: 5, CacheRead: 1024}, CostUSD: 0.0625, UncachedUSD: 0.0625}
	tests := []struct {
		name string
		f    ethos.CallFilter
		want []ethos.PromptCacheUse
	}{
		{"all", ethos.CallFilter{}, []ethos.PromptCacheUse{answer, judge, gen}},
		{"run", ethos.CallFilter{RunID: "r1"}, []ethos.PromptCacheUse{answer, judge}},
		{"stage", ethos.CallFilter{Stage: "eval.judge"}, []ethos.PromptCacheUse{judge}},
		{"only hits", ethos.CallFilter{Stage: "idea"}, nil},
		{"limit ignored", ethos.CallFilter{RunID: "r2", Limit: 1}, []ethos.PromptCacheUse{gen}},
	}
	for _, tt := range tests {
		got, err := s.PromptCaching(t.Context(), tt.f)
		if err != nil {
			t.Fatalf("PromptCaching(%s): %v", tt.name, err)
		}
		if diff := cmp.Diff(tt.want, got, cmpEmpty); diff != "" {
			t.Errorf("PromptCaching(%s) mismatch (-want +got):\n%s", tt.name, diff)
		}
	}
}

// Whether "none" is a nil or an empty slice or map is not part of the
// contract.
var cmpEmpty = cmpopts.EquateEmpty()

func testConcurrentRecord(t *testing.T, s ethos.Store) {
	const workers, perWorker = 16, 50
	ctx := t.Context()
	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker)
	ids := make([][]int64, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				c := success(fmt.Sprintf("w%02d-%02d", w, i), "x")
				c.RunID = fmt.Sprintf("w%02d", w)
				if err := s.RecordCall(ctx, c); err != nil {
					errs <- err
					continue
				}
				ids[w] = append(ids[w], c.ID)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("RecordCall: %v", err)
	}

	seen := make(map[int64]bool)
	for _, ws := range ids {
		for _, id := range ws {
			if seen[id] {
				t.Errorf("ID %d given to two calls", id)
			}
			seen[id] = true
		}
	}
	got := listCalls(t, s, ethos.CallFilter{})
	if len(got) != workers*perWorker {
		t.Fatalf("Calls returned %d calls, want %d", len(got), workers*perWorker)
	}
	keySeen := make(map[string]bool)
	for _, c := range got {
		keySeen[c.Key] = true
		if !seen[c.ID] {
			t.Errorf("call %s has ID %d, not one RecordCall returned", c.Key, c.ID)
		}
	}
	for w := range workers {
		for i := range perWorker {
			if k := fmt.Sprintf("w%02d-%02d", w, i); !keySeen[k] {
				t.Errorf("call %s missing", k)
			}
		}
		if n := len(listCalls(t, s, ethos.CallFilter{RunID: fmt.Sprintf("w%02d", w)})); n != perWorker {
			t.Errorf("run w%02d has %d calls, want %d", w, n, perWorker)
		}
	}
}

// testUnencodableCall records a call JSON cannot encode (a NaN
// temperature) among good ones recorded at the same time: it alone is
// refused, as Invalid, and the others are written.
func testUnencodableCall(t *testing.T, s ethos.Store) {
	const good = 8
	nan := math.NaN()
	var wg sync.WaitGroup
	errs := make([]error, good+1)
	for i := range good + 1 {
		wg.Go(func() {
			c := success(fmt.Sprintf("k%d", i), "x")
			if i == good {
				c.Key = "bad"
				c.Request.Temperature = &nan
			}
			errs[i] = s.RecordCall(t.Context(), c)
		})
	}
	wg.Wait()
	for i, err := range errs[:good] {
		if err != nil {
			t.Errorf("RecordCall(k%d): %v", i, err)
		}
	}
	if err := errs[good]; ethos.KindOf(err) != ethos.Invalid || !strings.Contains(err.Error(), "encode request") {
		t.Errorf("RecordCall with a NaN temperature = %v (kind %q), want an Invalid error saying it cannot encode the request", err, ethos.KindOf(err))
	}
	got := keys(listCalls(t, s, ethos.CallFilter{}))
	if len(got) != good || slices.Contains(got, "bad") {
		t.Errorf("calls recorded: %v, want the %d good ones", got, good)
	}
}

func testPing(t *testing.T, s ethos.Store) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Ping(ctx); err == nil {
		t.Error("Ping after Close: nil error")
	}
}

// testProviderLoads: a snapshot per share key and process, replaced by
// the same process's next one; snapshots older than ethos.LoadRetention
// are deleted by the next write.
func testProviderLoads(t *testing.T, s ethos.Store) {
	ctx := t.Context()
	if got, err := s.ProviderLoads(ctx); err != nil || len(got) != 0 {
		t.Fatalf("empty store: %v, %v", got, err)
	}
	first := []ethos.ProviderLoad{
		// Written without a key or process: stored under the provider's
		// name and the PID.
		{Provider: "together", InFlight: 3, Target: 8, Ceiling: 8, Latency: time.Second, PID: 7, UpdatedAt: base},
		{Provider: "anthropic", Key: "anthropic#1f2e3d4c5b6a", Process: "host-a:7:aa", InFlight: 212, Waiting: 40,
			Target: 251, Ceiling: 4096, Auto: true, Latency: 10200 * time.Millisecond, RPM: 1200, TPM: 400000, Share: 0.75,
			PID: 7, UpdatedAt: base},
	}
	if err := s.PutProviderLoads(ctx, first); err != nil {
		t.Fatal(err)
	}
	// Another process on the same account, and one on another account.
	peer := first[1]
	peer.Process, peer.InFlight, peer.Share, peer.PID = "host-b:9:bb", 70, 0.25, 9
	other := first[1]
	other.Key, other.Process, other.Share = "anthropic#99887766aabb", "host-b:9:bb", 1
	later := first[1]
	later.InFlight, later.Waiting, later.Share, later.UpdatedAt = 0, 0, 0.5, base.Add(time.Minute)
	if err := s.PutProviderLoads(ctx, []ethos.ProviderLoad{later, peer, other}); err != nil {
		t.Fatal(err)
	}
	got, err := s.ProviderLoads(ctx)
	if err != nil {
		t.Fatal(err)
	}
	old := first[0]
	old.Key, old.Process = "together", "pid 7"
	want := []ethos.ProviderLoad{later, peer, other, old}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ProviderLoads (-want +got):\n%s", diff)
	}
	if !got[3].Stale(base.Add(time.Minute)) || got[0].Stale(base.Add(time.Minute)) {
		t.Errorf("a minute-old snapshot must be stale and a fresh one not")
	}
	// A write an hour and a half later deletes what nobody refreshed for
	// more than ethos.LoadRetention.
	fresh := later
	fresh.UpdatedAt = base.Add(90 * time.Minute)
	if err := s.PutProviderLoads(ctx, []ethos.ProviderLoad{fresh}); err != nil {
		t.Fatal(err)
	}
	got, err = s.ProviderLoads(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]ethos.ProviderLoad{fresh}, got); diff != "" {
		t.Errorf("after a write 90 minutes on (-want +got):\n%s", diff)
	}
}
