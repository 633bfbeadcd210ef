package anthropic

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

const testKey = "sk-ant-test-SECRET-0123456789"

// newTestClient starts h on a loopback server and returns a client for it.
func newTestClient(t *testing.T, h http.HandlerFunc) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := New(Config{BaseURL: srv.URL, APIKey: testKey})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func sampleRequest() ethos.Request {
	return ethos.Request{
		Model:     "claude-sonnet-4-5",
		System:    "You are terse.",
		Messages:  []ethos.Message{{Role: ethos.RoleUser, Content: "Say hi."}, {Role: ethos.RoleAssistant, Content: "Hi"}, {Role: ethos.RoleUser, Content: "Again."}},
		MaxTokens: 64,
		Stop:      []string{"END"},
	}
}

const messageJSON = `{"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929",
"content":[{"type":"text","text":"Hello, "},{"type":"text","text":"world."}],
"stop_reason":"end_turn","stop_sequence":null,
"usage":{"input_tokens":12,"output_tokens":5,"cache_read_input_tokens":3,"cache_creation_input_tokens":2}}`

// streamFrames is the SSE rendering of messageJSON, with the noise a real
// stream carries (ping, an unknown event type).
var streamFrames = []string{
	`event: message_start
data: {"type":"message_start","message":{"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":12,"output_tokens":1,"cache_read_input_tokens":3,"cache_creation_input_tokens":2}}}`,
	`event: ping
data: {"type":"ping"}`,
	`event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`,
	`event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello, "}}`,
	`event: content_block_stop
data: {"type":"content_block_stop","index":0}`,
	`event: some_future_event
data: {"type":"some_future_event"}`,
	`event: content_block_start
data: {"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}`,
	`event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"world"}}`,
	`event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"."}}`,
	`event: content_block_stop
data: {"type":"content_block_stop","index":1}`,
	`event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":5}}`,
	`event: message_stop
data: {"type":"message_stop"}`,
}

func setRateHeaders(h http.Header) {
	h.Set("request-id", "req_abc")
	h.Set("anthropic-ratelimit-requests-limit", "50")
	h.Set("anthropic-ratelimit-requests-remaining", "49")
	h.Set("anthropic-ratelimit-requests-reset", "2026-01-02T03:04:05Z")
	h.Set("anthropic-ratelimit-tokens-limit", "40000")
	h.Set("anthropic-ratelimit-tokens-remaining", "0")
	h.Set("anthropic-ratelimit-tokens-reset", "2026-01-02T03:04:06Z")
}

func TestCompleteJSONAndStreamAgree(t *testing.T) {
	t.Parallel()
	var bodies []map[string]any
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/messages" {
			t.Errorf("got %s %s, want POST /v1/messages", r.Method, r.URL.Path)
		}
		if got := r.Header.Get("Authorization") + r.Header.Get("X-Api-Key"); !strings.Contains(got, testKey) {
			t.Errorf("request carries no API key")
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
		io.WriteString(w, messageJSON)
	})
	want := ethos.Response{
		Text:       "Hello, world.",
		StopReason: ethos.StopEnd,
		Usage:      ethos.Usage{In: 12, Out: 5, CacheRead: 3, CacheWrite: 2},
		Model:      "claude-sonnet-4-5-20250929",
		RequestID:  "req_abc",
		RateLimit: ethos.RateLimit{
			RequestsLimit: 50, RequestsRemaining: 49, RequestsReset: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
			TokensLimit: 40000, TokensRemaining: 0, TokensReset: time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC),
			HasRequests: true, HasTokens: true,
		},
	}
	opts := cmp.Options{cmpopts.IgnoreFields(ethos.Response{}, "Latency"), cmpopts.EquateApproxTime(0)}
	for _, stream := range []bool{false, true} {
		req := sampleRequest()
		req.Stream = stream
		got, err := c.Complete(context.Background(), req)
		if err != nil {
			t.Fatalf("stream=%v: %v", stream, err)
		}
		if diff := cmp.Diff(want, got, opts); diff != "" {
			t.Errorf("stream=%v: response mismatch (-want +got):\n%s", stream, diff)
		}
	}
	wantBody := map[string]any{
		"model":          "claude-sonnet-4-5",
		"max_tokens":     float64(64),
		"system":         []any{map[string]any{"type": "text", "text": "You are terse."}},
		"stop_sequences": []any{"END"},
		"messages": []any{
			map[string]any{"role": "user", "content": []any{map[string]any{"type": "text", "text": "Say hi."}}},
			map[string]any{"role": "assistant", "content": []any{map[string]any{"type": "text", "text": "Hi"}}},
			map[string]any{"role": "user", "content": []any{map[string]any{"type": "text", "text": "Again."}}},
		},
	}
	if len(bodies) != 2 {
		t.Fatalf("server saw %d requests, want 2", len(bodies))
	}
	if diff := cmp.Diff(wantBody, bodies[0]); diff != "" {
		t.Errorf("JSON request body (-want +got):\n%s", diff)
	}
	wantBody["stream"] = true
	if diff := cmp.Diff(wantBody, bodies[1]); diff != "" {
		t.Errorf("stream request body (-want +got):\n%s", diff)
	}
}

// TestStopReasonsNormalised sends every stop reason of the API's
// StopReason enum: each comes back normalised, and CheckStop lets only a
// natural end through.
func TestStopReasonsNormalised(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		reason string
		want   ethos.StopReason
		kind   ethos.Kind // of CheckStop
	}{
		{"end_turn", ethos.StopEnd, ""},
		{"stop_sequence", ethos.StopSequence, ""},
		{"tool_use", ethos.StopToolUse, ""},
		{"max_tokens", ethos.StopMaxTokens, ethos.Truncated},
		{"model_context_window_exceeded", ethos.StopContextWindow, ethos.Truncated},
		{"pause_turn", ethos.StopPaused, ethos.Truncated},
		{"refusal", ethos.StopRefusal, ethos.Refused},
	} {
		c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("content-type", "application/json")
			io.WriteString(w, strings.Replace(messageJSON, `"end_turn"`, `"`+tc.reason+`"`, 1))
		})
		got, err := c.Complete(context.Background(), sampleRequest())
		if err != nil {
			t.Fatal(err)
		}
		if got.StopReason != tc.want {
			t.Errorf("stop reason %q came back as %q, want %q", tc.reason, got.StopReason, tc.want)
		}
		if kind := ethos.KindOf(ethos.CheckStop(got)); kind != tc.kind {
			t.Errorf("%s: CheckStop gives kind %q, want %q", tc.reason, kind, tc.kind)
		}
		if got.StopReason.Cut() != (tc.kind == ethos.Truncated) {
			t.Errorf("%s: Cut() = %v", tc.reason, got.StopReason.Cut())
		}
	}
}

func TestStreamFailures(t *testing.T) {
	t.Parallel()
	head := streamFrames[:4] // message_start … first delta
	errorEvent := func(typ string) string {
		return `event: error
data: {"type":"error","error":{"type":"` + typ + `","message":"Overloaded ` + testKey + `"},"request_id":"req_ev"}`
	}
	tests := []struct {
		name   string
		frames []string
		kind   ethos.Kind
		inMsg  string
	}{
		{"overloaded event after 200", append(head[:4:4], errorEvent("overloaded_error")), ethos.Overloaded, "overloaded_error"},
		{"rate limit event", append(head[:4:4], errorEvent("rate_limit_error")), ethos.RateLimited, "rate_limit_error"},
		{"api error event", append(head[:4:4], errorEvent("api_error")), ethos.Transient, "api_error"},
		{"invalid request event", append(head[:4:4], errorEvent("invalid_request_error")), ethos.Invalid, "invalid_request_error"},
		{"unknown error type", append(head[:4:4], errorEvent("brand_new_error")), ethos.Transient, "brand_new_error"},
		{"cut before message_stop", streamFrames[:len(streamFrames)-1], ethos.Transient, "message_stop"},
		{"cut mid-block", head, ethos.Transient, "message_stop"},
		{"empty stream", nil, ethos.Transient, "message_stop"},
		{"malformed data", append(head[:4:4], "event: content_block_delta\ndata: {not json"), ethos.Transient, "request failed"},
		{"delta for unknown block", append(head[:1:1], `event: content_block_delta
data: {"type":"content_block_delta","index":7,"delta":{"type":"text_delta","text":"x"}}`), ethos.Transient, "malformed stream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("request-id", "req_hdr")
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
			if e.RequestID == "" {
				t.Errorf("error has no request id: %v", err)
			}
			if e.Op != "anthropic: messages" {
				t.Errorf("op = %q", e.Op)
			}
			wiretest.AssertNoSecret(t, err, testKey)
		})
	}
}

func TestStatusErrors(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	// errTypes is the error.type Anthropic sends with each status.
	errTypes := map[int]string{
		400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
		403: "permission_error", 404: "not_found_error", 408: "timeout_error", 409: "api_error",
		413: "request_too_large", 422: "invalid_request_error", 429: "rate_limit_error",
		500: "api_error", 502: "api_error", 503: "overloaded_error", 504: "timeout_error",
		529: "overloaded_error", 418: "invalid_request_error",
	}
	for _, tt := range wiretest.StatusCases("anthropic", sampleRequest().Model, now) {
		t.Run(tt.String(), func(t *testing.T) {
			t.Parallel()
			errType, ok := errTypes[tt.Status]
			if !ok {
				t.Fatalf("no error type for status %d", tt.Status)
			}
			for _, stream := range []bool{false, true} {
				t.Run(fmt.Sprintf("stream=%v", stream), func(t *testing.T) {
					c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
						w.Header().Set("request-id", "req_err")
						w.Header().Set("content-type", "application/json")
						for k, v := range tt.Header {
							w.Header().Set(k, v)
						}
						w.WriteHeader(tt.Status)
						// A careless server echoing the key must not leak it.
						fmt.Fprintf(w, `{"type":"error","error":{"type":%q,"message":"bad key %s\nsecond line"},"request_id":"req_err"}`, errType, testKey)
					})
					c.now = func() time.Time { return now }
					req := sampleRequest()
					req.Stream = stream
					_, err := c.Complete(context.Background(), req)
					tt.Check(t, err, "req_err", "anthropic: messages", testKey)
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
	srv := httptest.NewServer(wiretest.Holding(arrived))
	t.Cleanup(srv.Close)
	cfg.BaseURL = srv.URL
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, arrived
}

func TestCancelKeepsContextError(t *testing.T) {
	t.Parallel()
	for _, stream := range []bool{false, true} {
		c, arrived := blockingServer(t, Config{APIKey: testKey})
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
	c, _ := blockingServer(t, Config{APIKey: testKey, Timeout: 50 * time.Millisecond})
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
	c, err := New(Config{BaseURL: srv.URL, APIKey: testKey})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Complete(context.Background(), sampleRequest())
	if e := wiretest.AsError(t, err); e.Kind != ethos.Transient {
		t.Errorf("kind = %s, want transient: %v", e.Kind, err)
	}
	wiretest.AssertNoSecret(t, err, testKey)
	if e := wiretest.AsError(t, c.Ping(context.Background())); e.Kind != ethos.Transient || e.Op != "anthropic: models" {
		t.Errorf("ping: got %v (%s)", e, e.Kind)
	}
}

func TestConnectionResetMidBody(t *testing.T) {
	t.Parallel()
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("content-type", "application/json")
		w.Header().Set("content-length", "1000")
		io.WriteString(w, messageJSON[:40])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // drop the connection mid-body
	})
	_, err := c.Complete(context.Background(), sampleRequest())
	if e := wiretest.AsError(t, err); e.Kind != ethos.Transient {
		t.Errorf("kind = %s, want transient: %v", e.Kind, err)
	}
}

// TestEnvironmentDoesNotLeak runs without t.Parallel because it sets
// process environment variables.
func TestEnvironmentDoesNotLeak(t *testing.T) {
	t.Setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:1")
	t.Setenv("ANTHROPIC_API_KEY", "env-key")
	t.Setenv("ANTHROPIC_AUTH_TOKEN", "env-token")
	t.Setenv("ANTHROPIC_CUSTOM_HEADERS", "X-Leak: yes")
	for _, key := range []string{"", "config-key"} {
		var got http.Header
		c := func() *Client {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = r.Header.Clone()
				w.Header().Set("content-type", "application/json")
				io.WriteString(w, messageJSON)
			}))
			t.Cleanup(srv.Close)
			c, err := New(Config{BaseURL: srv.URL, APIKey: key})
			if err != nil {
				t.Fatal(err)
			}
			return c
		}()
		if _, err := c.Complete(context.Background(), sampleRequest()); err != nil {
			t.Fatalf("key %q: %v (did ANTHROPIC_BASE_URL win?)", key, err)
		}
		auth := got.Get("Authorization") + " " + got.Get("X-Api-Key")
		if strings.Contains(auth, "env-") {
			t.Errorf("key %q: environment credential was sent: %q", key, auth)
		}
		if key != "" && !strings.Contains(auth, key) {
			t.Errorf("configured key not sent: %q", auth)
		}
		if got.Get("X-Leak") != "" {
			t.Errorf("ANTHROPIC_CUSTOM_HEADERS leaked into the request")
		}
	}
}

func TestRequestsRejectedBeforeSending(t *testing.T) {
	t.Parallel()
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		t.Error("request reached the server")
	})
	temp := 0.7
	withTemp := sampleRequest()
	withTemp.Temperature = &temp
	withSystemTurn := sampleRequest()
	withSystemTurn.Messages = append(withSystemTurn.Messages, ethos.Message{Role: ethos.RoleSystem, Content: "x"})
	for name, req := range map[string]ethos.Request{"temperature": withTemp, "system turn": withSystemTurn} {
		_, err := c.Complete(context.Background(), req)
		if e := wiretest.AsError(t, err); e.Kind != ethos.Invalid || e.Op != "anthropic: messages" {
			t.Errorf("%s: got %v (%s), want invalid", name, err, e.Kind)
		}
	}
}

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	for _, cfg := range []Config{
		{BaseURL: "ftp://example.com"},
		{BaseURL: "://nope"},
		{BaseURL: "https://api.anthropic.com/v1"},
		{BaseURL: "https://proxy.example.com/anthropic/v1/"},
		{MaxRetries: -1},
	} {
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
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/v1/models" {
			t.Errorf("got %s %s, want GET /v1/models", r.Method, r.URL.Path)
		}
		w.Header().Set("content-type", "application/json")
		w.Header().Set("request-id", "req_ping")
		w.WriteHeader(status)
		if status != http.StatusOK {
			io.WriteString(w, `{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`)
			return
		}
		io.WriteString(w, `{"data":[{"type":"model","id":"claude-sonnet-4-5","display_name":"Claude Sonnet 4.5","created_at":"2025-09-29T00:00:00Z"}],"has_more":false,"first_id":"claude-sonnet-4-5","last_id":"claude-sonnet-4-5"}`)
	})
	if err := c.Ping(context.Background()); err != nil {
		t.Fatalf("ping: %v", err)
	}
	status = http.StatusUnauthorized
	e := wiretest.AsError(t, c.Ping(context.Background()))
	if e.Kind != ethos.Auth || e.Op != "anthropic: models" || e.RequestID != "req_ping" {
		t.Errorf("ping 401: got %v kind %s", e, e.Kind)
	}
}
