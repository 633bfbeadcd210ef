package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/google/go-cmp/cmp"
)

func TestCountTokens(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int
	}{{"", 0}, {"a", 1}, {"abcd", 1}, {"abcde", 2}, {"héllo", 2}, {strings.Repeat("x", 400), 100}}
	for _, tt := range tests {
		if got := CountTokens(tt.in); got != tt.want {
			t.Errorf("CountTokens(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestShape(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		raw     string
		stop    []string
		max     int
		refused bool
		want    shaped
	}{
		{"natural end", "one two three", nil, 0, false, shaped{Text: "one two three", StopReason: "end_turn"}},
		{"earliest stop wins", "alpha STOP beta END", []string{"END", "STOP"}, 0, false, shaped{Text: "alpha ", StopReason: "stop_sequence", StopSequence: "STOP"}},
		{"empty stop ignored", "alpha", []string{""}, 0, false, shaped{Text: "alpha", StopReason: "end_turn"}},
		{"max tokens", "abcdefghijkl", nil, 2, false, shaped{Text: "abcdefgh", StopReason: "max_tokens"}},
		{"exactly max tokens", "abcdefgh", nil, 2, false, shaped{Text: "abcdefgh", StopReason: "end_turn"}},
		{"stop inside budget beats max", "ab|cdefghijkl", []string{"|"}, 2, false, shaped{Text: "ab", StopReason: "stop_sequence", StopSequence: "|"}},
		{"max before stop", "abcdefghij|kl", []string{"|"}, 2, false, shaped{Text: "abcdefgh", StopReason: "max_tokens"}},
		{"rune boundary", "aaaaaaaé", nil, 2, false, shaped{Text: "aaaaaaa", StopReason: "max_tokens"}},
		{"refusal", "no", nil, 0, true, shaped{Text: "no", StopReason: "refusal"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, shape(tt.raw, tt.stop, tt.max, tt.refused)); d != "" {
				t.Errorf("shape (-want +got):\n%s", d)
			}
		})
	}
}

func TestChunksConcatenate(t *testing.T) {
	t.Parallel()
	for seed := range uint64(50) {
		text := DefaultWriter(Prompt{Seed: seed})
		parts := chunks(text, seed)
		if got := strings.Join(parts, ""); got != text {
			t.Fatalf("seed %d: chunks do not concatenate to the text", seed)
		}
		for _, p := range parts {
			if p == "" {
				t.Fatalf("seed %d: empty chunk", seed)
			}
		}
	}
	if got := chunks("", 1); got != nil {
		t.Errorf("chunks of empty text = %q", got)
	}
	if d := cmp.Diff([]string{"  lead"}, chunks("  lead", 1)); d != "" {
		t.Errorf("leading space (-want +got):\n%s", d)
	}
}

func TestDefaultWriterLength(t *testing.T) {
	t.Parallel()
	lengths := map[int]bool{}
	for seed := range uint64(200) {
		text := DefaultWriter(Prompt{Seed: seed})
		n := CountTokens(text)
		if n < 40 || n > 330 {
			t.Errorf("seed %d: %d tokens", seed, n)
		}
		lengths[n/50] = true
		if text != DefaultWriter(Prompt{Seed: seed}) {
			t.Fatalf("seed %d: writer is not deterministic", seed)
		}
	}
	if len(lengths) < 5 {
		t.Errorf("lengths do not vary with the seed: buckets %v", lengths)
	}
}

// text returns the answer of an Anthropic JSON response.
func text(t *testing.T, r reply) string {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	return r.json(t)["content"].([]any)[0].(map[string]any)["text"].(string)
}

func openaiText(t *testing.T, r reply) string {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	return r.json(t)["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)["content"].(string)
}

func TestDeterminism(t *testing.T) {
	t.Parallel()
	run := start(t, Options{Seed: 5})
	again := start(t, Options{Seed: 5})
	other := start(t, Options{Seed: 6})

	base := text(t, postAnthropic(t, run, anthropicBody("writer")))
	if got := text(t, postAnthropic(t, run, anthropicBody("writer"))); got != base {
		t.Errorf("same request, different text")
	}
	if got := text(t, postAnthropic(t, again, anthropicBody("writer"))); got != base {
		t.Errorf("same seed on another server, different text")
	}
	if got := anthropicStreamText(t, parseSSE(t, postAnthropic(t, run, anthropicBody("writer", "stream", true)).body)); got != base {
		t.Errorf("stream differs from JSON")
	}
	// The same prompt over OpenAI hashes the same: system and messages,
	// max_tokens, temperature and stop agree.
	if got := openaiText(t, postOpenAI(t, run, openaiBody("writer"))); got != base {
		t.Errorf("OpenAI text differs from Anthropic text for the same prompt")
	}
	if got := openaiStreamText(t, parseSSE(t, postOpenAI(t, run, openaiBody("writer", "stream", true)).body)); got != base {
		t.Errorf("OpenAI stream differs")
	}

	changes := map[string]reply{
		"options seed": postAnthropic(t, other, anthropicBody("writer")),
		"model":        postAnthropic(t, run, anthropicBody("base")),
		"system":       postAnthropic(t, run, anthropicBody("writer", "system", "Another system.")),
		"message":      postAnthropic(t, run, anthropicBody("writer", "messages", []any{map[string]any{"role": "user", "content": "Rivers?"}})),
		"max_tokens":   postAnthropic(t, run, anthropicBody("writer", "max_tokens", 1000)),
		"stop":         postAnthropic(t, run, anthropicBody("writer", "stop_sequences", []string{"zzz"})),
	}
	for what, r := range changes {
		if got := text(t, r); got == base {
			t.Errorf("changing %s did not change the text", what)
		}
	}
}

func TestStopSequences(t *testing.T) {
	t.Parallel()
	fixed := func(Prompt) string { return "First part. STOP Second part. END" }
	run := start(t, Options{Writers: map[string]Writer{"fixed": fixed}})

	got := postAnthropic(t, run, anthropicBody("fixed", "stop_sequences", []string{"END", "STOP"})).json(t)
	want := map[string]any{"text": "First part. ", "stop_reason": "stop_sequence", "stop_sequence": "STOP", "out": float64(CountTokens("First part. "))}
	gotSub := map[string]any{"text": got["content"].([]any)[0].(map[string]any)["text"], "stop_reason": got["stop_reason"],
		"stop_sequence": got["stop_sequence"], "out": got["usage"].(map[string]any)["output_tokens"]}
	if d := cmp.Diff(want, gotSub); d != "" {
		t.Errorf("anthropic (-want +got):\n%s", d)
	}

	events := parseSSE(t, postAnthropic(t, run, anthropicBody("fixed", "stream", true, "stop_sequences", []string{"STOP"})).body)
	if s := anthropicStreamText(t, events); s != "First part. " {
		t.Errorf("streamed %q", s)
	}
	delta := decode(t, events[len(events)-2].data)["delta"].(map[string]any)
	if delta["stop_reason"] != "stop_sequence" || delta["stop_sequence"] != "STOP" {
		t.Errorf("message_delta %v", delta)
	}

	for _, stop := range []any{"STOP", []string{"END", "STOP"}} {
		r := postOpenAI(t, run, openaiBody("fixed", "stop", stop))
		if got := openaiText(t, r); got != "First part. " {
			t.Errorf("openai stop %v: %q", stop, got)
		}
		if fr := r.json(t)["choices"].([]any)[0].(map[string]any)["finish_reason"]; fr != "stop" {
			t.Errorf("openai finish_reason %v", fr)
		}
	}
}

func TestMaxTokens(t *testing.T) {
	t.Parallel()
	run := start(t, Options{Seed: 9})
	full := text(t, postAnthropic(t, run, anthropicBody("writer")))
	if CountTokens(full) <= 5 {
		t.Fatalf("text too short to truncate: %q", full)
	}

	got := postAnthropic(t, run, anthropicBody("writer", "max_tokens", 5)).json(t)
	body := got["content"].([]any)[0].(map[string]any)["text"].(string)
	if got["stop_reason"] != "max_tokens" || CountTokens(body) != 5 || got["usage"].(map[string]any)["output_tokens"] != 5.0 {
		t.Errorf("stop_reason %v, %d tokens, usage %v", got["stop_reason"], CountTokens(body), got["usage"])
	}
	events := parseSSE(t, postAnthropic(t, run, anthropicBody("writer", "max_tokens", 5, "stream", true)).body)
	if s := anthropicStreamText(t, events); s != body {
		t.Errorf("stream %q, JSON %q", s, body)
	}
	if d := decode(t, events[len(events)-2].data); d["delta"].(map[string]any)["stop_reason"] != "max_tokens" || d["usage"].(map[string]any)["output_tokens"] != 5.0 {
		t.Errorf("message_delta %v", d)
	}

	r := postOpenAI(t, run, openaiBody("writer", "max_tokens", 5))
	choice := r.json(t)["choices"].([]any)[0].(map[string]any)
	if choice["finish_reason"] != "length" || CountTokens(openaiText(t, r)) != 5 {
		t.Errorf("openai choice %v", choice)
	}
}

func checkFillSlots(t *testing.T, s, topic, trait string) {
	t.Helper()
	want := strings.NewReplacer("@topic", topic, "@trait", trait).Replace(s)
	if got := fillSlots(s, topic, trait); got != want {
		t.Errorf("fillSlots(%q, %q, %q) = %q, want %q", s, topic, trait, got, want)
	}
}

func TestFillSlots(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "no slots", "@", "@@topic", "on @topic, with @trait.", "@topi@trait@traitx @top", "@topic@topic"} {
		checkFillSlots(t, s, "the @trait garden", "warmth")
	}
}

func FuzzFillSlots(f *testing.F) {
	f.Add("on @topic, with @trait.", "a garden", "@topic")
	f.Fuzz(checkFillSlots)
}

// rawContent is content as it was decoded before the blocks were read in
// UnmarshalJSON: the value kept as written, read by rawContentParts. It is
// the reference FuzzContentParts holds content to.
type rawContent struct{ raw json.RawMessage }

func (c *rawContent) UnmarshalJSON(data []byte) error {
	c.raw = append(c.raw[:0], data...)
	return nil
}

func rawContentParts(c rawContent, optional bool) ([]cachePart, error) {
	raw := c.raw
	if len(raw) == 0 || string(raw) == "null" {
		if optional {
			return nil, nil
		}
		return nil, fmt.Errorf("Field required")
	}
	if i := bytes.IndexFunc(raw, func(r rune) bool { return !unicode.IsSpace(r) }); i >= 0 && raw[i] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err == nil {
			return []cachePart{{text: s}}, nil
		}
	}
	var blocks []contentBlock
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return nil, fmt.Errorf("Input should be a valid string or a list of content blocks")
	}
	return textParts(blocks)
}

// FuzzContentParts: content decoded in UnmarshalJSON reads as the value
// kept as written did, text and errors alike, for an absent field too.
func FuzzContentParts(f *testing.F) {
	for _, s := range []string{`{"c":"hi"}`, `{"c":null}`, `{}`, `{"c":"a\u00e9\n"}`, `{"c":[]}`, `{"c":5}`,
		`{"c":[{"type":"text","text":"a","cache_control":{"type":"ephemeral","ttl":"1h"}},{"type":"image"}]}`,
		`{"c":[{"type":"text"}]}`, `{"c":[{"text":"x"}]}`, `{"c":[{"type":"text","text":"a","cache_control":{"type":"x"}}]}`,
		`{"c":"first","c":[{"type":"text","text":"second"}]}`, `{"c":[1,2]}`} {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, body []byte, optional bool) {
		var got struct {
			C content `json:"c"`
		}
		var want struct {
			C rawContent `json:"c"`
		}
		gotErr, wantErr := json.Unmarshal(body, &got), json.Unmarshal(body, &want)
		if (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("decoding: %v, before: %v", gotErr, wantErr)
		}
		if gotErr != nil {
			return
		}
		gotParts, gotErr := contentParts(got.C, optional)
		wantParts, wantErr := rawContentParts(want.C, optional)
		if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
			t.Fatalf("error %v, before %v", gotErr, wantErr)
		}
		if !slices.Equal(gotParts, wantParts) {
			t.Fatalf("parts %+v, before %+v", gotParts, wantParts)
		}
	})
}
