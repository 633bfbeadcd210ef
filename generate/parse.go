package generate

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/internal/prompttext"
)

// Limits of the ethos-ideas/v1 contract.
const (
	MaxSummaryChars   = 200
	MinSituationChars = 20
	MaxSituationChars = 1500
	MaxIdeaTraits     = 5
)

// Idea is one scenario proposed by the ideas stage.
type Idea struct {
	Summary   string   `json:"summary"`
	Situation string   `json:"situation"`
	Traits    []string `json:"traits"`
	Hard      bool     `json:"hard"`
}

// Document is the user message written by the document stage.
type Document = ethos.Document

// TraitScore is a judge's score of one trait in a reply.
type TraitScore struct {
	Score  int    `json:"score"`
	Reason string `json:"reason"`
}

func parseError(op, format string, args ...any) error {
	return &ethos.Error{Kind: ethos.Parse, Op: "generate: parse " + op, Msg: fmt.Sprintf(format, args...)}
}

// ParseIdeas reads an ethos-ideas/v1 answer. It returns the ideas when
// every one is valid; fewer than want is not an error (the caller asks for
// the rest), but an empty list, more than want, an invalid idea or any text
// outside the JSON object is. Trait names are matched without regard to
// case and returned in the character's spelling.
func ParseIdeas(text string, traits []ethos.Trait, want int) ([]Idea, error) {
	const op = "ideas"
	if want < 1 {
		return nil, &ethos.Error{Kind: ethos.Invalid, Op: "generate: parse " + op, Msg: fmt.Sprintf("asked for %d ideas, want at least 1", want)}
	}
	var doc struct {
		Ideas *[]struct {
			Summary   *string   `json:"summary"`
			Situation *string   `json:"situation"`
			Traits    *[]string `json:"traits"`
			Hard      *bool     `json:"hard"`
		} `json:"ideas"`
	}
	if err := decodeJSONObject(op, text, &doc); err != nil {
		return nil, err
	}
	if doc.Ideas == nil {
		return nil, parseError(op, `no "ideas" array`)
	}
	raw := *doc.Ideas
	switch {
	case len(raw) == 0:
		return nil, parseError(op, `"ideas" is empty, want %d`, want)
	case len(raw) > want:
		return nil, parseError(op, "%d ideas, want %d", len(raw), want)
	}
	ideas := make([]Idea, 0, len(raw))
	for i, r := range raw {
		where := fmt.Sprintf("idea %d", i+1)
		if r.Summary == nil || r.Situation == nil || r.Traits == nil || r.Hard == nil {
			return nil, parseError(op, "%s: missing %s", where, missingFields(r.Summary == nil, r.Situation == nil, r.Traits == nil, r.Hard == nil))
		}
		summary, situation := strings.TrimSpace(*r.Summary), strings.TrimSpace(*r.Situation)
		switch n := utf8.RuneCountInString(summary); {
		case n == 0:
			return nil, parseError(op, "%s: summary is empty", where)
		case n > MaxSummaryChars:
			return nil, parseError(op, "%s: summary is %d characters, want at most %d", where, n, MaxSummaryChars)
		case strings.ContainsAny(summary, "\r\n"):
			return nil, parseError(op, "%s: summary spans several lines, want one", where)
		}
		if n := utf8.RuneCountInString(situation); n < MinSituationChars || n > MaxSituationChars {
			return nil, parseError(op, "%s: situation is %d characters, want %d..%d", where, n, MinSituationChars, MaxSituationChars)
		}
		names, err := matchTraits(*r.Traits, traits)
		if err != nil {
			return nil, parseError(op, "%s: %v", where, err)
		}
		ideas = append(ideas, Idea{Summary: summary, Situation: situation, Traits: names, Hard: *r.Hard})
	}
	return ideas, nil
}

func missingFields(summary, situation, traits, hard bool) string {
	var names []string
	for _, f := range []struct {
		missing bool
		name    string
	}{{summary, "summary"}, {situation, "situation"}, {traits, "traits"}, {hard, "hard"}} {
		if f.missing {
			names = append(names, `"`+f.name+`"`)
		}
	}
	return strings.Join(names, ", ")
}

// matchTraits checks an idea's trait list against the character and
// returns it in the character's spelling.
func matchTraits(got []string, traits []ethos.Trait) ([]string, error) {
	if len(got) == 0 || len(got) > MaxIdeaTraits {
		return nil, fmt.Errorf("%d traits, want 1..%d", len(got), MaxIdeaTraits)
	}
	out := make([]string, 0, len(got))
	seen := make(map[string]bool, len(got))
	for _, g := range got {
		name, ok := traitName(g, traits)
		if !ok {
			return nil, fmt.Errorf("unknown trait %q (the character's traits are %s)", g, prompttext.TraitNames(traits))
		}
		if seen[name] {
			return nil, fmt.Errorf("trait %q listed twice", name)
		}
		seen[name] = true
		out = append(out, name)
	}
	return out, nil
}

func traitName(s string, traits []ethos.Trait) (string, bool) {
	s = strings.TrimSpace(s)
	for _, t := range traits {
		if s != "" && strings.EqualFold(s, strings.TrimSpace(t.Name)) {
			return t.Name, true
		}
	}
	return "", false
}

// decodeJSONObject decodes exactly one JSON object, optionally inside a
// ```json fence, into v, rejecting unknown fields and any other text.
func decodeJSONObject(op, text string, v any) error {
	if !utf8.ValidString(text) {
		return parseError(op, "answer is not valid UTF-8")
	}
	body, err := unfence(op, strings.TrimSpace(text))
	if err != nil {
		return err
	}
	if body == "" {
		return parseError(op, "answer is empty, want a JSON object")
	}
	if body[0] != '{' {
		return parseError(op, "answer starts with %q, want a JSON object", prompttext.Snippet(body))
	}
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return parseError(op, "invalid JSON: %s", jsonProblem(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		rest := body[dec.InputOffset():]
		return parseError(op, "text after the JSON object: %q", prompttext.Snippet(strings.TrimSpace(rest)))
	}
	return nil
}

// unfence removes one ```json (or bare ```) fence around the whole answer.
func unfence(op, s string) (string, error) {
	if !strings.HasPrefix(s, "```") {
		return s, nil
	}
	first, rest, ok := strings.Cut(s, "\n")
	lang := strings.TrimSpace(strings.TrimPrefix(first, "```"))
	if !ok || (lang != "" && !strings.EqualFold(lang, "json")) {
		return "", parseError(op, "fence %q, want ```json", prompttext.Snippet(first))
	}
	inner, ok := strings.CutSuffix(strings.TrimRight(rest, " \t\r\n"), "```")
	if !ok {
		return "", parseError(op, "```json fence is not closed at the end of the answer")
	}
	return strings.TrimSpace(inner), nil
}

// jsonProblem words a decoding error without Go type names where that
// helps a reader of a quarantine report.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "the answer"
		}
		return fmt.Sprintf("%s is a JSON %s, want %s", field, te.Value, jsonKind(te.Type.Kind().String()))
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

func jsonKind(goKind string) string {
	switch goKind {
	case "int", "int64":
		return "an integer"
	case "bool":
		return "true or false"
	case "string":
		return "a string"
	case "slice":
		return "an array"
	case "map", "struct":
		return "an object"
	}
	return goKind
}

// ParseDocument reads an ethos-document/v1 answer: <title>, <type> and
// <document> in that order with only whitespace around them. The type must
// be one of DocumentTypes (matched without regard to case) and the title
// and body must not be empty.
func ParseDocument(text string) (Document, error) {
	const op = "document"
	if !utf8.ValidString(text) {
		return Document{}, parseError(op, "answer is not valid UTF-8")
	}
	rest := strings.TrimSpace(text)
	title, rest, err := cutTag(op, rest, "title")
	if err != nil {
		return Document{}, err
	}
	typ, rest, err := cutTag(op, strings.TrimLeft(rest, " \t\r\n"), "type")
	if err != nil {
		return Document{}, err
	}
	rest = strings.TrimLeft(rest, " \t\r\n")
	if !strings.HasPrefix(rest, "<document>") {
		return Document{}, parseError(op, "want <document> after </type>, found %q", prompttext.Snippet(rest))
	}
	// The body runs to the closing tag that ends the answer, so a document
	// that itself mentions "</document>" is kept whole.
	body, ok := strings.CutSuffix(rest[len("<document>"):], "</document>")
	if !ok {
		return Document{}, parseError(op, "answer does not end with </document>")
	}
	d := Document{Title: strings.TrimSpace(title), Type: strings.ToLower(strings.TrimSpace(typ)), Body: strings.TrimSpace(body)}
	switch {
	case d.Title == "":
		return Document{}, parseError(op, "title is empty")
	case strings.ContainsAny(d.Title, "\r\n"):
		return Document{}, parseError(op, "title spans several lines, want one")
	case utf8.RuneCountInString(d.Title) > MaxSummaryChars:
		return Document{}, parseError(op, "title is %d characters, want at most %d", utf8.RuneCountInString(d.Title), MaxSummaryChars)
	case !isDocumentType(d.Type):
		return Document{}, parseError(op, "type %q is not one of %s", prompttext.Snippet(d.Type), strings.Join(DocumentTypes, ", "))
	case d.Body == "":
		return Document{}, parseError(op, "document is empty")
	}
	return d, nil
}

// cutTag reads <tag>…</tag> at the start of s.
func cutTag(op, s, tag string) (inner, rest string, err error) {
	open, close := "<"+tag+">", "</"+tag+">"
	if !strings.HasPrefix(s, open) {
		return "", "", parseError(op, "want %s, found %q", open, prompttext.Snippet(s))
	}
	inner, rest, ok := strings.Cut(s[len(open):], close)
	if !ok {
		return "", "", parseError(op, "%s is not closed", open)
	}
	return inner, rest, nil
}

func isDocumentType(s string) bool {
	for _, t := range DocumentTypes {
		if s == t {
			return true
		}
	}
	return false
}

// ParseResponse reads an ethos-response/v1 answer: the reply text, trimmed.
// Whether the reply is any good is for review to judge.
func ParseResponse(text string) (string, error) {
	const op = "response"
	if !utf8.ValidString(text) {
		return "", parseError(op, "reply is not valid UTF-8")
	}
	reply := strings.TrimSpace(text)
	if reply == "" {
		return "", parseError(op, "reply is empty")
	}
	return reply, nil
}

// ParseReview reads an ethos-review/v1 answer. Every trait of the
// character must be scored with an integer from 1 to 5 and a reason; a
// missing, extra or out-of-range score is an error, never a default. The
// map is keyed by the character's spelling of each trait.
func ParseReview(text string, traits []ethos.Trait) (map[string]TraitScore, error) {
	const op = "review"
	var doc struct {
		Scores *map[string]*struct {
			Score  *json.RawMessage `json:"score"`
			Reason *string          `json:"reason"`
		} `json:"scores"`
	}
	if err := decodeJSONObject(op, text, &doc); err != nil {
		return nil, err
	}
	if doc.Scores == nil {
		return nil, parseError(op, `no "scores" object`)
	}
	out := make(map[string]TraitScore, len(traits))
	// Keys are checked in a fixed order so that the same answer always
	// gets the same error.
	for _, key := range slices.Sorted(maps.Keys(*doc.Scores)) {
		entry := (*doc.Scores)[key]
		name, ok := traitName(key, traits)
		if !ok {
			return nil, parseError(op, "score for unknown trait %q (the character's traits are %s)", prompttext.Snippet(key), prompttext.TraitNames(traits))
		}
		if _, dup := out[name]; dup {
			return nil, parseError(op, "trait %q scored twice", name)
		}
		if entry == nil || entry.Score == nil || entry.Reason == nil {
			return nil, parseError(op, `trait %q: want an object with "score" and "reason"`, name)
		}
		// A quoted "4" or a 4.0 is not the integer the contract asks for.
		raw := string(*entry.Score)
		score, err := strconv.Atoi(raw)
		if err != nil || score < 1 || score > 5 {
			return nil, parseError(op, "trait %q: score %s, want an integer from 1 to 5", name, prompttext.Snippet(raw))
		}
		reason := strings.TrimSpace(*entry.Reason)
		if reason == "" {
			return nil, parseError(op, "trait %q: reason is empty", name)
		}
		out[name] = TraitScore{Score: score, Reason: reason}
	}
	var missing []string
	for _, t := range traits {
		if _, ok := out[t.Name]; !ok {
			missing = append(missing, fmt.Sprintf("%q", t.Name))
		}
	}
	if len(missing) > 0 {
		return nil, parseError(op, "no score for %s", strings.Join(missing, ", "))
	}
	return out, nil
}
