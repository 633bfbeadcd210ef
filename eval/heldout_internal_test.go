package eval

import (
	"strings"
	"testing"

	"github.com/ethos-toolkit/ethos"
	"github.com/google/go-cmp/cmp"
)

const bakery = "Hi, I run a small bakery in Leeds with four staff, and our oven broke last week. " +
	"The repair quote is nine hundred pounds and a new oven is three thousand. Sales have been flat since spring " +
	"and I am not sure whether to borrow the money or close for a fortnight while I save. " +
	"What would you weigh first, and how would you decide?"

// TestScreenRefusesTrainingAndRepeats: a held-out candidate that is in the
// training data, exactly or nearly, or repeats an earlier candidate, is
// refused with the reason; the rest are kept in order.
func TestScreenRefusesTrainingAndRepeats(t *testing.T) {
	t.Parallel()
	training := NewTraining(0.7)
	training.Add(bakery, "train.jsonl:3")
	cands := []Candidate{
		{Text: "How do I tell my team the project is late?", Origin: "c1"},
		{Text: strings.ToUpper(bakery), Origin: "c2"},
		{Text: strings.Replace(bakery, "four staff", "three staff", 1), Origin: "c3"},
		{Text: "My sister keeps borrowing money and never pays it back. What should I say?", Origin: "c4"},
		{Text: "how do I tell my team  the project is late?", Origin: "c5"},
	}
	kept, refused := screen(cands, training, 0.7)
	if diff := cmp.Diff([]string{"c1", "c4"}, origins(kept)); diff != "" {
		t.Errorf("kept (-want +got):\n%s", diff)
	}
	want := map[string]string{
		"c2": "in the training data: same text as the user turn at train.jsonl:3",
		"c3": "in the training data: near-duplicate (similarity",
		"c5": "repeats another held-out prompt: same text as the prompt at c1",
	}
	if len(refused) != len(want) {
		t.Fatalf("refused %d, want %d: %+v", len(refused), len(want), refused)
	}
	for _, r := range refused {
		if !strings.HasPrefix(r.reason, want[r.Origin]) {
			t.Errorf("%s refused for %q, want %q", r.Origin, r.reason, want[r.Origin])
		}
	}
}

func origins(cs []Candidate) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Origin)
	}
	return out
}

func TestChooseByCategory(t *testing.T) {
	t.Parallel()
	ch := ethos.Character{Categories: []ethos.Category{{Name: "a"}, {Name: "b"}, {Name: "c"}}}
	cands := []Candidate{
		{Category: "a", Origin: "1"}, {Category: "a", Origin: "2"}, {Category: "a", Origin: "3"},
		{Category: "b", Origin: "4"}, {Category: "a", Origin: "5"}, {Category: "b", Origin: "6"},
	}
	// Quotas for 4: a 2, b 1, c 1. c has none, so the earliest other
	// candidate fills its place; order is kept.
	if diff := cmp.Diff([]string{"1", "2", "3", "4"}, origins(chooseByCategory(cands, ch, 4, nil))); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// Quotas for 3: one each; a's first, b's first, then the earliest left.
	if diff := cmp.Diff([]string{"1", "2", "4"}, origins(chooseByCategory(cands, ch, 3, nil))); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got := chooseByCategory(cands[:2], ch, 4, nil); len(got) != 2 {
		t.Errorf("short supply: %d chosen, want all 2", len(got))
	}
}
