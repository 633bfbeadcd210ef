package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/ethos-toolkit/ethos"
	"github.com/google/go-cmp/cmp"
)

var batchTests = []struct {
	name string
	fn   func(t *testing.T, s ethos.Store)
}{
	{"BatchItemQueuedOnce", testBatchItemQueuedOnce},
	{"CreateBatchTakesOldestWithinLimits", testCreateBatchLimits},
	{"AnswerBatchItems", testAnswerBatchItems},
	{"ExpiredRequeuedUntilMaxSubmissions", testExpiredRequeued},
	{"RequeueBatchAndForget", testRequeueBatch},
	{"BatchesFilterAndUpdate", testBatchesFilter},
}

func batchItem(i int, model, run string) ethos.BatchItem {
	provider, _, _ := ethos.SplitModel(model)
	return ethos.BatchItem{
		Key:      fmt.Sprintf("%064d", i),
		Provider: provider,
		Model:    model,
		RunID:    run,
		Stage:    "generate.documents",
		Request: ethos.Request{Model: model, System: "sys", MaxTokens: 100,
			Messages: []ethos.Message{{Role: ethos.RoleUser, Content: fmt.Sprintf("request %d", i)}},
			Metadata: map[string]string{"run": run, "item": fmt.Sprint(i)}},
	}
}

func queue(t *testing.T, s ethos.Store, items ...ethos.BatchItem) {
	t.Helper()
	for _, it := range items {
		got, err := s.QueueBatchItem(context.Background(), it)
		if err != nil {
			t.Fatalf("QueueBatchItem(%s): %v", it.Key, err)
		}
		if got.State != ethos.BatchItemQueued {
			t.Fatalf("QueueBatchItem(%s) state = %s, want queued", it.Key, got.State)
		}
	}
}

func createBatch(t *testing.T, s ethos.Store, model string, maxRequests int, maxBytes int64) (ethos.Batch, []ethos.BatchItem) {
	t.Helper()
	b, items, err := s.CreateBatch(context.Background(), model, maxRequests, maxBytes)
	if err != nil {
		t.Fatalf("CreateBatch(%s): %v", model, err)
	}
	return b, items
}

func itemKeys(items []ethos.BatchItem) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.Key
	}
	return out
}

func getBatchItem(t *testing.T, s ethos.Store, key string) ethos.BatchItem {
	t.Helper()
	it, ok, err := s.BatchItem(context.Background(), key)
	if err != nil || !ok {
		t.Fatalf("BatchItem(%s) = ok %v, %v", key, ok, err)
	}
	return it
}

func testBatchItemQueuedOnce(t *testing.T, s ethos.Store) {
	ctx := context.Background()
	it := batchItem(1, "anthropic/claude-haiku-4-5", "r1")
	first, err := s.QueueBatchItem(ctx, it)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(it.Request, first.Request); diff != "" {
		t.Errorf("request read back (-want +got):\n%s", diff)
	}
	if first.QueuedAt.IsZero() || first.RunID != "r1" || first.Stage != "generate.documents" {
		t.Errorf("stored item = %+v", first)
	}
	createBatch(t, s, it.Model, 10, 1<<20)
	again, err := s.QueueBatchItem(ctx, it)
	if err != nil {
		t.Fatal(err)
	}
	if again.State != ethos.BatchItemSubmitted || again.Submissions != 1 {
		t.Errorf("queueing a submitted request again gave state %s, %d submissions; want it left submitted once", again.State, again.Submissions)
	}
	if _, ok, err := s.BatchItem(ctx, fmt.Sprintf("%064d", 2)); ok || err != nil {
		t.Errorf("BatchItem(unknown) = ok %v, %v; want not found", ok, err)
	}
	if _, err := s.QueueBatchItem(ctx, ethos.BatchItem{Key: "k"}); ethos.KindOf(err) != ethos.Invalid {
		t.Errorf("QueueBatchItem without model: %v, want invalid", err)
	}
}

func testCreateBatchLimits(t *testing.T, s ethos.Store) {
	ctx := context.Background()
	const model = "anthropic/claude-haiku-4-5"
	for i := range 5 {
		queue(t, s, batchItem(i, model, "r1"))
	}
	queue(t, s, batchItem(9, "openai/gpt-4o-mini", "r1"))

	queued, err := s.QueuedBatchModels(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(queued) != 2 || queued[0].Model != model || queued[0].Count != 5 || queued[1].Count != 1 || queued[0].Bytes <= 0 || queued[0].Oldest.IsZero() {
		t.Fatalf("QueuedBatchModels = %+v", queued)
	}

	b, items := createBatch(t, s, model, 2, 1<<20)
	if b.ID == 0 || b.State != ethos.BatchPreparing || b.Requests != 2 || b.Provider != "anthropic" || b.Label == "" {
		t.Errorf("batch = %+v", b)
	}
	if diff := cmp.Diff([]string{fmt.Sprintf("%064d", 0), fmt.Sprintf("%064d", 1)}, itemKeys(items)); diff != "" {
		t.Errorf("the oldest two first (-want +got):\n%s", diff)
	}
	if items[0].Request.Messages[0].Content != "request 0" || items[0].BatchID != b.ID || items[0].Submissions != 1 {
		t.Errorf("item = %+v", items[0])
	}
	// A byte limit below two requests' size takes one: a batch always
	// takes at least one, so an oversized request is not stuck.
	_, items = createBatch(t, s, model, 10, 1)
	if len(items) != 1 {
		t.Errorf("byte limit: %d items, want 1", len(items))
	}
	_, items = createBatch(t, s, model, 10, 1<<20)
	if len(items) != 2 {
		t.Errorf("rest: %d items, want 2", len(items))
	}
	b, items = createBatch(t, s, model, 10, 1<<20)
	if b.ID != 0 || len(items) != 0 {
		t.Errorf("nothing queued: batch %+v, %d items", b, len(items))
	}
	if _, _, err := s.CreateBatch(ctx, model, 0, 1); ethos.KindOf(err) != ethos.Invalid {
		t.Errorf("CreateBatch with no room: %v, want invalid", err)
	}
	got := getBatchItem(t, s, fmt.Sprintf("%064d", 4))
	if got.State != ethos.BatchItemSubmitted || got.BatchID == 0 {
		t.Errorf("item 4 = %s in batch %d", got.State, got.BatchID)
	}
}

func testAnswerBatchItems(t *testing.T, s ethos.Store) {
	ctx := context.Background()
	const model = "anthropic/claude-haiku-4-5"
	queue(t, s, batchItem(1, model, "r1"), batchItem(2, model, "r1"))
	b, items := createBatch(t, s, model, 10, 1<<20)
	resp := &ethos.Response{Text: "done", StopReason: ethos.StopEnd, Usage: ethos.Usage{In: 3, Out: 4}, Model: "m", Batch: "msgbatch_1"}
	results := []ethos.BatchItem{
		{Key: items[0].Key, Outcome: ethos.BatchSucceeded, Response: resp},
		{Key: items[1].Key, Outcome: ethos.BatchErrored, ErrorKind: ethos.Invalid, Error: "bad request"},
		{Key: fmt.Sprintf("%064d", 99), Outcome: ethos.BatchSucceeded, Response: resp}, // not in the batch
	}
	if err := s.AnswerBatchItems(ctx, b.ID, results, 3); err != nil {
		t.Fatal(err)
	}
	ok := getBatchItem(t, s, items[0].Key)
	if ok.State != ethos.BatchItemAnswered || ok.Outcome != ethos.BatchSucceeded || ok.AnsweredAt.IsZero() {
		t.Errorf("succeeded item = %+v", ok)
	}
	if diff := cmp.Diff(resp, ok.Response); diff != "" {
		t.Errorf("response (-want +got):\n%s", diff)
	}
	bad := getBatchItem(t, s, items[1].Key)
	if bad.Outcome != ethos.BatchErrored || bad.ErrorKind != ethos.Invalid || bad.Error != "bad request" || bad.Response != nil {
		t.Errorf("errored item = %+v", bad)
	}
	if _, found, _ := s.BatchItem(ctx, fmt.Sprintf("%064d", 99)); found {
		t.Error("a result for a request the batch does not hold was stored")
	}
	// Collecting the same results again changes nothing.
	if err := s.AnswerBatchItems(ctx, b.ID, []ethos.BatchItem{{Key: items[0].Key, Outcome: ethos.BatchErrored, Error: "x"}}, 3); err != nil {
		t.Fatal(err)
	}
	if again := getBatchItem(t, s, items[0].Key); again.Outcome != ethos.BatchSucceeded {
		t.Errorf("a second collection overwrote the answer: %+v", again)
	}
}

func testExpiredRequeued(t *testing.T, s ethos.Store) {
	ctx := context.Background()
	const model = "openai/gpt-4o-mini"
	queue(t, s, batchItem(1, model, "r1"))
	for round := 1; round <= 2; round++ {
		b, items := createBatch(t, s, model, 10, 1<<20)
		if len(items) != 1 || items[0].Submissions != round {
			t.Fatalf("round %d: items %+v", round, items)
		}
		if err := s.AnswerBatchItems(ctx, b.ID, []ethos.BatchItem{{Key: items[0].Key, Outcome: ethos.BatchExpired}}, 2); err != nil {
			t.Fatal(err)
		}
		got := getBatchItem(t, s, items[0].Key)
		want := ethos.BatchItemQueued
		if round == 2 {
			want = ethos.BatchItemAnswered // the second expiry is its answer
		}
		if got.State != want || got.Outcome != ethos.BatchExpired {
			t.Errorf("round %d: item %s, outcome %s; want %s, expired", round, got.State, got.Outcome, want)
		}
	}
}

func testRequeueBatch(t *testing.T, s ethos.Store) {
	ctx := context.Background()
	const model = "anthropic/claude-haiku-4-5"
	queue(t, s, batchItem(1, model, "r1"), batchItem(2, model, "r1"))
	b, items := createBatch(t, s, model, 10, 1<<20)
	if err := s.AnswerBatchItems(ctx, b.ID, []ethos.BatchItem{{Key: items[0].Key, Outcome: ethos.BatchSucceeded,
		Response: &ethos.Response{Text: "x"}}}, 3); err != nil {
		t.Fatal(err)
	}
	held, err := s.BatchItems(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(itemKeys(items), itemKeys(held)); diff != "" {
		t.Errorf("BatchItems (-want +got):\n%s", diff)
	}
	if err := s.RequeueBatch(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	if got := getBatchItem(t, s, items[1].Key); got.State != ethos.BatchItemQueued || got.BatchID != 0 {
		t.Errorf("unanswered item after requeue: %s in batch %d", got.State, got.BatchID)
	}
	if got := getBatchItem(t, s, items[0].Key); got.State != ethos.BatchItemAnswered {
		t.Errorf("answered item after requeue: %s", got.State)
	}
	if err := s.ForgetBatchItem(ctx, items[1].Key); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := s.BatchItem(ctx, items[1].Key); !found {
		t.Error("ForgetBatchItem removed a queued item; it removes only answered ones")
	}
	if err := s.ForgetBatchItem(ctx, items[0].Key); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := s.BatchItem(ctx, items[0].Key); found {
		t.Error("an answered item is still there after ForgetBatchItem")
	}
	queue(t, s, batchItem(1, model, "r1")) // asked again: queued afresh
}

func testBatchesFilter(t *testing.T, s ethos.Store) {
	ctx := context.Background()
	queue(t, s, batchItem(1, "anthropic/claude-haiku-4-5", "r1"), batchItem(2, "openai/gpt-4o-mini", "r2"))
	a, _ := createBatch(t, s, "anthropic/claude-haiku-4-5", 10, 1<<20)
	o, _ := createBatch(t, s, "openai/gpt-4o-mini", 10, 1<<20)

	a.ProviderID, a.State, a.Status = "msgbatch_1", ethos.BatchEnded, "ended"
	a.Counts = ethos.BatchCounts{Total: 1, Succeeded: 1}
	a.SubmittedAt, a.EndedAt, a.CollectedAt = base, base.Add(1e9), base.Add(2e9)
	if err := s.UpdateBatch(ctx, a); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetBatch(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a, got); diff != "" {
		t.Errorf("batch read back (-want +got):\n%s", diff)
	}
	if err := s.UpdateBatch(ctx, ethos.Batch{ID: 999}); ethos.KindOf(err) != ethos.NotFound {
		t.Errorf("UpdateBatch(unknown) = %v, want not found", err)
	}
	if _, err := s.GetBatch(ctx, 999); ethos.KindOf(err) != ethos.NotFound {
		t.Errorf("GetBatch(unknown) = %v, want not found", err)
	}

	ids := func(f ethos.BatchFilter) []int64 {
		bs, err := s.Batches(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		out := []int64{}
		for _, b := range bs {
			out = append(out, b.ID)
		}
		return out
	}
	for _, tt := range []struct {
		name string
		f    ethos.BatchFilter
		want []int64
	}{
		{"all newest first", ethos.BatchFilter{}, []int64{o.ID, a.ID}},
		{"active", ethos.BatchFilter{Active: true}, []int64{o.ID}},
		{"provider", ethos.BatchFilter{Provider: "anthropic"}, []int64{a.ID}},
		{"run", ethos.BatchFilter{RunID: "r2"}, []int64{o.ID}},
		{"limit", ethos.BatchFilter{Limit: 1}, []int64{o.ID}},
	} {
		if diff := cmp.Diff(tt.want, ids(tt.f)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}
