package sandbox

import (
	"strings"
	"testing"
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
