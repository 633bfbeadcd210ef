package review

import "strings"

// The word gates in front of the costly scans ask of a folded text
// whether it holds any of a few words, some 40 words in all. Looked for
// one by one, with strings.Contains, they cost more than the scans they
// save on text that holds none, as most text does; foldedText finds them
// all in one pass, by their first two bytes.

// gateWords are the words the gates look for; a gate is a list of
// indexes into it.
var (
	gateWords    []string
	gateByPrefix [1 << 16]uint8 // 1 + index into gatePrefixes; 0: no word starts so
	gatePrefixes [][]uint8      // the words that start with each prefix
)

// maxGateWords bounds gateWords, so that a foldedText's record of them
// fits on the stack.
const maxGateWords = 64

// newGate registers words, each of two bytes or more, and returns the
// gate that looks for them.
func newGate(words []string) []uint8 {
	gate := make([]uint8, len(words))
	for i, w := range words {
		id := -1
		for j, g := range gateWords {
			if g == w {
				id = j
			}
		}
		if id < 0 {
			if len(w) < 2 || len(gateWords) == maxGateWords {
				panic("review: gate word " + w + " is shorter than two bytes or one too many")
			}
			id = len(gateWords)
			gateWords = append(gateWords, w)
			p := uint16(w[0])<<8 | uint16(w[1])
			if gateByPrefix[p] == 0 {
				gatePrefixes = append(gatePrefixes, nil)
				gateByPrefix[p] = uint8(len(gatePrefixes))
			}
			gatePrefixes[gateByPrefix[p]-1] = append(gatePrefixes[gateByPrefix[p]-1], uint8(id))
		}
		gate[i] = uint8(id)
	}
	return gate
}

// foldedText is a text's folded form with where each gate word first and
// last starts in it (-1 where it does not occur).
type foldedText struct {
	s           string
	first, last [maxGateWords]int
}

// fold sets f to text's folded form and finds the gate words in it.
func (f *foldedText) fold(text string) {
	f.s = folded(text)
	for i := range f.first {
		f.first[i], f.last[i] = -1, -1
	}
	s := f.s
	for i := 0; i+1 < len(s); i++ {
		b := gateByPrefix[uint16(s[i])<<8|uint16(s[i+1])]
		if b == 0 {
			continue
		}
		for _, w := range gatePrefixes[b-1] {
			if strings.HasPrefix(s[i:], gateWords[w]) {
				if f.first[w] < 0 {
					f.first[w] = i
				}
				f.last[w] = i
			}
		}
	}
}

// has reports whether the text holds one of gate's words:
// containsAny(f.s, words) for the words of the gate.
func (f *foldedText) has(gate []uint8) bool { return f.hasFrom(gate, 0) }

// hasFrom reports whether f.s[from:] holds one of gate's words.
func (f *foldedText) hasFrom(gate []uint8, from int) bool {
	for _, w := range gate {
		if f.last[w] >= from {
			return true
		}
	}
	return false
}
