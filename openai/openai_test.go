package openai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/internal/wire/wiretest"
)

const testKey = "sk-test-SECRET-0123456789"

var fixedNow = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// newTestClient starts h on a loopback server and returns a client for it
// whose clock reads fixedNow.
func newTestClient(t *testing.T, cfg Config, h http.HandlerFunc) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	cfg.BaseURL = srv.URL + "/v1"
	if cfg.APIKey == "" {
		cfg.APIKey = testKey
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.now = func() time.Time { return fixedNow }
	return c
}

func sampleRequest() ethos.Request {
	temp := 0.5
	return ethos.Request{
		Model:       "meta-llama/Llama-3-8b",
		System:      "You are terse.",
		Messages:    []ethos.Message{{Role: ethos.RoleUser, Content: "Say hi."}, {Role: ethos.RoleAssistant, Content: "Hi"}, {Role: ethos.RoleUser, Content: "Again."}},
		MaxTokens:   64,
		Temperature: &temp,
		Stop:        []string{"END"},
	}
}

const completionJSON = `{"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"llama-3-8b-served",
"choices":[{"index":0,"message":{"role":"assistant","content":"Hello, world.","refusal":null},"finish_reason":"stop","logprobs":null}],
"usage":{"prompt_tokens":17,"completion_tokens":5,"total_tokens":22,"prompt_tokens_details":{"cached_tokens":3}}}`

func chunk(delta, finish string) string {
	f := "null"
	if finish != "" {
		f = `"` + finish + `"`
	}
	return `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"llama-3-8b-served","choices":[{"index":0,"delta":` + delta + `,"finish_reason":` + f + `}],"usage":null}`
}

const usageChunk = `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"llama-3-8b-served","choices":[],"usage":{"prompt_tokens":17,"completion_tokens":5,"total_tokens":22,"prompt_tokens_details":{"cached_tokens":3}}}`

// streamFrames is the SSE rendering of completionJSON.
var streamFrames = []string{
	chunk(`{"role":"assistant","content":""}`, ""),
	`: keep-alive comment`,
	chunk(`{"content":"Hello, "}`, ""),
	chunk(`{"content":"world."}`, ""),
	chunk(`{}`, "stop"),
	usageChunk,
	`data: [DONE]`,
}

func setRateHeaders(h http.Header) {
	h.Set("x-request-id", "req_abc")
	h.Set("x-ratelimit-limit-requests", "500")
	h.Set("x-ratelimit-remaining-requests", "499")
	h.Set("x-ratelimit-reset-requests", "6m0s")
	h.Set("x-ratelimit-limit-tokens", "30000")
	h.Set("x-ratelimit-remaining-tokens", "0")
	h.Set("x-ratelimit-reset-tokens", "20ms")
}

func TestCompleteJSONAndStreamAgree(t *testing.T) {
	t.Parallel()
	var bodies []map[string]any
	c := newTestClient(t, Config{Provider: "together"}, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions" {
			t.Errorf("got %s %s, want POST /v1/chat/completions", r.Method, r.URL.Path)
		}
		if got := r.Header.Get("Authorization"); got != "Bearer "+testKey {
			t.Errorf("authorization header %q does not carry the key", got)
		}
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			t.Error(err)
		}
		bodies = append(bodies, body)
		setRateHeaders(w.Header())
		if body["stream"] == true {
			wiretest.WriteSSE(w, streamFrames)
			return
		}
		w.Header().Set("content-type", "application/json")
		io.WriteString(w, completionJSON)
	})
	want := ethos.Response{
		Text:       "Hello, world.",
		StopReason: ethos.StopEnd,
		Usage:      ethos.Usage{In: 14, Out: 5, CacheRead: 3},
		Model:      "llama-3-8b-served",
		RequestID:  "req_abc",
		RateLimit: ethos.RateLimit{
			RequestsLimit: 500, RequestsRemaining: 499, RequestsReset: fixedNow.Add(6 * time.Minute),
			TokensLimit: 30000, TokensRemaining: 0, TokensReset: fixedNow.Add(20 * time.Millisecond),
			HasRequests: true, HasTokens: true,
		},
	}
	for _, stream := range []bool{false, true} {
		req := sampleRequest()
		req.Stream = stream
		got, err := c.Complete(context.Background(), req)
		if err != nil {
			t.Fatalf("stream=%v: %v", stream, err)
		}
		if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(ethos.Response{}, "Latency")); diff != "" {
			t.Errorf("stream=%v: response mismatch (-want +got):\n%s", stream, diff)
		}
	}
	wantBody := map[string]any{
		"model":       "meta-llama/Llama-3-8b",
		"max_tokens":  float64(64),
		"temperature": 0.5,
		"stop":        []any{"END"},
		"messages": []any{
			map[string]any{"role": "system", "content": "You are terse."},
			map[string]any{"role": "user", "content": "Say hi."},
			map[string]any{"role": "assistant", "content": "Hi"},
			map[string]any{"role": "user", "content": "Again."},
		},
	}
	if len(bodies) != 2 {
		t.Fatalf("server saw %d requests, want 2", len(bodies))
	}
	if diff := cmp.Diff(wantBody, bodies[0]); diff != "" {
		t.Errorf("JSON request body (-want +got):\n%s", diff)
	}
	wantBody["stream"] = true
	wantBody["stream_options"] = map[string]any{"include_usage": true}
	if diff := cmp.Diff(wantBody, bodies[1]); diff != "" {
		t.Errorf("stream request body (-want +got):\n%s", diff)
	}
}

func TestOptionalFields(t *testing.T) {
	t.Parallel()
	var body map[string]any
	handler := func(w http.ResponseWriter, r *http.Request) {
		body = nil
		json.NewDecoder(r.Body).Decode(&body)
		w.Header().Set("content-type", "application/json")
		io.WriteString(w, completionJSON)
	}
	req := ethos.Request{Model: "gpt-4.1", Messages: []ethos.Message{{Role: ethos.RoleUser, Content: "x"}}, MaxTokens: 10}

	c := newTestClient(t, Config{MaxCompletionTokens: true}, handler)
	if _, err := c.Complete(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	for _, absent := range []string{"max_tokens", "temperature", "stop", "stream", "stream_options"} {
		if _, ok := body[absent]; ok {
			t.Errorf("%s sent although unset: %v", absent, body)
		}
	}
	if body["max_completion_tokens"] != float64(10) {
		t.Errorf("max_completion_tokens = %v, want 10", body["max_completion_tokens"])
	}
	if msgs := body["messages"].([]any); len(msgs) != 1 {
		t.Errorf("an empty System added a message: %v", msgs)
	}
}

// TestOverrunIsReported: an answer with more output tokens than the
// limit (completionJSON has 5) is reported with the field the limit went
// in; one within the limit is not.
func TestOverrunIsReported(t *testing.T) {
	t.Parallel()
	handler := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("content-type", "application/json")
		io.WriteString(w, completionJSON)
	}
	for _, tc := range []struct {
		completionTokens bool
		limit            int
		want             []Overrun
	}{
		{false, 3, []Overrun{{Provider: "ollama", Model: "llama3", Field: "max_tokens", Limit: 3, Out: 5}}},
		{true, 4, []Overrun{{Provider: "ollama", Model: "llama3", Field: "max_completion_tokens", Limit: 4, Out: 5}}},
		{false, 5, nil},
	} {
		var got []Overrun
		c := newTestClient(t, Config{Provider: "ollama", MaxCompletionTokens: tc.completionTokens, OnOverrun: func(o Overrun) { got = append(got, o) }}, handler)
		req := ethos.Request{Model: "llama3", Messages: []ethos.Message{{Role: ethos.RoleUser, Content: "x"}}, MaxTokens: tc.limit}
		if _, err := c.Complete(context.Background(), req); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("limit %d: overruns (-want +got):\n%s", tc.limit, diff)
		}
	}
	o := Overrun{Provider: "openai", Model: "llama3", Field: "max_completion_tokens", Limit: 3, Out: 5}
	if want := "set providers.openai.output_limit: max_tokens"; !strings.Contains(o.String(), want) {
		t.Errorf("%q does not say %q", o, want)
	}
}

func TestStopReasons(t *testing.T) {
	t.Parallel()
	tests := []struct {
		finish, refusal string
		want            ethos.StopReason
	}{
		{"stop", "", ethos.StopEnd},
		{"length", "", ethos.StopMaxTokens},
		{"content_filter", "", ethos.StopRefusal},
		{"tool_calls", "", ethos.StopToolUse},
		{"function_call", "", ethos.StopToolUse},
		{"stop", "I can't help with that.", ethos.StopRefusal},
		{"eos", "", "eos"},
	}
	for _, tt := range tests {
		refusal := "null"
		if tt.refusal != "" {
			refusal = `"` + tt.refusal + `"`
		}
		c := newTestClient(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
			var body map[string]any
			json.NewDecoder(r.Body).Decode(&body)
			if body["stream"] == true {
				frames := []string{chunk(`{"role":"assistant","content":""}`, "")}
				if tt.refusal != "" {
					frames = append(frames, chunk(`{"refusal":`+refusal+`}`, ""))
				}
				wiretest.WriteSSE(w, append(frames, chunk(`{}`, tt.finish), usageChunk, "data: [DONE]"))
				return
			}
			w.Header().Set("content-type", "application/json")
			s := strings.Replace(completionJSON, `"finish_reason":"stop"`, `"finish_reason":"`+tt.finish+`"`, 1)
			io.WriteString(w, strings.Replace(s, `"refusal":null`, `"refusal":`+refusal, 1))
		})
		for _, stream := range []bool{false, true} {
			req := sampleRequest()
			req.Stream = stream
			got, err := c.Complete(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if got.StopReason != tt.want {
				t.Errorf("finish %q refusal %q stream=%v: got %q, want %q", tt.finish, tt.refusal, stream, got.StopReason, tt.want)
			}
		}
	}
}

func TestStreamFailures(t *testing.T) {
	t.Parallel()
	full := streamFrames
	tests := []struct {
		name   string
		frames []string
		kind   ethos.Kind
		inMsg  string
	}{
		{"no [DONE]", full[:len(full)-1], ethos.Transient, "[DONE]"},
		{"cut mid-way", full[:3], ethos.Transient, "[DONE]"},
		{"empty stream", nil, ethos.Transient, "[DONE]"},
		{"no finish_reason", []string{full[0], full[2], usageChunk, "data: [DONE]"}, ethos.Transient, "finish_reason"},
		{"error object mid-stream", append(full[:3:3], `data: {"error":{"message":"server busy `+testKey+`","type":"server_error","code":null}}`), ethos.Transient, "server_error"},
		{"vLLM error with numeric code", append(full[:3:3], `data: {"error":{"message":"rate limit","type":"RateLimitError","code":429}}`), ethos.RateLimited, "429"},
		{"overloaded error event", append(full[:3:3], "event: error\n"+`data: {"error":{"message":"Overloaded","type":"overloaded_error"}}`), ethos.Overloaded, "overloaded_error"},
		{"malformed data", append(full[:3:3], `data: {not json`), ethos.Transient, "request failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newTestClient(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("x-request-id", "req_hdr")
				wiretest.WriteSSE(w, tt.frames)
			})
			req := sampleRequest()
			req.Stream = true
			_, err := c.Complete(context.Background(), req)
			e := wiretest.AsError(t, err)
			if e.Kind != tt.kind {
				t.Errorf("kind = %q, want %q (%v)", e.Kind, tt.kind, err)
			}
			if !strings.Contains(err.Error(), tt.inMsg) {
				t.Errorf("error %q does not mention %q", err, tt.inMsg)
			}
			if e.RequestID != "req_hdr" || e.Op != "openai: chat.completions" {
				t.Errorf("request id %q, op %q", e.RequestID, e.Op)
			}
			wiretest.AssertNoSecret(t, err, testKey)
		})
	}
}

func TestDoneWatcherAcrossReads(t *testing.T) {
	t.Parallel()
	for _, body := range []string{"data: [DONE]\n\n", "data: [DONE]\r\n\r\n", "data: [DONE]", "data:[DONE]\n"} {
		for split := 0; split <= len(body); split++ {
			d := &doneWatcher{ReadCloser: io.NopCloser(&splitReader{parts: []string{body[:split], body[split:]}})}
			io.Copy(io.Discard, d)
			if !d.sawDone() {
				t.Errorf("%q split at %d: [DONE] not seen", body, split)
			}
		}
	}
	for _, body := range []string{"data: [DONE]x\n", "xdata: [DONE]\n", `data: {"text":"data: [DONE]"}` + "\n"} {
		d := &doneWatcher{ReadCloser: io.NopCloser(strings.NewReader(body))}
		io.Copy(io.Discard, d)
		if d.sawDone() {
			t.Errorf("%q: [DONE] wrongly seen", body)
		}
	}
}

// splitReader returns its parts one Read at a time.
type splitReader struct{ parts []string }

func (s *splitReader) Read(p []byte) (int, error) {
	for len(s.parts) > 0 && s.parts[0] == "" {
		s.parts = s.parts[1:]
	}
	if len(s.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.parts[0])
	s.parts[0] = s.parts[0][n:]
	return n, nil
}

func TestStatusErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range wiretest.StatusCases("together", sampleRequest().Model, fixedNow) {
		t.Run(tt.String(), func(t *testing.T) {
			t.Parallel()
			for _, stream := range []bool{false, true} {
				t.Run(fmt.Sprintf("stream=%v", stream), func(t *testing.T) {
					c := newTestClient(t, Config{Provider: "together"}, func(w http.ResponseWriter, r *http.Request) {
						w.Header().Set("x-request-id", "req_err")
						w.Header().Set("content-type", "application/json")
						for k, v := range tt.Header {
							w.Header().Set(k, v)
						}
						w.WriteHeader(tt.Status)
						// A careless server echoing the key must not leak it.
						fmt.Fprintf(w, `{"error":{"message":"Incorrect API key provided: %s\nsecond line","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`, testKey)
					})
					req := sampleRequest()
					req.Stream = stream
					_, err := c.Complete(context.Background(), req)
					tt.Check(t, err, "req_err", "together: chat.completions", testKey)
					if !strings.Contains(err.Error(), "invalid_api_key") {
						t.Errorf("error %q lacks the provider's code", err)
					}
				})
			}
		})
	}
}

// blockingServer returns a client whose server holds each request until the
// client goes away, and a channel that says a request has arrived.
func blockingServer(t *testing.T, cfg Config) (*Client, <-chan struct{}) {
	t.Helper()
	arrived := make(chan struct{}, 1)
	c := newTestClient(t, cfg, wiretest.Holding(arrived))
	return c, arrived
}

func TestCancelKeepsContextError(t *testing.T) {
	t.Parallel()
	for _, stream := range []bool{false, true} {
		c, arrived := blockingServer(t, Config{})
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			<-arrived
			cancel()
		}()
		req := sampleRequest()
		req.Stream = stream
		_, err := c.Complete(ctx, req)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("stream=%v: error %v does not wrap context.Canceled", stream, err)
		}
		wiretest.AsError(t, err)
	}
}

func TestTimeoutIsTransient(t *testing.T) {
	t.Parallel()
	c, _ := blockingServer(t, Config{Timeout: 50 * time.Millisecond})
	_, err := c.Complete(context.Background(), sampleRequest())
	e := wiretest.AsError(t, err)
	if e.Kind != ethos.Transient || !strings.Contains(e.Msg, "no complete response within") {
		t.Errorf("got %v (kind %s), want a transient timeout", err, e.Kind)
	}
}

func TestNetworkErrorIsTransient(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close() // nothing listens there any more
	c, err := New(Config{BaseURL: srv.URL + "/v1", APIKey: testKey})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Complete(context.Background(), sampleRequest())
	if e := wiretest.AsError(t, err); e.Kind != ethos.Transient {
		t.Errorf("kind = %s, want transient: %v", e.Kind, err)
	}
	wiretest.AssertNoSecret(t, err, testKey)
	if e := wiretest.AsError(t, c.Ping(context.Background())); e.Kind != ethos.Transient || e.Op != "openai: models" {
		t.Errorf("ping: got %v (%s)", e, e.Kind)
	}
}

func TestNoChoicesIsTransient(t *testing.T) {
	t.Parallel()
	c := newTestClient(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("content-type", "application/json")
		io.WriteString(w, `{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[]}`)
	})
	_, err := c.Complete(context.Background(), sampleRequest())
	if e := wiretest.AsError(t, err); e.Kind != ethos.Transient {
		t.Errorf("kind = %s, want transient: %v", e.Kind, err)
	}
}

// TestEnvironmentDoesNotLeak runs without t.Parallel because it sets
// process environment variables.
func TestEnvironmentDoesNotLeak(t *testing.T) {
	t.Setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
	t.Setenv("OPENAI_API_KEY", "env-key")
	t.Setenv("OPENAI_ORG_ID", "org-env")
	t.Setenv("OPENAI_PROJECT_ID", "proj-env")
	t.Setenv("OPENAI_CUSTOM_HEADERS", "X-Leak: yes")
	for _, key := range []string{"", "config-key"} {
		var got http.Header
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got = r.Header.Clone()
			w.Header().Set("content-type", "application/json")
			io.WriteString(w, completionJSON)
		}))
		t.Cleanup(srv.Close)
		c, err := New(Config{BaseURL: srv.URL + "/v1", APIKey: key})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Complete(context.Background(), sampleRequest()); err != nil {
			t.Fatalf("key %q: %v (did OPENAI_BASE_URL win?)", key, err)
		}
		if auth := got.Get("Authorization"); strings.Contains(auth, "env-") || (key != "" && auth != "Bearer "+key) || (key == "" && auth != "") {
			t.Errorf("key %q: authorization %q", key, auth)
		}
		for _, h := range []string{"OpenAI-Organization", "OpenAI-Project", "X-Leak"} {
			if got.Get(h) != "" {
				t.Errorf("environment leaked header %s: %q", h, got.Get(h))
			}
		}
	}
}

func TestUnknownRoleRejectedBeforeSending(t *testing.T) {
	t.Parallel()
	c := newTestClient(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		t.Error("request reached the server")
	})
	req := sampleRequest()
	req.Messages = append(req.Messages, ethos.Message{Role: "tool", Content: "x"})
	_, err := c.Complete(context.Background(), req)
	if e := wiretest.AsError(t, err); e.Kind != ethos.Invalid {
		t.Errorf("got %v (%s), want invalid", err, e.Kind)
	}
}

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	for _, cfg := range []Config{{BaseURL: "ftp://example.com"}, {BaseURL: "://nope"}, {MaxRetries: -1}} {
		_, err := New(cfg)
		if e := wiretest.AsError(t, err); e.Kind != ethos.Config {
			t.Errorf("New(%+v): kind %s, want config", cfg, e.Kind)
		}
	}
	if _, err := New(Config{}); err != nil {
		t.Errorf("New with defaults: %v", err)
	}
}

func TestPing(t *testing.T) {
	t.Parallel()
	status := http.StatusOK
	c := newTestClient(t, Config{Provider: "ollama"}, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/v1/models" {
			t.Errorf("got %s %s, want GET /v1/models", r.Method, r.URL.Path)
		}
		w.Header().Set("content-type", "application/json")
		w.Header().Set("x-request-id", "req_ping")
		w.WriteHeader(status)
		if status != http.StatusOK {
			io.WriteString(w, `{"error":{"message":"bad key","type":"invalid_request_error","code":"invalid_api_key"}}`)
			return
		}
		io.WriteString(w, `{"object":"list","data":[{"id":"llama3.1","object":"model","created":1,"owned_by":"library"}]}`)
	})
	if err := c.Ping(context.Background()); err != nil {
		t.Fatalf("ping: %v", err)
	}
	status = http.StatusUnauthorized
	e := wiretest.AsError(t, c.Ping(context.Background()))
	if e.Kind != ethos.Auth || e.Op != "ollama: models" || e.RequestID != "req_ping" {
		t.Errorf("ping 401: got %v kind %s", e, e.Kind)
	}
}
