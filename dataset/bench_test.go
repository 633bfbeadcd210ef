package dataset_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ethos-toolkit/ethos/dataset"
)

// benchData is a dataset shaped like one ethos generates: a system prompt
// of about 1,500 bytes, a document of about 5,000 and a reply of about
// 2,000, in distinct words.
func benchData(examples int) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	vocab := strings.Fields(`the a of to and in that is for it with as on be this are by at from or have an
		they which one you were her all she there would their we him been has when who will more no if out so said
		what up its about into than them can only other new some could time these two may then do first any my now
		such like our over man me even most made after also did many before must through back years where much your
		way well down should because each just those people how too little state good very make world still own see
		men work long get here between both life being under never day same another know while last might us great
		old year off come since against go came right used take three budget proposal meeting team project deadline`)
	words := func(n int) string {
		w := make([]string, n)
		for i := range w {
			w[i] = vocab[rng.IntN(len(vocab))]
		}
		return strings.Join(w, " ")
	}
	sys := words(250)
	var b bytes.Buffer
	for range examples {
		fmt.Fprintf(&b, `{"messages":[{"role":"system","content":%q},{"role":"user","content":%q},{"role":"assistant","content":%q}]}`+"\n",
			sys, words(900)+" What do you think?", words(350))
	}
	return b.Bytes()
}

// BenchmarkCheck reports the checker's throughput on generated-shaped
// data, every rule and the duplicate search included.
func BenchmarkCheck(b *testing.B) {
	data := benchData(500)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		rep, err := dataset.Check(b.Context(), bytes.NewReader(data), "bench.jsonl", dataset.Options{})
		if err != nil || rep.Examples != 500 {
			b.Fatal(err, rep.Examples)
		}
	}
}

func BenchmarkStats(b *testing.B) {
	data := benchData(500)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := dataset.ReadStats(b.Context(), bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}
