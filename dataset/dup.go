package dataset

import (
	"crypto/sha256"
	"encoding/binary"
	"strings"

	"github.com/ethos-toolkit/ethos/dedup"
)

// dupIndex finds examples that repeat an earlier one exactly, and those
// whose text is nearly the same (package dedup's MinHash index, at its
// default threshold). It keeps 16 bytes an example for exact copies and a
// MinHash signature (about a kilobyte) for near ones.
type dupIndex struct {
	exact map[[16]byte]int // example hash → first line
	near  *dedup.Index
}

func newDupIndex() *dupIndex {
	return &dupIndex{exact: map[[16]byte]int{}, near: dedup.New(dedup.DefaultThreshold)}
}

// add indexes the example on line n and says what it repeats: exactOf is
// the line of an identical example, else nearOf that of a near-duplicate
// (with its estimated similarity); 0 for none.
func (d *dupIndex) add(n int, turns []turn) (exactOf, nearOf int, sim float64) {
	if len(turns) == 0 {
		return 0, 0, 0
	}
	key := exampleHash(turns)
	if first, ok := d.exact[key]; ok {
		return first, 0, 0
	}
	d.exact[key] = n
	// The system prompt is the same in every example of a character's
	// dataset; comparing it would make short examples look alike.
	var b strings.Builder
	for _, t := range turns {
		if t.role != "system" && t.role != "developer" {
			b.WriteString(t.text)
			b.WriteByte('\n')
		}
	}
	if of, s, dup := d.near.CheckAndAdd(n, b.String()); dup {
		return 0, of, s
	}
	return 0, 0, 0
}

// exampleHash identifies an example by its roles, texts and weights, so
// that key order and spacing in the JSON do not hide a copy.
func exampleHash(turns []turn) [16]byte {
	h := sha256.New()
	var num [8]byte
	for _, t := range turns {
		for _, s := range []string{t.role, t.text} {
			binary.LittleEndian.PutUint64(num[:], uint64(len(s)))
			h.Write(num[:])
			h.Write([]byte(s))
		}
		binary.LittleEndian.PutUint64(num[:], uint64(int64(t.weight)))
		h.Write(num[:])
	}
	var key [16]byte
	copy(key[:], h.Sum(nil))
	return key
}

// duplicates reports the example on line n if it repeats an earlier one.
func (c *checker) duplicates(n int, ex example) {
	exactOf, nearOf, sim := c.dups.add(n, ex.turns)
	switch {
	case exactOf > 0:
		c.add(n, RuleDuplicate, "the same example as line %d; remove one", exactOf)
	case nearOf > 0:
		c.add(n, RuleNearDuplicate, "nearly the same text as line %d (estimated similarity %.2f); keep one, or make them differ", nearOf, sim)
	}
}
