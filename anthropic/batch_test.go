package anthropic

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	sdk "github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/packages/jsonl"
	"github.com/google/go-cmp/cmp"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/internal/wire/wiretest"
)

// key is a custom ID shaped like the ledger's request keys.
func key(i int) string { return fmt.Sprintf("%064x", i) }

// batchJSON renders a message batch as the API does.
func batchJSON(id, status string, created time.Time, counts string) string {
	ended := "null"
	if status == "ended" {
		ended = `"` + created.Add(time.Hour).Format(time.RFC3339) + `"`
	}
	return fmt.Sprintf(`{"id":%q,"type":"message_batch","processing_status":%q,"request_counts":%s,`+
		`"created_at":%q,"expires_at":%q,"ended_at":%s,"cancel_initiated_at":null,"archived_at":null,"results_url":null}`,
		id, status, counts, created.Format(time.RFC3339), created.Add(24*time.Hour).Format(time.RFC3339), ended)
}

const someCounts = `{"processing":1,"succeeded":2,"errored":3,"canceled":4,"expired":5}`

// batchServer records every request and answers with h.
type batchServer struct {
	mu    sync.Mutex
	calls []string // "METHOD path?query"
	body  []byte   // the last request body
}

func (s *batchServer) start(t *testing.T, h http.HandlerFunc) *Client {
	t.Helper()
	return newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		call := r.Method + " " + r.URL.Path
		if r.URL.RawQuery != "" {
			call += "?" + r.URL.RawQuery
		}
		s.calls = append(s.calls, call)
		s.body = body
		s.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		h(w, r)
	})
}

// TestBatchParamsAreTheOnlineBody checks that each batched request's params
// are exactly the body Complete sends for the same request, cache mark
// included, and that the create body follows the spec bundled with the SDK.
func TestBatchParamsAreTheOnlineBody(t *testing.T) {
	t.Parallel()
	reqs := []ethos.Request{
		sampleRequest(),
		cachedRequest(2),
		{Model: "claude-haiku-4-5", Messages: []ethos.Message{{Role: ethos.RoleUser, Content: "x"}}, MaxTokens: 1},
	}
	var online [][]byte
	var s batchServer
	c := s.start(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("content-type", "application/json")
		if r.URL.Path == "/v1/messages" {
			body, _ := io.ReadAll(r.Body)
			online = append(online, body)
			io.WriteString(w, messageJSON)
			return
		}
		io.WriteString(w, batchJSON("msgbatch_1", "in_progress", time.Now(), someCounts))
	})
	sub := ethos.BatchSubmission{Label: "ethos-batch-1"}
	for i, req := range reqs {
		if _, err := c.Complete(context.Background(), req); err != nil {
			t.Fatal(err)
		}
		sub.Requests = append(sub.Requests, ethos.BatchRequest{CustomID: key(i), Request: req})
	}
	if _, err := c.SubmitBatch(context.Background(), sub); err != nil {
		t.Fatal(err)
	}
	var created struct {
		Requests []struct {
			CustomID string          `json:"custom_id"`
			Params   json.RawMessage `json:"params"`
		} `json:"requests"`
	}
	if err := json.Unmarshal(s.body, &created); err != nil {
		t.Fatal(err)
	}
	if len(created.Requests) != len(reqs) {
		t.Fatalf("batch holds %d requests, want %d", len(created.Requests), len(reqs))
	}
	for i, r := range created.Requests {
		if r.CustomID != key(i) {
			t.Errorf("request %d: custom_id %q, want %q", i, r.CustomID, key(i))
		}
		var got, want any
		json.Unmarshal(r.Params, &got)
		json.Unmarshal(online[i], &want)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("request %d: batch params differ from the online body (-online +batch):\n%s", i, diff)
		}
		if bytes.Contains(r.Params, []byte(`"stream"`)) {
			t.Errorf("request %d: batch params set stream: %s", i, r.Params)
		}
	}
	if !bytes.Contains(s.body, []byte(`"cache_control":{"type":"ephemeral"}`)) {
		t.Error("the cached request lost its cache mark in the batch")
	}

	spec := onlyPost(t, wiretest.AnthropicSpec(t), "/v1/messages/batches")
	doc, err := libopenapi.NewDocument(spec)
	if err != nil {
		t.Fatal(err)
	}
	v, errs := validator.NewValidator(doc, config.WithRegexEngine(ecmaRegexp))
	if len(errs) > 0 {
		t.Fatalf("build validator: %v", errs)
	}
	bv := v.GetRequestBodyValidator()
	check := func(body []byte) bool {
		r, _ := http.NewRequest(http.MethodPost, "https://api.anthropic.com/v1/messages/batches", bytes.NewReader(body))
		r.Header.Set("content-type", "application/json")
		ok, verrs := bv.ValidateRequestBody(r)
		for _, e := range verrs {
			t.Log(e.Error())
			for _, se := range e.SchemaValidationErrors {
				t.Log("  " + se.Reason + " at " + se.FieldPath)
			}
		}
		return ok
	}
	if !check(s.body) {
		t.Errorf("create body violates the spec: %.2000s", s.body)
	}
	// The check must be able to fail: a custom_id the spec's pattern refuses.
	if check([]byte(`{"requests":[{"custom_id":"a b","params":{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}]}}]}`)) {
		t.Error("the validator accepted a bad custom_id; the check proves nothing")
	}
}

// TestSubmitBatchRefusesBeforeSending checks the limits and the API's rules
// on custom IDs: nothing is sent for a batch the API would refuse.
func TestSubmitBatchRefusesBeforeSending(t *testing.T) {
	t.Parallel()
	var s batchServer
	c := s.start(t, func(w http.ResponseWriter, r *http.Request) { t.Errorf("request sent: %s", r.URL) })
	if got := c.BatchLimits(); got != (ethos.BatchLimits{MaxRequests: 100_000, MaxBytes: 256_000_000}) {
		t.Errorf("BatchLimits = %+v", got)
	}
	c.batchLimits = ethos.BatchLimits{MaxRequests: 3, MaxBytes: 2000}
	req := ethos.Request{Model: "claude-sonnet-4-5", Messages: []ethos.Message{{Role: ethos.RoleUser, Content: "x"}}, MaxTokens: 8}
	batch := func(ids ...string) ethos.BatchSubmission {
		b := ethos.BatchSubmission{Label: "ethos-batch-2"}
		for _, id := range ids {
			b.Requests = append(b.Requests, ethos.BatchRequest{CustomID: id, Request: req})
		}
		return b
	}
	big := batch(key(1))
	big.Requests[0].Request.Messages[0].Content = strings.Repeat("x", 3000)
	temp := batch(key(1))
	hot := 0.5
	temp.Requests[0].Request.Temperature = &hot
	for name, b := range map[string]ethos.BatchSubmission{
		"empty":        batch(),
		"too many":     batch(key(1), key(2), key(3), key(4)),
		"too large":    big,
		"bad id":       batch("not a key"),
		"long id":      batch(strings.Repeat("a", 65)),
		"repeated id":  batch(key(1), key(1)),
		"invalid call": temp,
	} {
		_, err := c.SubmitBatch(context.Background(), b)
		if e := wiretest.AsError(t, err); e.Kind != ethos.Invalid || e.Op != "anthropic: messages.batches.create" {
			t.Errorf("%s: got %s %q, want an invalid error", name, e.Kind, e)
		}
	}
}

func TestBatchState(t *testing.T) {
	t.Parallel()
	want := map[string]ethos.BatchState{
		"in_progress": ethos.BatchInProgress,
		"canceling":   ethos.BatchCancelling,
		"ended":       ethos.BatchEnded,
		"archived":    ethos.BatchInProgress, // unknown: still followed
	}
	got := map[string]ethos.BatchState{}
	for s := range want {
		got[s] = BatchState(s)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}
}

func TestGetAndCancelBatch(t *testing.T) {
	t.Parallel()
	created := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	var s batchServer
	c := s.start(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("content-type", "application/json")
		switch {
		case strings.HasSuffix(r.URL.Path, "/cancel"):
			io.WriteString(w, batchJSON("msgbatch_7", "canceling", created, someCounts))
		case strings.HasSuffix(r.URL.Path, "/msgbatch_7"):
			io.WriteString(w, batchJSON("msgbatch_7", "ended", created, someCounts))
		default:
			w.WriteHeader(404)
			io.WriteString(w, `{"type":"error","error":{"type":"not_found_error","message":"no such batch"}}`)
		}
	})
	got, err := c.GetBatch(context.Background(), "msgbatch_7")
	if err != nil {
		t.Fatal(err)
	}
	want := ethos.BatchInfo{
		ID: "msgbatch_7", State: ethos.BatchEnded, ProviderStatus: "ended",
		Counts:    ethos.BatchCounts{Total: 15, Processing: 1, Succeeded: 2, Errored: 3, Cancelled: 4, Expired: 5},
		CreatedAt: created, EndedAt: created.Add(time.Hour), ExpiresAt: created.Add(24 * time.Hour),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GetBatch (-want +got):\n%s", diff)
	}
	got, err = c.CancelBatch(context.Background(), "msgbatch_7")
	if err != nil {
		t.Fatal(err)
	}
	if got.State != ethos.BatchCancelling || got.Label != "" {
		t.Errorf("CancelBatch: state %s label %q, want cancelling and no label", got.State, got.Label)
	}
	_, err = c.GetBatch(context.Background(), "msgbatch_gone")
	if e := wiretest.AsError(t, err); e.Kind != ethos.NotFound || !strings.Contains(e.Msg, `batch "msgbatch_gone" not found`) {
		t.Errorf("unknown batch: %s %q", e.Kind, e)
	}
	_, err = c.GetBatch(context.Background(), "")
	if e := wiretest.AsError(t, err); e.Kind != ethos.Invalid {
		t.Errorf("empty ID: %s", e.Kind)
	}
	wiretest.AssertNoSecret(t, err, testKey)
}

// TestListBatchesStopsAtSince serves three pages, newest first, and checks
// that the listing stops within the second page without asking for the
// third.
func TestListBatchesStopsAtSince(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	// Batch i was created i hours before base; two a page.
	page := func(first int, more bool) string {
		var items []string
		for i := first; i < first+2; i++ {
			items = append(items, batchJSON(fmt.Sprintf("msgbatch_%d", i), "ended", base.Add(-time.Duration(i)*time.Hour), someCounts))
		}
		return fmt.Sprintf(`{"data":[%s],"has_more":%t,"first_id":"msgbatch_%d","last_id":"msgbatch_%d"}`,
			strings.Join(items, ","), more, first, first+1)
	}
	var s batchServer
	c := s.start(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("content-type", "application/json")
		switch r.URL.Query().Get("after_id") {
		case "":
			io.WriteString(w, page(0, true))
		case "msgbatch_1":
			io.WriteString(w, page(2, true))
		default:
			io.WriteString(w, page(4, false))
		}
	})
	got, err := c.ListBatches(context.Background(), base.Add(-150*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, b := range got {
		ids = append(ids, b.ID)
	}
	if diff := cmp.Diff([]string{"msgbatch_0", "msgbatch_1", "msgbatch_2"}, ids); diff != "" {
		t.Errorf("listed (-want +got):\n%s", diff)
	}
	want := []string{"GET /v1/messages/batches?limit=100", "GET /v1/messages/batches?after_id=msgbatch_1&limit=100"}
	if diff := cmp.Diff(want, s.calls); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

// resultLines are one of each result a batch gives, in the API's words.
var resultLines = []string{
	`{"custom_id":"` + key(1) + `","result":{"type":"succeeded","message":` + strings.ReplaceAll(messageJSON, "\n", "") + `}}`,
	`{"custom_id":"` + key(2) + `","result":{"type":"errored","error":{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: too large"},"request_id":"req_2"}}}`,
	`{"custom_id":"` + key(3) + `","result":{"type":"errored","error":{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":null}}}`,
	`{"custom_id":"` + key(4) + `","result":{"type":"canceled"}}`,
	`{"custom_id":"` + key(5) + `","result":{"type":"expired"}}`,
	`{"custom_id":"not-in-this-batch","result":{"type":"expired"}}`,
}

// collect reads a batch's results from a server that answers body.
func collect(t *testing.T, body string) ([]ethos.BatchResult, error) {
	t.Helper()
	var s batchServer
	c := s.start(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/messages/batches/msgbatch_1/results" {
			t.Errorf("results read from %s", r.URL.Path)
		}
		w.Header().Set("content-type", "application/x-jsonl")
		io.WriteString(w, body)
	})
	var got []ethos.BatchResult
	err := c.BatchResults(context.Background(), "msgbatch_1", func(r ethos.BatchResult) error {
		got = append(got, r)
		return nil
	})
	return got, err
}

func TestBatchResults(t *testing.T) {
	t.Parallel()
	got, err := collect(t, strings.Join(resultLines, "\n")+"\n")
	if err != nil {
		t.Fatal(err)
	}
	want := []ethos.BatchResult{
		{CustomID: key(1), Outcome: ethos.BatchSucceeded, Response: &ethos.Response{
			Text: "Hello, world.", StopReason: ethos.StopEnd, Model: "claude-sonnet-4-5-20250929",
			Usage: ethos.Usage{In: 12, Out: 5, CacheRead: 3, CacheWrite: 2},
		}},
		{CustomID: key(2), Outcome: ethos.BatchErrored, Err: &ethos.Error{Kind: ethos.Invalid, Op: "anthropic: messages",
			Msg: "errored in the batch: invalid_request_error: max_tokens: too large", RequestID: "req_2"}},
		{CustomID: key(3), Outcome: ethos.BatchErrored, Err: &ethos.Error{Kind: ethos.Overloaded, Op: "anthropic: messages",
			Msg: "errored in the batch: overloaded_error: Overloaded"}},
		{CustomID: key(4), Outcome: ethos.BatchCancelled},
		{CustomID: key(5), Outcome: ethos.BatchExpired},
		// A custom ID the batch did not hold is passed on: the caller
		// matches results to its requests and ignores what it did not ask.
		{CustomID: "not-in-this-batch", Outcome: ethos.BatchExpired},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
}

// TestBatchResultErrorKinds checks that an errored request's kind is the
// one its error type gives an online call.
func TestBatchResultErrorKinds(t *testing.T) {
	t.Parallel()
	kinds := map[string]ethos.Kind{
		"invalid_request_error": ethos.Invalid, "request_too_large": ethos.Invalid,
		"authentication_error": ethos.Auth, "permission_error": ethos.Auth, "billing_error": ethos.Auth,
		"not_found_error": ethos.NotFound, "rate_limit_error": ethos.RateLimited,
		"overloaded_error": ethos.Overloaded, "api_error": ethos.Transient, "timeout_error": ethos.Transient,
	}
	var lines []string
	var types []string
	for typ := range kinds {
		types = append(types, typ)
		lines = append(lines, fmt.Sprintf(`{"custom_id":%q,"result":{"type":"errored","error":{"type":"error","error":{"type":%q,"message":"m"},"request_id":"r"}}}`, typ, typ))
	}
	got, err := collect(t, strings.Join(lines, "\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range got {
		if r.Outcome != ethos.BatchErrored || r.Err == nil || r.Err.Kind != kinds[r.CustomID] {
			t.Errorf("%s: %+v, want kind %s", r.CustomID, r, kinds[r.CustomID])
		}
	}
	if len(got) != len(types) {
		t.Errorf("%d results, want %d", len(got), len(types))
	}
}

// TestBatchResultsRefuseBadLines checks that a results file that does not
// read fails with a typed error after handing on the lines before it.
func TestBatchResultsRefuseBadLines(t *testing.T) {
	t.Parallel()
	first := resultLines[3]
	tests := map[string]string{
		"cut short":       first + "\n" + resultLines[0][:80],
		"not json":        first + "\n<html>502</html>",
		"no custom_id":    first + "\n" + `{"result":{"type":"expired"}}`,
		"unknown type":    first + "\n" + `{"custom_id":"x","result":{"type":"vanished"}}`,
		"repeated result": first + "\n" + first,
	}
	for name, body := range tests {
		got, err := collect(t, body)
		e := wiretest.AsError(t, err)
		if e.Kind != ethos.Transient || !strings.Contains(e.Msg, "results line 2") {
			t.Errorf("%s: %s %q, want a transient error naming line 2", name, e.Kind, e)
		}
		if len(got) != 1 || got[0].CustomID != key(4) {
			t.Errorf("%s: handed on %+v before the bad line, want line 1's result", name, got)
		}
	}
}

// TestBatchResultsStopAtCallerError checks that each's error ends the
// read and comes back unchanged.
func TestBatchResultsStopAtCallerError(t *testing.T) {
	t.Parallel()
	var s batchServer
	c := s.start(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Join(resultLines, "\n"))
	})
	stop := fmt.Errorf("store full")
	n := 0
	err := c.BatchResults(context.Background(), "msgbatch_1", func(ethos.BatchResult) error {
		n++
		return stop
	})
	if err != stop || n != 1 {
		t.Errorf("got %v after %d results, want the caller's error after 1", err, n)
	}
}

// TestBatchCallsMapStatuses checks that a failed batch call is classified
// as a failed online call is.
func TestBatchCallsMapStatuses(t *testing.T) {
	t.Parallel()
	for _, status := range []int{401, 429, 500, 529} {
		c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("request-id", "req_9")
			w.WriteHeader(status)
			io.WriteString(w, `{"type":"error","error":{"type":"x","message":"no"}}`)
		})
		_, err := c.ListBatches(context.Background(), time.Time{})
		e := wiretest.AsError(t, err)
		want := map[int]ethos.Kind{401: ethos.Auth, 429: ethos.RateLimited, 500: ethos.Transient, 529: ethos.Overloaded}[status]
		if e.Kind != want || e.Status != status || e.RequestID != "req_9" || e.Op != "anthropic: messages.batches.list" {
			t.Errorf("%d: %s %d %q %q", status, e.Kind, e.Status, e.RequestID, e.Op)
		}
		wiretest.AssertNoSecret(t, err, testKey)
	}
}

// FuzzBatchResults feeds arbitrary bytes to the results reader: it must
// not panic, every result it hands on must be whole (a custom ID, a known
// outcome, a response exactly when succeeded, an error exactly when
// errored), and every failure must be an *ethos.Error.
func FuzzBatchResults(f *testing.F) {
	f.Add([]byte(strings.Join(resultLines, "\n")))
	f.Add([]byte(resultLines[0][:50]))
	c, err := New(Config{BaseURL: "http://127.0.0.1:1", APIKey: testKey})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := jsonl.NewStream[sdk.MessageBatchIndividualResponse](&http.Response{Body: io.NopCloser(bytes.NewReader(data))}, nil)
		eachErr, err := c.readResults("messages.batches.results", s, func(r ethos.BatchResult) error {
			wiretest.CheckBatchResult(t, r)
			return nil
		})
		if err != nil {
			t.Errorf("a body read from memory failed as a call: %v", err)
		}
		if eachErr != nil {
			wiretest.AsError(t, eachErr)
		}
	})
}
