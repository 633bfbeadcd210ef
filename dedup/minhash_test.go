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
