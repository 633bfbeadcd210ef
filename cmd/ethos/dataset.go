package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/config"
	"github.com/ethos-toolkit/ethos/dataset"
)

// DatasetCommand checks, summarises and splits training files.
type DatasetCommand struct{ m *Main }

// The synopses of the subcommands; datasetSynopsis is all of them.
const (
	datasetCheckSynopsis = "dataset check FILE [--provider together|openai|sandbox] [--method sft|dpo|auto] [--json] [--config FILE] [--db PATH]"
	datasetStatsSynopsis = "dataset stats FILE [--json]"
	datasetSplitSynopsis = `dataset split FILE [--validation 0.1] [--seed S] [--train-out F] [--validation-out F] [--force] [--json]
                [--config FILE] [--db PATH]`

	datasetSynopsis = datasetCheckSynopsis +
		"\n       ethos " + datasetStatsSynopsis +
		"\n       ethos " + datasetSplitSynopsis
)

// Run dispatches to the subcommand.
func (c *DatasetCommand) Run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		c.usage(c.m.Stderr)
		return usageErrorf("dataset: name a subcommand: check, stats or split")
	}
	switch args[0] {
	case "check":
		return c.check(ctx, args[1:])
	case "stats":
		return c.stats(ctx, args[1:])
	case "split":
		return c.split(ctx, args[1:])
	case "help", "-h", "-help", "--help":
		c.usage(c.m.Stderr)
		return flag.ErrHelp
	}
	c.usage(c.m.Stderr)
	return usageErrorf("dataset: unknown subcommand %q; want check, stats or split", args[0])
}

func (c *DatasetCommand) usage(w io.Writer) {
	fmt.Fprintf(w, `Usage: ethos %s

  check   validates FILE the way the provider will before upload: one line per
          problem (FILE:LINE: rule: message), then a summary; exit 1 if any
          problem is an error, 0 if there are only warnings
  stats   examples, turns, estimated tokens per role, length distribution and
          histogram, duplicates
  split   writes a training and a validation file (default FILE.train.jsonl and
          FILE.validation.jsonl beside FILE, ".jsonl" replaced)

Run "ethos dataset SUBCOMMAND --help" for its flags.
`, datasetSynopsis)
}

// datasetFile takes the one FILE argument of a subcommand.
func datasetFile(name string, rest []string) (string, error) {
	if len(rest) != 1 {
		return "", usageErrorf("dataset %s takes one FILE, got %d arguments", name, len(rest))
	}
	return rest[0], nil
}

// config loads the project's configuration for defaults, the built-in
// offline defaults when there is no ethos.yaml.
func (c *DatasetCommand) config(flags *flag.FlagSet, pf projectFlags) (*config.Config, error) {
	cfg, _, _, err := c.m.loadConfig(pf, isSet(flags, "config"))
	return cfg, err
}

func (c *DatasetCommand) check(ctx context.Context, args []string) error {
	flags := c.m.newFlagSet("dataset check", datasetCheckSynopsis)
	var pf projectFlags
	pf.register(flags)
	provider := flags.String("provider", "", "check as this `provider` will: together, openai or sandbox (default: finetune.provider in the config)")
	method := flags.String("method", ethos.FineTuneSFT, "the training `method` the file is for: sft (conversations), dpo (preference pairs), or auto (what the file holds)")
	asJSON := flags.Bool("json", false, "print the report as JSON")
	rest, err := parseFlags(flags, args)
	if err != nil {
		return err
	}
	switch *method {
	case "auto", ethos.FineTuneSFT, ethos.FineTuneDPO:
	default:
		return usageErrorf("dataset check: unknown --method %q; want sft, dpo or auto", *method)
	}
	file, err := datasetFile("check", rest)
	if err != nil {
		return err
	}
	if *provider == "" {
		cfg, err := c.config(flags, pf)
		if err != nil {
			return err
		}
		*provider = cfg.FineTune.Provider
	}
	switch *provider {
	case "together", "openai", "sandbox":
	default:
		return usageErrorf("dataset check: unknown --provider %q; want together, openai or sandbox", *provider)
	}
	opts := dataset.Options{Provider: *provider, Method: dataset.MethodSFT}
	if *method == ethos.FineTuneDPO {
		opts.Method = dataset.MethodPreference
	}
	rep, err := dataset.CheckFileWith(ctx, c.m.abs(file), opts)
	if err == nil && *method == "auto" && rep.Method() == dataset.MethodPreference {
		// A file of preference pairs is checked as a DPO job takes it.
		opts.Method = dataset.MethodPreference
		rep, err = dataset.CheckFileWith(ctx, c.m.abs(file), opts)
	}
	if err != nil {
		return err
	}
	rep.Path = file
	if *asJSON {
		enc := json.NewEncoder(c.m.Stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printReport(c.m.Stdout, rep)
	}
	if rep.Errors() > 0 {
		return errSilent
	}
	return nil
}

// printReport writes one line per problem, FILE:LINE: rule: message, and a
// summary.
func printReport(w io.Writer, rep *dataset.Report) {
	for _, p := range rep.Problems {
		where := rep.Path
		if p.Line > 0 {
			where = fmt.Sprintf("%s:%d", rep.Path, p.Line)
		}
		suffix := ""
		if p.Severity == dataset.SeverityWarning {
			suffix = " (warning)"
		}
		fmt.Fprintf(w, "%s: %s: %s%s\n", where, p.Rule, p.Message, suffix)
	}
	if rep.Omitted > 0 {
		fmt.Fprintf(w, "%s: %d more problems not listed (at most %d a rule); --json has the counts per rule\n", rep.Path, rep.Omitted, dataset.MaxListed)
	}
	format := rep.Format
	if format == "" {
		format = "unknown"
	}
	errs, warns := rep.Errors(), rep.Warnings()
	if errs == 0 {
		fmt.Fprintf(w, "%s: ok for %s: %s, %s format, %s\n", rep.Path, rep.Provider, plural(rep.Examples, "example"), format, plural(warns, "warning"))
		return
	}
	fmt.Fprintf(w, "%s: %s would refuse this file: %s, %s in %s (%s format)\n", rep.Path, rep.Provider, plural(errs, "error"), plural(warns, "warning"), plural(rep.Examples, "example"), format)
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func (c *DatasetCommand) stats(ctx context.Context, args []string) error {
	flags := c.m.newFlagSet("dataset stats", datasetStatsSynopsis)
	asJSON := flags.Bool("json", false, "print the statistics as JSON")
	rest, err := parseFlags(flags, args)
	if err != nil {
		return err
	}
	file, err := datasetFile("stats", rest)
	if err != nil {
		return err
	}
	st, err := dataset.StatsFile(ctx, c.m.abs(file))
	if err != nil {
		return err
	}
	st.Path = file
	if *asJSON {
		enc := json.NewEncoder(c.m.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	printStats(c.m.Stdout, st)
	return nil
}

// printPreferenceStats prints what a preference file's pairs hold: the
// tokens of each part, and how far the sides of a pair differ.
func printPreferenceStats(w io.Writer, pr *dataset.PreferenceStats) {
	fmt.Fprintf(w, "\npreference pairs: %d (%d with identical sides, %d nearly identical)\n", pr.Pairs, pr.Identical, pr.NearIdentical)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOKENS PER PAIR\tMIN\tP50\tP90\tMAX\tMEAN")
	for _, part := range []struct {
		name string
		d    dataset.Distribution
	}{{"input", pr.InputTokens}, {"preferred_output", pr.PreferredTokens}, {"non_preferred_output", pr.NonPreferredTokens}} {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%.0f\n", part.name, part.d.Min, part.d.P50, part.d.P90, part.d.Max, part.d.Mean)
	}
	tw.Flush()
	fmt.Fprintf(w, "shared opening: %.0f%% of the shorter side on average; %d pairs share at least half (DPO learns only where the sides differ)\n", 100*pr.SharedPrefix, pr.SharedPrefixHalf)
	fmt.Fprintf(w, "non-preferred side longer: %d of %d pairs\n", pr.RejectedLonger, pr.Pairs)
}

func printStats(w io.Writer, st *dataset.Stats) {
	format := st.Format
	if format == "" {
		format = "unknown"
	}
	fmt.Fprintf(w, "%s: %d examples (%s format), %d turns", st.Path, st.Examples, format, st.Turns)
	if st.Skipped > 0 {
		fmt.Fprintf(w, ", %d lines skipped (see \"ethos dataset check\")", st.Skipped)
	}
	fmt.Fprintln(w)
	if st.Examples == 0 {
		return
	}
	t := st.Tokens
	fmt.Fprintf(w, "tokens per example (estimated): min %d  p50 %d  p90 %d  max %d  mean %.0f\n", t.Min, t.P50, t.P90, t.Max, t.Mean)
	fmt.Fprintf(w, "tokens in all: %d, of which %d trained (replies)\n", st.TotalTokens, st.TrainedTokens)
	tp := st.TurnsPerExample
	fmt.Fprintf(w, "turns per example: min %d  p50 %d  max %d\n", tp.Min, tp.P50, tp.Max)
	fmt.Fprintf(w, "duplicates: %d exact, %d near\n\n", st.Duplicates, st.NearDuplicates)

	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ROLE\tMESSAGES\tTOKENS\tMEAN")
	for _, r := range st.Roles {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\n", r.Role, r.Messages, r.Tokens, r.MeanTokens)
	}
	tw.Flush()
	if pr := st.Preference; pr != nil {
		printPreferenceStats(w, pr)
	}

	fmt.Fprintln(w, "\ntokens per example:")
	most := 0
	for _, b := range st.Histogram {
		most = max(most, b.Count)
	}
	for _, b := range st.Histogram {
		bar := 0
		if most > 0 {
			bar = (b.Count*40 + most - 1) / most
		}
		fmt.Fprintf(w, "  %6d–%-6d %-40s %d\n", b.From, b.To-1, strings.Repeat("#", bar), b.Count)
	}
}

func (c *DatasetCommand) split(ctx context.Context, args []string) error {
	flags := c.m.newFlagSet("dataset split", datasetSplitSynopsis)
	var pf projectFlags
	pf.register(flags)
	validation := flags.Float64("validation", 0, "share of examples held out for validation (0.1), or a whole `number` of them, not 0 (default: finetune.validation in the config)")
	seed := flags.Int64("seed", 0, "`seed` that decides which examples are held out")
	trainOut := flags.String("train-out", "", "training output `file` (default: FILE with .train.jsonl for .jsonl)")
	valOut := flags.String("validation-out", "", "validation output `file` (default: FILE with .validation.jsonl for .jsonl)")
	force := flags.Bool("force", false, "replace existing output files")
	asJSON := flags.Bool("json", false, "print the result as JSON")
	rest, err := parseFlags(flags, args)
	if err != nil {
		return err
	}
	file, err := datasetFile("split", rest)
	if err != nil {
		return err
	}
	switch {
	case isSet(flags, "validation") && *validation == 0:
		// A split that holds nothing out is no split; it is not taken to
		// mean "the config's share" either.
		return usageErrorf("dataset split: --validation 0 holds no example out; give a share between 0 and 1 (such as 0.1) or a number of examples, or leave the flag out for finetune.validation in the config; to train without validation, use %s as it is", file)
	case *validation == 0:
		cfg, err := c.config(flags, pf)
		if err != nil {
			return err
		}
		if *validation = cfg.FineTune.Validation; *validation == 0 {
			return usageErrorf("dataset split: give --validation (such as 0.1); finetune.validation in the config is 0")
		}
	}
	train, val := dataset.SplitOutputs(file)
	if *trainOut != "" {
		train = *trainOut
	}
	if *valOut != "" {
		val = *valOut
	}
	res, err := dataset.Split(ctx, c.m.abs(file), *validation, *seed, c.m.abs(train), c.m.abs(val), *force)
	if err != nil {
		return err
	}
	res.Train, res.Validation = train, val
	if *asJSON {
		enc := json.NewEncoder(c.m.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	fmt.Fprintf(c.m.Stdout, "%s: %d examples → %s (%d training), %s (%d validation), seed %d\n",
		file, res.TrainExamples+res.ValidationExamples, res.Train, res.TrainExamples, res.Validation, res.ValidationExamples, res.Seed)
	return nil
}
