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

// LowerWords calls yield for each word of strings.ToLower(s) as
// strings.FieldsFunc would split it, taking runs of runes inWord accepts
// (after lower-casing) as words: with the word's byte span in s and the
// 64-bit FNV-1a hash of its lower-case UTF-8. It builds neither the
// lower-case text nor a slice of words, which near-duplicate checks and
// the review's leak check ask of every document. It stops when yield
// returns false.
func LowerWords(s string, inWord func(rune) bool, yield func(start, end int, hash uint64) bool) {
	const offset, prime = 14695981039346656037, 1099511628211
	start, h := -1, uint64(offset)
	var enc [utf8.UTFMax]byte
	for i, r := range s {
		// An invalid byte is utf8.RuneError here as in strings.ToLower's
		// output, which no inWord of a word splitter takes for a letter.
		if r < utf8.RuneSelf {
			if 'A' <= r && r <= 'Z' {
				r += 'a' - 'A'
			}
		} else {
			r = unicode.ToLower(r)
		}
		if !inWord(r) {
			if start >= 0 && !yield(start, i, h) {
				return
			}
			start, h = -1, offset
			continue
		}
		if start < 0 {
			start = i
		}
		if r < utf8.RuneSelf {
			h = (h ^ uint64(r)) * prime
			continue
		}
		for _, b := range enc[:utf8.EncodeRune(enc[:], r)] {
			h = (h ^ uint64(b)) * prime
		}
	}
	if start >= 0 {
		yield(start, len(s), h)
	}
}

// LastWords is the last n words of s (runs of non-space, as strings.Fields
// splits them) joined by single spaces, without splitting all of s.
func LastWords(s string, n int) string {
	skip := Words(s) - n
	if skip <= 0 {
		return OneLine(s)
	}
	in := false
	for i, r := range s {
		if unicode.IsSpace(r) {
			in = false
			continue
		}
		if !in {
			in = true
			if skip == 0 {
				return OneLine(s[i:])
			}
			skip--
		}
	}
	return ""
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
