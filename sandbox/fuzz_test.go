package sandbox

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// checkParsed holds the invariants of any request a parser accepts: the
// pipeline after it (hashing, writing, shaping, chunking) must not fail.
func checkParsed(t *testing.T, c call) {
	if c.prompt.Model == "" {
		t.Fatalf("accepted a request without a model")
	}
	if c.prompt.MaxTokens < 0 {
		t.Fatalf("accepted max_tokens %d", c.prompt.MaxTokens)
	}
	c.prompt.Seed = promptSeed(c.prompt, c.stop, 1)
	sh := shape(DefaultWriter(c.prompt), c.stop, c.prompt.MaxTokens, false)
	if c.prompt.MaxTokens > 0 && CountTokens(sh.Text) > c.prompt.MaxTokens {
		t.Fatalf("answer of %d tokens exceeds max_tokens %d", CountTokens(sh.Text), c.prompt.MaxTokens)
	}
	if got := strings.Join(chunks(sh.Text, c.prompt.Seed), ""); got != sh.Text {
		t.Fatalf("chunks do not concatenate to the answer")
	}
	_ = inputTokens(c.prompt)
}

func FuzzParseAnthropic(f *testing.F) {
	f.Add([]byte(`{"model":"writer","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`))
	f.Add([]byte(`{"model":"writer","max_tokens":10,"cache_control":{"type":"ephemeral"},"system":[{"type":"text","text":"s","cache_control":{"type":"ephemeral","ttl":"1h"}}],"messages":[{"role":"user","content":[{"type":"text","text":"a","cache_control":{"type":"ephemeral"}},{"type":"text","text":"b"}]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		c, e := anthropicProtocol{}.parse(body)
		if e != nil {
			if e.status != 400 || e.msg == "" {
				t.Fatalf("rejection %+v", e)
			}
			return
		}
		if c.prompt.MaxTokens < 1 || len(c.prompt.Messages) == 0 {
			t.Fatalf("accepted max_tokens %d with %d messages", c.prompt.MaxTokens, len(c.prompt.Messages))
		}
		marks := 0
		for _, p := range c.parts {
			if p.ttl > 0 {
				marks++
			}
			if p.ttl != 0 && p.ttl != defaultCacheTTL && p.ttl != extendedCacheTTL {
				t.Fatalf("accepted a cache TTL of %v", p.ttl)
			}
		}
		if marks > maxCacheMarks {
			t.Fatalf("accepted %d cache marks", marks)
		}
		checkParsed(t, c)
	})
}

func FuzzParseOpenAI(f *testing.F) {
	f.Add([]byte(`{"model":"writer","messages":[{"role":"user","content":"hi"}],"stop":"x"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		c, e := openaiProtocol{}.parse(body)
		if e != nil {
			if e.status != 400 || e.msg == "" {
				t.Fatalf("rejection %+v", e)
			}
			return
		}
		if c.includeUsage && !c.stream {
			t.Fatalf("include_usage without stream")
		}
		checkParsed(t, c)
	})
}

// FuzzRequestKeys: whatever requestKeys reads, it finds the keys that
// decoding into maps finds.
func FuzzRequestKeys(f *testing.F) {
	f.Add([]byte(`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"text","text":"hi \"x\" {"}]}],"system":[{"type":"text","text":"s"}],"stream":true}`))
	f.Add([]byte(` { "messages" : [ ] , "extra" : {"a":[1,2,{"b":null}]}, "n": -1.5e3 } `))
	f.Add([]byte(`{"messages":[{"role":"user","content":"x","temperature":1},{"ro\u006ce":"assistant"}]}`))
	f.Add([]byte(`{"messages":"not a list","a":true,"a":false}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var all map[string]json.RawMessage
		if json.Unmarshal(body, &all) != nil {
			return // requestKeys only ever reads what encoding/json accepted
		}
		top, turns, ok := requestKeys(body)
		if !ok {
			return
		}
		if got, want := keySet(top), keySet(mapKeys(all)); !slices.Equal(got, want) {
			t.Fatalf("%q: top keys %v, maps give %v", body, got, want)
		}
		var msgs []map[string]json.RawMessage
		if json.Unmarshal(all["messages"], &msgs) != nil {
			return
		}
		if len(msgs) != len(turns) {
			t.Fatalf("%q: %d turns, maps give %d", body, len(turns), len(msgs))
		}
		for i := range msgs {
			if got, want := keySet(turns[i]), keySet(mapKeys(msgs[i])); !slices.Equal(got, want) {
				t.Fatalf("%q: turn %d keys %v, maps give %v", body, i, got, want)
			}
		}
	})
}

func mapKeys(m map[string]json.RawMessage) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func keySet(ks []string) []string {
	s := slices.Clone(ks)
	slices.Sort(s)
	return slices.Compact(s)
}

// FuzzParseBatchInput: the input-file parser of OpenAI's and Together's
// batches never panics, accepts each custom id once and at most one
// request a line, and says on which line each problem is.
func FuzzParseBatchInput(f *testing.F) {
	f.Add([]byte(`{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"writer","messages":[{"role":"user","content":"hi"}]}}` + "\n"))
	f.Add([]byte("{\"custom_id\":\"a\",\"method\":\"GET\",\"url\":\"/v1/chat/completions\",\"body\":{}}\nnot json\n\n"))
	f.Add([]byte(`{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{}}` + "\n" + `{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{}}`))
	f.Fuzz(func(t *testing.T, content []byte) {
		lines, problems := parseBatchInput(content, "/v1/chat/completions", 3)
		total := strings.Count(string(content), "\n") + 1
		seen := map[string]bool{}
		for _, l := range lines {
			if seen[l.CustomID] || l.CustomID == "" || l.Line < 1 || l.Line > total || !json.Valid(l.Body) {
				t.Fatalf("accepted %+v", l)
			}
			seen[l.CustomID] = true
		}
		for _, p := range problems {
			if p.Code == "" || p.Line < 0 || p.Line > total {
				t.Fatalf("problem %+v", p)
			}
		}
		if len(lines) == 0 && len(problems) == 0 {
			t.Fatalf("an input with no request and no problem")
		}
	})
}

// FuzzDecodeString checks decodeString against encoding/json: where it decodes
// a value it gives what json.Unmarshal gives, and it decodes every valid
// string with only the common escapes.
func FuzzDecodeString(f *testing.F) {
	for _, s := range []string{`"hi"`, `"a\nb\t\"c\"\\ \/"`, `"caf\u00e9"`, `"café ☕"`, "\"\xff\"", `"a"b"`, `"\`, `null`, `[1]`, `""`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, ok := decodeString(data)
		var want string
		err := json.Unmarshal(data, &want)
		if ok && (err != nil || got != want) {
			t.Fatalf("decodeString(%q) = %q; encoding/json: %q, %v", data, got, want, err)
		}
		if !ok && err == nil && len(data) > 1 && data[0] == '"' && data[len(data)-1] == '"' && utf8.Valid(data) && !bytes.Contains(data, []byte(`\u`)) {
			t.Fatalf("decodeString(%q) declined a string with only the common escapes", data)
		}
	})
}
