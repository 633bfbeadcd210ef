package sandbox

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAuth(t *testing.T) {
	t.Parallel()
	const key = "sk-sandbox-secret"
	run := start(t, Options{APIKey: key})
	tests := []struct {
		name   string
		path   string
		header http.Header
		body   any
		want   int
	}{
		{"anthropic no key", "/v1/messages", http.Header{"Anthropic-Version": {"2023-06-01"}}, anthropicBody("writer"), 401},
		{"anthropic wrong key", "/v1/messages", anthropicHeader("sk-wrong"), anthropicBody("writer"), 401},
		{"anthropic right key", "/v1/messages", anthropicHeader(key), anthropicBody("writer"), 200},
		{"openai no key", "/v1/chat/completions", http.Header{}, openaiBody("writer"), 401},
		{"openai wrong key", "/v1/chat/completions", openaiHeader("sk-wrong"), openaiBody("writer"), 401},
		{"openai right key", "/v1/chat/completions", openaiHeader(key), openaiBody("writer"), 200},
		{"models no key", "/v1/models", http.Header{}, nil, 401},
		{"models right key", "/v1/models", openaiHeader(key), nil, 200},
		{"models anthropic wrong key", "/v1/models", anthropicHeader("x"), nil, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := "POST"
			if tt.body == nil {
				method = "GET"
			}
			r := do(t, method, run.URL+tt.path, tt.header, tt.body)
			if r.status != tt.want {
				t.Fatalf("status %d, want %d: %s", r.status, tt.want, r.body)
			}
			if strings.Contains(string(r.body), key) || strings.Contains(string(r.body), "sk-wrong") {
				t.Errorf("body echoes a key: %s", r.body)
			}
			if tt.want != 401 {
				return
			}
			got := r.json(t)
			if strings.Contains(tt.name, "anthropic") {
				if got["error"].(map[string]any)["type"] != "authentication_error" {
					t.Errorf("body %s", r.body)
				}
			} else if got["error"].(map[string]any)["code"] != "invalid_api_key" {
				t.Errorf("body %s", r.body)
			}
		})
	}
}

func TestModels(t *testing.T) {
	t.Parallel()
	run := start(t, Options{Models: []string{"zeta", "alpha"}, Writers: map[string]Writer{"custom": DefaultWriter, "writer": DefaultWriter}})

	got := do(t, "GET", run.URL+"/v1/models", openaiHeader("k"), nil).json(t)
	var ids []string
	for _, m := range got["data"].([]any) {
		mm := m.(map[string]any)
		if mm["object"] != "model" || mm["owned_by"] != "sandbox" || mm["created"] == nil {
			t.Errorf("model %v", mm)
		}
		ids = append(ids, mm["id"].(string))
	}
	wantIDs := []string{"writer", "base", "judge", "judge-biased", "judge-noisy", "alpha", "custom", "zeta"}
	if d := cmp.Diff(wantIDs, ids); d != "" || got["object"] != "list" {
		t.Errorf("openai models (-want +got):\n%s", d)
	}

	r := do(t, "GET", run.URL+"/v1/models", anthropicHeader("k"), nil)
	got = r.json(t)
	want := map[string]any{
		"data": []any{}, "has_more": false, "first_id": "writer", "last_id": "zeta",
	}
	data := got["data"].([]any)
	got["data"] = []any{}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("anthropic models (-want +got):\n%s", d)
	}
	wantFirst := map[string]any{"type": "model", "id": "writer", "display_name": "Sandbox writer", "created_at": "2025-01-01T00:00:00Z"}
	if d := cmp.Diff(wantFirst, data[0]); d != "" || len(data) != len(wantIDs) {
		t.Errorf("anthropic model (-want +got):\n%s", d)
	}
	if r.header.Get("request-id") == "" {
		t.Errorf("no request-id")
	}

	if r := do(t, "GET", run.URL+"/v1/models/fault-529", anthropicHeader("k"), nil); r.status != 200 || r.json(t)["id"] != "fault-529" {
		t.Errorf("get fault model: %d %s", r.status, r.body)
	}
	if r := do(t, "GET", run.URL+"/v1/models/nope", openaiHeader("k"), nil); r.status != 404 {
		t.Errorf("get unknown model: %d", r.status)
	}
	if r := do(t, "GET", run.URL+"/v1/nothing", anthropicHeader("k"), nil); r.status != 404 || r.json(t)["error"].(map[string]any)["type"] != "not_found_error" {
		t.Errorf("unknown path: %d %s", r.status, r.body)
	}
}

func TestStats(t *testing.T) {
	t.Parallel()
	run := start(t, Options{Seed: 4})
	a := postAnthropic(t, run, anthropicBody("writer")).json(t)
	postAnthropic(t, run, anthropicBody("writer", "stream", true))
	postAnthropic(t, run, anthropicBody("fault-cut", "stream", true))
	postOpenAI(t, run, openaiBody("fault-529"))
	postOpenAI(t, run, map[string]any{"model": "writer"})
	do(t, "GET", run.URL+"/v1/models", nil, nil)
	do(t, "GET", run.URL+"/elsewhere", nil, nil)

	in := int64(a["usage"].(map[string]any)["input_tokens"].(float64))
	out := int64(a["usage"].(map[string]any)["output_tokens"].(float64))
	got := run.Server.Stats()
	// The cut stream's output is whatever it sent before the cut.
	cutOut := got.TokensOut - 2*out
	if cutOut <= 0 {
		t.Errorf("cut stream counted %d output tokens", cutOut)
	}
	want := Stats{
		Requests:   7,
		ByPath:     map[string]int64{"/v1/messages": 3, "/v1/chat/completions": 2, "/v1/models": 1, "other": 1},
		ByStatus:   map[string]int64{"200": 4, "529": 1, "400": 1, "404": 1},
		TokensIn:   3 * in,
		TokensOut:  2*out + cutOut,
		Streams:    2,
		CutStreams: 1,
		// The streamed writer request asks what the first one asked.
		Repeats: 1,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("stats (-want +got):\n%s", d)
	}

	r := do(t, "GET", run.URL+"/_sandbox/stats", nil, nil)
	wire := r.json(t)
	if wire["requests"] != 7.0 || wire["cut_streams"] != 1.0 || wire["by_status"].(map[string]any)["529"] != 1.0 {
		t.Errorf("/_sandbox/stats %s", r.body)
	}
	if r := do(t, "POST", run.URL+"/_sandbox/reset", nil, nil); r.status != 200 {
		t.Errorf("reset: %d", r.status)
	}
	want = Stats{ByPath: map[string]int64{}, ByStatus: map[string]int64{}}
	if d := cmp.Diff(want, run.Server.Stats()); d != "" {
		t.Errorf("after reset (-want +got):\n%s", d)
	}
}
