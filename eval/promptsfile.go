package eval

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/ethos-toolkit/ethos"
)

// Candidate is a prompt that may become a held-out prompt of an
// evaluation, before it is checked against the training data.
type Candidate struct {
	Text     string
	Category string
	// Origin says where it came from: "prompts.jsonl:12", or the key of
	// the document item that generation wrote.
	Origin string
}

// MaxPromptBytes bounds one prompt of a prompts file.
const MaxPromptBytes = 200_000

// ReadPromptsFile reads a prompts file (see ParsePrompts) and returns its
// prompts and the hex SHA-256 of its content.
func ReadPromptsFile(path string) ([]Candidate, string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, "", ethos.Errorf(ethos.Config, "prompts file: %w", err)
	}
	cands, err := ParsePrompts(path, data)
	if err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(data)
	return cands, hex.EncodeToString(sum[:]), nil
}

// ParsePrompts reads held-out prompts in one of two formats, decided by
// the first non-blank line:
//
//   - JSON Lines, when that line starts with "{": every non-blank line is
//     an object with the prompt under "prompt" or "text" (one of them, a
//     non-empty string) and optionally "category" (a string); other fields
//     are ignored. A prompt may span lines ("\n" in the JSON string).
//   - Plain text otherwise: every non-blank line is one prompt, except
//     lines starting with "#", which are comments.
//
// Problems are reported all at once, one per line as "name:line: what", in
// a Config error. A file with no prompt is an error too.
func ParsePrompts(name string, data []byte) ([]Candidate, error) {
	if !utf8.Valid(data) {
		return nil, ethos.Errorf(ethos.Config, "%s: not UTF-8 text", name)
	}
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	lines := strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n")
	jsonl := false
	for _, l := range lines {
		if t := strings.TrimSpace(l); t != "" {
			jsonl = strings.HasPrefix(t, "{")
			break
		}
	}
	var (
		out  []Candidate
		errs []string
	)
	fail := func(n int, format string, args ...any) {
		errs = append(errs, fmt.Sprintf("%s:%d: %s", name, n, fmt.Sprintf(format, args...)))
	}
	for i, l := range lines {
		n := i + 1
		t := strings.TrimSpace(l)
		if t == "" || (!jsonl && strings.HasPrefix(t, "#")) {
			continue
		}
		c := Candidate{Text: t, Origin: fmt.Sprintf("%s:%d", name, n)}
		if jsonl {
			var ok bool
			if c, ok = parsePromptLine(t, c.Origin, func(format string, args ...any) { fail(n, format, args...) }); !ok {
				continue
			}
		}
		if len(c.Text) > MaxPromptBytes {
			fail(n, "the prompt has %d bytes; at most %d", len(c.Text), MaxPromptBytes)
			continue
		}
		out = append(out, c)
	}
	if len(errs) > 0 {
		if len(errs) > 20 {
			errs = append(errs[:20], fmt.Sprintf("… and %d more", len(errs)-20))
		}
		return nil, ethos.Errorf(ethos.Config, "prompts file:\n%s", strings.Join(errs, "\n"))
	}
	if len(out) == 0 {
		return nil, ethos.Errorf(ethos.Config, "%s: no prompts (want one per line, or JSON Lines with \"prompt\")", name)
	}
	return out, nil
}

// parsePromptLine reads one JSON Lines prompt.
func parsePromptLine(line, origin string, fail func(format string, args ...any)) (Candidate, bool) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(line), &obj); err != nil || obj == nil {
		fail("not a JSON object (the file is JSON Lines because its first line starts with '{')")
		return Candidate{}, false
	}
	str := func(key string) (string, bool, bool) {
		raw, present := obj[key]
		if !present {
			return "", false, true
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			fail("%q must be a string", key)
			return "", true, false
		}
		return s, true, true
	}
	prompt, hasPrompt, ok1 := str("prompt")
	text, hasText, ok2 := str("text")
	category, _, ok3 := str("category")
	if !ok1 || !ok2 || !ok3 {
		return Candidate{}, false
	}
	switch {
	case hasPrompt && hasText:
		fail(`give the prompt under "prompt" or "text", not both`)
		return Candidate{}, false
	case !hasPrompt && !hasText:
		fail(`no "prompt" (or "text") field`)
		return Candidate{}, false
	}
	if hasText {
		prompt = text
	}
	if strings.TrimSpace(prompt) == "" {
		fail("the prompt is empty")
		return Candidate{}, false
	}
	return Candidate{Text: strings.TrimSpace(prompt), Category: strings.TrimSpace(category), Origin: origin}, true
}
