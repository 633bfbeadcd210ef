package review

import (
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// A case-insensitive pattern with no literal prefix makes the regexp
// engine step through every byte of a text. For the patterns whose every
// match contains one of a few words, a bounded number of bytes after the
// match's start, a nearPattern runs the pattern only on windows of the
// text around the places those words occur, with the same result.

// nearPattern is a pattern with what find needs to know of its matches.
// The pattern must not use ^ or $, which a window's edges would satisfy.
type nearPattern struct {
	re *regexp.Regexp
	// words are the gate of the words one of which every match
	// contains, in folded form, starting at most before bytes after the
	// match's start.
	words  []uint8
	before int
	// reach bounds the end of a match whose word is found at text[at:].
	reach func(text string, at int) int
	// opens, if set, are the ASCII word characters every match starts
	// with, after a \b; then find tries anchored, re with a ^ in front,
	// only at the places in a window where one of them starts a word.
	opens    string
	anchored *regexp.Regexp
}

// find returns what p.re.FindStringIndex(text) returns. low is text
// folded.
func (p *nearPattern) find(text string, low *foldedText) []int {
	var at []int
	for _, w := range p.words {
		// Each word is looked for from its first place to its last.
		for i := low.first[w]; i >= 0; i += 1 + strings.Index(low.s[i+1:], gateWords[w]) {
			at = append(at, i)
			if i == low.last[w] {
				break
			}
		}
	}
	if len(at) == 0 {
		return nil
	}
	slices.Sort(at)
	at = slices.Compact(at)
	textOffsets(text, at)
	// Windows in order, merged where they overlap: every match lies in
	// the window of the word it contains, so the first window with a
	// match holds the leftmost match of the whole text.
	for i := 0; i < len(at); {
		start, end := windowStart(text, at[i]-p.before), windowEnd(text, p.reach(text, at[i]))
		for i++; i < len(at) && windowStart(text, at[i]-p.before) <= end; i++ {
			end = max(end, windowEnd(text, p.reach(text, at[i])))
		}
		if m := p.findIn(text, start, end); m != nil {
			return m
		}
	}
	return nil
}

// findIn finds the leftmost match in the window text[start:end].
func (p *nearPattern) findIn(text string, start, end int) []int {
	if p.anchored == nil {
		if m := p.re.FindStringIndex(text[start:end]); m != nil {
			return []int{start + m[0], start + m[1]}
		}
		return nil
	}
	for i := start; i < end; i++ {
		// A match starts a word here: \b holds, which it also does at
		// the start of text[i:end], where anchored looks.
		if strings.IndexByte(p.opens, text[i]) < 0 || i > 0 && isWordByte(text[i-1]) {
			continue
		}
		if m := p.anchored.FindStringIndex(text[i:end]); m != nil {
			return []int{i + m[0], i + m[1]}
		}
	}
	return nil
}

// reachBy returns a reach for nearPattern: n bytes past the word.
func reachBy(n int) func(string, int) int {
	return func(_ string, at int) int { return at + n }
}

// windowStart moves i back to where a window can start: the start of
// the text or a rune that follows a byte that is not an ASCII word
// character, so that \b at the window's start reads as it does in text.
func windowStart(text string, i int) int {
	i = max(i, 0)
	for i > 0 && (!utf8.RuneStart(text[i]) || isWordByte(text[i-1])) {
		i--
	}
	return i
}

// windowEnd moves i forward to where a window can end: the end of the
// text or a rune that is not an ASCII word character.
func windowEnd(text string, i int) int {
	i = min(i, len(text))
	for i < len(text) && (!utf8.RuneStart(text[i]) || isWordByte(text[i])) {
		i++
	}
	return i
}

// isWordByte is the ASCII word character of \b.
func isWordByte(b byte) bool {
	return b == '_' || '0' <= b && b <= '9' || 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z'
}

// textOffsets turns offsets into folded(text), in ascending order, into
// offsets into text in place: the start of the rune whose lower case
// holds the byte. Lowering keeps an ASCII text's offsets; elsewhere a
// rune's lower case may be longer or shorter (İ, K, an invalid byte
// becomes U+FFFD) and the long s folds to one byte.
func textOffsets(text string, at []int) {
	ascii := true
	for i := 0; i < len(text); i++ {
		if text[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return
	}
	k, low := 0, 0
	for i, r := range text {
		// An invalid byte is utf8.RuneError here, three bytes lowered.
		n := 1
		if r >= utf8.RuneSelf {
			if l := unicode.ToLower(r); l != 'ſ' {
				n = utf8.RuneLen(l)
			}
		}
		for k < len(at) && at[k] < low+n {
			at[k] = i
			k++
		}
		low += n
		if k == len(at) {
			return
		}
	}
	for ; k < len(at); k++ {
		at[k] = len(text)
	}
}
