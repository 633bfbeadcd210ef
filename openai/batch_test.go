package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/finetunetest"
	"github.com/ethos-toolkit/ethos/internal/wire/wiretest"
)

// batchSpecs are the two official specs the batch wire is checked
// against: OpenAI's (testdata/batch-spec, trimmed to the paths the client
// calls) and Together's (the together package's copy, trimmed here).
var batchSpecs = sync.OnceValues(func() (map[string][]byte, error) {
	out := map[string][]byte{}
	for dialect, src := range map[string]struct {
		file  string
		paths []string
	}{
		DialectOpenAI: {"testdata/batch-spec/openapi.yaml", nil},
		DialectTogether: {"../together/testdata/openapi.yaml", []string{
			"/files/upload", "/files/{id}", "/files/{id}/content", "/batches", "/batches/{id}", "/batches/{id}/cancel", "/chat/completions"}},
	} {
		raw, err := os.ReadFile(src.file)
		if err != nil {
			return nil, err
		}
		var doc yaml.Node
		if err := yaml.Unmarshal(raw, &doc); err != nil {
			return nil, err
		}
		root := doc.Content[0]
		if src.paths != nil {
			paths := finetunetest.MapGet(root, "paths")
			kept := &yaml.Node{Kind: yaml.MappingNode}
			for _, p := range src.paths {
				item := finetunetest.MapGet(paths, p)
				if item == nil {
					return nil, fmt.Errorf("%s has no path %s", src.file, p)
				}
				kept.Content = append(kept.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: p}, item)
			}
			finetunetest.MapSet(root, "paths", kept)
		}
		if finetunetest.NullableToType(root) == 0 {
			return nil, fmt.Errorf("%s no longer uses OpenAPI 3.0's nullable: drop NullableToType", src.file)
		}
		if dialect == DialectOpenAI {
			if err := flattenChatAllOf(root); err != nil {
				return nil, err
			}
		}
		if out[dialect], err = yaml.Marshal(&doc); err != nil {
			return nil, err
		}
	}
	return out, nil
})

// flattenChatAllOf lifts the parts of CreateModelResponseProperties (an
// allOf of ModelResponseProperties and an object) into
// CreateChatCompletionRequest's own allOf. Strict mode collects declared
// properties from one level of allOf only, so it would report
// temperature, top_p, user and metadata, declared two levels down, as
// unknown. The schema accepts the same bodies either way.
func flattenChatAllOf(root *yaml.Node) error {
	schemas := finetunetest.MapGet(finetunetest.MapGet(root, "components"), "schemas")
	chat := finetunetest.MapGet(finetunetest.MapGet(schemas, "CreateChatCompletionRequest"), "allOf")
	inner := finetunetest.MapGet(finetunetest.MapGet(schemas, "CreateModelResponseProperties"), "allOf")
	if chat == nil || inner == nil || len(chat.Content) == 0 ||
		finetunetest.MapGet(chat.Content[0], "$ref") == nil ||
		finetunetest.MapGet(chat.Content[0], "$ref").Value != "#/components/schemas/CreateModelResponseProperties" {
		return fmt.Errorf("CreateChatCompletionRequest no longer starts with an allOf of CreateModelResponseProperties: drop flattenChatAllOf")
	}
	chat.Content = append(slices.Clone(inner.Content), chat.Content[1:]...)
	return nil
}

var (
	batchCheckersOnce sync.Once
	batchCheckers     map[string]*finetunetest.Spec
)

func theBatchSpec(t testing.TB, dialect string) *finetunetest.Spec {
	t.Helper()
	batchCheckersOnce.Do(func() {
		docs, err := batchSpecs()
		if err != nil {
			t.Fatal(err)
		}
		batchCheckers = map[string]*finetunetest.Spec{}
		for d, doc := range docs {
			batchCheckers[d] = finetunetest.NewSpec(t, doc, "$.body.metadata.*", "$.body.data[*].metadata.*")
		}
	})
	if batchCheckers == nil {
		t.Fatal("the spec validators failed to build in another test")
	}
	return batchCheckers[dialect]
}

// fakeBatches is a hand-written batch API in either dialect, behind a
// strict spec check of every request and of every JSON answer. Tests set
// the batches' state directly.
type fakeBatches struct {
	t       *testing.T
	dialect string
	mu      sync.Mutex
	seq     int
	files   map[string]fakeFile
	batches map[string]map[string]any
	order   []string // batch IDs, oldest first
	calls   []string
	created []byte // the last create body
}

type fakeFile struct {
	name, purpose string
	content       []byte
}

func startFake(t *testing.T, dialect string, cfg Config) (*fakeBatches, *Client) {
	t.Helper()
	f := &fakeBatches{t: t, dialect: dialect, files: map[string]fakeFile{}, batches: map[string]map[string]any{}}
	cfg.BatchDialect = dialect
	c := newTestClient(t, cfg, f.serve)
	return f, c
}

func (f *fakeBatches) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	spec := theBatchSpec(f.t, f.dialect)
	sr := r.Clone(r.Context())
	sr.URL.Path = strings.TrimPrefix(r.URL.Path, "/v1")
	if problems := spec.Request(sr, body, true); problems != nil {
		f.t.Errorf("request %s %s violates the %s spec:\n%s\nbody: %.2000s", r.Method, r.URL.Path, f.dialect, strings.Join(problems, "\n"), body)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := httptest.NewRecorder()
	f.handle(rec, r, body)
	if rec.Code/100 == 2 && !strings.HasSuffix(r.URL.Path, "/content") {
		if problems := spec.Response(sr, rec, true); problems != nil {
			f.t.Errorf("answer to %s %s violates the %s spec:\n%s\nbody: %.2000s", r.Method, r.URL.Path, f.dialect, strings.Join(problems, "\n"), rec.Body.Bytes())
		}
	}
	for k, vs := range rec.Header() {
		w.Header()[k] = vs
	}
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}

func (f *fakeBatches) handle(w http.ResponseWriter, r *http.Request, body []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	call := r.Method + " " + r.URL.Path
	if r.URL.RawQuery != "" {
		call += "?" + r.URL.RawQuery
	}
	f.calls = append(f.calls, call)
	path := strings.TrimPrefix(r.URL.Path, "/v1")
	parts := strings.Split(strings.Trim(path, "/"), "/")
	w.Header().Set("content-type", "application/json")
	switch {
	case r.Method == "POST" && (path == "/files" || path == "/files/upload"):
		f.upload(w, r, body)
	case r.Method == "GET" && len(parts) == 3 && parts[0] == "files" && parts[2] == "content":
		file, ok := f.files[parts[1]]
		if !ok {
			f.notFound(w)
			return
		}
		w.Header().Set("content-type", "text/plain")
		w.Write(file.content)
	case r.Method == "GET" && len(parts) == 2 && parts[0] == "files":
		file, ok := f.files[parts[1]]
		if !ok {
			f.notFound(w)
			return
		}
		json.NewEncoder(w).Encode(f.fileJSON(parts[1], file))
	case r.Method == "POST" && path == "/batches":
		f.create(w, body)
	case r.Method == "GET" && path == "/batches":
		f.list(w, r)
	case len(parts) >= 2 && parts[0] == "batches":
		b, ok := f.batches[parts[1]]
		if !ok {
			f.notFound(w)
			return
		}
		if len(parts) == 3 && parts[2] == "cancel" {
			b["status"] = map[string]string{DialectOpenAI: "cancelling", DialectTogether: "CANCELLED"}[f.dialect]
		}
		json.NewEncoder(w).Encode(b)
	default:
		f.t.Errorf("unexpected %s", call)
		w.WriteHeader(404)
	}
}

func (f *fakeBatches) notFound(w http.ResponseWriter) {
	w.WriteHeader(404)
	io.WriteString(w, `{"error":{"message":"No such object","type":"invalid_request_error","code":null}}`)
}

func (f *fakeBatches) upload(w http.ResponseWriter, r *http.Request, body []byte) {
	_, params, err := mime.ParseMediaType(r.Header.Get("content-type"))
	if err != nil {
		f.t.Errorf("upload content type: %v", err)
	}
	form, err := multipart.NewReader(bytes.NewReader(body), params["boundary"]).ReadForm(1 << 30)
	if err != nil {
		f.t.Fatalf("upload form: %v", err)
	}
	fh := form.File["file"][0]
	rd, _ := fh.Open()
	content, _ := io.ReadAll(rd)
	f.seq++
	id := fmt.Sprintf("file-%d", f.seq)
	file := fakeFile{name: fh.Filename, purpose: form.Value["purpose"][0], content: content}
	if names := form.Value["file_name"]; len(names) > 0 {
		file.name = names[0]
	}
	f.files[id] = file
	json.NewEncoder(w).Encode(f.fileJSON(id, file))
}

func (f *fakeBatches) fileJSON(id string, file fakeFile) map[string]any {
	if f.dialect == DialectTogether {
		return map[string]any{"id": id, "object": "file", "created_at": fixedNow.Unix(), "filename": file.name,
			"bytes": len(file.content), "purpose": file.purpose, "FileType": "jsonl", "Processed": true}
	}
	return map[string]any{"id": id, "object": "file", "created_at": fixedNow.Unix(), "filename": file.name,
		"bytes": len(file.content), "purpose": file.purpose, "status": "processed"}
}

func (f *fakeBatches) create(w http.ResponseWriter, body []byte) {
	f.created = body
	var req map[string]any
	json.Unmarshal(body, &req)
	f.seq++
	id := fmt.Sprintf("batch_%d", f.seq)
	created := fixedNow.Add(time.Duration(f.seq) * time.Minute)
	var b map[string]any
	if f.dialect == DialectTogether {
		b = map[string]any{"id": id, "input_file_id": req["input_file_id"], "status": "VALIDATING",
			"created_at": created.Format(time.RFC3339), "job_deadline": created.Add(24 * time.Hour).Format(time.RFC3339),
			"endpoint": req["endpoint"], "progress": 0.0}
		if m, ok := req["model_id"]; ok {
			b["model_id"] = m
		}
		f.batches[id] = b
		f.order = append(f.order, id)
		w.WriteHeader(201)
		json.NewEncoder(w).Encode(map[string]any{"job": b})
		return
	}
	b = map[string]any{"id": id, "object": "batch", "endpoint": req["endpoint"], "input_file_id": req["input_file_id"],
		"completion_window": req["completion_window"], "status": "validating", "created_at": created.Unix(),
		"expires_at": created.Add(24 * time.Hour).Unix(), "request_counts": map[string]int{"total": 0, "completed": 0, "failed": 0},
		"metadata": req["metadata"]}
	f.batches[id] = b
	f.order = append(f.order, id)
	json.NewEncoder(w).Encode(b)
}

// list answers newest first; OpenAI's pages hold two batches.
func (f *fakeBatches) list(w http.ResponseWriter, r *http.Request) {
	ids := slices.Clone(f.order)
	slices.Reverse(ids)
	var data []map[string]any
	for _, id := range ids {
		data = append(data, f.batches[id])
	}
	if f.dialect == DialectTogether {
		json.NewEncoder(w).Encode(data)
		return
	}
	start := 0
	if after := r.URL.Query().Get("after"); after != "" {
		start = slices.Index(ids, after) + 1
	}
	end := min(start+2, len(data))
	page := data[start:end]
	json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": page, "has_more": end < len(data),
		"first_id": ids[start], "last_id": ids[end-1]})
}

// addFile stores a results file and returns its ID.
func (f *fakeBatches) addFile(content string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	id := fmt.Sprintf("file-%d", f.seq)
	f.files[id] = fakeFile{name: "results.jsonl", purpose: "batch_output", content: []byte(content)}
	return id
}

// set changes a batch's fields.
func (f *fakeBatches) set(id string, fields map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, v := range fields {
		f.batches[id][k] = v
	}
}

func key(i int) string { return fmt.Sprintf("%064x", i) }

func submission(reqs ...ethos.Request) ethos.BatchSubmission {
	b := ethos.BatchSubmission{Label: "ethos-batch-17"}
	for i, r := range reqs {
		b.Requests = append(b.Requests, ethos.BatchRequest{CustomID: key(i), Request: r})
	}
	return b
}

// TestBatchLinesAreTheOnlineBody submits a batch in each dialect and
// output-limit setting, and checks the wire: the upload's purpose and
// name, the create body (by the spec), and each input line — exactly the
// four fields, and a body equal to what Complete sends for the same
// request, valid by the dialect's chat completions schema.
func TestBatchLinesAreTheOnlineBody(t *testing.T) {
	t.Parallel()
	minimal := ethos.Request{Model: "meta-llama/Llama-3-8b", Messages: []ethos.Message{{Role: ethos.RoleUser, Content: "x <&> y"}}}
	streamed := sampleRequest()
	streamed.Stream = true // a batch never streams
	reqs := []ethos.Request{sampleRequest(), minimal, streamed}
	for _, dialect := range []string{DialectOpenAI, DialectTogether} {
		for _, mct := range []bool{false, true} {
			if dialect == DialectTogether && mct {
				// Together's chat spec has no max_completion_tokens: the
				// option is for OpenAI's reasoning models only.
				continue
			}
			t.Run(fmt.Sprintf("%s/max_completion_tokens=%t", dialect, mct), func(t *testing.T) {
				t.Parallel()
				var online [][]byte
				chat := newTestClient(t, Config{MaxCompletionTokens: mct}, func(w http.ResponseWriter, r *http.Request) {
					body, _ := io.ReadAll(r.Body)
					online = append(online, body)
					w.Header().Set("content-type", "application/json")
					io.WriteString(w, completionJSON)
				})
				for _, req := range reqs {
					req.Stream = false
					if _, err := chat.Complete(context.Background(), req); err != nil {
						t.Fatal(err)
					}
				}
				f, c := startFake(t, dialect, Config{MaxCompletionTokens: mct})
				info, err := c.SubmitBatch(context.Background(), submission(reqs...))
				if err != nil {
					t.Fatal(err)
				}
				if info.Label != "ethos-batch-17" || info.State != ethos.BatchInProgress || info.ID == "" {
					t.Errorf("submitted %+v", info)
				}
				var file fakeFile
				for _, ff := range f.files {
					file = ff
				}
				wantPurpose := map[string]string{DialectOpenAI: "batch", DialectTogether: "batch-api"}[dialect]
				if file.name != "ethos-batch-17.jsonl" || file.purpose != wantPurpose {
					t.Errorf("uploaded %q with purpose %q, want ethos-batch-17.jsonl, %s", file.name, file.purpose, wantPurpose)
				}
				var create map[string]any
				json.Unmarshal(f.created, &create)
				wantCreate := map[string]any{"endpoint": "/v1/chat/completions", "input_file_id": "file-1", "completion_window": "24h"}
				if dialect == DialectOpenAI {
					wantCreate["metadata"] = map[string]any{"ethos_label": "ethos-batch-17"}
				} else {
					wantCreate["model_id"] = "meta-llama/Llama-3-8b"
				}
				if diff := cmp.Diff(wantCreate, create); diff != "" {
					t.Errorf("create body (-want +got):\n%s", diff)
				}
				lines := strings.Split(strings.TrimSuffix(string(file.content), "\n"), "\n")
				if len(lines) != len(reqs) {
					t.Fatalf("%d input lines, want %d", len(lines), len(reqs))
				}
				spec := theBatchSpec(t, dialect)
				for i, line := range lines {
					var l map[string]json.RawMessage
					if err := json.Unmarshal([]byte(line), &l); err != nil {
						t.Fatalf("line %d: %v", i, err)
					}
					var keys []string
					for k := range l {
						keys = append(keys, k)
					}
					slices.Sort(keys)
					if diff := cmp.Diff([]string{"body", "custom_id", "method", "url"}, keys); diff != "" {
						t.Errorf("line %d keys (-want +got):\n%s", i, diff)
					}
					if string(l["custom_id"]) != `"`+key(i)+`"` || string(l["method"]) != `"POST"` || string(l["url"]) != `"/v1/chat/completions"` {
						t.Errorf("line %d: %s", i, line)
					}
					var got, want any
					json.Unmarshal(l["body"], &got)
					json.Unmarshal(online[i], &want)
					if diff := cmp.Diff(want, got); diff != "" {
						t.Errorf("line %d body differs from the online body (-online +batch):\n%s", i, diff)
					}
					r := httptest.NewRequest("POST", "/chat/completions", nil)
					r.Header.Set("content-type", "application/json")
					if problems := spec.Request(r, l["body"], true); problems != nil {
						t.Errorf("line %d body violates the %s chat spec:\n%s\n%s", i, dialect, strings.Join(problems, "\n"), l["body"])
					}
				}
				// The check must be able to fail: a field the spec does not know.
				r := httptest.NewRequest("POST", "/chat/completions", nil)
				r.Header.Set("content-type", "application/json")
				if spec.Request(r, []byte(`{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokenz":1}`), true) == nil {
					t.Error("the chat spec check accepted an unknown field; it proves nothing")
				}
			})
		}
	}
}

// TestSubmitBatchRefusesBeforeSending checks the limits: nothing is
// uploaded for a batch the provider would refuse.
func TestSubmitBatchRefusesBeforeSending(t *testing.T) {
	t.Parallel()
	for dialect, want := range map[string]ethos.BatchLimits{
		DialectOpenAI:   {MaxRequests: 50_000, MaxBytes: 200_000_000},
		DialectTogether: {MaxRequests: 50_000, MaxBytes: 100_000_000},
	} {
		f, c := startFake(t, dialect, Config{})
		if got := c.BatchLimits(); got != want {
			t.Errorf("%s: limits %+v, want %+v", dialect, got, want)
		}
		c.batch.limits = ethos.BatchLimits{MaxRequests: 2, MaxBytes: 1000}
		req := ethos.Request{Model: "m", Messages: []ethos.Message{{Role: ethos.RoleUser, Content: "x"}}}
		big := req
		big.Messages = []ethos.Message{{Role: ethos.RoleUser, Content: strings.Repeat("x", 1000)}}
		bad := req
		bad.Messages = []ethos.Message{{Role: "tool", Content: "x"}}
		twice := submission(req, req)
		twice.Requests[1].CustomID = twice.Requests[0].CustomID
		for name, b := range map[string]ethos.BatchSubmission{
			"empty": submission(), "too many": submission(req, req, req), "too large": submission(big),
			"repeated id": twice, "invalid request": submission(bad),
		} {
			_, err := c.SubmitBatch(context.Background(), b)
			if e := wiretest.AsError(t, err); e.Kind != ethos.Invalid || e.Op != "openai: batches.create" {
				t.Errorf("%s %s: %s %q", dialect, name, e.Kind, e)
			}
		}
		if len(f.calls) != 0 {
			t.Errorf("%s: sent %v", dialect, f.calls)
		}
	}
}

func TestBatchState(t *testing.T) {
	t.Parallel()
	want := map[string]ethos.BatchState{
		"validating": ethos.BatchInProgress, "in_progress": ethos.BatchInProgress, "finalizing": ethos.BatchInProgress,
		"cancelling": ethos.BatchCancelling,
		"completed":  ethos.BatchEnded, "expired": ethos.BatchEnded, "cancelled": ethos.BatchEnded,
		"failed": ethos.BatchFailed,
		// Together's, upper case.
		"VALIDATING": ethos.BatchInProgress, "IN_PROGRESS": ethos.BatchInProgress,
		"COMPLETED": ethos.BatchEnded, "EXPIRED": ethos.BatchEnded, "CANCELLED": ethos.BatchEnded,
		"FAILED": ethos.BatchFailed,
		"paused": ethos.BatchInProgress, // unknown: still followed
	}
	got := map[string]ethos.BatchState{}
	for s := range want {
		got[s] = BatchState(s)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}
}

func TestNewRefusesUnknownDialect(t *testing.T) {
	t.Parallel()
	_, err := New(Config{BatchDialect: "anthropic"})
	if e := wiretest.AsError(t, err); e.Kind != ethos.Config {
		t.Errorf("got %s", e.Kind)
	}
}

// TestGetBatchOpenAI checks the counts, times, label and failure reasons
// read from an OpenAI batch.
func TestGetBatchOpenAI(t *testing.T) {
	t.Parallel()
	f, c := startFake(t, DialectOpenAI, Config{})
	info, err := c.SubmitBatch(context.Background(), submission(sampleRequest()))
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{"total": 10, "completed": 6, "failed": 1}
	ended := fixedNow.Add(5 * time.Hour)
	for status, want := range map[string]ethos.BatchCounts{
		"in_progress": {Total: 10, Succeeded: 6, Errored: 1, Processing: 3},
		"expired":     {Total: 10, Succeeded: 6, Errored: 1, Expired: 3},
		"cancelled":   {Total: 10, Succeeded: 6, Errored: 1, Cancelled: 3},
	} {
		f.set(info.ID, map[string]any{"status": status, "request_counts": counts, "expired_at": ended.Unix()})
		got, err := c.GetBatch(context.Background(), info.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got.Counts); diff != "" || got.Label != "ethos-batch-17" || got.ProviderStatus != status {
			t.Errorf("%s: %+v (-want +got counts):\n%s", status, got, diff)
		}
		if !got.EndedAt.Equal(ended) || !got.CreatedAt.Equal(fixedNow.Add(2*time.Minute)) || !got.ExpiresAt.Equal(fixedNow.Add(24*time.Hour+2*time.Minute)) {
			t.Errorf("%s: times %v %v %v", status, got.CreatedAt, got.EndedAt, got.ExpiresAt)
		}
	}
	f.set(info.ID, map[string]any{"status": "failed", "errors": map[string]any{"object": "list", "data": []map[string]any{
		{"code": "invalid_json_line", "message": "not JSON", "line": 3},
		{"code": "too_many_tasks", "message": "more than 50,000"},
	}}})
	got, err := c.GetBatch(context.Background(), info.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := "line 3: invalid_json_line: not JSON; too_many_tasks: more than 50,000"; got.State != ethos.BatchFailed || got.Error != want {
		t.Errorf("failed batch: %s %q, want %q", got.State, got.Error, want)
	}
	got, err = c.CancelBatch(context.Background(), info.ID)
	if err != nil || got.State != ethos.BatchCancelling {
		t.Errorf("cancel: %+v %v", got, err)
	}
	_, err = c.GetBatch(context.Background(), "batch_nope")
	if e := wiretest.AsError(t, err); e.Kind != ethos.NotFound || !strings.Contains(e.Msg, `batch "batch_nope" not found`) {
		t.Errorf("unknown batch: %s %q", e.Kind, e)
	}
	wiretest.AssertNoSecret(t, err, testKey)
}

// TestTogetherBatchInfo checks the label read back from the input file's
// name, the upper-case statuses and a failed job's error.
func TestTogetherBatchInfo(t *testing.T) {
	t.Parallel()
	f, c := startFake(t, DialectTogether, Config{})
	info, err := c.SubmitBatch(context.Background(), submission(sampleRequest()))
	if err != nil {
		t.Fatal(err)
	}
	f.set(info.ID, map[string]any{"status": "FAILED", "error": "input file is not JSONL",
		"completed_at": fixedNow.Add(time.Hour).Format(time.RFC3339)})
	got, err := c.GetBatch(context.Background(), info.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := ethos.BatchInfo{ID: info.ID, Label: "ethos-batch-17", State: ethos.BatchFailed, ProviderStatus: "FAILED",
		CreatedAt: fixedNow.Add(2 * time.Minute), EndedAt: fixedNow.Add(time.Hour), ExpiresAt: fixedNow.Add(24*time.Hour + 2*time.Minute),
		Error: "input file is not JSONL"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GetBatch (-want +got):\n%s", diff)
	}
	got, err = c.CancelBatch(context.Background(), info.ID)
	if err != nil || got.State != ethos.BatchEnded || got.ProviderStatus != "CANCELLED" {
		t.Errorf("cancel: %+v %v", got, err)
	}
}

// TestListBatchesStopsAtSince lists five batches, two a page in OpenAI's
// dialect, and checks that paging stops at the first batch older than
// since; Together's unpaged list is filtered the same way.
func TestListBatchesStopsAtSince(t *testing.T) {
	t.Parallel()
	for _, dialect := range []string{DialectOpenAI, DialectTogether} {
		f, c := startFake(t, dialect, Config{})
		var ids []string
		for range 5 {
			info, err := c.SubmitBatch(context.Background(), submission(sampleRequest()))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, info.ID)
		}
		f.calls = nil
		// Batch i (0-based) was created at fixedNow + 2(i+1) minutes.
		got, err := c.ListBatches(context.Background(), fixedNow.Add(5*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		var listed []string
		for _, b := range got {
			listed = append(listed, b.ID)
			if b.Label != "ethos-batch-17" {
				t.Errorf("%s: %s has label %q", dialect, b.ID, b.Label)
			}
		}
		if diff := cmp.Diff([]string{ids[4], ids[3], ids[2]}, listed); diff != "" {
			t.Errorf("%s: listed (-want +got):\n%s", dialect, diff)
		}
		if dialect == DialectOpenAI {
			want := []string{"GET /v1/batches?limit=100", "GET /v1/batches?after=" + ids[3] + "&limit=100"}
			if diff := cmp.Diff(want, f.calls); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
		}
	}
}

// completionLine is a succeeded results line.
func completionLine(id string) string {
	return `{"id":"batch_req_1","custom_id":"` + id + `","response":{"status_code":200,"request_id":"req_1","body":` +
		strings.ReplaceAll(completionJSON, "\n", "") + `},"error":null}`
}

func errorLine(id string, status int, typ, code string) string {
	return fmt.Sprintf(`{"id":"batch_req_2","custom_id":%q,"response":{"status_code":%d,"request_id":"req_2","body":{"error":{"message":"no","type":%q,"code":%q}}},"error":null}`,
		id, status, typ, code)
}

func batchErrorLine(id, code string) string {
	return fmt.Sprintf(`{"id":"batch_req_3","custom_id":%q,"response":null,"error":{"code":%q,"message":"it did not run"}}`, id, code)
}

// ended makes a submitted batch end with the given results files.
func endBatch(t *testing.T, f *fakeBatches, c *Client, output, errs string) string {
	t.Helper()
	info, err := c.SubmitBatch(context.Background(), submission(sampleRequest()))
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]any{"status": map[string]string{DialectOpenAI: "completed", DialectTogether: "COMPLETED"}[f.dialect]}
	if output != "" {
		fields["output_file_id"] = f.addFile(output)
	}
	if errs != "" {
		fields["error_file_id"] = f.addFile(errs)
	}
	f.set(info.ID, fields)
	return info.ID
}

func results(c *Client, id string) ([]ethos.BatchResult, error) {
	var got []ethos.BatchResult
	err := c.BatchResults(context.Background(), id, func(r ethos.BatchResult) error {
		got = append(got, r)
		return nil
	})
	return got, err
}

func TestBatchResults(t *testing.T) {
	t.Parallel()
	for _, dialect := range []string{DialectOpenAI, DialectTogether} {
		f, c := startFake(t, dialect, Config{})
		id := endBatch(t, f, c, completionLine(key(1))+"\n"+completionLine("not-in-this-batch")+"\n",
			strings.Join([]string{
				errorLine(key(2), 400, "invalid_request_error", "context_length_exceeded"),
				errorLine(key(3), 429, "insufficient_quota", "insufficient_quota"),
				batchErrorLine(key(4), "batch_expired"),
				batchErrorLine(key(5), "batch_cancelled"),
				batchErrorLine(key(6), "server_error"),
			}, "\n"))
		got, err := results(c, id)
		if err != nil {
			t.Fatal(err)
		}
		op := "openai: chat.completions"
		want := []ethos.BatchResult{
			{CustomID: key(1), Outcome: ethos.BatchSucceeded, Response: &ethos.Response{Text: "Hello, world.", StopReason: ethos.StopEnd,
				Usage: ethos.Usage{In: 14, Out: 5, CacheRead: 3}, Model: "llama-3-8b-served", RequestID: "req_1"}},
			// A custom ID the batch did not hold is passed on: the caller
			// matches results to its requests and ignores what it did not ask.
			{CustomID: "not-in-this-batch", Outcome: ethos.BatchSucceeded, Response: &ethos.Response{Text: "Hello, world.", StopReason: ethos.StopEnd,
				Usage: ethos.Usage{In: 14, Out: 5, CacheRead: 3}, Model: "llama-3-8b-served", RequestID: "req_1"}},
			{CustomID: key(2), Outcome: ethos.BatchErrored, Err: &ethos.Error{Kind: ethos.Invalid, Op: op, Status: 400, RequestID: "req_2",
				Msg: "request rejected (400 Bad Request): fix the request: invalid_request_error: context_length_exceeded: no"}},
			{CustomID: key(3), Outcome: ethos.BatchErrored, Err: &ethos.Error{Kind: ethos.Quota, Op: op, Status: 429, RequestID: "req_2",
				Msg: "the account behind provider openai has no quota left (insufficient_quota, HTTP 429): add credit or raise its limits, then run the same command again: insufficient_quota: no"}},
			{CustomID: key(4), Outcome: ethos.BatchExpired},
			{CustomID: key(5), Outcome: ethos.BatchCancelled},
			{CustomID: key(6), Outcome: ethos.BatchErrored, Err: &ethos.Error{Kind: ethos.Transient, Op: op,
				Msg: "errored in the batch: server_error: it did not run"}},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s results (-want +got):\n%s", dialect, diff)
		}
	}
}

// TestBatchResultStatusKinds checks that an errored line's kind is the one
// its status gives an online call.
func TestBatchResultStatusKinds(t *testing.T) {
	t.Parallel()
	f, c := startFake(t, DialectOpenAI, Config{})
	var lines []string
	for _, sc := range wiretest.StatusCases("openai", "", fixedNow) {
		lines = append(lines, errorLine(fmt.Sprint(sc.Status, "-", len(lines)), sc.Status, "", ""))
	}
	got, err := results(c, endBatch(t, f, c, "", strings.Join(lines, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	for i, sc := range wiretest.StatusCases("openai", "", fixedNow) {
		if r := got[i]; r.Outcome != ethos.BatchErrored || r.Err.Kind != sc.Kind || r.Err.Status != sc.Status {
			t.Errorf("status %d: %+v, want kind %s", sc.Status, r.Err, sc.Kind)
		}
	}
}

// TestBatchResultsRefuseBadLines checks that a results file that does not
// read fails with a typed error after handing on the lines before it.
func TestBatchResultsRefuseBadLines(t *testing.T) {
	t.Parallel()
	first := batchErrorLine(key(9), "batch_expired")
	for name, body := range map[string]string{
		"cut short":        first + "\n" + completionLine(key(1))[:90],
		"not json":         first + "\n<html>502</html>",
		"no custom_id":     first + "\n" + `{"response":null,"error":{"code":"batch_expired"}}`,
		"neither":          first + "\n" + `{"custom_id":"x","response":null,"error":null}`,
		"repeated result":  first + "\n" + first,
		"repeated in both": first,
	} {
		f, c := startFake(t, DialectOpenAI, Config{})
		errs := ""
		if name == "repeated in both" {
			errs = first
		}
		got, err := results(c, endBatch(t, f, c, body, errs))
		e := wiretest.AsError(t, err)
		if e.Kind != ethos.Transient || !strings.Contains(e.Msg, "line") {
			t.Errorf("%s: %s %q, want a transient error naming the line", name, e.Kind, e)
		}
		if len(got) != 1 || got[0].CustomID != key(9) {
			t.Errorf("%s: handed on %+v before the bad line, want line 1's result", name, got)
		}
	}
}

func TestBatchResultsOfUnendedBatch(t *testing.T) {
	t.Parallel()
	_, c := startFake(t, DialectOpenAI, Config{})
	info, err := c.SubmitBatch(context.Background(), submission(sampleRequest()))
	if err != nil {
		t.Fatal(err)
	}
	_, err = results(c, info.ID)
	if e := wiretest.AsError(t, err); e.Kind != ethos.Invalid {
		t.Errorf("got %s %q", e.Kind, e)
	}
}

// FuzzBatchResults feeds arbitrary bytes to the results reader: it must
// not panic, every result it hands on must be whole, and every failure
// must be an *ethos.Error.
func FuzzBatchResults(f *testing.F) {
	f.Add([]byte(completionLine(key(1)) + "\n" + errorLine(key(2), 429, "rate_limit_exceeded", "") + "\n" + batchErrorLine(key(3), "batch_expired")))
	f.Add([]byte(completionLine(key(1))[:70]))
	c, err := New(Config{APIKey: testKey})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := c.readResults("batches.results", "file-1", bytes.NewReader(data), map[string]bool{}, func(r ethos.BatchResult) error {
			wiretest.CheckBatchResult(t, r)
			return nil
		})
		if err != nil {
			wiretest.AsError(t, err)
		}
	})
}
