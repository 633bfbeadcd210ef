// Package prompttext holds the text handling that the packages writing
// and reading model text share: quoting a short piece of model output in
// an error or a review finding.
package prompttext

import "unicode/utf8"

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
