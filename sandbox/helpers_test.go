package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// start runs a sandbox on a loopback port for the test's lifetime.
func start(t *testing.T, opts Options) *Running {
	t.Helper()
	run, err := Start(t.Context(), "127.0.0.1:0", opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { run.Close() })
	return run
}

// reply is one HTTP exchange: status, headers, the body as far as it could
// be read and the error that stopped reading, if any.
type reply struct {
	status  int
	header  http.Header
	body    []byte
	readErr error
}

func (r reply) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
	return m
}

func do(t *testing.T, method, url string, header http.Header, body any) reply {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, ok := body.([]byte)
		if !ok {
			var err error
			if b, err = json.Marshal(body); err != nil {
				t.Fatal(err)
			}
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, readErr := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: b, readErr: readErr}
}

func anthropicHeader(key string) http.Header {
	h := http.Header{}
	h.Set("x-api-key", key)
	h.Set("anthropic-version", "2023-06-01")
	return h
}

func openaiHeader(key string) http.Header {
	h := http.Header{}
	h.Set("Authorization", "Bearer "+key)
	return h
}

func postAnthropic(t *testing.T, run *Running, body any) reply {
	t.Helper()
	return do(t, "POST", run.URL+"/v1/messages", anthropicHeader("k"), body)
}

func postOpenAI(t *testing.T, run *Running, body any) reply {
	t.Helper()
	return do(t, "POST", run.URL+"/v1/chat/completions", openaiHeader("k"), body)
}

func anthropicBody(model string, extra ...any) map[string]any {
	m := map[string]any{
		"model":      model,
		"max_tokens": 1024,
		"system":     "You are a careful writer.",
		"messages":   []any{map[string]any{"role": "user", "content": "Tell me about rivers."}},
	}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i].(string)] = extra[i+1]
	}
	return m
}

func openaiBody(model string, extra ...any) map[string]any {
	m := map[string]any{
		"model": model,
		"messages": []any{
			map[string]any{"role": "system", "content": "You are a careful writer."},
			map[string]any{"role": "user", "content": "Tell me about rivers."},
		},
		"max_tokens": 1024,
	}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i].(string)] = extra[i+1]
	}
	return m
}

// sseEvent is one server-sent event: its event name (empty for OpenAI's
// data-only frames) and its data line.
type sseEvent struct {
	name string
	data string
}

// parseSSE splits an event stream into events, failing on lines that are
// neither event, data nor blank, and on an unterminated last event.
func parseSSE(t *testing.T, body []byte) []sseEvent {
	t.Helper()
	var events []sseEvent
	var cur sseEvent
	open := false
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if open {
				events = append(events, cur)
			}
			cur, open = sseEvent{}, false
		case strings.HasPrefix(line, "event: "):
			cur.name, open = strings.TrimPrefix(line, "event: "), true
		case strings.HasPrefix(line, "data: "):
			if cur.data != "" {
				t.Fatalf("event with two data lines: %q", line)
			}
			cur.data, open = strings.TrimPrefix(line, "data: "), true
		default:
			t.Fatalf("unexpected SSE line %q", line)
		}
	}
	if open {
		t.Fatalf("stream ends inside an event: %+v", cur)
	}
	return events
}

func decode(t *testing.T, data string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(data), &m); err != nil {
		t.Fatalf("decode %q: %v", data, err)
	}
	return m
}

// anthropicStreamText concatenates the text deltas of an Anthropic stream.
func anthropicStreamText(t *testing.T, events []sseEvent) string {
	t.Helper()
	var b strings.Builder
	for _, e := range events {
		if e.name == "content_block_delta" {
			b.WriteString(decode(t, e.data)["delta"].(map[string]any)["text"].(string))
		}
	}
	return b.String()
}

// openaiStreamText concatenates the content deltas of an OpenAI stream.
func openaiStreamText(t *testing.T, events []sseEvent) string {
	t.Helper()
	var b strings.Builder
	for _, e := range events {
		if e.data == "[DONE]" {
			continue
		}
		m := decode(t, e.data)
		choices, _ := m["choices"].([]any)
		for _, c := range choices {
			if s, ok := c.(map[string]any)["delta"].(map[string]any)["content"].(string); ok {
				b.WriteString(s)
			}
		}
	}
	return b.String()
}

func isUnexpectedEOF(err error) bool {
	return errors.Is(err, io.ErrUnexpectedEOF) || (err != nil && strings.Contains(err.Error(), "unexpected EOF"))
}

// fakeClock is a settable clock for the rate limiter.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func itoa(n int) string { return strconv.Itoa(n) }
