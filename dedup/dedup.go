// Package dedup finds near-duplicate texts: MinHash signatures over word
// shingles with LSH banding, so that a check costs about the same however
// many texts are indexed. It is pure (no I/O, no clocks) and imports only
// the standard library and the word splitter of internal/prompttext; generate uses it to keep a run's ideas, documents
// and replies distinct, dataset to flag near-copies in a file, and eval to
// hold training prompts out of an evaluation.
package dedup

import (
	"slices"
	"sync"
	"unicode"

	"github.com/ethos-toolkit/ethos/internal/prompttext"
)

// MinHash parameters. 32 bands of 4 rows make a pair with Jaccard
// similarity 0.7 a candidate with probability 1-(1-0.7^4)^32 > 0.9998,
// while pairs below 0.3 rarely are; candidates are then compared on the
// whole signature.
const (
	ShingleWords = 5
	numHashes    = 128
	numBands     = 32
	bandRows     = numHashes / numBands
)

// DefaultThreshold is the estimated Jaccard similarity of word shingles
// at or above which two texts count as near-duplicates.
const DefaultThreshold = 0.7

// hashMul and hashAdd define the hash permutations x -> mul*x + add (mod
// 2^64; mul is odd, so each is a bijection) applied to an already mixed
// shingle hash. They are fixed so that signatures, and therefore which
// texts count as duplicates, are the same in every process.
var hashMul, hashAdd = func() (mul, add [numHashes]uint64) {
	x := uint64(0x65746873) // "eths"
	for i := range mul {
		x += 0x9e3779b97f4a7c15
		mul[i] = mix64(x) | 1
		x += 0x9e3779b97f4a7c15
		add[i] = mix64(x)
	}
	return mul, add
}()

// mix64 is the SplitMix64 finaliser: a cheap, well-mixed bijection used as
// the family of hash permutations.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// signature keeps the top 32 bits of each of the numHashes minima: two
// minima whose top halves agree are the same value but for a chance of
// 2^-32, and the index holds half the bytes per text.
type signature [numHashes]uint32

// Index finds near-duplicate texts among those added to it, by MinHash
// over 5-word shingles with LSH banding, so that a check costs about the
// same however many texts are indexed. It is safe for concurrent use.
type Index struct {
	threshold float64

	mu    sync.RWMutex
	sigs  map[int]*signature
	bands [numBands]band
}

// band maps one band's key to the ids whose signatures share it. Most
// keys belong to one text, so those are held without a slice each; keys
// shared by several texts are in many.
type band struct {
	one  map[uint64]int
	many map[uint64][]int
}

// ids returns the ids under key; the slice must not be kept or changed.
func (b *band) ids(key uint64, buf *[1]int) []int {
	if id, ok := b.one[key]; ok {
		buf[0] = id
		return buf[:]
	}
	return b.many[key]
}

func (b *band) add(key uint64, id int) {
	if first, ok := b.one[key]; ok {
		delete(b.one, key)
		b.many[key] = []int{first, id}
		return
	}
	if ids, ok := b.many[key]; ok {
		b.many[key] = append(ids, id)
		return
	}
	b.one[key] = id
}

func (b *band) remove(key uint64, id int) {
	if first, ok := b.one[key]; ok {
		if first == id {
			delete(b.one, key)
		}
		return
	}
	ids := b.many[key]
	for i, x := range ids {
		if x == id {
			ids = append(ids[:i:i], ids[i+1:]...)
			break
		}
	}
	switch len(ids) {
	case 0:
		delete(b.many, key)
	case 1:
		delete(b.many, key)
		b.one[key] = ids[0]
	default:
		b.many[key] = ids
	}
}

// New returns an Index that calls texts duplicates at an estimated
// Jaccard similarity of threshold or more; a threshold outside (0, 1]
// means DefaultThreshold.
func New(threshold float64) *Index {
	if !(threshold > 0 && threshold <= 1) {
		threshold = DefaultThreshold
	}
	d := &Index{threshold: threshold, sigs: map[int]*signature{}}
	for i := range d.bands {
		d.bands[i] = band{one: map[uint64]int{}, many: map[uint64][]int{}}
	}
	return d
}

// Check compares text with every text added so far. It returns the id of
// the most similar one and the estimated similarity; isDup says whether
// that reaches the threshold. With no candidate, dupOf is -1. A text with
// no words is never a duplicate.
func (d *Index) Check(text string) (dupOf int, similarity float64, isDup bool) {
	var sig signature
	if !minhash(text, &sig) {
		return -1, 0, false
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.check(&sig)
}

// Add indexes text under id. Adding an id again replaces its text. A text
// with no words is not indexed.
func (d *Index) Add(id int, text string) {
	sig := new(signature)
	if !minhash(text, sig) {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.add(id, sig)
}

// CheckAndAdd checks text and, when it is not a duplicate, adds it under
// id, in one step, so that two concurrent near-identical texts cannot both
// pass.
func (d *Index) CheckAndAdd(id int, text string) (dupOf int, similarity float64, isDup bool) {
	sig := new(signature)
	if !minhash(text, sig) {
		return -1, 0, false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	dupOf, similarity, isDup = d.check(sig)
	if !isDup {
		d.add(id, sig)
	}
	return dupOf, similarity, isDup
}

// Len is the number of texts indexed.
func (d *Index) Len() int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return len(d.sigs)
}

func (d *Index) check(sig *signature) (int, float64, bool) {
	// The candidates of all bands, each once: gathered, sorted and
	// compacted in a reused buffer rather than marked in a fresh map.
	buf := idBufs.Get().(*[]int)
	defer idBufs.Put(buf)
	cands := (*buf)[:0]
	var one [1]int
	for b := range numBands {
		cands = append(cands, d.bands[b].ids(bandKey(sig, b), &one)...)
	}
	slices.Sort(cands)
	cands = slices.Compact(cands)
	*buf = cands
	best, bestSim, found := -1, 0.0, false
	for _, id := range cands {
		sim := similarity(sig, d.sigs[id])
		// Ties go to the first id in idOrder, so the answer does not
		// depend on the order candidates are looked at.
		if !found || sim > bestSim || (sim == bestSim && idOrder(id, best)) {
			best, bestSim, found = id, sim, true
		}
	}
	return best, bestSim, found && bestSim >= d.threshold
}

// idBufs holds the candidate buffers of check.
var idBufs = sync.Pool{New: func() any { return new([]int) }}

// idOrder reports whether id a comes before b among equally similar texts:
// stored items (positive IDs) by age, then texts still being written
// (negative, provisional IDs) by age.
func idOrder(a, b int) bool {
	if (a > 0) != (b > 0) {
		return a > 0
	}
	if a > 0 {
		return a < b
	}
	return a > b
}

// Rename moves the text indexed under old to id, replacing what id held;
// nothing happens when old is not indexed.
func (d *Index) Rename(old, id int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if sig, ok := d.sigs[old]; ok {
		d.remove(old)
		d.add(id, sig)
	}
}

// Remove drops the text indexed under id, if any.
func (d *Index) Remove(id int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.remove(id)
}

func (d *Index) add(id int, sig *signature) {
	d.remove(id)
	d.sigs[id] = sig
	for b := range numBands {
		d.bands[b].add(bandKey(sig, b), id)
	}
}

func (d *Index) remove(id int) {
	if old, ok := d.sigs[id]; ok {
		for b := range numBands {
			d.bands[b].remove(bandKey(old, b), id)
		}
		delete(d.sigs, id)
	}
}

func bandKey(sig *signature, n int) uint64 {
	h := uint64(n) * 0x9e3779b97f4a7c15
	for _, v := range sig[n*bandRows : (n+1)*bandRows] {
		h = mix64(h ^ uint64(v))
	}
	return h
}

func similarity(a, b *signature) float64 {
	same := 0
	for i := range a {
		if a[i] == b[i] {
			same++
		}
	}
	return float64(same) / numHashes
}

// minhash computes into sig the signature of text's word shingles. Words
// are lower-cased runs of letters and digits, so punctuation and spacing
// changes do not hide a copy. A text shorter than a shingle is one
// shingle; it returns false for a text with no words.
func minhash(text string, sig *signature) bool {
	// Each word is hashed once, as it is found; a shingle's hash combines
	// its words' hashes by position, which is much cheaper than rehashing
	// the text.
	buf := hashBufs.Get().(*[]uint64)
	defer hashBufs.Put(buf)
	wh := (*buf)[:0]
	prompttext.LowerWords(text, letterOrDigit, func(_, _ int, h uint64) bool {
		wh = append(wh, h)
		return true
	})
	*buf = wh
	if len(wh) == 0 {
		return false
	}
	// The shingles' hashes overwrite the words' in place: shingle i reads
	// words i to i+k-1 and is written at i.
	k := min(ShingleWords, len(wh))
	xs := wh[:len(wh)-k+1]
	for i := range xs {
		x := uint64(k)
		for j, w := range wh[i : i+k] {
			x = mix64(x ^ (w + uint64(j)*0x9e3779b97f4a7c15))
		}
		xs[i] = x
	}
	// One permutation at a time, so that its minimum stays in registers
	// while the shingles stream past; four running minima let the
	// comparisons overlap.
	for p := range sig {
		mul, add := hashMul[p], hashAdd[p]
		m0, m1, m2, m3 := ^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0)
		i := 0
		for ; i+4 <= len(xs); i += 4 {
			q := xs[i : i+4 : i+4]
			m0 = min(m0, q[0]*mul+add)
			m1 = min(m1, q[1]*mul+add)
			m2 = min(m2, q[2]*mul+add)
			m3 = min(m3, q[3]*mul+add)
		}
		for _, x := range xs[i:] {
			m0 = min(m0, x*mul+add)
		}
		sig[p] = uint32(min(m0, m1, m2, m3) >> 32)
	}
	return true
}

// hashBufs holds the word-hash buffers of minhash, which would otherwise
// be allocated and grown for every text.
var hashBufs = sync.Pool{New: func() any { return new([]uint64) }}

func letterOrDigit(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }
