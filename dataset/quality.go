package dataset

import (
	"crypto/sha256"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/review"
)

// quality runs ethos's own checks on the text of each turn: the review
// rules of package review (placeholders, error text, persona breaks, refusals,
// chatter), which a dataset written by ethos has already passed, plus a
// few patterns that matter in files from elsewhere.
type quality struct {
	// cache holds the findings of texts seen before, for the system prompt
	// that opens every example; it is bounded, so other texts are not
	// kept.
	mu    sync.Mutex
	cache map[[32]byte][]finding
}

type finding struct{ rule, detail string }

const qualityCacheSize = 64

func newQuality() *quality { return &quality{cache: map[[32]byte][]finding{}} }

// Which review findings count for which speaker. A user turn is reviewed
// as a document (persona and chatter rules for documents); an assistant
// turn as a reply; a system prompt and a rejected preference output only
// for placeholders and error text, since a rejected answer is meant to be
// worse; tool output not at all.
var (
	systemRules    = map[string]string{review.RulePlaceholder: RulePlaceholder, review.RuleErrorText: RuleErrorText}
	userRules      = map[string]string{review.RulePlaceholder: RulePlaceholder, review.RuleErrorText: RuleErrorText, review.RulePersonaBreak: RulePersonaBreak, review.RuleChatter: RuleChatter}
	assistantRules = map[string]string{review.RulePlaceholder: RulePlaceholder, review.RuleErrorText: RuleErrorText, review.RulePersonaBreak: RulePersonaBreak, review.RuleRefusal: RuleRefusal, review.RuleChatter: RuleChatter}
)

// examine returns the findings of each turn. It is safe for concurrent
// use.
func (q *quality) examine(turns []turn) [][]finding {
	fs := make([][]finding, len(turns))
	for i, t := range turns {
		fs[i] = q.findings(t)
	}
	return fs
}

// report adds the findings examine returned for the turns of line n.
func (q *quality) report(c *checker, n int, turns []turn, fs [][]finding) {
	for i, t := range turns {
		for _, f := range fs[i] {
			label := t.where
			if t.role != "" && t.role != t.where {
				label += " (" + t.role + ")"
			}
			c.add(n, f.rule, "%s: %s", label, f.detail)
		}
	}
}

func (q *quality) findings(t turn) []finding {
	text := strings.TrimSpace(t.text)
	if text == "" {
		return nil
	}
	var examine func() []review.Finding
	var rules map[string]string
	cacheable := false
	switch t.role {
	case "system", "developer":
		examine = func() []review.Finding { return review.Rules{}.Reply(text, "", 0) }
		rules, cacheable = systemRules, true
	case "user", "prompt", "text":
		examine = func() []review.Finding { return review.Rules{}.Document(ethos.Document{Body: text}, "") }
		rules = userRules
	case "assistant", "completion", "preferred_output":
		examine = func() []review.Finding { return review.Rules{}.Reply(text, "", 0) }
		rules = assistantRules
	case "non_preferred_output":
		examine = func() []review.Finding { return review.Rules{}.Reply(text, "", 0) }
		rules = systemRules
	default:
		return nil
	}
	var key [32]byte
	if cacheable {
		key = sha256.Sum256([]byte(text))
		q.mu.Lock()
		fs, ok := q.cache[key]
		q.mu.Unlock()
		if ok {
			return fs
		}
	}
	var fs []finding
	seen := map[string]bool{}
	for _, f := range examine() {
		if rule, ok := rules[f.Rule]; ok && !seen[rule] {
			seen[rule] = true
			fs = append(fs, finding{rule, describe(rule, f.Detail)})
		}
	}
	if !seen[RulePlaceholder] {
		if d := extraPlaceholder(text); d != "" {
			fs = append(fs, finding{RulePlaceholder, d})
		}
	}
	if !seen[RuleErrorText] {
		if d := extraErrorText(text); d != "" {
			fs = append(fs, finding{RuleErrorText, d})
		}
	}
	if cacheable {
		q.mu.Lock()
		if len(q.cache) < qualityCacheSize {
			q.cache[key] = fs
		}
		q.mu.Unlock()
	}
	return fs
}

func describe(rule, detail string) string {
	if rule == RulePersonaBreak {
		return "speaks as an AI model or another assistant: " + detail
	}
	return detail
}

var (
	// templateVar is a template engine's variable with more than a name in
	// it ({{ user | upper }}, {{ items[0] }}) left in prose; the review's slot
	// rule finds the plain names ({{name}}, {date}).
	templateVar = regexp.MustCompile(`\{\{\s*[^{}\s][^{}]{0,60}?\}\}`)
	// todoMarker is a writer's note to self, in capitals as such notes are.
	todoMarker = regexp.MustCompile(`\b(?:TODO|FIXME)\b`)
	// errorPhrase is what wrappers and front ends write when a call fails.
	errorPhrase = regexp.MustCompile(`(?i)\b(?:an? (?:unexpected |internal |unknown )?error (?:has )?occurred|something went wrong|failed to (?:generate|get|fetch|produce) (?:a |an |the )?(?:response|completion|reply|answer)|request failed with status(?: code)? \d{3})|\bHTTP/\d(?:\.\d)? [45]\d\d\b`)
)

// extraPlaceholder finds the placeholders the review rules do not look
// for, outside code.
func extraPlaceholder(text string) string {
	prose := review.Prose(text)
	if m := templateVar.FindString(prose); m != "" {
		return fmt.Sprintf("unfilled template variable %q", m)
	}
	if m := todoMarker.FindString(prose); m != "" {
		return fmt.Sprintf("%s marker left in the text", m)
	}
	return ""
}

// extraErrorText finds failure messages of a calling program. As in
// the review rules, a phrase counts only where it opens the text or the
// text is short: a long document may discuss an error of its own.
func extraErrorText(text string) string {
	short := len(strings.Fields(text)) < 40
	if !short && len(text) > 200 {
		// Only an opening phrase counts, and none is longer than this.
		text = text[:200]
	}
	loc := errorPhrase.FindStringIndex(text)
	if loc == nil {
		return ""
	}
	if loc[0] < 40 || short {
		return fmt.Sprintf("error text %q", strings.ToValidUTF8(text[loc[0]:loc[1]], ""))
	}
	return ""
}
