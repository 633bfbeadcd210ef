package main

import (
	"context"
	"fmt"
	"os"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/eval/report"
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

// Run reads the battles, rates them and prints the ratings.
func (c *EvalRateCommand) Run(ctx context.Context, args []string) error {
	flags := c.m.newFlagSet("eval rate", evalRateSynopsis)
	method := flags.String("method", "bt", "rating `method`: elo, bt, winrate or all")
	var rater stats.Rater
	rater.RegisterFlags(flags)
	trait := flags.String("trait", "", "with a judgment export, rate the judgments of this `trait` only")
	asJSON := flags.Bool("json", false, "print JSON")
	rest, err := parseFlags(flags, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usageErrorf("eval rate takes one battles file, got %d arguments", len(rest))
	}
	methods, ok := stats.MethodsOf(*method)
	if !ok {
		return usageErrorf("--method %q: want elo, bt, winrate or all", *method)
	}
	if err := rater.Check(); err != nil {
		return err
	}

	var battles []stats.Battle
	var skipped int
	if rest[0] == "-" {
		battles, skipped, err = stats.ReadBattles(c.m.Stdin, "stdin", *trait)
	} else {
		f, ferr := os.Open(c.m.abs(rest[0]))
		if ferr != nil {
			return ethos.Errorf(ethos.Invalid, "battles file: %w", ferr)
		}
		defer f.Close()
		battles, skipped, err = stats.ReadBattles(f, c.m.abs(rest[0]), *trait)
	}
	if err != nil {
		return err
	}
	if skipped > 0 {
		fmt.Fprintf(c.m.Stderr, "eval rate: %d judgments without a verdict (parse failures, failed calls) are not battles and were left out\n", skipped)
	}
	r, err := rater.Over(battles)
	if err != nil {
		return ethos.Errorf(ethos.Invalid, "%s: %w", rest[0], err)
	}
	results, rateErr := r.RateEach(methods)
	if results == nil {
		return rateErr
	}
	if *asJSON {
		var v any = results
		if *method != "all" {
			v = results[0]
		}
		if err := writeJSON(c.m.Stdout, v); err != nil {
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
			report.WriteRatings(c.m.Stdout, res)
			printed++
		}
	}
	if rateErr != nil {
		return ethos.Errorf(ethos.Invalid, "eval rate: %w (the others' ratings are printed)", rateErr)
	}
	return nil
}
