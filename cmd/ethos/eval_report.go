package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/eval/report"
)

// EvalReportCommand writes the report of an evaluation.
type EvalReportCommand struct{ m *Main }

const evalReportSynopsis = `eval report [EVAL_ID] [--format md|html|json] [--output FILE] [--force]
       [--bootstrap N] [--seed S] [--examples N] [--config FILE] [--db PATH]

Writes the statistics of an evaluation (the latest one if no EVAL_ID is given):
per trait and pair of models W/L/T, the score with bootstrap and Wilson 95%
intervals, the exact sign test with Holm's correction and a plain-language verdict;
the judge's position consistency, first-position preference, parse failures and
length difference; Bradley–Terry ratings for three or more models; the legacy
sequential Elo; sample prompts with the judge's reasons.

Without --output the report goes to stdout. With --output the format follows the
file's extension (.md, .html, .json) unless --format says otherwise; the file is
written atomically. A report is derived from the store, so an earlier ethos report at
that path is replaced; any other existing file is kept unless --force is given.`

// Run loads the evaluation from the store, builds its report and writes it.
func (c *EvalReportCommand) Run(ctx context.Context, args []string) error {
	flags, pf := c.m.projectFlagSet("eval report", evalReportSynopsis)
	format := flags.String("format", "", "`md`, html or json (default: from --output's extension, else md)")
	output := flags.String("output", "", "write the report to `FILE` instead of stdout")
	force := flags.Bool("force", false, "replace --output even if it is not an earlier ethos report")
	rounds := flags.Int("bootstrap", 1000, "`rounds` of the bootstrap over prompts")
	seed := flags.Uint64("seed", 1, "the bootstrap's `seed`")
	examples := flags.Int("examples", 3, "sample prompts shown per pair of models (`N`; 0 for none)")
	rest, err := parseFlags(flags, args)
	if err != nil {
		return err
	}
	if len(rest) > 1 {
		return usageErrorf("eval report takes at most one eval ID, got %q", rest)
	}
	if *rounds < 1 {
		return usageErrorf("--bootstrap must be at least 1")
	}
	f, err := report.ResolveFormat(*format, *output)
	if err != nil {
		return err
	}
	p, err := c.m.openProject(ctx, flags, *pf)
	if err != nil {
		return err
	}
	defer p.Close()
	id := ""
	if len(rest) == 1 {
		id = rest[0]
	}
	opts := report.Options{Rounds: *rounds, Seed: *seed, Examples: *examples, Now: time.Now()}
	if *examples == 0 {
		opts.Examples = -1
	}
	r, err := report.Load(ctx, p.Store(), id, report.LoadOptions{Options: opts, Cost: p.Pricer().Cost, Where: p.StoreName()})
	if err != nil {
		return err
	}
	if *output == "" {
		return report.Render(c.m.Stdout, r, f)
	}
	err = report.WriteFile(c.m.abs(*output), r, f, *force)
	if errors.Is(err, report.ErrNotReport) {
		return ethos.Errorf(ethos.Conflict, "%w; choose another --output or pass --force to replace it", err)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(c.m.Stdout, "wrote %s (%s report of %s)\n", *output, f, r.EvalID)
	return nil
}
