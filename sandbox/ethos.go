package sandbox

import (
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"

	"github.com/ethos-toolkit/ethos/internal/prompttext"
)

// The sandbox plays the models of ethos's data pipeline. A request whose
// system or user text carries a line naming an output contract
//
//	Output contract: ethos-ideas/v1   (ethos-document/v1, ethos-response/v1, ethos-review/v1)
//
// is answered in that contract's shape instead of with DefaultWriter's
// prose, by every model except the fault-* models and models given their own
// Writer in Options.Writers. The sandbox reads the prompt the way a model
// would, from labelled lines ("Number of ideas: 5", "Category: …",
// "Traits: a, b, c", "Document type: memo", "Target length: 1000 words"),
// and its answer is a pure function of the request, so the pipeline's cache
// and a re-run after a crash see the same text.

// contractRE finds the contract line; the version is read but every
// version is answered as v1, the only one there is.
var contractRE = regexp.MustCompile(`Output contract: ethos-(ideas|document|response|review)/v(\d+)`)

// Contract kinds.
const (
	contractIdeas    = "ideas"
	contractDocument = "document"
	contractResponse = "response"
	contractReview   = "review"
)

// contractOf returns the contract a prompt names, or "".
func contractOf(p Prompt) string {
	if m := contractRE.FindStringSubmatch(p.System); m != nil {
		return m[1]
	}
	for _, msg := range p.Messages {
		if msg.Role != "user" {
			continue
		}
		if m := contractRE.FindStringSubmatch(msg.Content); m != nil {
			return m[1]
		}
	}
	return ""
}

// Persona is how strongly a model's replies (ethos-response) show each of
// the character's traits: the probability that each of a trait's lexical
// markers is written. 0 never shows the trait, 1 always shows it fully.
//
// It is the seam for modelling a fine-tuned model: give a new model name a
// persona in Options.Personas with strengths learnt from (or chosen for) a
// training run, and evaluations against the sandbox measure the difference
// from "base" through the same markers the review scores.
type Persona struct {
	// Default is the strength of every trait Markers does not name.
	Default float64
	// Markers maps a trait name (case-insensitive) to its strength.
	Markers map[string]float64
}

// Strength is the persona's strength for a trait, clamped to [0, 1].
func (p Persona) Strength(trait string) float64 {
	s := p.Default
	for name, v := range p.Markers {
		if strings.EqualFold(strings.TrimSpace(name), strings.TrimSpace(trait)) {
			s = v
			break
		}
	}
	return min(max(s, 0), 1)
}

// Personas of the default models: "base" plays an untrained model that
// shows a trait now and then, every other model a writer that shows them
// clearly.
var (
	WeakPersona   = Persona{Default: 0.15}
	StrongPersona = Persona{Default: 0.9}
)

// ethosWriter answers the ethos contracts for one model.
type ethosWriter struct {
	persona Persona
	rates   map[string]float64
	forced  string // a defect applied to every answer (writer-defect-<name>)
}

// contractText is an answer to a contract prompt.
type contractText struct {
	text string
	// truncated says the text was cut as if by max_tokens.
	truncated bool
}

// write answers p if it names a contract; ok is false when it names none.
func (w ethosWriter) write(p Prompt) (contractText, bool) {
	kind := contractOf(p)
	if kind == "" {
		return contractText{}, false
	}
	d := drawDefects(p.Seed, w.rates, w.forced)
	r := newRand(p.Seed, "answer")
	switch kind {
	case contractIdeas:
		return writeIdeas(p, r, d), true
	case contractDocument:
		return writeDocument(p, r, d), true
	case contractResponse:
		return writeReply(p, r, d, w.persona), true
	default:
		return writeReview(p, r, d), true
	}
}

func newRand(seed uint64, label string) *rand.Rand {
	return rand.New(rand.NewPCG(seed, uint64(unitRoll(seed, label)*(1<<53))))
}

// promptText is everything a model reads: the system prompt and every user
// turn.
func promptText(p Prompt) string {
	parts := []string{p.System}
	for _, m := range p.Messages {
		if m.Role == "user" {
			parts = append(parts, m.Content)
		}
	}
	return strings.Join(parts, "\n")
}

// lastUser is the last user turn's text.
func lastUser(p Prompt) string {
	for i := len(p.Messages) - 1; i >= 0; i-- {
		if p.Messages[i].Role == "user" {
			return p.Messages[i].Content
		}
	}
	return ""
}

// lastUserTurn is the text of the trailing user messages, joined as the
// blocks of one turn are: a judge prompt sent as the part every trait
// shares and the part that names the trait reads as one.
func lastUserTurn(p Prompt) string {
	i := len(p.Messages)
	for i > 0 && p.Messages[i-1].Role == "user" {
		i--
	}
	texts := make([]string, 0, len(p.Messages)-i)
	for _, m := range p.Messages[i:] {
		texts = append(texts, m.Content)
	}
	return strings.Join(texts, "\n")
}

// label returns the value of the first line "Name: value" in text
// (case-insensitive, leading "- " or "* " and markdown bold allowed).
func label(text, name string) (string, bool) {
	for line := range strings.SplitSeq(text, "\n") {
		line = strings.TrimSpace(line)
		line = strings.TrimLeft(line, "-*# ")
		line = strings.ReplaceAll(line, "**", "")
		if len(line) > len(name) && strings.EqualFold(line[:len(name)], name) && line[len(name)] == ':' {
			return strings.TrimSpace(line[len(name)+1:]), true
		}
	}
	return "", false
}

// labelInt reads the first integer of a labelled line.
func labelInt(text, name string) (int, bool) {
	v, ok := label(text, name)
	if !ok {
		return 0, false
	}
	f := strings.Fields(strings.ReplaceAll(v, ",", ""))
	if len(f) == 0 {
		return 0, false
	}
	n, err := strconv.Atoi(f[0])
	return n, err == nil
}

// traitsOf reads the character's trait names: the "Traits:" line, else the
// bullet list "- name: definition" that follows a line mentioning traits.
func traitsOf(text string) []string {
	var out []string
	add := func(name string) {
		name = strings.TrimSpace(strings.Trim(strings.TrimSpace(name), "*`\""))
		if name == "" {
			return
		}
		for _, o := range out {
			if strings.EqualFold(o, name) {
				return
			}
		}
		out = append(out, name)
	}
	if v, ok := label(text, "Traits"); ok && v != "" {
		for name := range strings.SplitSeq(v, ",") {
			add(name)
		}
		return out
	}
	inTraits := false
	for line := range strings.SplitSeq(text, "\n") {
		t := strings.TrimSpace(line)
		switch {
		case strings.Contains(strings.ToLower(t), "trait") && !strings.HasPrefix(t, "-"):
			inTraits = true
		case inTraits && strings.HasPrefix(t, "- "):
			if name, _, ok := strings.Cut(t[2:], ":"); ok && len(name) <= 40 {
				add(name)
			}
		case inTraits && t == "" && len(out) > 0:
			inTraits = false
		}
	}
	return out
}

// documentTypes are the types an ethos-document may have.
var documentTypes = []string{"memo", "email", "report", "proposal", "chat log", "meeting notes", "letter", "forum post"}

// cutText cuts text at a word boundary somewhere between 35% and 75% of
// its length, as a max_tokens stop would.
func cutText(text string, r *rand.Rand) string {
	at := len(text) * (35 + r.IntN(41)) / 100
	for at > 0 && !isSpace(text[at]) {
		at--
	}
	return strings.TrimRight(text[:at], " \n\t")
}

// wordCount counts whitespace-separated words.
func wordCount(s string) int { return prompttext.Words(s) }

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }
