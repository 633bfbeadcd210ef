package main

import (
	"context"
	"fmt"
	"io"

	"github.com/ethos-toolkit/ethos"
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
	return dispatch(ctx, c.m, "dataset", c.usage, []subcommand{
		{name: "check", run: c.check}, {name: "stats", run: c.stats}, {name: "split", run: c.split},
	}, args)
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

func (c *DatasetCommand) check(ctx context.Context, args []string) error {
	flags, pf := c.m.projectFlagSet("dataset check", datasetCheckSynopsis)
	provider := flags.String("provider", "", "check as this `provider` will: together, openai or sandbox (default: finetune.provider in the config)")
	method := flags.String("method", ethos.FineTuneSFT, "the training `method` the file is for: sft (conversations), dpo (preference pairs), or auto (what the file holds)")
	asJSON := flags.Bool("json", false, "print the report as JSON")
	rest, err := parseFlags(flags, args)
	if err != nil {
		return err
	}
	checkAs, ok := dataset.MethodForTraining(*method)
	if !ok {
		return usageErrorf("dataset check: unknown --method %q; want sft, dpo or auto", *method)
	}
	file, err := datasetFile("check", rest)
	if err != nil {
		return err
	}
	if *provider == "" {
		cfg, _, _, err := c.m.loadConfig(*pf, isSet(flags, "config"))
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
	rep, err := dataset.CheckFileWith(ctx, c.m.abs(file), dataset.Options{Provider: *provider, Method: checkAs})
	if err != nil {
		return err
	}
	rep.Path = file
	if *asJSON {
		if err := writeJSON(c.m.Stdout, rep); err != nil {
			return err
		}
	} else {
		dataset.WriteReport(c.m.Stdout, rep)
	}
	if rep.Errors() > 0 {
		return errSilent
	}
	return nil
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
		return writeJSON(c.m.Stdout, st)
	}
	dataset.WriteStats(c.m.Stdout, st)
	return nil
}

func (c *DatasetCommand) split(ctx context.Context, args []string) error {
	flags, pf := c.m.projectFlagSet("dataset split", datasetSplitSynopsis)
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
		cfg, _, _, err := c.m.loadConfig(*pf, isSet(flags, "config"))
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
		return writeJSON(c.m.Stdout, res)
	}
	dataset.WriteSplit(c.m.Stdout, file, res)
	return nil
}
