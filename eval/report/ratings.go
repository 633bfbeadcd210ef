package report

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/ethos-toolkit/ethos/eval/stats"
)

// ratingMethods says in words what each rating method computed.
var ratingMethods = map[string]string{
	stats.MethodElo:     "online Elo in file order",
	stats.MethodBT:      "Bradley–Terry maximum likelihood, on the Elo scale",
	stats.MethodWinRate: "win rate, a tie counting ½; Wilson 95% interval",
}

// WriteRatings writes one method's ratings as a text table, best first:
// a line saying what was rated and how, then rank, model, rating, 95%
// interval (— without one) and the model's wins, losses and ties.
func WriteRatings(w io.Writer, res stats.MethodRatings) error {
	fmt.Fprintf(w, "%s: %s — %d battles, %d models", res.Method, ratingMethods[res.Method], res.Battles, len(res.Ratings))
	if res.Method != stats.MethodWinRate && res.Bootstrap > 0 {
		fmt.Fprintf(w, "; 95%% interval from %d bootstrap rounds (seed %d)", res.Bootstrap, res.Seed)
	}
	fmt.Fprintln(w)
	if res.Dropped > 0 {
		fmt.Fprintf(w, "(%d bootstrap rounds had no finite estimate and were left out; the intervals are somewhat too narrow)\n", res.Dropped)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "#\tMODEL\tRATING\t95% CI\tW\tL\tT\t")
	format := "%.1f"
	if res.Method == stats.MethodWinRate {
		format = "%.4f"
	}
	for i, r := range res.Ratings {
		interval := "—"
		if r.CILow != nil {
			interval = fmt.Sprintf(format+"–"+format, *r.CILow, *r.CIHigh)
		}
		fmt.Fprintf(tw, "%d\t%s\t"+format+"\t%s\t%d\t%d\t%d\t\n", i+1, r.Model, r.Rating, interval, r.Wins, r.Losses, r.Ties)
	}
	return tw.Flush()
}
