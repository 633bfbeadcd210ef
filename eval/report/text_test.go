package report

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestWritePairResults(t *testing.T) {
	t.Parallel()
	score := 0.625
	results := []PairResult{
		{Trait: "overall", Score: &score, Bootstrap: &Interval{Low: 0.5, High: 0.75}, Wins: 10, Losses: 5, Ties: 2, PHolm: 0.0123, Verdict: "better"},
		{Trait: "collaborative", PHolm: 1, Verdict: "insufficient data"},
	}
	var b strings.Builder
	WritePairResults(&b, results)
	want := "  overall                0.625 [0.500, 0.750]   W/L/T 10/5/2  p(Holm) 0.0123  better\n" +
		"  collaborative          n/a                  W/L/T 0/0/0  p(Holm) 1  insufficient data\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("WritePairResults (-want +got):\n%s", diff)
	}
}
