package anthropic

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ethos-toolkit/ethos"
)

// long is text of about n tokens by ethos's estimate (four bytes a token).
func long(n int) string { return strings.Repeat("word", n) }

// cachedRequest is a judge-like request: a long system prompt, the shared
// part of the conversation, then what changes from call to call.
func cachedRequest(prefix int) ethos.Request {
	return ethos.Request{
		Model:     "claude-sonnet-4-5",
		System:    long(600),
		Messages:  []ethos.Message{{Role: ethos.RoleUser, Content: long(600)}, {Role: ethos.RoleUser, Content: "Trait: warm"}},
		MaxTokens: 16, CachePrefix: prefix,
	}
}

// wireShape renders the request body the way the test reads it: each
// block as its text's length and whether it carries cache_control.
func wireShape(t *testing.T, req ethos.Request) (system []string, turns [][]string) {
	t.Helper()
	c, err := New(Config{BaseURL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	p, perr := c.params(req)
	if perr != nil {
		t.Fatal(perr)
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	type block struct {
		Text         string          `json:"text"`
		CacheControl json.RawMessage `json:"cache_control"`
	}
	var body struct {
		System   []block `json:"system"`
		Messages []struct {
			Role    string  `json:"role"`
			Content []block `json:"content"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatal(err)
	}
	show := func(b block) string {
		s := b.Text
		if len(s) > 12 {
			s = s[:4] + "…"
		}
		if b.CacheControl != nil {
			s += " " + string(b.CacheControl)
		}
		return s
	}
	for _, b := range body.System {
		system = append(system, show(b))
	}
	for _, m := range body.Messages {
		turn := []string{m.Role}
		for _, b := range m.Content {
			turn = append(turn, show(b))
		}
		turns = append(turns, turn)
	}
	return system, turns
}

func TestCacheMarkEndsThePrefix(t *testing.T) {
	t.Parallel()
	mark := ` {"type":"ephemeral"}`
	for _, tc := range []struct {
		name       string
		req        ethos.Request
		wantSystem []string
		wantTurns  [][]string
	}{
		{"no mark", cachedRequest(0), []string{"word…"}, [][]string{{"user", "word…", "Trait: warm"}}},
		{"system and shared part", cachedRequest(2), []string{"word…"}, [][]string{{"user", "word…" + mark, "Trait: warm"}}},
		{"system alone, under the minimum", cachedRequest(1), []string{"word…"}, [][]string{{"user", "word…", "Trait: warm"}}},
		{"system alone, long enough", func() ethos.Request {
			r := cachedRequest(1)
			r.System = long(1100)
			return r
		}(), []string{"word…" + mark}, [][]string{{"user", "word…", "Trait: warm"}}},
		{"a prefix past the end marks the last block", cachedRequest(9), []string{"word…"}, [][]string{{"user", "word…", "Trait: warm" + mark}}},
		{"Haiku 4.5 needs 4,096 tokens", func() ethos.Request {
			r := cachedRequest(2)
			r.Model = "claude-haiku-4-5-20251001"
			return r
		}(), []string{"word…"}, [][]string{{"user", "word…", "Trait: warm"}}},
		{"turns alternate as before", ethos.Request{Model: "claude-sonnet-4-5", MaxTokens: 1, CachePrefix: 1,
			Messages: []ethos.Message{{Role: ethos.RoleUser, Content: long(1100)}, {Role: ethos.RoleAssistant, Content: "ok"}, {Role: ethos.RoleUser, Content: "again"}}},
			nil, [][]string{{"user", "word…" + mark}, {"assistant", "ok"}, {"user", "again"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			system, turns := wireShape(t, tc.req)
			if diff := cmp.Diff(tc.wantSystem, system); diff != "" {
				t.Errorf("system (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantTurns, turns); diff != "" {
				t.Errorf("messages (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMinCacheTokens(t *testing.T) {
	t.Parallel()
	for model, want := range map[string]int{
		"claude-sonnet-4-5":          1024,
		"claude-sonnet-4-5-20250929": 1024,
		"claude-opus-4-1":            1024,
		"claude-opus-4-5":            4096,
		"claude-haiku-4-5":           4096,
		"claude-3-5-haiku-20241022":  2048,
		"writer":                     DefaultMinCacheTokens,
	} {
		if got := MinCacheTokens(model); got != want {
			t.Errorf("MinCacheTokens(%q) = %d, want %d", model, got, want)
		}
	}
}
