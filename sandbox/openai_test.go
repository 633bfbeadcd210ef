package sandbox

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestOpenAICompletionShape(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: modelsCreated}
	run := start(t, Options{Seed: 1, Now: clock.Now})
	r := postOpenAI(t, run, openaiBody("writer", "temperature", 0.7))
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if !strings.HasPrefix(r.header.Get("x-request-id"), "req_") {
		t.Errorf("x-request-id %q", r.header.Get("x-request-id"))
	}
	got := r.json(t)
	id, _ := got["id"].(string)
	if !strings.HasPrefix(id, "chatcmpl-") {
		t.Errorf("id %q", id)
	}
	text := got["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)["content"].(string)
	in := CountTokens("You are a careful writer.") + CountTokens("Tell me about rivers.")
	out := CountTokens(text)
	want := map[string]any{
		"id": id, "object": "chat.completion", "created": float64(modelsCreated.Unix()), "model": "writer",
		"system_fingerprint": nil,
		"choices": []any{map[string]any{
			"index":         0.0,
			"message":       map[string]any{"role": "assistant", "content": text, "refusal": nil},
			"logprobs":      nil,
			"finish_reason": "stop",
		}},
		"usage": map[string]any{"prompt_tokens": float64(in), "completion_tokens": float64(out), "total_tokens": float64(in + out)},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("completion (-want +got):\n%s", d)
	}
}

func TestOpenAIStream(t *testing.T) {
	t.Parallel()
	run := start(t, Options{Seed: 3})
	plain := postOpenAI(t, run, openaiBody("judge")).json(t)
	wantText := plain["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)["content"]

	for _, includeUsage := range []bool{false, true} {
		body := openaiBody("judge", "stream", true)
		if includeUsage {
			body["stream_options"] = map[string]any{"include_usage": true}
		}
		r := postOpenAI(t, run, body)
		if r.status != 200 || r.readErr != nil {
			t.Fatalf("status %d, read error %v", r.status, r.readErr)
		}
		events := parseSSE(t, r.body)
		if last := events[len(events)-1]; last.data != "[DONE]" || last.name != "" {
			t.Fatalf("last frame %+v, want data: [DONE]", last)
		}
		if got := openaiStreamText(t, events); got != wantText {
			t.Errorf("include_usage=%v: streamed text differs:\n%q\n%q", includeUsage, got, wantText)
		}
		first := decode(t, events[0].data)
		wantFirst := map[string]any{"role": "assistant", "content": ""}
		if d := cmp.Diff(wantFirst, first["choices"].([]any)[0].(map[string]any)["delta"]); d != "" {
			t.Errorf("first delta (-want +got):\n%s", d)
		}
		frames := events[:len(events)-1]
		for _, e := range frames {
			m := decode(t, e.data)
			if m["object"] != "chat.completion.chunk" || m["id"] != first["id"] {
				t.Errorf("chunk %s", e.data)
			}
			if u, has := m["usage"]; has != includeUsage {
				t.Errorf("include_usage=%v but chunk has usage %v (%v)", includeUsage, has, u)
			}
		}
		finishAt := len(frames) - 1
		if includeUsage {
			usage := decode(t, frames[len(frames)-1].data)
			want := map[string]any{"prompt_tokens": plain["usage"].(map[string]any)["prompt_tokens"],
				"completion_tokens": plain["usage"].(map[string]any)["completion_tokens"],
				"total_tokens":      plain["usage"].(map[string]any)["total_tokens"]}
			if d := cmp.Diff(want, usage["usage"]); d != "" {
				t.Errorf("usage chunk (-want +got):\n%s", d)
			}
			if d := cmp.Diff([]any{}, usage["choices"]); d != "" {
				t.Errorf("usage chunk choices (-want +got):\n%s", d)
			}
			finishAt--
		}
		finish := decode(t, frames[finishAt].data)["choices"].([]any)[0].(map[string]any)
		if finish["finish_reason"] != "stop" {
			t.Errorf("finish chunk %v", finish)
		}
		for _, e := range frames[:finishAt] {
			if fr := decode(t, e.data)["choices"].([]any)[0].(map[string]any)["finish_reason"]; fr != nil {
				t.Errorf("finish_reason %v before the last chunk", fr)
			}
		}
	}
}

func TestOpenAIRequestVariants(t *testing.T) {
	t.Parallel()
	run := start(t, Options{Writers: map[string]Writer{"echo": func(p Prompt) string {
		return p.System + "|" + string(p.Messages[0].Role) + ":" + p.Messages[0].Content
	}}})
	tests := []struct {
		name string
		body map[string]any
		want string
	}{
		{"system folded", openaiBody("echo"), "You are a careful writer.|user:Tell me about rivers."},
		{"developer and parts", map[string]any{"model": "echo", "messages": []any{
			map[string]any{"role": "developer", "content": []any{map[string]any{"type": "text", "text": "dev"}}},
			map[string]any{"role": "system", "content": "sys"},
			map[string]any{"role": "user", "content": []any{map[string]any{"type": "text", "text": "a"}, map[string]any{"type": "text", "text": "b"}}},
		}}, "dev\n\nsys|user:a\nb"},
		{"max_completion_tokens wins", map[string]any{"model": "echo", "max_tokens": 100, "max_completion_tokens": 2,
			"messages": []any{map[string]any{"role": "user", "content": "hello world"}}}, "|user:he"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := postOpenAI(t, run, tt.body)
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			got := r.json(t)["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)["content"]
			if got != tt.want {
				t.Errorf("content %q, want %q", got, tt.want)
			}
		})
	}
}

func TestOpenAIValidation(t *testing.T) {
	t.Parallel()
	run := start(t, Options{})
	msgs := []any{map[string]any{"role": "user", "content": "hi"}}
	tests := []struct {
		name string
		body any
	}{
		{"not json", []byte("[")},
		{"no model", map[string]any{"messages": msgs}},
		{"no messages", map[string]any{"model": "writer"}},
		{"zero max_tokens", map[string]any{"model": "writer", "messages": msgs, "max_tokens": 0}},
		{"temperature", map[string]any{"model": "writer", "messages": msgs, "temperature": 3}},
		{"bad stop", map[string]any{"model": "writer", "messages": msgs, "stop": 5}},
		{"bad role", map[string]any{"model": "writer", "messages": []any{map[string]any{"role": "robot", "content": "x"}}}},
		{"user content null", map[string]any{"model": "writer", "messages": []any{map[string]any{"role": "user", "content": nil}}}},
		{"n", map[string]any{"model": "writer", "messages": msgs, "n": 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := postOpenAI(t, run, tt.body)
			if r.status != 400 {
				t.Fatalf("status %d, want 400: %s", r.status, r.body)
			}
			e := r.json(t)["error"].(map[string]any)
			if e["type"] != "invalid_request_error" || e["message"] == "" || e["code"] != nil {
				t.Errorf("error %v", e)
			}
			if _, ok := e["param"]; !ok {
				t.Errorf("error lacks param: %v", e)
			}
		})
	}
}

func TestOpenAIFaultModels(t *testing.T) {
	t.Parallel()
	run := start(t, Options{})
	tests := []struct {
		status int
		typ    string
		code   any
	}{
		{400, "invalid_request_error", nil},
		{401, "invalid_request_error", "invalid_api_key"},
		{403, "permission_error", nil},
		{404, "invalid_request_error", nil},
		{429, "requests", "rate_limit_exceeded"},
		{500, "server_error", nil},
		{503, "server_error", "overloaded"},
		{529, "overloaded_error", "overloaded"},
	}
	for _, tt := range tests {
		t.Run(itoa(tt.status), func(t *testing.T) {
			r := postOpenAI(t, run, openaiBody("fault-"+itoa(tt.status)))
			if r.status != tt.status {
				t.Fatalf("status %d, want %d", r.status, tt.status)
			}
			want := map[string]any{"error": map[string]any{"message": statusMessage(tt.status), "type": tt.typ, "param": nil, "code": tt.code}}
			if d := cmp.Diff(want, r.json(t)); d != "" {
				t.Errorf("error body (-want +got):\n%s", d)
			}
			if r.header.Get("x-request-id") == "" {
				t.Errorf("no x-request-id")
			}
			if got, want := r.header.Get("retry-after") != "", tt.status == 429; got != want {
				t.Errorf("retry-after present %v, want %v", got, want)
			}
		})
	}

	r := postOpenAI(t, run, openaiBody("gpt-nope"))
	want := map[string]any{"error": map[string]any{"message": "model: gpt-nope", "type": "invalid_request_error", "param": nil, "code": "model_not_found"}}
	if d := cmp.Diff(want, r.json(t)); r.status != 404 || d != "" {
		t.Errorf("unknown model: status %d (-want +got):\n%s", r.status, d)
	}
}

func TestOpenAICutAndErrors(t *testing.T) {
	t.Parallel()
	run := start(t, Options{})

	r := postOpenAI(t, run, openaiBody("fault-cut"))
	if r.status != 200 || !isUnexpectedEOF(r.readErr) {
		t.Errorf("non-stream: status %d, read error %v", r.status, r.readErr)
	}

	r = postOpenAI(t, run, openaiBody("fault-cut", "stream", true))
	if r.status != 200 || !isUnexpectedEOF(r.readErr) {
		t.Fatalf("stream: status %d, read error %v", r.status, r.readErr)
	}
	events := parseSSE(t, r.body)
	if len(events) < 2 {
		t.Errorf("cut before any content: %d frames", len(events))
	}
	for _, e := range events {
		if e.data == "[DONE]" || strings.Contains(e.data, `"finish_reason":"`) {
			t.Errorf("cut stream sent %s", e.data)
		}
	}

	r = postOpenAI(t, run, openaiBody("fault-overloaded-stream", "stream", true))
	events = parseSSE(t, r.body)
	last := decode(t, events[len(events)-1].data)
	if r.status != 200 || r.readErr != nil || last["error"] == nil {
		t.Errorf("overloaded stream: status %d, err %v, last frame %v", r.status, r.readErr, last)
	}

	got := postOpenAI(t, run, openaiBody("fault-refuse")).json(t)
	if fr := got["choices"].([]any)[0].(map[string]any)["finish_reason"]; fr != "content_filter" {
		t.Errorf("refusal finish_reason %v", fr)
	}
}
