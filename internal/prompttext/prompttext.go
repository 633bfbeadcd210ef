// Package prompttext holds the text handling the prompt sets of generate
// and eval share: rendering an embedded template strictly, listing a
// character's traits, counting words, folding text onto one line, and quoting a short
// piece of model output in an error or a review finding.
package prompttext

import (
	"bytes"
	"strings"
	"text/template"
	"unicode"
	"unicode/utf8"

	"github.com/ethos-toolkit/ethos"
)

// Render executes the template name of t with data and trims the result.
// The data maps are built by the caller with every key its templates use
// and the templates are compiled in, so a failure is a defect of the
// owner's package, which its golden tests exercise: Render panics with
// the owner's name.
func Render(t *template.Template, owner, name string, data map[string]any) string {
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, data); err != nil {
		panic(owner + ": render " + name + ": " + err.Error())
	}
	return strings.TrimSpace(buf.String())
}

// TraitNames lists the names of traits, comma separated, in order.
func TraitNames(traits []ethos.Trait) string {
	names := make([]string, len(traits))
	for i, t := range traits {
		names[i] = t.Name
	}
	return strings.Join(names, ", ")
}

// Words is len(strings.Fields(s)) without building the slice: the
// number of words in s, as runs of non-space.
func Words(s string) int {
	n, in := 0, false
	for _, r := range s {
		if unicode.IsSpace(r) {
			in = false
		} else if !in {
			in = true
			n++
		}
	}
	return n
}

// OneLine folds every run of white space in s, newlines included, into
// one space.
func OneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// Snippet is s cut to its first 40 bytes, at a rune boundary, with an
// ellipsis where it was cut: enough of a model's output to recognise it
// in a message.
func Snippet(s string) string {
	if len(s) <= 40 {
		return s
	}
	cut := 40
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
