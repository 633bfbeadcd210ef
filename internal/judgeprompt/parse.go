package judgeprompt

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/ethos-toolkit/ethos"
)

// MaxReasonRunes bounds the reason of a judge reply: the prompt asks for
// one or two sentences, and a reply that runs far past that is not in the
// asked format.
const MaxReasonRunes = 1000

// verdicts maps the judge's notation to a Verdict. Only these exact
// spellings are accepted.
var verdicts = map[string]ethos.Verdict{
	"A>>B": ethos.MuchBetter,
	"A>B":  ethos.Better,
	"A=B":  ethos.Tie,
	"B>A":  ethos.Worse,
	"B>>A": ethos.MuchWorse,
}

// ParseVerdict reads a reply to the ethos-judge/v1 contract: exactly two
// non-empty lines,
//
//	Verdict: <A>>B | A>B | A=B | B>A | B>>A>
//	Reason: <one or two sentences>
//
// with nothing before, between (blank lines aside) or after them. The
// labels may be in any case and spaces around values are ignored; the
// verdict must be spelled exactly as above. Anything else — a preamble,
// markdown, two verdicts, a verdict in other words, an empty or overlong
// reason — is an *ethos.Error of kind Parse whose message says what is
// wrong, in words the judge can be shown when it is asked again. There is
// no default verdict.
func ParseVerdict(reply string) (ethos.Verdict, string, error) {
	first, second, err := twoLines(reply, "Verdict", "Reason")
	if err != nil {
		return 0, "", err
	}
	v, ok := verdicts[first]
	if !ok {
		return 0, "", parseErr("the verdict must be exactly one of A>>B, A>B, A=B, B>A, B>>A; got %s", quote(first))
	}
	return v, second, nil
}

// ParseScore reads a reply to the ethos-score/v1 contract: exactly two
// non-empty lines, "Score: <1–5>" then "Reason: …", under the same rules
// as ParseVerdict. The score is a single digit from 1 to 5.
func ParseScore(reply string) (int, string, error) {
	first, second, err := twoLines(reply, "Score", "Reason")
	if err != nil {
		return 0, "", err
	}
	if len(first) != 1 || first[0] < '1' || first[0] > '5' {
		return 0, "", parseErr("the score must be one digit from 1 to 5; got %s", quote(first))
	}
	return int(first[0] - '0'), second, nil
}

// lineBreaks makes CRLF and lone CR line breaks like LF.
var lineBreaks = strings.NewReplacer("\r\n", "\n", "\r", "\n")

// twoLines checks the shape both contracts share and returns the values of
// the two labelled lines.
func twoLines(reply, label1, label2 string) (string, string, error) {
	if !utf8.ValidString(reply) {
		return "", "", parseErr("the reply is not valid UTF-8")
	}
	var lines []string
	for line := range strings.SplitSeq(lineBreaks.Replace(reply), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			lines = append(lines, line)
		}
	}
	want := fmt.Sprintf("exactly two lines, %q then %q, and nothing else", label1+": …", label2+": …")
	switch {
	case len(lines) == 0:
		return "", "", parseErr("the reply is empty; it must be %s", want)
	case len(lines) != 2:
		return "", "", parseErr("the reply must be %s; it has %d non-empty lines, the first %s", want, len(lines), quote(lines[0]))
	}
	first, ok := value(lines[0], label1)
	if !ok {
		return "", "", parseErr("the first line must start with %q; got %s", label1+":", quote(lines[0]))
	}
	second, ok := value(lines[1], label2)
	if !ok {
		return "", "", parseErr("the second line must start with %q; got %s", label2+":", quote(lines[1]))
	}
	switch n := utf8.RuneCountInString(second); {
	case n == 0:
		return "", "", parseErr("the reason is empty")
	case n > MaxReasonRunes:
		return "", "", parseErr("the reason has %d characters; keep it to one or two sentences (at most %d characters)", n, MaxReasonRunes)
	}
	return first, second, nil
}

// value returns what follows "label:" at the start of line (label in any
// case), trimmed.
func value(line, label string) (string, bool) {
	if len(line) <= len(label) || !strings.EqualFold(line[:len(label)], label) || line[len(label)] != ':' {
		return "", false
	}
	return strings.TrimSpace(line[len(label)+1:]), true
}

func parseErr(format string, args ...any) error {
	return &ethos.Error{Kind: ethos.Parse, Msg: fmt.Sprintf(format, args...)}
}

// quote shows a piece of the reply in an error, shortened so that a long
// reply does not flood the retry prompt.
func quote(s string) string {
	const max = 80
	if utf8.RuneCountInString(s) > max {
		r := []rune(s)
		s = string(r[:max]) + "…"
	}
	return fmt.Sprintf("%q", s)
}
