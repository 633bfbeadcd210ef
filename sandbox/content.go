package sandbox

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/ethos-toolkit/ethos"
)

// Prompt is what a Writer sees of a request, the same whichever protocol
// carried it: OpenAI system and developer messages are folded into System.
type Prompt struct {
	Model       string
	System      string
	Messages    []ethos.Message
	MaxTokens   int // 0 when the request set no limit (OpenAI only)
	Temperature *float64
	// Seed is derived from a hash of the request's content (model, system,
	// messages, max_tokens, temperature, stop sequences and Options.Seed),
	// so a Writer that draws only from it answers identical requests
	// identically, streamed or not, over either protocol.
	Seed uint64
}

// Writer produces the text a model answers with. It must be a pure
// function of the Prompt. The server applies stop sequences and max_tokens
// afterwards, so a Writer never needs to truncate.
type Writer func(p Prompt) string

// CountTokens is the sandbox's token counter: one token per four bytes of
// UTF-8, rounded up (ceil(len(s)/4)). It is crude on purpose, so tests and
// callers can predict usage exactly.
func CountTokens(s string) int { return (len(s) + 3) / 4 }

// truncateTokens cuts s so that CountTokens(s) <= n, backing off to a rune
// boundary so the result stays valid UTF-8.
func truncateTokens(s string, n int) string {
	limit := n * 4
	if len(s) <= limit {
		return s
	}
	for limit > 0 && !utf8.RuneStart(s[limit]) {
		limit--
	}
	return s[:limit]
}

// promptSeed hashes everything that determines an answer. Stream options,
// the protocol and the transport are deliberately left out. What it hashes
// is the JSON of {model, system, messages, max_tokens, temperature, stop,
// seed} as json.Marshal writes that struct (promptSeedMarshal in the tests
// is that reference), written by hand into a pooled buffer: the seeds, and
// so every answer, stay what they were.
func promptSeed(p Prompt, stop []string, seed int64) uint64 {
	bp := seedBuffers.Get().(*[]byte)
	b := appendPromptJSON((*bp)[:0], p, stop, seed)
	sum := sha256.Sum256(b)
	if cap(b) <= maxPooledSSE {
		*bp = b
		seedBuffers.Put(bp)
	}
	return binary.BigEndian.Uint64(sum[:8])
}

var seedBuffers = sync.Pool{New: func() any { return new([]byte) }}

// appendPromptJSON appends the JSON promptSeed hashes.
func appendPromptJSON(b []byte, p Prompt, stop []string, seed int64) []byte {
	b = append(b, `{"model":`...)
	b = appendJSONString(b, p.Model, true)
	b = append(b, `,"system":`...)
	b = appendJSONString(b, p.System, true)
	b = append(b, `,"messages":`...)
	if p.Messages == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, m := range p.Messages {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"role":`...)
			b = appendJSONString(b, string(m.Role), true)
			b = append(b, `,"content":`...)
			b = appendJSONString(b, m.Content, true)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"max_tokens":`...)
	b = strconv.AppendInt(b, int64(p.MaxTokens), 10)
	b = append(b, `,"temperature":`...)
	if p.Temperature == nil {
		b = append(b, "null"...)
	} else {
		t, err := json.Marshal(*p.Temperature)
		if err != nil {
			// Only a float that passed validation goes in; a NaN cannot
			// reach here because JSON cannot carry one.
			panic("sandbox: hash prompt: " + err.Error())
		}
		b = append(b, t...)
	}
	b = append(b, `,"stop":`...)
	if stop == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, s := range stop {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, s, true)
		}
		b = append(b, ']')
	}
	b = append(b, `,"seed":`...)
	b = strconv.AppendInt(b, seed, 10)
	return append(b, '}')
}

// Vocabulary of the default writer: enough variety to look like prose in
// logs and dashboards, nothing that could be mistaken for a real answer.
var (
	determiners = []string{"the", "a", "every", "one", "that", "this", "each", "our"}
	adjectives  = []string{"quiet", "patient", "curious", "bright", "careful", "old", "gentle", "honest", "steady", "warm", "small", "distant", "clear", "simple", "restless", "kind"}
	nouns       = []string{"teacher", "river", "garden", "question", "letter", "window", "traveller", "idea", "morning", "lantern", "story", "bridge", "friend", "market", "answer", "harbour", "notebook", "village", "promise", "road"}
	verbs       = []string{"finds", "carries", "remembers", "explains", "follows", "builds", "notices", "shares", "keeps", "opens", "answers", "considers", "describes", "welcomes", "holds", "changes"}
	adverbs     = []string{"slowly", "gladly", "carefully", "often", "quietly", "always", "rarely", "openly", "calmly", "simply"}
	preps       = []string{"near", "behind", "across", "beyond", "under", "beside", "toward", "within"}
	openers     = []string{"Still", "Perhaps", "In time", "Even so", "Later", "For now", "Besides", "At first"}
)

// DefaultWriter is the writer of the default models: 40 to 300 tokens of
// plain English sentences drawn from Prompt.Seed, with a paragraph break
// now and then. Writers for other prompt formats can fall back on it.
func DefaultWriter(p Prompt) string {
	r := rand.New(rand.NewPCG(p.Seed, 0x5eed))
	target := 40 + r.IntN(261)
	var b strings.Builder
	sentences := 0
	for CountTokens(b.String()) < target {
		if sentences > 0 {
			if sentences%4 == 0 && r.IntN(2) == 0 {
				b.WriteString("\n\n")
			} else {
				b.WriteByte(' ')
			}
		}
		b.WriteString(sentence(r))
		sentences++
	}
	return b.String()
}

func sentence(r *rand.Rand) string {
	pick := func(words []string) string { return words[r.IntN(len(words))] }
	var s string
	switch r.IntN(4) {
	case 0:
		s = pick(determiners) + " " + pick(adjectives) + " " + pick(nouns) + " " + pick(verbs) + " " +
			pick(determiners) + " " + pick(nouns) + " " + pick(preps) + " the " + pick(adjectives) + " " + pick(nouns) + "."
	case 1:
		s = pick(determiners) + " " + pick(nouns) + " " + pick(adverbs) + " " + pick(verbs) + " " +
			pick(determiners) + " " + pick(adjectives) + " " + pick(nouns) + "."
	case 2:
		s = pick(openers) + ", " + pick(determiners) + " " + pick(nouns) + " " + pick(verbs) + " " +
			pick(determiners) + " " + pick(nouns) + " and " + pick(verbs) + " it " + pick(adverbs) + "."
	default:
		s = pick(determiners) + " " + pick(adjectives) + " " + pick(nouns) + " " + pick(verbs) + " what " +
			pick(determiners) + " " + pick(nouns) + " " + pick(verbs) + "."
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// refusalText is what fault-refuse answers with.
const refusalText = "I can't help with that request."

// shaped is a model's answer after stop sequences and max_tokens apply.
type shaped struct {
	Text         string
	StopReason   string // Anthropic vocabulary: end_turn, max_tokens, stop_sequence, refusal
	StopSequence string // the matched stop sequence, when StopReason is stop_sequence
}

// shape cuts raw at the earliest stop sequence, then at maxTokens (0 means
// no limit). A stop sequence inside the token budget wins, as it would for a
// model writing token by token.
func shape(raw string, stop []string, maxTokens int, refused bool) shaped {
	out := shaped{Text: raw, StopReason: "end_turn"}
	if refused {
		out.StopReason = "refusal"
	}
	at := -1
	for _, seq := range stop {
		if seq == "" {
			continue
		}
		if i := strings.Index(raw, seq); i >= 0 && (at < 0 || i < at) {
			at, out.StopSequence = i, seq
		}
	}
	if at >= 0 {
		out.Text, out.StopReason = raw[:at], "stop_sequence"
	}
	if maxTokens > 0 && CountTokens(out.Text) > maxTokens {
		out.Text, out.StopReason, out.StopSequence = truncateTokens(out.Text, maxTokens), "max_tokens", ""
	}
	return out
}

// chunks splits text into stream deltas of one to four words each,
// whitespace kept with the word before it, so that the deltas concatenate
// to exactly text. The split is drawn from seed, so it is reproducible.
func chunks(text string, seed uint64) []string {
	if text == "" {
		return nil
	}
	r := rand.New(rand.NewPCG(seed, 0xc4a5))
	// A chunk averages two and a half words, some fourteen bytes of prose:
	// room for one per eight bytes means the slice is almost never grown.
	out := make([]string, 0, len(text)/8+1)
	start, words := 0, 0
	want := 1 + r.IntN(4)
	for i := 0; i < len(text); {
		// Advance over one word and the whitespace after it.
		for i < len(text) && !isSpace(text[i]) {
			i++
		}
		for i < len(text) && isSpace(text[i]) {
			i++
		}
		words++
		if words == want || i == len(text) {
			out = append(out, text[start:i])
			start, words, want = i, 0, 1+r.IntN(4)
		}
	}
	return out
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' }
