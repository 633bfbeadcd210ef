package main

import (
	"context"
	"errors"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/eval"
	"github.com/ethos-toolkit/ethos/jobs"
	"github.com/ethos-toolkit/ethos/pipeline"
	"github.com/ethos-toolkit/ethos/project"
)

// EvalRunCommand answers held-out prompts with each model and has the
// judge compare every pair, per trait and overall, in both orders.
type EvalRunCommand struct{ m *Main }

const evalRunSynopsis = `eval run [--models NAME=PROVIDER/MODEL,…] [--judge PROVIDER/MODEL]
       [--prompts N | --prompts-file FILE] [--traits all|T1,T2] [--system-prompt with|without]
       [--samples K] [--max-tokens N] [--training-file F,…] [--pointwise] [--seed S] [--workers N] [--no-work] [--max-cost USD]
       [--batch|--online] [--resume EVAL_ID] [--json] [--config FILE] [--db PATH]

Builds a held-out prompt set — written by the idea and document stages with
another seed, or read from --prompts-file — and refuses every prompt that occurs
in the training data (the same text, or a near-duplicate). Each model answers each
prompt; the judge compares every pair of answers on every trait and overall, in
both orders, without knowing which model wrote which. Replies the judge does not
write in the asked format are asked for again, then recorded as parse failures.
Running the same command again continues the same evaluation; nothing already
answered or judged is asked for again. An evaluation whose answers or judgments
failed at the provider on every attempt (5xx, timeouts, 429s that never cleared)
ends incomplete, with exit 1 and the failures counted by error kind; running the
same command again retries exactly those.

--models defaults to the newest model of the registry against its base model
(base=PROVIDER/BASE,tuned=PROVIDER/MODEL). --prompts-file is JSON Lines (one
object a line with "prompt" or "text", optionally "category") or plain text (one
prompt a line, "#" lines are comments); "-" reads stdin, and prompts from a pipe
are kept beside the store. A file with no prompt is refused. --training-file defaults to the datasets
of the models compared (from the registry) and generate.output when it exists.

"ethos eval report" renders the statistics.`

// Run parses the flags, resolves the settings and runs the evaluation.
func (c *EvalRunCommand) Run(ctx context.Context, args []string) error {
	flags, pf := c.m.projectFlagSet("eval run", evalRunSynopsis)
	var in pipeline.EvalInputs
	in.RegisterFlags(flags)
	workers := flags.Int("workers", jobs.DefaultWorkers, "the most tasks held at once, waiting for the rate limiter or a model; the limiter sets the pace")
	maxCost := flags.Float64("max-cost", 0, "stop before this evaluation could spend more than this many `USD`")
	noWork := flags.Bool("no-work", false, "on a PostgreSQL store: enqueue and follow the evaluation while ethos worker processes make its calls")
	resume := flags.String("resume", "", "continue the evaluation with this `ID` (running the same command again does this too)")
	asJSON := flags.Bool("json", false, "print the summary as JSON")
	batch := flags.Bool("batch", false, "send the answers' and the judge's calls through the providers' batch APIs, at their batch price")
	online := flags.Bool("online", false, "send every call online (overrides eval.answer_mode and eval.judge_mode)")
	if err := parseNoArgs(flags, args); err != nil {
		return err
	}
	var err error
	if in.Mode, err = modeFlag(*batch, *online); err != nil {
		return err
	}
	if *workers < 1 || *maxCost < 0 || in.Prompts < 0 || in.Samples < 0 || in.MaxTokens < 0 {
		return usageErrorf("eval run: --workers must be at least 1; --prompts, --samples, --max-tokens and --max-cost must not be negative")
	}

	p, err := c.m.openProject(ctx, flags, *pf)
	if err != nil {
		return err
	}
	defer p.Close()
	if err := p.CheckNoWork("eval run", *noWork, *maxCost); err != nil {
		return err
	}

	var settings eval.Settings
	if *resume != "" {
		err = p.ResumeSettings(ctx, *resume, ethos.RunKindEval, &settings)
	} else {
		settings, err = c.m.evalSettings(ctx, p, in)
	}
	if err != nil {
		return err
	}

	sum, err := pipeline.Evaluate(ctx, c.m.deps(p), settings, pipeline.EvalOptions{Workers: *workers, MaxCost: *maxCost, NoWork: *noWork})
	var incomplete *eval.Incomplete
	if err != nil && !errors.As(err, &incomplete) {
		return err
	}
	// An incomplete evaluation has its summary printed too, then fails
	// with what is missing.
	if *asJSON {
		if jerr := writeJSON(c.m.Stdout, sum); jerr != nil {
			return jerr
		}
	} else {
		eval.WriteSummary(c.m.Stdout, sum)
	}
	return err
}

// evalSettings resolves an evaluation's settings from the config and the
// flags (see pipeline.EvalSettings): the files named on the command line
// are found here, the prompts of a pipe kept beside the store.
func (m *Main) evalSettings(ctx context.Context, p *project.Project, in pipeline.EvalInputs) (eval.Settings, error) {
	if in.PromptsFile != "" {
		file, err := p.PromptsFile(in.PromptsFile, m.Stdin)
		if err != nil {
			return eval.Settings{}, err
		}
		in.PromptsFile = file
	}
	for i, f := range in.TrainingFiles {
		in.TrainingFiles[i] = m.abs(f)
	}
	return p.EvalSettings(ctx, in)
}
