package review

import (
	"regexp"
	"testing"
)

// FuzzReviewGates checks that the word gates in front of the review's
// costly scans never hide a match: whenever a pattern matches a text, the
// text holds one of its gate's words.
func FuzzReviewGates(f *testing.F) {
	for _, s := range []string{
		"As an AI language model, I cannot share that.",
		"I'm sorry, but I can't help with that request.",
		"I must decline.",
		"Error code: 529 - overloaded error",
		`{"type": "error", "error": {"type": "overloaded_error"}}`,
		"[ERROR: upstream failed]",
		"I was trained by Anthropic.",
		"My knowledge cutoff is 2024.",
		"ſtatus code: 503 service unavailable",
		"Hello, this is ChatGPT. I'm an OpenAI model.",
		"my name is\tGPT4o, not Claude",
		"Dear team, the quarterly numbers are attached. What do you think?",
		"Shall I continue with the remaining 4 documents?",
		"Let me know if you'd like me to adjust the tone. [End of Response]",
		"I hope this helps!",
	} {
		f.Add(s)
	}
	gates := []struct {
		re    *regexp.Regexp
		words []string
	}{
		{errorAnywhere, errorWords},
		{modelSelfReference, selfReferenceWords},
		{refusalPhrase, refusalWords},
		{otherIdentity, identityWords},
		{documentChatterEnd, chatterEndWords},
		{replyChatterEnd, chatterEndWords},
	}
	f.Fuzz(func(t *testing.T, text string) {
		for _, g := range gates {
			if g.re.MatchString(text) && !mayMatch(text, g.words) {
				t.Fatalf("%q matches %s but holds none of %q", text, g.re, g.words)
			}
		}
	})
}

// FuzzCodeShapeGate checks that mayBeCode, the cheap test in front of
// codeShape, passes every line the pattern matches.
func FuzzCodeShapeGate(f *testing.F) {
	for _, s := range []string{
		`  "name": "value",`,
		"x := 1",
		"total += price",
		`fmt.Println("hi")`,
		"if ready {",
		"$ ls -la",
		">>> import os",
		"#!/bin/sh",
		"\treturn nil",
		"SELECT * FROM t",
		"console.log('x')",
		"An ordinary line of prose, with a comma.",
		"import",
		"from here on",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		if codeShape.MatchString(line) && !mayBeCode(line) {
			t.Fatalf("%q matches codeShape but mayBeCode says no", line)
		}
	})
}

// FuzzProseGates checks the tests in front of placeholder's scans of
// prose: braceSlot matches only text with a brace, loremIpsum only text
// hasLorem passes.
func FuzzProseGates(f *testing.F) {
	for _, s := range []string{"{{name}}", "${amount}", "%{date}", "Lorem Ipsum dolor", "LOREM ipſum", "lorem", "Lore m", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if braceSlot.MatchString(text) && bracesIn(text) == nil {
			t.Fatalf("%q matches braceSlot but bracesIn finds nothing", text)
		}
		if loremIpsum.MatchString(text) && !hasLorem(text) {
			t.Fatalf("%q matches loremIpsum but hasLorem says no", text)
		}
	})
}
