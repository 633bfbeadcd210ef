package dedup

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ethos-toolkit/ethos/internal/prompttext"
)

// minhashReference is minhash as it was before it kept its minima one
// permutation at a time: every permutation of every shingle in turn.
func minhashReference(text string) (*signature, bool) {
	var wh []uint64
	prompttext.LowerWords(text, letterOrDigit, func(_, _ int, h uint64) bool {
		wh = append(wh, h)
		return true
	})
	if len(wh) == 0 {
		return nil, false
	}
	var mins [numHashes]uint64
	for i := range mins {
		mins[i] = ^uint64(0)
	}
	k := min(ShingleWords, len(wh))
	for i := 0; i+k <= len(wh); i++ {
		x := uint64(k)
		for j, w := range wh[i : i+k] {
			x = mix64(x ^ (w + uint64(j)*0x9e3779b97f4a7c15))
		}
		for p := range mins {
			if v := x*hashMul[p] + hashAdd[p]; v < mins[p] {
				mins[p] = v
			}
		}
	}
	sig := new(signature)
	for i, m := range mins {
		sig[i] = uint32(m >> 32)
	}
	return sig, true
}

var minhashCases = []string{
	"", "   ", "one", "two words", "four words in all", "exactly five words are here",
	"The quarterly budget review moved to Thursday, because the finance team needs the audited figures first.",
	"ÉCOLE Straße ΣΊΣΥΦΟΣ İstanbul \xff bad byte",
	strings.Repeat("same words again ", 200),
}

func checkMinhash(t *testing.T, text string) {
	t.Helper()
	want, wantOK := minhashReference(text)
	var got signature
	ok := minhash(text, &got)
	if ok != wantOK || ok && got != *want {
		t.Fatalf("minhash(%q) = %v, %v; want %v, %v", text, got, ok, want, wantOK)
	}
}

func TestMinhashMatchesReference(t *testing.T) {
	t.Parallel()
	for _, text := range minhashCases {
		checkMinhash(t, text)
	}
}

// FuzzMinhash checks minhash against minhashReference.
func FuzzMinhash(f *testing.F) {
	for _, s := range minhashCases {
		f.Add(s)
	}
	f.Fuzz(checkMinhash)
}

func benchText() string {
	r := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields("the a rota volunteer shift friday sheet swap app budget team figures council hall menu food fuel")
	var b strings.Builder
	for range 500 {
		b.WriteString(words[r.IntN(len(words))])
		b.WriteByte(' ')
	}
	return b.String()
}

// BenchmarkMinhash computes the signature of a 500-word text.
func BenchmarkMinhash(b *testing.B) {
	text := benchText()
	var sig signature
	for b.Loop() {
		minhash(text, &sig)
	}
}

// BenchmarkMinhashReference is BenchmarkMinhash with minhashReference,
// for comparison.
func BenchmarkMinhashReference(b *testing.B) {
	text := benchText()
	for b.Loop() {
		minhashReference(text)
	}
}

// checkReference is Index.check as it was before it sorted its
// candidates: bands in order, each candidate marked in a map the first
// time it is seen.
func (d *Index) checkReference(sig *signature) (int, float64, bool) {
	best, bestSim, found := -1, 0.0, false
	seen := map[int]bool{}
	var buf [1]int
	for b := range numBands {
		for _, id := range d.bands[b].ids(bandKey(sig, b), &buf) {
			if seen[id] {
				continue
			}
			seen[id] = true
			sim := similarity(sig, d.sigs[id])
			if !found || sim > bestSim || (sim == bestSim && idOrder(id, best)) {
				best, bestSim, found = id, sim, true
			}
		}
	}
	return best, bestSim, found && bestSim >= d.threshold
}

// TestCheckMatchesReference compares check with checkReference over an
// index of variants of one text under positive, zero and negative ids,
// with exact copies so that similarities tie.
func TestCheckMatchesReference(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	words := strings.Fields(strings.Repeat("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu ", 10))
	variant := func() string {
		w := append([]string(nil), words...)
		for range r.IntN(6) {
			w[r.IntN(len(w))] = "changed"
		}
		return strings.Join(w, " ")
	}
	d := New(0.8)
	for id := -40; id <= 40; id++ {
		d.Add(id, variant())
	}
	for range 200 {
		var sig signature
		minhash(variant(), &sig)
		got1, got2, got3 := d.check(&sig)
		want1, want2, want3 := d.checkReference(&sig)
		if got1 != want1 || got2 != want2 || got3 != want3 {
			t.Fatalf("check = %d, %v, %v; want %d, %v, %v", got1, got2, got3, want1, want2, want3)
		}
	}
}
