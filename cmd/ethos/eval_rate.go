package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/eval/stats"
)

// EvalRateCommand rates models from a file of battles.
type EvalRateCommand struct{ m *Main }

const evalRateSynopsis = `eval rate FILE [--method elo|bt|winrate|all] [--init 1000] [--k 4] [--scale 400]
       [--ties half|skip] [--bootstrap N] [--seed S] [--trait NAME] [--anchor MODEL=RATING] [--json]

Rates models from a battles file: CSV with a header naming left, right and winner
(winner is left, right or tie; other columns are ignored), or ethos's judgment export
(JSON Lines of judgments; the answer shown first is "left"). FILE "-" reads stdin.

Methods:
  elo      online Elo over the battles in file order (FastChat's rule); its interval is
           a bootstrap that reruns Elo over resampled battles in resampled order
  bt       Bradley–Terry maximum likelihood (a tie is half a win and half a loss); rating
           is Scale·log10(strength), centred so that the mean is --init (or --anchor)
  winrate  each model's share of points over its battles, a tie ½, with the Wilson 95%
           interval
  all      all three

--ties skip drops tied battles before rating, for every method; W/L/T always count
every battle. Intervals are 95%; elo and bt have none with --bootstrap 0.

--json prints {"method", "battles", "bootstrap", "seed", "ratings": [{"model", "rating",
"ci_low", "ci_high", "wins", "losses", "ties"}]} (bt adds "strength"; ci_low and ci_high
are null without an interval). With --method all it prints a JSON array of three such
objects, in the order elo, bt, winrate.

With --method all, a method that fails (Bradley–Terry has no finite rating when a model
wins or loses every battle) does not hide the others: their ratings are printed, the
failure is reported (--json: an object with "error" and no ratings) and the exit is 1.`

// rateResult is one method's ratings, as --json prints them.
type rateResult = stats.MethodRatings

// Run reads the battles, rates them and prints the ratings.
func (c *EvalRateCommand) Run(ctx context.Context, args []string) error {
	flags := c.m.newFlagSet("eval rate", evalRateSynopsis)
	method := flags.String("method", "bt", "rating `method`: elo, bt, winrate or all")
	init := flags.Float64("init", 1000, "Elo's starting `rating`, and the mean Bradley–Terry rating")
	k := flags.Float64("k", 4, "Elo's update step `K`")
	scale := flags.Float64("scale", 400, "rating `points` for odds of 10:1 (Elo and Bradley–Terry)")
	ties := flags.String("ties", "half", "what a tie counts: `half` to each side, or skip")
	rounds := flags.Int("bootstrap", 1000, "`rounds` of the percentile bootstrap over battles for elo and bt intervals (0: none)")
	seed := flags.Uint64("seed", 1, "the bootstrap's `seed`")
	trait := flags.String("trait", "", "with a judgment export, rate the judgments of this `trait` only")
	anchor := flags.String("anchor", "", "fix a Bradley–Terry rating, `MODEL=RATING`, instead of centring the mean")
	asJSON := flags.Bool("json", false, "print JSON")
	rest, err := parseFlags(flags, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usageErrorf("eval rate takes one battles file, got %d arguments", len(rest))
	}
	methods := []string{*method}
	switch *method {
	case "elo", "bt", "winrate":
	case "all":
		methods = []string{"elo", "bt", "winrate"}
	default:
		return usageErrorf("--method %q: want elo, bt, winrate or all", *method)
	}
	if *ties != string(stats.TiesHalf) && *ties != string(stats.TiesSkip) {
		return usageErrorf("--ties %q: want half or skip", *ties)
	}
	if *k <= 0 || *scale <= 0 || *rounds < 0 {
		return usageErrorf("--k and --scale must be positive and --bootstrap at least 0")
	}
	bt := stats.BTOptions{Scale: *scale, Centre: *init}
	if *anchor != "" {
		name, value, ok := strings.Cut(*anchor, "=")
		r, err := strconv.ParseFloat(value, 64)
		if !ok || name == "" || err != nil {
			return usageErrorf("--anchor %q: want MODEL=RATING, e.g. base=1000", *anchor)
		}
		bt.Anchor, bt.AnchorRating = name, r
	}

	battles, skipped, err := c.readBattles(rest[0], *trait)
	if err != nil {
		return err
	}
	if skipped > 0 {
		fmt.Fprintf(c.m.Stderr, "eval rate: %d judgments without a verdict (parse failures, failed calls) are not battles and were left out\n", skipped)
	}
	full := stats.NewTable(battles)
	rated := full
	if *ties == string(stats.TiesSkip) {
		rated = full.WithoutTies()
		if rated.Len() == 0 {
			return ethos.Errorf(ethos.Invalid, "%s: every battle is a tie; with --ties skip nothing is left to rate", rest[0])
		}
	}
	r := stats.Rater{Full: full, Rated: rated, Bootstrap: stats.Bootstrap{Rounds: *rounds, Seed: *seed}, BT: bt,
		Elo: stats.EloOptions{Init: *init, K: *k, Scale: *scale, Ties: stats.TieRule(*ties)}}
	var results []rateResult
	var failed []string
	for _, m := range methods {
		res, err := r.Rate(m)
		if err != nil {
			if len(methods) == 1 {
				return err
			}
			// The other methods' ratings are still worth printing.
			res = rateResult{Method: m, Battles: rated.Len(), Bootstrap: *rounds, Seed: *seed, Error: err.Error()}
			failed = append(failed, m+" failed: "+err.Error())
		}
		results = append(results, res)
	}
	if *asJSON {
		enc := json.NewEncoder(c.m.Stdout)
		enc.SetIndent("", "  ")
		var err error
		if *method == "all" {
			err = enc.Encode(results)
		} else {
			err = enc.Encode(results[0])
		}
		if err != nil {
			return err
		}
	} else {
		printed := 0
		for _, res := range results {
			if res.Error != "" {
				continue
			}
			if printed > 0 {
				fmt.Fprintln(c.m.Stdout)
			}
			c.printRatings(res, len(full.Models))
			printed++
		}
	}
	if len(failed) > 0 {
		return ethos.Errorf(ethos.Invalid, "eval rate: %d of %d methods failed (the others' ratings are printed): %s",
			len(failed), len(methods), strings.Join(failed, "; "))
	}
	return nil
}

// readBattles reads the battles file, or stdin for "-".
func (c *EvalRateCommand) readBattles(path, trait string) ([]stats.Battle, int, error) {
	var r io.Reader = c.m.Stdin
	name := "stdin"
	if path != "-" {
		f, err := os.Open(c.m.abs(path))
		if err != nil {
			return nil, 0, ethos.Errorf(ethos.Invalid, "battles file: %w", err)
		}
		defer f.Close()
		r, name = f, path
	}
	return stats.ReadBattles(r, name, trait)
}

func (c *EvalRateCommand) printRatings(res rateResult, models int) {
	what := map[string]string{
		"elo":     "online Elo in file order",
		"bt":      "Bradley–Terry maximum likelihood, on the Elo scale",
		"winrate": "win rate, a tie counting ½; Wilson 95% interval",
	}[res.Method]
	fmt.Fprintf(c.m.Stdout, "%s: %s — %d battles, %d models", res.Method, what, res.Battles, models)
	if res.Method != "winrate" && res.Bootstrap > 0 {
		fmt.Fprintf(c.m.Stdout, "; 95%% interval from %d bootstrap rounds (seed %d)", res.Bootstrap, res.Seed)
	}
	fmt.Fprintln(c.m.Stdout)
	if res.Dropped > 0 {
		fmt.Fprintf(c.m.Stdout, "(%d bootstrap rounds had no finite estimate and were left out; the intervals are somewhat too narrow)\n", res.Dropped)
	}
	w := tabwriter.NewWriter(c.m.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "#\tMODEL\tRATING\t95% CI\tW\tL\tT\t")
	format := "%.1f"
	if res.Method == "winrate" {
		format = "%.4f"
	}
	for i, r := range res.Ratings {
		interval := "—"
		if r.CILow != nil {
			interval = fmt.Sprintf(format+"–"+format, *r.CILow, *r.CIHigh)
		}
		fmt.Fprintf(w, "%d\t%s\t"+format+"\t%s\t%d\t%d\t%d\t\n", i+1, r.Model, r.Rating, interval, r.Wins, r.Losses, r.Ties)
	}
	w.Flush()
}
