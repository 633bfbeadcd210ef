package sandbox

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAnthropicMessageShape(t *testing.T) {
	t.Parallel()
	run := start(t, Options{Seed: 1})
	r := postAnthropic(t, run, anthropicBody("writer"))
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if r.header.Get("request-id") == "" || !strings.HasPrefix(r.header.Get("request-id"), "req_") {
		t.Errorf("request-id header = %q", r.header.Get("request-id"))
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("content-type %q", ct)
	}
	got := r.json(t)
	id, _ := got["id"].(string)
	if !strings.HasPrefix(id, "msg_") {
		t.Errorf("id %q lacks msg_", id)
	}
	content := got["content"].([]any)
	text := content[0].(map[string]any)["text"].(string)
	if n := CountTokens(text); n < 40 || n > 310 {
		t.Errorf("text of %d tokens, want about 40-300: %q", n, text)
	}
	in := CountTokens("You are a careful writer.") + CountTokens("Tell me about rivers.")
	want := map[string]any{
		"id": id, "type": "message", "role": "assistant", "model": "writer",
		"content":       []any{map[string]any{"type": "text", "text": text}},
		"stop_reason":   "end_turn",
		"stop_sequence": nil,
		"stop_details":  nil,
		"usage": map[string]any{
			"input_tokens": float64(in), "output_tokens": float64(CountTokens(text)),
			"cache_creation_input_tokens": 0.0, "cache_read_input_tokens": 0.0,
		},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("message (-want +got):\n%s", d)
	}
}

func TestAnthropicStreamMatchesMessage(t *testing.T) {
	t.Parallel()
	run := start(t, Options{Seed: 2})
	plain := postAnthropic(t, run, anthropicBody("base")).json(t)
	r := postAnthropic(t, run, anthropicBody("base", "stream", true))
	if r.status != 200 || r.readErr != nil {
		t.Fatalf("status %d, read error %v", r.status, r.readErr)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Errorf("content-type %q", ct)
	}
	events := parseSSE(t, r.body)
	var names []string
	for _, e := range events {
		// Every frame's data names its own event.
		if typ := decode(t, e.data)["type"]; typ != e.name {
			t.Errorf("event %q carries type %v", e.name, typ)
		}
		if len(names) == 0 || names[len(names)-1] != e.name || e.name != "content_block_delta" {
			names = append(names, e.name)
		}
	}
	wantNames := []string{"message_start", "content_block_start", "ping", "content_block_delta", "content_block_stop", "message_delta", "message_stop"}
	if d := cmp.Diff(wantNames, names); d != "" {
		t.Fatalf("event order (-want +got, deltas collapsed):\n%s", d)
	}
	deltas := 0
	for _, e := range events {
		if e.name == "content_block_delta" {
			deltas++
		}
	}
	if deltas < 2 {
		t.Errorf("only %d deltas", deltas)
	}

	start := decode(t, events[0].data)["message"].(map[string]any)
	if d := cmp.Diff([]any{}, start["content"]); d != "" {
		t.Errorf("message_start content (-want +got):\n%s", d)
	}
	if id, _ := start["id"].(string); !strings.HasPrefix(id, "msg_") {
		t.Errorf("message_start id %v", start["id"])
	}
	if got, want := start["usage"].(map[string]any)["input_tokens"], plain["usage"].(map[string]any)["input_tokens"]; got != want {
		t.Errorf("message_start input_tokens %v, want %v", got, want)
	}
	text := anthropicStreamText(t, events)
	if want := plain["content"].([]any)[0].(map[string]any)["text"]; text != want {
		t.Errorf("streamed text differs from JSON text:\n%q\n%q", text, want)
	}
	delta := decode(t, events[len(events)-2].data)
	wantDelta := map[string]any{
		"type":  "message_delta",
		"delta": map[string]any{"stop_reason": "end_turn", "stop_sequence": nil, "stop_details": nil},
		"usage": map[string]any{"output_tokens": plain["usage"].(map[string]any)["output_tokens"]},
	}
	if d := cmp.Diff(wantDelta, delta); d != "" {
		t.Errorf("message_delta (-want +got):\n%s", d)
	}
	blockStart := decode(t, events[1].data)
	wantStart := map[string]any{"type": "content_block_start", "index": 0.0, "content_block": map[string]any{"type": "text", "text": ""}}
	if d := cmp.Diff(wantStart, blockStart); d != "" {
		t.Errorf("content_block_start (-want +got):\n%s", d)
	}
}

func TestAnthropicValidation(t *testing.T) {
	t.Parallel()
	run := start(t, Options{})
	msgs := []any{map[string]any{"role": "user", "content": "hi"}}
	tests := []struct {
		name string
		body any
	}{
		{"not json", []byte("{")},
		{"no model", map[string]any{"max_tokens": 10, "messages": msgs}},
		{"no max_tokens", map[string]any{"model": "writer", "messages": msgs}},
		{"zero max_tokens", map[string]any{"model": "writer", "max_tokens": 0, "messages": msgs}},
		{"fractional max_tokens", map[string]any{"model": "writer", "max_tokens": 1.5, "messages": msgs}},
		{"no messages", map[string]any{"model": "writer", "max_tokens": 10, "messages": []any{}}},
		{"bad role", map[string]any{"model": "writer", "max_tokens": 10, "messages": []any{map[string]any{"role": "developer", "content": "x"}}}},
		{"no content", map[string]any{"model": "writer", "max_tokens": 10, "messages": []any{map[string]any{"role": "user"}}}},
		{"block without type", map[string]any{"model": "writer", "max_tokens": 10, "messages": []any{map[string]any{"role": "user", "content": []any{map[string]any{"text": "x"}}}}}},
		{"temperature, which the API does not have", map[string]any{"model": "writer", "max_tokens": 10, "temperature": 0.5, "messages": msgs}},
		{"unknown field", map[string]any{"model": "writer", "max_tokens": 10, "top_k_typo": 5, "messages": msgs}},
		{"unknown message field", map[string]any{"model": "writer", "max_tokens": 10, "messages": []any{map[string]any{"role": "user", "content": "x", "name": "bob"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := postAnthropic(t, run, tt.body)
			if r.status != 400 {
				t.Fatalf("status %d, want 400: %s", r.status, r.body)
			}
			got := r.json(t)
			if got["type"] != "error" || got["error"].(map[string]any)["type"] != "invalid_request_error" || got["request_id"] != r.header.Get("request-id") {
				t.Errorf("error body %s", r.body)
			}
		})
	}

	t.Run("missing anthropic-version", func(t *testing.T) {
		h := anthropicHeader("k")
		h.Del("anthropic-version")
		r := do(t, "POST", run.URL+"/v1/messages", h, anthropicBody("writer"))
		if r.status != 400 {
			t.Errorf("status %d, want 400", r.status)
		}
	})
	t.Run("content blocks accepted", func(t *testing.T) {
		body := anthropicBody("writer", "system", []any{map[string]any{"type": "text", "text": "sys"}},
			"messages", []any{map[string]any{"role": "user", "content": []any{map[string]any{"type": "text", "text": "hello"}}}})
		if r := postAnthropic(t, run, body); r.status != 200 {
			t.Errorf("status %d: %s", r.status, r.body)
		}
	})
}

func TestAnthropicFaultModels(t *testing.T) {
	t.Parallel()
	run := start(t, Options{Faults: Faults{RetryAfter: 3_500_000_000}})
	tests := []struct {
		status int
		typ    string
	}{
		{400, "invalid_request_error"},
		{401, "authentication_error"},
		{402, "billing_error"},
		{403, "permission_error"},
		{404, "not_found_error"},
		{413, "request_too_large"},
		{429, "rate_limit_error"},
		{500, "api_error"},
		{503, "api_error"},
		{504, "timeout_error"},
		{529, "overloaded_error"},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			r := postAnthropic(t, run, anthropicBody("fault-"+itoa(tt.status)))
			if r.status != tt.status {
				t.Fatalf("status %d, want %d", r.status, tt.status)
			}
			got := r.json(t)
			want := map[string]any{
				"type":       "error",
				"error":      map[string]any{"type": tt.typ, "message": statusMessage(tt.status)},
				"request_id": r.header.Get("request-id"),
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("error body (-want +got):\n%s", d)
			}
			wantRetry := ""
			if tt.status == 429 {
				wantRetry = "4" // 3.5s rounded up to whole seconds
			}
			if got := r.header.Get("retry-after"); got != wantRetry {
				t.Errorf("retry-after %q, want %q", got, wantRetry)
			}
		})
	}
}

func TestAnthropicUnknownModel(t *testing.T) {
	t.Parallel()
	run := start(t, Options{})
	for _, model := range []string{"claude-nope", "fault-", "fault-42", "fault-0429", "fault-600", "fault-other"} {
		r := postAnthropic(t, run, anthropicBody(model))
		if r.status != 404 {
			t.Errorf("%s: status %d, want 404", model, r.status)
			continue
		}
		want := map[string]any{"type": "error", "error": map[string]any{"type": "not_found_error", "message": "model: " + model}, "request_id": r.header.Get("request-id")}
		if d := cmp.Diff(want, r.json(t)); d != "" {
			t.Errorf("%s (-want +got):\n%s", model, d)
		}
	}
}

func TestAnthropicCut(t *testing.T) {
	t.Parallel()
	run := start(t, Options{})

	r := postAnthropic(t, run, anthropicBody("fault-cut"))
	if r.status != 200 || !isUnexpectedEOF(r.readErr) {
		t.Errorf("non-stream: status %d, read error %v; want 200 and unexpected EOF", r.status, r.readErr)
	}

	r = postAnthropic(t, run, anthropicBody("fault-cut", "stream", true))
	if r.status != 200 || !isUnexpectedEOF(r.readErr) {
		t.Fatalf("stream: status %d, read error %v; want 200 and unexpected EOF", r.status, r.readErr)
	}
	events := parseSSE(t, r.body)
	deltas := 0
	for _, e := range events {
		switch e.name {
		case "message_stop", "message_delta", "content_block_stop":
			t.Errorf("cut stream sent %s", e.name)
		case "content_block_delta":
			deltas++
		}
	}
	if deltas == 0 {
		t.Errorf("cut stream sent no deltas before the cut")
	}
}

func TestAnthropicOverloadedStream(t *testing.T) {
	t.Parallel()
	run := start(t, Options{})
	r := postAnthropic(t, run, anthropicBody("fault-overloaded-stream", "stream", true))
	if r.status != 200 || r.readErr != nil {
		t.Fatalf("status %d, read error %v", r.status, r.readErr)
	}
	events := parseSSE(t, r.body)
	last := events[len(events)-1]
	want := map[string]any{"type": "error", "error": map[string]any{"type": "overloaded_error", "message": "Overloaded"}}
	if d := cmp.Diff(want, decode(t, last.data)); last.name != "error" || d != "" {
		t.Errorf("last event %q (-want +got):\n%s", last.name, d)
	}
	for _, e := range events {
		if e.name == "message_stop" {
			t.Errorf("failed stream sent message_stop")
		}
	}
}

func TestAnthropicRefusal(t *testing.T) {
	t.Parallel()
	run := start(t, Options{})
	got := postAnthropic(t, run, anthropicBody("fault-refuse")).json(t)
	if got["stop_reason"] != "refusal" {
		t.Errorf("stop_reason %v, want refusal", got["stop_reason"])
	}
	events := parseSSE(t, postAnthropic(t, run, anthropicBody("fault-refuse", "stream", true)).body)
	delta := decode(t, events[len(events)-2].data)["delta"].(map[string]any)
	if delta["stop_reason"] != "refusal" {
		t.Errorf("stream stop_reason %v, want refusal", delta["stop_reason"])
	}
}

// TestAnthropicFixedEvents: the stream events written by hand are the
// bytes json.Marshal writes for the maps they replace.
func TestAnthropicFixedEvents(t *testing.T) {
	marshal := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, tc := range []struct {
		got  []byte
		want any
	}{
		{contentBlockStartEvent, map[string]any{"type": "content_block_start", "index": 0,
			"content_block": anthropicText{Type: "text", Text: ""}}},
		{pingEvent, map[string]any{"type": "ping"}},
		{contentBlockStopEvent, map[string]any{"type": "content_block_stop", "index": 0}},
		{messageStopEvent, map[string]any{"type": "message_stop"}},
	} {
		if want := marshal(tc.want); string(tc.got) != want {
			t.Errorf("event %s, json.Marshal writes %s", tc.got, want)
		}
	}
	for _, a := range []answer{
		{shaped: shaped{StopReason: "end_turn"}, out: 0},
		{shaped: shaped{StopReason: "stop_sequence", StopSequence: "</b>\n\"x\""}, out: 1234},
		{shaped: shaped{StopReason: "max_tokens"}, out: 8000},
	} {
		want := marshal(map[string]any{"type": "message_delta",
			"delta": map[string]any{"stop_reason": a.StopReason, "stop_sequence": optional(a.StopSequence), "stop_details": nil},
			"usage": map[string]any{"output_tokens": a.out}})
		if got := string(appendMessageDelta(nil, a)); got != want {
			t.Errorf("message_delta %s, json.Marshal writes %s", got, want)
		}
	}
	start := anthropicMessage{ID: "msg_1", Type: "message", Role: "assistant", Content: []anthropicText{}, Model: "m<&>"}
	msg := marshal(start)
	if got, want := `{"message":`+msg+`,"type":"message_start"}`, marshal(map[string]any{"type": "message_start", "message": start}); got != want {
		t.Errorf("message_start %s, json.Marshal writes %s", got, want)
	}
}
