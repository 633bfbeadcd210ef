package ethos_test

import (
	"testing"

	"github.com/ethos-toolkit/ethos"
)

func TestReasonClass(t *testing.T) {
	t.Parallel()
	for reason, want := range map[string]string{
		"near-duplicate: of document #12 (similarity 0.91)": "near-duplicate",
		"chatter: meta-chatter at the end":                  "chatter",
		"rate_limited (after 3 attempts)":                   "rate_limited",
		"":                                                  "unknown",
		"the model said something long without any separator here": "the model said something",
	} {
		if got := ethos.ReasonClass(reason); got != want {
			t.Errorf("ethos.ReasonClass(%q) = %q, want %q", reason, got, want)
		}
	}
}
