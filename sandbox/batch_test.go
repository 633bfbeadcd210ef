package sandbox

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"github.com/ethos-toolkit/ethos/finetunetest"
	"github.com/ethos-toolkit/ethos/internal/wire/wiretest"
)

// Batch specs: each wire's batch paths, cut from its official spec, built
// once for all tests.
var (
	anthropicBatchSpec = onceSpec(func(t testing.TB) []byte {
		var doc map[string]any
		if err := json.Unmarshal(wiretest.AnthropicSpec(t), &doc); err != nil {
			t.Fatal(err)
		}
		paths := doc["paths"].(map[string]any)
		for p := range paths {
			if !strings.HasPrefix(p, "/v1/messages/batches") || strings.Contains(p, "?") {
				delete(paths, p)
			}
		}
		// Strict mode does not follow a $ref with sibling keywords (it
		// reports every property of the referenced schema as undeclared);
		// params carries a description, an annotation that checks nothing.
		params := dig(doc, "components", "schemas", "MessageBatchIndividualRequestParams", "properties", "params").(map[string]any)
		if _, ok := params["description"]; !ok {
			t.Fatal("params has no sibling description any more: drop the patch")
		}
		delete(params, "description")
		b, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
	openaiBatchSpec = onceSpec(func(t testing.TB) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", "batch-spec", "openai.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}, "$.body.metadata.*")
	togetherBatchSpec = onceSpec(func(t testing.TB) []byte {
		raw, err := os.ReadFile(filepath.Join("..", "together", "testdata", "openapi.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		var doc yaml.Node
		if err := yaml.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		root := doc.Content[0]
		paths := finetunetest.MapPath(t, root, "paths")
		kept := &yaml.Node{Kind: yaml.MappingNode}
		for _, p := range []string{"/batches", "/batches/{id}", "/batches/{id}/cancel"} {
			kept.Content = append(kept.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: p}, finetunetest.MapPath(t, paths, p))
		}
		finetunetest.MapSet(root, "paths", kept)
		finetunetest.NullableToType(root)
		out, err := yaml.Marshal(&doc)
		if err != nil {
			t.Fatal(err)
		}
		return out
	})
)

func onceSpec(doc func(testing.TB) []byte, freeForm ...string) func(testing.TB) *finetunetest.Spec {
	var once sync.Once
	var spec *finetunetest.Spec
	return func(t testing.TB) *finetunetest.Spec {
		t.Helper()
		once.Do(func() { spec = finetunetest.NewSpec(t, doc(t), freeForm...) })
		if spec == nil {
			t.Fatal("the spec validator failed to build in another test")
		}
		return spec
	}
}

// batchEnv is a sandbox with an injected clock whose batch requests are
// checked against the official specs, Anthropic's and the one given for
// /v1/batches: a request the spec refuses fails the test unless the test
// said it expects a refusal.
type batchEnv struct {
	t     *testing.T
	url   string
	srv   *Server
	clock *fakeClock
	spec  *finetunetest.Spec // of /v1/batches

	mu       sync.Mutex
	problems []string // of the last request checked
}

func newBatchEnv(t *testing.T, opts Options, spec *finetunetest.Spec) *batchEnv {
	t.Helper()
	e := &batchEnv{t: t, clock: &fakeClock{t: ftEpoch}, spec: spec}
	anthropic := anthropicBatchSpec(t)
	if opts.Now == nil {
		opts.Now = e.clock.Now
	}
	e.srv = New(opts)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		spec := e.spec
		if strings.HasPrefix(r.URL.Path, "/v1/messages/batches") {
			spec = anthropic
		} else if !strings.HasPrefix(r.URL.Path, "/v1/batches") {
			spec = nil
		}
		if spec != nil && (r.Method == "GET" || strings.HasPrefix(r.Header.Get("Content-Type"), "application/json")) {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			// The validator does not count the security scheme's header as
			// declared.
			problems := slices.DeleteFunc(spec.Request(r, body, true), func(p string) bool {
				return strings.Contains(p, "header 'X-Api-Key' is not declared")
			})
			e.mu.Lock()
			e.problems = problems
			e.mu.Unlock()
		}
		e.srv.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	e.url = ts.URL
	return e
}

// send makes a request whose body the spec must accept.
func (e *batchEnv) send(method, path string, header http.Header, body any) reply {
	e.t.Helper()
	r := e.sendUnchecked(method, path, header, body)
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.problems) > 0 {
		e.t.Errorf("%s %s: the official spec refuses the request: %v", method, path, e.problems)
	}
	return r
}

// sendUnchecked makes a request and records what the spec says of it.
func (e *batchEnv) sendUnchecked(method, path string, header http.Header, body any) reply {
	e.t.Helper()
	e.mu.Lock()
	e.problems = nil
	e.mu.Unlock()
	if header == nil {
		// An OpenAI client, by the User-Agent of openai-go.
		header = openaiHeader("k")
		header.Set("User-Agent", "OpenAI/Go 3")
	}
	if body != nil {
		header = header.Clone()
		header.Set("Content-Type", "application/json")
	}
	return do(e.t, method, e.url+path, header, body)
}

// specRefused says whether the spec refused the last request.
func (e *batchEnv) specRefused() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.problems) > 0
}

func (e *batchEnv) upload(path string, fields [][2]string, content []byte) map[string]any {
	e.t.Helper()
	return ok(e.t, postMultipart(e.t, e.url+path, fields, "batch.jsonl", content))
}

func anthropicBatchBody(reqs ...any) map[string]any {
	out := make([]any, 0, len(reqs)/2)
	for i := 0; i+1 < len(reqs); i += 2 {
		out = append(out, map[string]any{"custom_id": reqs[i], "params": reqs[i+1]})
	}
	return map[string]any{"requests": out}
}

// jsonl decodes JSON lines.
func jsonl(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Bytes(), err)
		}
		out = append(out, m)
	}
	return out
}

// byCustomID indexes result lines.
func byCustomID(lines []map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, l := range lines {
		out[l["custom_id"].(string)] = l
	}
	return out
}

func dig(v any, path ...string) any {
	for _, k := range path {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	return v
}

func TestAnthropicBatchLifecycle(t *testing.T) {
	t.Parallel()
	e := newBatchEnv(t, Options{Seed: 5}, nil)
	h := anthropicHeader("k")
	online := ok(t, do(t, "POST", e.url+"/v1/messages", h, anthropicBody("writer")))

	created := ok(t, e.send("POST", "/v1/messages/batches", h, anthropicBatchBody(
		"a", anthropicBody("writer"), "unknown-model", anthropicBody("no-such-model"), "c", anthropicBody("judge"))))
	id := created["id"].(string)
	if !strings.HasPrefix(id, "msgbatch_") || created["processing_status"] != "in_progress" || created["results_url"] != nil ||
		dig(created, "request_counts", "processing") != 3.0 || created["expires_at"] != ftEpoch.Add(24*time.Hour).Format(time.RFC3339Nano) {
		t.Fatalf("created: %v", created)
	}
	if r := e.send("GET", "/v1/messages/batches/"+id+"/results", h, nil); r.status != 400 {
		t.Errorf("results before the end: %d %s", r.status, r.body)
	}
	e.clock.Advance(time.Second)
	mid := ok(t, e.send("GET", "/v1/messages/batches/"+id, h, nil))
	if c := mid["request_counts"].(map[string]any); c["processing"] == 0.0 || c["processing"] == 3.0 {
		t.Errorf("half way: %v", c)
	}
	if r := e.send("DELETE", "/v1/messages/batches/"+id, h, nil); r.status != 400 {
		t.Errorf("delete while processing: %d", r.status)
	}

	e.clock.Advance(time.Second)
	ended := ok(t, e.send("GET", "/v1/messages/batches/"+id, h, nil))
	if ended["processing_status"] != "ended" || ended["results_url"] != e.url[len("http://"):] && !strings.HasSuffix(ended["results_url"].(string), "/v1/messages/batches/"+id+"/results") ||
		dig(ended, "request_counts", "succeeded") != 2.0 || dig(ended, "request_counts", "errored") != 1.0 {
		t.Fatalf("ended: %v", ended)
	}
	r := e.send("GET", "/v1/messages/batches/"+id+"/results", h, nil)
	if r.status != 200 || r.header.Get("Content-Type") != "application/x-jsonl" {
		t.Fatalf("results: %d %v", r.status, r.header)
	}
	results := byCustomID(jsonl(t, r.body))
	a := dig(results["a"], "result", "message").(map[string]any)
	if dig(results["a"], "result", "type") != "succeeded" || dig(a, "content") == nil ||
		!cmp.Equal(a["content"], online["content"]) || !cmp.Equal(a["usage"], online["usage"]) {
		t.Errorf("batched answer %v differs from the online one %v", a, online)
	}
	if got := dig(results["unknown-model"], "result", "error", "error", "type"); got != "not_found_error" ||
		dig(results["unknown-model"], "result", "error", "type") != "error" {
		t.Errorf("unknown model: %v", results["unknown-model"])
	}

	list := ok(t, e.send("GET", "/v1/messages/batches?limit=10", h, nil))
	if data := list["data"].([]any); len(data) != 1 || list["first_id"] != id || list["has_more"] != false {
		t.Errorf("list: %v", list)
	}
	if del := ok(t, e.send("DELETE", "/v1/messages/batches/"+id, h, nil)); del["type"] != "message_batch_deleted" {
		t.Errorf("delete: %v", del)
	}
	if r := e.send("GET", "/v1/messages/batches/"+id, h, nil); r.status != 404 || dig(r.json(t), "error", "type") != "not_found_error" {
		t.Errorf("get after delete: %d %s", r.status, r.body)
	}
	if st := e.srv.Stats(); st.BatchesCreated[wireAnthropic] != 1 || st.BatchRequests != 3 || st.BatchResubmissions != 0 {
		t.Errorf("stats: %+v", st)
	}
}

func TestAnthropicBatchListPages(t *testing.T) {
	t.Parallel()
	e := newBatchEnv(t, Options{}, nil)
	h := anthropicHeader("k")
	var ids []string
	for i := range 5 {
		b := ok(t, e.send("POST", "/v1/messages/batches", h, anthropicBatchBody("r"+itoa(i), anthropicBody("writer"))))
		ids = append([]string{b["id"].(string)}, ids...) // newest first
		e.clock.Advance(time.Second)
	}
	page := func(query string) []string {
		l := ok(t, e.send("GET", "/v1/messages/batches?"+query, h, nil))
		var got []string
		for _, b := range l["data"].([]any) {
			got = append(got, b.(map[string]any)["id"].(string))
		}
		return got
	}
	for _, c := range []struct {
		query string
		want  []string
	}{
		{"limit=2", ids[:2]},
		{"limit=2&after_id=" + ids[1], ids[2:4]},
		{"limit=2&before_id=" + ids[4], ids[2:4]},
		{"limit=20", ids},
	} {
		if diff := cmp.Diff(c.want, page(c.query)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.query, diff)
		}
	}
}

func TestBatchCancel(t *testing.T) {
	t.Parallel()
	e := newBatchEnv(t, Options{}, nil)
	h := anthropicHeader("k")
	b := ok(t, e.send("POST", "/v1/messages/batches", h, anthropicBatchBody(
		"a", anthropicBody("writer"), "b", anthropicBody("judge"), "c", anthropicBody("base"), "d", anthropicBody("writer", "max_tokens", 7))))
	id := b["id"].(string)
	e.clock.Advance(time.Second) // half the requests are done
	c := ok(t, e.send("POST", "/v1/messages/batches/"+id+"/cancel", h, nil))
	if c["processing_status"] != "canceling" || c["cancel_initiated_at"] == nil {
		t.Errorf("cancel: %v", c)
	}
	e.clock.Advance(time.Second)
	ended := ok(t, e.send("GET", "/v1/messages/batches/"+id, h, nil))
	if ended["processing_status"] != "ended" || dig(ended, "request_counts", "canceled") != 2.0 || dig(ended, "request_counts", "succeeded") != 2.0 {
		t.Errorf("after cancel: %v", ended)
	}
	results := byCustomID(jsonl(t, e.send("GET", "/v1/messages/batches/"+id+"/results", h, nil).body))
	if dig(results["a"], "result", "type") != "succeeded" || dig(results["d"], "result", "type") != "canceled" {
		t.Errorf("results: %v", results)
	}
}

func TestAnthropicBatchRefusals(t *testing.T) {
	t.Parallel()
	e := newBatchEnv(t, Options{}, nil)
	h := anthropicHeader("k")
	for _, c := range []struct {
		name      string
		body      any
		specToo   bool // the official spec refuses it as well
		wantInMsg string
	}{
		{"bad custom_id", anthropicBatchBody("has space", anthropicBody("writer")), true, "custom_id: String should match pattern"},
		{"long custom_id", anthropicBatchBody(strings.Repeat("x", 65), anthropicBody("writer")), true, "custom_id"},
		{"duplicate custom_id", anthropicBatchBody("a", anthropicBody("writer"), "a", anthropicBody("judge")), false, "Duplicate custom_id"},
		{"no requests", anthropicBatchBody(), true, "at least 1 item"},
		{"extra field", map[string]any{"requests": []any{}, "model": "writer"}, true, "model: Extra inputs"},
	} {
		r := e.sendUnchecked("POST", "/v1/messages/batches", h, c.body)
		if r.status != 400 || dig(r.json(t), "error", "type") != "invalid_request_error" || !strings.Contains(dig(r.json(t), "error", "message").(string), c.wantInMsg) {
			t.Errorf("%s: %d %s", c.name, r.status, r.body)
		}
		if e.specRefused() != c.specToo {
			t.Errorf("%s: the spec refuses it: %v, want %v", c.name, e.specRefused(), c.specToo)
		}
	}
	if r := do(t, "POST", e.url+"/v1/messages/batches", openaiHeader("k"), anthropicBatchBody("a", anthropicBody("writer"))); r.status != 400 {
		t.Errorf("no anthropic-version: %d", r.status)
	}
	if st := e.srv.Stats(); st.BatchesCreated != nil {
		t.Errorf("refused batches counted: %+v", st)
	}
}

// chatLine is one line of an OpenAI or Together input file.
func chatLine(id string, body map[string]any) string {
	b, _ := json.Marshal(map[string]any{"custom_id": id, "method": "POST", "url": "/v1/chat/completions", "body": body})
	return string(b) + "\n"
}

func TestOpenAIBatchLifecycle(t *testing.T) {
	t.Parallel()
	e := newBatchEnv(t, Options{Seed: 9}, openaiBatchSpec(t))
	online := ok(t, e.send("POST", "/v1/chat/completions", nil, openaiBody("writer")))
	f := e.upload("/v1/files", [][2]string{{"purpose", "batch"}}, []byte(chatLine("a", openaiBody("writer"))+
		chatLine("b", openaiBody("no-such-model"))+chatLine("c", openaiBody("judge"))))

	req := map[string]any{"input_file_id": f["id"], "endpoint": "/v1/chat/completions", "completion_window": "24h",
		"metadata": map[string]any{"run": "r1"}}
	b := ok(t, e.send("POST", "/v1/batches", nil, req))
	id := b["id"].(string)
	if !strings.HasPrefix(id, "batch_") || b["status"] != "validating" || b["model"] != "writer" || dig(b, "metadata", "run") != "r1" ||
		b["expires_at"] != float64(ftEpoch.Add(24*time.Hour).Unix()) {
		t.Fatalf("created: %v", b)
	}
	var statuses []string
	for _, d := range []time.Duration{500 * time.Millisecond, 500 * time.Millisecond, 900 * time.Millisecond, 100 * time.Millisecond} {
		e.clock.Advance(d)
		b = ok(t, e.send("GET", "/v1/batches/"+id, nil, nil))
		statuses = append(statuses, b["status"].(string))
	}
	if diff := cmp.Diff([]string{"in_progress", "in_progress", "finalizing", "completed"}, statuses); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	if c := b["request_counts"].(map[string]any); c["total"] != 3.0 || c["completed"] != 2.0 || c["failed"] != 1.0 || b["completed_at"] == nil {
		t.Errorf("completed: %v", b)
	}
	out := byCustomID(jsonl(t, e.send("GET", "/v1/files/"+b["output_file_id"].(string)+"/content", nil, nil).body))
	a := dig(out["a"], "response", "body").(map[string]any)
	if dig(out["a"], "response", "status_code") != 200.0 || !strings.HasPrefix(out["a"]["id"].(string), "batch_req_") ||
		!cmp.Equal(a["choices"], online["choices"]) || !cmp.Equal(a["usage"], online["usage"]) || len(out) != 2 {
		t.Errorf("output %v; online %v", out, online)
	}
	errs := byCustomID(jsonl(t, e.send("GET", "/v1/files/"+b["error_file_id"].(string)+"/content", nil, nil).body))
	if dig(errs["b"], "response", "status_code") != 404.0 || dig(errs["b"], "response", "body", "error", "code") != "model_not_found" {
		t.Errorf("errors: %v", errs)
	}
	file := ok(t, e.send("GET", "/v1/files/"+b["output_file_id"].(string), nil, nil))
	if file["purpose"] != "batch_output" {
		t.Errorf("output file: %v", file)
	}
	if r := e.send("POST", "/v1/batches/"+id+"/cancel", nil, nil); r.status != 400 {
		t.Errorf("cancel a completed batch: %d %s", r.status, r.body)
	}
	list := ok(t, e.send("GET", "/v1/batches?limit=5", nil, nil))
	if list["object"] != "list" || len(list["data"].([]any)) != 1 || list["first_id"] != id {
		t.Errorf("list: %v", list)
	}
}

func TestOpenAIBatchInvalidFile(t *testing.T) {
	t.Parallel()
	e := newBatchEnv(t, Options{}, openaiBatchSpec(t))
	content := chatLine("a", openaiBody("writer")) + "not json\n" + chatLine("a", openaiBody("judge")) +
		strings.Replace(chatLine("d", openaiBody("writer")), "/v1/chat/completions", "/v1/embeddings", 1)
	f := e.upload("/v1/files", [][2]string{{"purpose", "batch"}}, []byte(content))
	b := ok(t, e.send("POST", "/v1/batches", nil, map[string]any{"input_file_id": f["id"], "endpoint": "/v1/chat/completions", "completion_window": "24h"}))
	e.clock.Advance(time.Second)
	b = ok(t, e.send("GET", "/v1/batches/"+b["id"].(string), nil, nil))
	type lineErr struct {
		Code string
		Line float64
	}
	var got []lineErr
	for _, d := range dig(b, "errors", "data").([]any) {
		got = append(got, lineErr{d.(map[string]any)["code"].(string), d.(map[string]any)["line"].(float64)})
	}
	want := []lineErr{{"invalid_json_line", 2}, {"duplicate_custom_id", 3}, {"invalid_url", 4}}
	if b["status"] != "failed" || b["failed_at"] == nil || b["output_file_id"] != nil || !cmp.Equal(want, got) {
		t.Errorf("failed batch: %v", b)
	}

	many := bytes.Repeat([]byte(chatLine("x", openaiBody("writer"))), 1) // one line, then 50,000 more
	for i := range openaiBatchMaxLines {
		many = append(many, chatLine("r"+itoa(i), openaiBody("writer"))...)
	}
	f = e.upload("/v1/files", [][2]string{{"purpose", "batch"}}, many)
	b = ok(t, e.send("POST", "/v1/batches", nil, map[string]any{"input_file_id": f["id"], "endpoint": "/v1/chat/completions", "completion_window": "24h"}))
	e.clock.Advance(time.Second)
	b = ok(t, e.send("GET", "/v1/batches/"+b["id"].(string), nil, nil))
	if b["status"] != "failed" || dig(b, "errors", "data").([]any)[0].(map[string]any)["code"] != "too_many_tasks" {
		t.Errorf("too many lines: %v", b["errors"])
	}

	tune := e.upload("/v1/files", [][2]string{{"purpose", "fine-tune"}}, []byte(content))
	for _, c := range []struct {
		name string
		body map[string]any
		spec bool // the official spec refuses it as well
	}{
		{"wrong purpose", map[string]any{"input_file_id": tune["id"], "endpoint": "/v1/chat/completions", "completion_window": "24h"}, false},
		{"window", map[string]any{"input_file_id": f["id"], "endpoint": "/v1/chat/completions", "completion_window": "1h"}, true},
		{"extra field", map[string]any{"input_file_id": f["id"], "endpoint": "/v1/chat/completions", "completion_window": "24h", "model": "writer"}, true},
		{"endpoint", map[string]any{"input_file_id": f["id"], "endpoint": "/v1/embeddings", "completion_window": "24h"}, false},
	} {
		r := e.sendUnchecked("POST", "/v1/batches", nil, c.body)
		if r.status != 400 || dig(r.json(t), "error", "type") != "invalid_request_error" {
			t.Errorf("%s: %d %s", c.name, r.status, r.body)
		}
		if e.specRefused() != c.spec {
			t.Errorf("%s: the spec refuses it: %v", c.name, e.specRefused())
		}
	}
	if r := e.send("POST", "/v1/batches", nil, map[string]any{"input_file_id": "file-missing", "endpoint": "/v1/chat/completions", "completion_window": "24h"}); r.status != 404 {
		t.Errorf("missing file: %d", r.status)
	}
}

func TestTogetherBatch(t *testing.T) {
	t.Parallel()
	e := newBatchEnv(t, Options{}, togetherBatchSpec(t))
	h := http.Header{"Authorization": {"Bearer k"}, "User-Agent": {"ethos"}}
	f := e.upload("/v1/files/upload", [][2]string{{"purpose", "batch-api"}, {"file_name", "batch.jsonl"}},
		[]byte(chatLine("a", openaiBody("writer"))+chatLine("b", openaiBody("judge"))))
	r := e.send("POST", "/v1/batches", h, map[string]any{"input_file_id": f["id"], "endpoint": "/v1/chat/completions",
		"completion_window": "24h", "priority": 1, "model_id": "writer"})
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	job := r.json(t)["job"].(map[string]any)
	id := job["id"].(string)
	if len(id) != 36 || job["status"] != "VALIDATING" || job["created_at"] != ftEpoch.Format(time.RFC3339Nano) ||
		job["job_deadline"] != ftEpoch.Add(24*time.Hour).Format(time.RFC3339Nano) || job["model_id"] != "writer" {
		t.Errorf("job: %v", job)
	}
	e.clock.Advance(time.Second)
	if job = ok(t, e.send("GET", "/v1/batches/"+id, h, nil)); job["status"] != "IN_PROGRESS" || job["progress"] != 50.0 {
		t.Errorf("half way: %v", job)
	}
	e.clock.Advance(time.Second)
	job = ok(t, e.send("GET", "/v1/batches/"+id, h, nil))
	if job["status"] != "COMPLETED" || job["progress"] != 100.0 || job["completed_at"] == nil || job["error_file_id"] != nil {
		t.Fatalf("completed: %v", job)
	}
	out := byCustomID(jsonl(t, e.send("GET", "/v1/files/"+job["output_file_id"].(string)+"/content", h, nil).body))
	if len(out) != 2 || dig(out["b"], "response", "status_code") != 200.0 {
		t.Errorf("output: %v", out)
	}
	r = e.send("GET", "/v1/batches", h, nil)
	var list []map[string]any
	if err := json.Unmarshal(r.body, &list); err != nil || len(list) != 1 || list[0]["id"] != id {
		t.Errorf("list: %s", r.body)
	}
	r = e.send("POST", "/v1/batches/"+id+"/cancel", h, nil)
	if r.status != 400 || !strings.Contains(fmt.Sprint(r.json(t)["error"]), "COMPLETED") {
		t.Errorf("cancel a completed batch: %d %s", r.status, r.body)
	}

	// Cancelled at once, the rest of its requests in the error file.
	b2 := e.send("POST", "/v1/batches", h, map[string]any{"input_file_id": f["id"], "endpoint": "/v1/chat/completions"}).json(t)["job"].(map[string]any)
	e.clock.Advance(time.Second)
	job = ok(t, e.send("POST", "/v1/batches/"+b2["id"].(string)+"/cancel", h, nil))
	errs := byCustomID(jsonl(t, e.send("GET", "/v1/files/"+job["error_file_id"].(string)+"/content", h, nil).body))
	if job["status"] != "CANCELLED" || dig(errs["b"], "error", "code") != "batch_cancelled" {
		t.Errorf("cancelled: %v %v", job, errs)
	}
	if st := e.srv.Stats(); st.BatchesCreated[wireTogether] != 2 || st.BatchResubmissions != 2 {
		t.Errorf("stats: %+v", st) // the second batch resubmits a and b, both answered
	}
}

func TestBatchFaultsAreDeterministic(t *testing.T) {
	t.Parallel()
	opts := Options{Seed: 2, Batch: BatchOptions{ErrorRate: 0.3, ExpireRate: 0.3}}
	var reqs []any
	for i := range 40 {
		reqs = append(reqs, "r"+itoa(i), anthropicBody("writer", "max_tokens", 10+i))
	}
	run := func() ([]map[string]any, map[string]any) {
		e := newBatchEnv(t, opts, nil)
		h := anthropicHeader("k")
		id := ok(t, e.send("POST", "/v1/messages/batches", h, anthropicBatchBody(reqs...)))["id"].(string)
		e.clock.Advance(2 * time.Second)
		b := ok(t, e.send("GET", "/v1/messages/batches/"+id, h, nil))
		return jsonl(t, e.send("GET", "/v1/messages/batches/"+id+"/results", h, nil).body), b["request_counts"].(map[string]any)
	}
	results, counts := run()
	again, _ := run()
	if !cmp.Equal(results, again) {
		t.Error("two runs with one seed and clock differ")
	}
	if counts["errored"] == 0.0 || counts["expired"] == 0.0 || counts["succeeded"] == 0.0 {
		t.Errorf("counts: %v", counts)
	}
	for _, l := range results {
		if dig(l, "result", "type") == "errored" && dig(l, "result", "error", "error", "type") != "api_error" {
			t.Errorf("errored: %v", l)
		}
	}
}

func TestOpenAIBatchExpires(t *testing.T) {
	t.Parallel()
	e := newBatchEnv(t, Options{Batch: BatchOptions{ExpireRate: 0.5}}, openaiBatchSpec(t))
	var content string
	for i := range 10 {
		content += chatLine("r"+itoa(i), openaiBody("writer", "max_tokens", 5+i))
	}
	f := e.upload("/v1/files", [][2]string{{"purpose", "batch"}}, []byte(content))
	b := ok(t, e.send("POST", "/v1/batches", nil, map[string]any{"input_file_id": f["id"], "endpoint": "/v1/chat/completions", "completion_window": "24h"}))
	e.clock.Advance(2 * time.Second)
	b = ok(t, e.send("GET", "/v1/batches/"+b["id"].(string), nil, nil))
	errs := jsonl(t, e.send("GET", "/v1/files/"+b["error_file_id"].(string)+"/content", nil, nil).body)
	c := b["request_counts"].(map[string]any)
	if b["status"] != "expired" || b["expired_at"] == nil || b["output_file_id"] == nil || len(errs) == 0 ||
		dig(errs[0], "error", "code") != "batch_expired" || c["completed"].(float64)+float64(len(errs)) != 10 {
		t.Errorf("expired: %v, %d errors", b, len(errs))
	}
}

func TestBatchesPersistAndCountResubmissions(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clock := &fakeClock{t: ftEpoch}
	opts := Options{Now: clock.Now, FineTune: FineTuneOptions{Dir: dir}}
	h := anthropicHeader("k")
	first := newBatchEnv(t, opts, openaiBatchSpec(t))
	id := ok(t, first.send("POST", "/v1/messages/batches", h, anthropicBatchBody("a", anthropicBody("writer"), "b", anthropicBody("judge"))))["id"].(string)
	f := first.upload("/v1/files", [][2]string{{"purpose", "batch"}}, []byte(chatLine("x", openaiBody("writer"))))
	oa := ok(t, first.send("POST", "/v1/batches", nil, map[string]any{"input_file_id": f["id"], "endpoint": "/v1/chat/completions", "completion_window": "24h"}))

	// Another process on the same directory, as after a restart.
	second := newBatchEnv(t, opts, openaiBatchSpec(t))
	if b := ok(t, second.send("GET", "/v1/messages/batches/"+id, h, nil)); b["processing_status"] != "in_progress" {
		t.Errorf("second process: %v", b)
	}
	ok(t, second.send("POST", "/v1/messages/batches", h, anthropicBatchBody("a", anthropicBody("writer"), "c", anthropicBody("writer"))))
	if st := second.srv.Stats(); st.BatchResubmissions != 1 {
		t.Errorf("a still processing, resubmitted: %+v", st)
	}
	clock.Advance(3 * time.Second)
	ok(t, second.send("POST", "/v1/messages/batches", h, anthropicBatchBody("b", anthropicBody("judge"))))
	if st := second.srv.Stats(); st.BatchResubmissions != 2 {
		t.Errorf("b answered, resubmitted: %+v", st)
	}
	if r := second.send("GET", "/v1/messages/batches/"+id+"/results", h, nil); len(jsonl(t, r.body)) != 2 {
		t.Errorf("results in the second process: %s", r.body)
	}
	b := ok(t, second.send("GET", "/v1/batches/"+oa["id"].(string), nil, nil))
	if b["status"] != "completed" || len(jsonl(t, first.send("GET", "/v1/files/"+b["output_file_id"].(string)+"/content", nil, nil).body)) != 1 {
		t.Errorf("OpenAI batch in the second process: %v", b)
	}
}

func TestCancelledAndErroredAreNoResubmission(t *testing.T) {
	t.Parallel()
	e := newBatchEnv(t, Options{Batch: BatchOptions{ErrorRate: 1}}, nil)
	h := anthropicHeader("k")
	failing := ok(t, e.send("POST", "/v1/messages/batches", h, anthropicBatchBody("a", anthropicBody("writer"))))
	e.clock.Advance(2 * time.Second)
	if b := ok(t, e.send("GET", "/v1/messages/batches/"+failing["id"].(string), h, nil)); dig(b, "request_counts", "errored") != 1.0 {
		t.Fatalf("errored: %v", b)
	}
	cancelled := ok(t, e.send("POST", "/v1/messages/batches", h, anthropicBatchBody("b", anthropicBody("writer"))))
	ok(t, e.send("POST", "/v1/messages/batches/"+cancelled["id"].(string)+"/cancel", h, nil))
	ok(t, e.send("POST", "/v1/messages/batches", h, anthropicBatchBody("a", anthropicBody("writer"), "b", anthropicBody("writer"))))
	if st := e.srv.Stats(); st.BatchResubmissions != 0 || st.BatchRequests != 4 || st.BatchesCreated[wireAnthropic] != 3 {
		t.Errorf("stats: %+v", st)
	}
}
