package dedup_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/ethos-toolkit/ethos/dedup"
)

// randomText writes n words drawn from a vocabulary large enough that two
// independent texts share almost no 5-word shingles.
func randomText(r *rand.Rand, n int) string {
	words := make([]string, n)
	for i := range words {
		words[i] = fmt.Sprintf("w%d", r.IntN(5000))
	}
	return strings.Join(words, " ")
}

// lightlyEdit changes one word in every 50 and the case and punctuation,
// the way a duplicate answer comes back with small differences: the true
// Jaccard similarity of the shingles stays about 0.8.
func lightlyEdit(text string) string {
	words := strings.Fields(text)
	for i := 25; i < len(words); i += 50 {
		words[i] = "edited"
	}
	return strings.ToUpper(words[0]) + ", " + strings.Join(words[1:], " ") + "."
}

func TestIndex(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	d := dedup.New(0.7)
	texts := make([]string, 50)
	for i := range texts {
		texts[i] = randomText(r, 300)
		if dupOf, sim, isDup := d.Check(texts[i]); isDup {
			t.Fatalf("unrelated text %d called a duplicate of %d (similarity %.2f)", i, dupOf, sim)
		}
		d.Add(i, texts[i])
	}
	if d.Len() != 50 {
		t.Fatalf("Len = %d, want 50", d.Len())
	}
	for _, i := range []int{0, 17, 49} {
		dupOf, sim, isDup := d.Check(texts[i])
		if !isDup || dupOf != i || sim != 1 {
			t.Errorf("identical text %d: dupOf %d, similarity %.2f, isDup %v", i, dupOf, sim, isDup)
		}
		dupOf, sim, isDup = d.Check(lightlyEdit(texts[i]))
		if !isDup || dupOf != i || sim < 0.7 {
			t.Errorf("edited text %d: dupOf %d, similarity %.2f, isDup %v", i, dupOf, sim, isDup)
		}
	}
	// Half the text shared is well below the threshold.
	half := strings.Join(strings.Fields(texts[3])[:150], " ") + " " + randomText(r, 150)
	if dupOf, sim, isDup := d.Check(half); isDup {
		t.Errorf("half-shared text called a duplicate of %d (similarity %.2f)", dupOf, sim)
	}
}

func TestIndexEdgeCases(t *testing.T) {
	t.Parallel()
	d := dedup.New(0) // default threshold
	if dupOf, sim, isDup := d.Check("anything at all"); isDup || dupOf != -1 || sim != 0 {
		t.Errorf("empty index: %d %.2f %v", dupOf, sim, isDup)
	}
	d.Add(1, "  ...  ")
	if d.Len() != 0 {
		t.Error("a text with no words was indexed")
	}
	if _, _, isDup := d.Check(""); isDup {
		t.Error("an empty text is a duplicate")
	}
	d.Add(2, "short note")
	if dupOf, _, isDup := d.Check("Short, note!"); !isDup || dupOf != 2 {
		t.Errorf("short texts differing in case and punctuation: dupOf %d isDup %v", dupOf, isDup)
	}
	// Re-adding an id replaces its text.
	d.Add(2, "an entirely different short note about the weekly rota")
	if _, _, isDup := d.Check("short note"); isDup {
		t.Error("the replaced text is still found")
	}
	if d.Len() != 1 {
		t.Errorf("Len = %d after replacing, want 1", d.Len())
	}
}

func TestIndexDeterministic(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	a, b := randomText(r, 200), ""
	words := strings.Fields(a)
	b = strings.Join(append(words[:120:120], strings.Fields(randomText(r, 80))...), " ")
	d1, d2 := dedup.New(0.7), dedup.New(0.7)
	d1.Add(7, a)
	d2.Add(7, a)
	_, s1, _ := d1.Check(b)
	_, s2, _ := d2.Check(b)
	if s1 != s2 {
		t.Errorf("same texts, different similarity: %v vs %v", s1, s2)
	}
}

func TestIndexConcurrentCheckAndAdd(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(5, 6))
	base := randomText(r, 300)
	d := dedup.New(0.7)
	var wg sync.WaitGroup
	accepted := make(chan int, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, isDup := d.CheckAndAdd(i, base); !isDup {
				accepted <- i
			}
			d.Check(base)
		}()
	}
	wg.Wait()
	close(accepted)
	n := 0
	for range accepted {
		n++
	}
	if n != 1 {
		t.Errorf("%d of 16 concurrent identical texts accepted, want 1", n)
	}
}

// BenchmarkIndexCheckAdd measures one Check and one Add of a 500-word
// document against an index that grows to 10,000 documents.
func BenchmarkIndexCheckAdd(b *testing.B) {
	r := rand.New(rand.NewPCG(7, 8))
	const corpus = 10000
	texts := make([]string, corpus)
	for i := range texts {
		texts[i] = randomText(r, 500)
	}
	var d *dedup.Index
	i := 0
	for b.Loop() {
		if i%corpus == 0 {
			d = dedup.New(0.7)
		}
		text := texts[i%corpus]
		if _, _, isDup := d.Check(text); isDup {
			b.Fatalf("unrelated text %d called a duplicate", i)
		}
		d.Add(i, text)
		i++
	}
}

// BenchmarkIndexCheckAndAdd is the same workload through CheckAndAdd,
// which computes the signature once.
func BenchmarkIndexCheckAndAdd(b *testing.B) {
	r := rand.New(rand.NewPCG(7, 8))
	const corpus = 10000
	texts := make([]string, corpus)
	for i := range texts {
		texts[i] = randomText(r, 500)
	}
	var d *dedup.Index
	i := 0
	for b.Loop() {
		if i%corpus == 0 {
			d = dedup.New(0.7)
		}
		if _, _, isDup := d.CheckAndAdd(i, texts[i%corpus]); isDup {
			b.Fatalf("unrelated text %d called a duplicate", i)
		}
		i++
	}
}

// Texts that share every band (here: the same text under several ids) are
// held together, and removing and renaming them keeps the rest findable,
// down to the last one and past it.
func TestIndexSharedBands(t *testing.T) {
	t.Parallel()
	const text = "the quarterly budget review moved to thursday because the finance team needs the audited figures first"
	d := dedup.New(0)
	for id := 1; id <= 3; id++ {
		d.Add(id, text)
	}
	d.Add(10, "a completely different note about the office kitchen rota and who cleans the fridge on fridays")
	if got, _, dup := d.Check(text); !dup || got != 1 {
		t.Fatalf("three copies: Check = %d, dup %v; want 1 (the oldest)", got, dup)
	}
	d.Remove(1)
	if got, _, dup := d.Check(text); !dup || got != 2 {
		t.Fatalf("after removing 1: Check = %d, dup %v; want 2", got, dup)
	}
	d.Rename(2, 7)
	d.Remove(3)
	if got, _, dup := d.Check(text); !dup || got != 7 {
		t.Fatalf("one copy left, renamed to 7: Check = %d, dup %v; want 7", got, dup)
	}
	d.Add(8, text)
	d.Remove(7)
	if got, _, dup := d.Check(text); !dup || got != 8 {
		t.Fatalf("copy 8 after 7 was removed: Check = %d, dup %v; want 8", got, dup)
	}
	d.Remove(8)
	if got, _, dup := d.Check(text); dup || got == 8 {
		t.Fatalf("every copy removed: Check = %d, dup %v; want no duplicate", got, dup)
	}
	if d.Len() != 1 {
		t.Fatalf("Len = %d, want 1 (the other note)", d.Len())
	}
}

// Many copies of one text (a file of repeated lines) are all candidates of
// a check; the oldest still wins, and each copy is counted once.
func TestIndexManyCopies(t *testing.T) {
	t.Parallel()
	const text = "please summarise the attached incident report for the weekly operations meeting on monday"
	d := dedup.New(0)
	for id := 1; id <= 100; id++ {
		d.Add(id, text)
	}
	if got, sim, dup := d.Check(text); !dup || got != 1 || sim != 1 {
		t.Fatalf("100 copies: Check = %d, %v, dup %v; want 1, 1, true", got, sim, dup)
	}
	for id := 1; id <= 60; id++ {
		d.Remove(id)
	}
	if got, _, dup := d.Check(text); !dup || got != 61 || d.Len() != 40 {
		t.Fatalf("60 removed: Check = %d, dup %v, Len %d; want 61, true, 40", got, dup, d.Len())
	}
}

// BenchmarkIndexCheckSimilar checks a text against an index of 200 texts
// that share much of it, as generated documents built on one template
// do: every check has many candidates to compare.
func BenchmarkIndexCheckSimilar(b *testing.B) {
	r := rand.New(rand.NewPCG(9, 10))
	base := strings.Fields(randomText(r, 500))
	d := dedup.New(0.95)
	for id := 1; id <= 200; id++ {
		words := append([]string(nil), base...)
		for i := id % 40; i < len(words); i += 40 {
			words[i] = fmt.Sprintf("v%d", r.IntN(5000))
		}
		d.Add(id, strings.Join(words, " "))
	}
	text := lightlyEdit(strings.Join(base, " "))
	for b.Loop() {
		d.Check(text)
	}
}
