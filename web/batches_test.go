package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/web"
	"github.com/google/go-cmp/cmp"
)

// apiBatch is a batch as the API writes it, the fields the tests read.
type apiBatch struct {
	ID         int64             `json:"id"`
	Provider   string            `json:"provider"`
	Model      string            `json:"model"`
	Label      string            `json:"label"`
	ProviderID string            `json:"provider_id"`
	State      string            `json:"state"`
	Status     string            `json:"provider_status"`
	Counts     ethos.BatchCounts `json:"counts"`
	Requests   int               `json:"requests"`
	RunIDs     []string          `json:"run_ids"`
	Stages     []string          `json:"stages"`
	Error      string            `json:"error"`
	Age        time.Duration     `json:"age_ns"`
}

func batchIDs(batches []apiBatch) []int64 {
	ids := []int64{}
	for _, b := range batches {
		ids = append(ids, b.ID)
	}
	return ids
}

// newServer serves store, computing aggregates before it answers; the
// server is closed when the test ends.
func newServer(t *testing.T, store ethos.Store, opts web.Options) *web.Server {
	t.Helper()
	opts.ComputeWait = time.Minute
	srv, err := web.New(store, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// decode reads a JSON answer of GET path, which must have status want.
func decode(t *testing.T, h http.Handler, path string, want int, v any) {
	t.Helper()
	w := get(t, h, path)
	if w.Code != want {
		t.Fatalf("GET %s: status %d, want %d\n%s", path, w.Code, want, w.Body)
	}
	if err := json.Unmarshal(w.Body.Bytes(), v); err != nil {
		t.Fatalf("GET %s: %v\n%s", path, err, w.Body)
	}
}

func TestAPIBatches(t *testing.T) {
	t.Parallel()
	srv, s := newSeeded(t, web.Options{})
	for _, tc := range []struct {
		query string
		want  []int64
	}{
		{"", []int64{4, s.BatchFailed, s.BatchWorking, s.BatchEnded}},
		{"?active=1", []int64{4, s.BatchWorking}},
		{"?active=0", []int64{4, s.BatchFailed, s.BatchWorking, s.BatchEnded}},
		// A refused batch's requests were queued again: it holds no run.
		{"?run=" + s.RunID, []int64{s.BatchWorking, s.BatchEnded}},
		{"?run=" + s.EvalID, []int64{4}},
		{"?run=" + s.FailedRunID, []int64{}},
		{"?limit=2", []int64{4, s.BatchFailed}},
	} {
		var got struct {
			Batches []apiBatch `json:"batches"`
		}
		decode(t, srv, "/api/batches"+tc.query, http.StatusOK, &got)
		if diff := cmp.Diff(tc.want, batchIDs(got.Batches)); diff != "" {
			t.Errorf("GET /api/batches%s: IDs (-want +got):\n%s", tc.query, diff)
		}
	}

	var list struct {
		Batches []apiBatch `json:"batches"`
	}
	decode(t, srv, "/api/batches?active=1", http.StatusOK, &list)
	want := apiBatch{ID: s.BatchWorking, Provider: "openai", Model: "openai/gpt-4.1-mini", Label: fmt.Sprintf("ethos-batch-%d", s.BatchWorking),
		ProviderID: "batch_working", State: "in_progress", Status: "finalizing", Counts: ethos.BatchCounts{Total: 2, Processing: 1, Succeeded: 1},
		Requests: 2, RunIDs: []string{s.RunID}, Stages: []string{"review"}, Age: 21 * time.Minute}
	if diff := cmp.Diff(want, list.Batches[1]); diff != "" {
		t.Errorf("the batch in flight (-want +got):\n%s", diff)
	}

	for _, q := range []string{"?active=maybe", "?limit=0", "?limit=x"} {
		var e struct {
			Error struct{ Kind, Message string } `json:"error"`
		}
		decode(t, srv, "/api/batches"+q, http.StatusBadRequest, &e)
		if e.Error.Kind != string(ethos.Invalid) || e.Error.Message == "" {
			t.Errorf("GET /api/batches%s: error %+v, want kind invalid with a message", q, e.Error)
		}
	}
}

func TestAPIBatch(t *testing.T) {
	t.Parallel()
	srv, s := newSeeded(t, web.Options{})
	type item struct {
		Key         string `json:"key"`
		RunID       string `json:"run_id"`
		Stage       string `json:"stage"`
		State       string `json:"state"`
		Outcome     string `json:"outcome"`
		Submissions int    `json:"submissions"`
		ErrorKind   string `json:"error_kind"`
		Error       string `json:"error"`
	}
	var got struct {
		apiBatch
		Items []item `json:"items"`
	}
	path := fmt.Sprintf("/api/batches/%d", s.BatchEnded)
	decode(t, srv, path, http.StatusOK, &got)
	wantBatch := apiBatch{ID: s.BatchEnded, Provider: "anthropic", Model: "anthropic/claude-sonnet-4-5", Label: fmt.Sprintf("ethos-batch-%d", s.BatchEnded),
		ProviderID: "msgbatch_01ended", State: "ended", Status: "ended", Counts: ethos.BatchCounts{Total: 3, Succeeded: 2, Errored: 1},
		Requests: 3, RunIDs: []string{s.RunID}, Stages: []string{"response"}, Age: 16 * time.Minute}
	if diff := cmp.Diff(wantBatch, got.apiBatch); diff != "" {
		t.Errorf("GET %s: the batch (-want +got):\n%s", path, diff)
	}
	wantItems := []item{
		{Key: "b-reply-1", RunID: s.RunID, Stage: "response", State: "answered", Outcome: "succeeded", Submissions: 1},
		{Key: "b-reply-2", RunID: s.RunID, Stage: "response", State: "answered", Outcome: "succeeded", Submissions: 1},
		{Key: "b-reply-3", RunID: s.RunID, Stage: "response", State: "answered", Outcome: "errored", Submissions: 1,
			ErrorKind: "invalid", Error: "invalid_request_error: max_tokens: too large"},
	}
	if diff := cmp.Diff(wantItems, got.Items); diff != "" {
		t.Errorf("GET %s: items (-want +got):\n%s", path, diff)
	}
	// Request and response bodies stay out of the answer.
	body := get(t, srv, path).Body.String()
	for _, text := range []string{"secret-free prompt", "answered by batch", `"messages"`} {
		if strings.Contains(body, text) {
			t.Errorf("GET %s carries %q", path, text)
		}
	}
	var raw struct {
		Items []map[string]json.RawMessage `json:"items"`
	}
	decode(t, srv, path, http.StatusOK, &raw)
	for _, it := range raw.Items {
		if _, ok := it["request"]; ok {
			t.Errorf("GET %s: an item carries its request", path)
		}
		if _, ok := it["response"]; ok {
			t.Errorf("GET %s: an item carries its response", path)
		}
	}

	// The label names it too; a refused batch says why.
	var refused apiBatch
	decode(t, srv, fmt.Sprintf("/api/batches/ethos-batch-%d", s.BatchFailed), http.StatusOK, &refused)
	if refused.State != "failed" || !strings.Contains(refused.Error, "unknown field") {
		t.Errorf("the refused batch: %+v", refused)
	}

	for _, tc := range []struct {
		path   string
		status int
		kind   ethos.Kind
	}{
		{"/api/batches/99", http.StatusNotFound, ethos.NotFound},
		{"/api/batches/abc", http.StatusBadRequest, ethos.Invalid},
		{"/api/batches/-1", http.StatusBadRequest, ethos.Invalid},
	} {
		var e struct {
			Error struct{ Kind, Message string } `json:"error"`
		}
		decode(t, srv, tc.path, tc.status, &e)
		if e.Error.Kind != string(tc.kind) || e.Error.Message == "" {
			t.Errorf("GET %s: error %+v, want kind %s with a message", tc.path, e.Error, tc.kind)
		}
	}
}

// TestBatchesOnPages: the overview and a run's page list the batches, in
// HTML and in the API; a failed batch needs attention.
func TestBatchesOnPages(t *testing.T) {
	t.Parallel()
	srv, s := newSeeded(t, web.Options{})
	var ov struct {
		Batches struct {
			Value []apiBatch `json:"value"`
		} `json:"batches"`
		Attention []struct{ What, ID, Link, Why string } `json:"attention"`
	}
	decode(t, srv, "/api/overview", http.StatusOK, &ov)
	if diff := cmp.Diff([]int64{4, s.BatchWorking, s.BatchFailed, s.BatchEnded}, batchIDs(ov.Batches.Value)); diff != "" {
		t.Errorf("overview batches: working first, then done (-want +got):\n%s", diff)
	}
	var found bool
	for _, a := range ov.Attention {
		if a.What == "batch" {
			found = true
			want := fmt.Sprint(s.BatchFailed)
			if a.ID != want || a.Link != "/#batch-"+want || a.Why != `failed: input file invalid: line 2: unknown field "temprature"` {
				t.Errorf("attention for the failed batch: %+v", a)
			}
		}
	}
	if !found {
		t.Errorf("no attention entry for the failed batch: %+v", ov.Attention)
	}

	var run struct {
		Batches struct {
			Value []apiBatch `json:"value"`
		} `json:"batches"`
	}
	decode(t, srv, "/api/runs/"+s.RunID, http.StatusOK, &run)
	if diff := cmp.Diff([]int64{s.BatchWorking, s.BatchEnded}, batchIDs(run.Batches.Value)); diff != "" {
		t.Errorf("run batches (-want +got):\n%s", diff)
	}

	page := get(t, srv, "/").Body.String()
	for _, want := range []string{"<h2>Batches</h2>", fmt.Sprintf(`id="batch-%d"`, s.BatchWorking), "in_progress (finalizing)",
		"batch_working", `<a href="/runs/gen-golden">gen-golden</a>`, "21m0s", fmt.Sprintf(`<a href="/#batch-%d">batch %d</a>`, s.BatchFailed, s.BatchFailed)} {
		if !strings.Contains(page, want) {
			t.Errorf("the overview lacks %q", want)
		}
	}
	page = get(t, srv, "/runs/"+s.RunID).Body.String()
	if !strings.Contains(page, `id="run-batches"`) || !strings.Contains(page, "msgbatch_01ended") || strings.Contains(page, "together-batch-refused") {
		t.Errorf("the run page does not list exactly its batches")
	}
}

// TestOverviewBatchesOmitted: a store without batches shows no Batches
// section, and the API leaves the field out.
func TestOverviewBatchesOmitted(t *testing.T) {
	t.Parallel()
	db := openStore(t)
	if err := db.CreateRun(t.Context(), &ethos.Run{ID: "gen-online", Kind: "generate", Status: ethos.RunRunning}); err != nil {
		t.Fatal(err)
	}
	srv := newServer(t, db, web.Options{})
	page := get(t, srv, "/").Body.String()
	if strings.Contains(page, "<h2>Batches</h2>") || !strings.Contains(page, `<section id="batches" data-live>`) {
		t.Errorf("without batches the overview should keep only the empty live region")
	}
	var ov map[string]json.RawMessage
	decode(t, srv, "/api/overview", http.StatusOK, &ov)
	if _, ok := ov["batches"]; ok {
		t.Errorf("GET /api/overview has batches without any: %s", ov["batches"])
	}
	if m := get(t, srv, "/metrics").Body.String(); !strings.Contains(m, `ethos_scrape_error{source="batches"} 0`) || strings.Contains(m, "ethos_batches{") {
		t.Errorf("metrics without batches:\n%s", m)
	}
}

// TestOverviewRecentDoneBatches: the overview lists every working batch
// and the 20 most recent done ones.
func TestOverviewRecentDoneBatches(t *testing.T) {
	t.Parallel()
	db := openStore(t)
	ctx := context.Background()
	var ids []int64
	for i := range 23 {
		if _, err := db.QueueBatchItem(ctx, ethos.BatchItem{Key: fmt.Sprintf("k-%d", i), Provider: "sandbox", Model: "sandbox/writer"}); err != nil {
			t.Fatal(err)
		}
		b, _, err := db.CreateBatch(ctx, "sandbox/writer", 1, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, b.ID)
		// The first is still working; the others ended.
		if i > 0 {
			b.State, b.ProviderID, b.EndedAt = ethos.BatchEnded, fmt.Sprintf("sb-%d", i), time.Now()
			if err := db.UpdateBatch(ctx, b); err != nil {
				t.Fatal(err)
			}
		}
	}
	srv := newServer(t, db, web.Options{})
	var ov struct {
		Batches struct {
			Value []apiBatch `json:"value"`
		} `json:"batches"`
	}
	decode(t, srv, "/api/overview", http.StatusOK, &ov)
	want := []int64{ids[0]}
	for i := 22; i > 2; i-- {
		want = append(want, ids[i])
	}
	if diff := cmp.Diff(want, batchIDs(ov.Batches.Value)); diff != "" {
		t.Errorf("overview batches (-want +got):\n%s", diff)
	}
}

// TestBatchMetrics checks the batch gauges beside the golden file: batches
// by provider and state, and requests queued or submitted.
func TestBatchMetrics(t *testing.T) {
	t.Parallel()
	srv, _ := newSeeded(t, web.Options{})
	m := get(t, srv, "/metrics").Body.String()
	for _, want := range []string{
		`ethos_batches{provider="anthropic",state="ended"} 1`,
		`ethos_batches{provider="anthropic",state="in_progress"} 0`,
		`ethos_batches{provider="openai",state="in_progress"} 1`,
		`ethos_batches{provider="sandbox",state="preparing"} 1`,
		`ethos_batches{provider="together",state="failed"} 1`,
		`ethos_batch_requests{provider="openai",model="openai/gpt-4.1-mini",state="submitted"} 2`,
		`ethos_batch_requests{provider="sandbox",model="sandbox/judge",state="submitted"} 2`,
		`ethos_batch_requests{provider="together",model="together/meta-llama/Llama-3.3-70B-Instruct-Turbo",state="queued"} 2`,
		`ethos_scrape_error{source="batches"} 0`,
	} {
		if !strings.Contains(m, want+"\n") {
			t.Errorf("metrics lack %s", want)
		}
	}
	// The ended batch's requests are answered: none of them waits.
	if strings.Contains(m, `ethos_batch_requests{provider="anthropic"`) {
		t.Errorf("metrics count answered requests as waiting")
	}
}

// TestBatchChangesThePages: a batch that moves changes the fingerprint of
// the overview and of its run, so that watching pages refresh.
func TestBatchChangesThePages(t *testing.T) {
	t.Parallel()
	db := openStore(t)
	s := seedStore(t, db)
	srv := newServer(t, db, web.Options{Now: func() time.Time { return clock }})
	version := regexp.MustCompile(`data-version="([0-9a-f]+)"`)
	versions := func() (string, string) {
		t.Helper()
		ov := version.FindStringSubmatch(get(t, srv, "/").Body.String())
		run := version.FindStringSubmatch(get(t, srv, "/runs/"+s.RunID).Body.String())
		if ov == nil || run == nil {
			t.Fatal("a page carries no version")
		}
		return ov[1], run[1]
	}
	ov, run := versions()
	b, err := db.GetBatch(t.Context(), s.BatchWorking)
	if err != nil {
		t.Fatal(err)
	}
	b.Counts.Processing, b.Counts.Succeeded = 0, 2
	if err := db.UpdateBatch(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	ov2, run2 := versions()
	if ov2 == ov || run2 == run {
		t.Errorf("a batch's counts changed, the versions did not: overview %s → %s, run %s → %s", ov, ov2, run, run2)
	}
}
