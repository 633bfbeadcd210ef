package report

import (
	"fmt"
	"io"
)

// WritePairResults writes one line per trait of a pair of models, as the
// ethos commands summarise a run: the score with its bootstrap interval,
// wins, losses and ties, the Holm-adjusted p-value and the verdict.
func WritePairResults(w io.Writer, results []PairResult) {
	for _, r := range results {
		score, ci := "n/a", ""
		if r.Score != nil {
			score = fmt.Sprintf("%.3f", *r.Score)
		}
		if r.Bootstrap != nil {
			ci = fmt.Sprintf("[%.3f, %.3f]", r.Bootstrap.Low, r.Bootstrap.High)
		}
		fmt.Fprintf(w, "  %-22s %s %-16s W/L/T %d/%d/%d  p(Holm) %.3g  %s\n", r.Trait, score, ci, r.Wins, r.Losses, r.Ties, r.PHolm, r.Verdict)
	}
}
