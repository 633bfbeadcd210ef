package main

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

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
	flags := c.m.newFlagSet("eval run", evalRunSynopsis)
	var pf projectFlags
	pf.register(flags)
	var in evalInputs
	flags.StringVar(&in.models, "models", "", "models compared, as `NAME=PROVIDER/MODEL,…` (default: the newest registry model and its base)")
	flags.StringVar(&in.judge, "judge", "", "the judge `model` (default: eval.judge in the config)")
	flags.IntVar(&in.prompts, "prompts", 0, "held-out prompts (`N`; default: eval.prompts, or every prompt of --prompts-file)")
	flags.StringVar(&in.promptsFile, "prompts-file", "", "read the held-out prompts from `FILE` instead of writing them")
	flags.StringVar(&in.traits, "traits", "all", "traits judged: all, or `T1,T2` (overall is always judged)")
	flags.StringVar(&in.systemPrompt, "system-prompt", "", "answer `with` or without the character's system prompt (default: eval.system_prompt)")
	flags.IntVar(&in.samples, "samples", 0, "answers per model and prompt (`K`; default: eval.samples)")
	flags.IntVar(&in.maxTokens, "max-tokens", 0, "longest answer in tokens (`N`; default: eval.max_tokens); a longer one is cut there and judged as cut")
	flags.StringVar(&in.trainingFiles, "training-file", "", "training `files` to check the prompts against, comma-separated")
	flags.BoolVar(&in.pointwise, "pointwise", false, "also score every answer 1–5 on every trait")
	flags.Int64Var(&in.seed, "seed", 0, "seed of the held-out prompts (default: generate.seed + 9973)")
	workers := flags.Int("workers", jobs.DefaultWorkers, "the most tasks held at once, waiting for the rate limiter or a model; the limiter sets the pace")
	maxCost := flags.Float64("max-cost", 0, "stop before this evaluation could spend more than this many `USD`")
	noWork := flags.Bool("no-work", false, "on a PostgreSQL store: enqueue and follow the evaluation while ethos worker processes make its calls")
	resume := flags.String("resume", "", "continue the evaluation with this `ID` (running the same command again does this too)")
	asJSON := flags.Bool("json", false, "print the summary as JSON")
	batch := flags.Bool("batch", false, "send the answers' and the judge's calls through the providers' batch APIs, at their batch price")
	online := flags.Bool("online", false, "send every call online (overrides eval.answer_mode and eval.judge_mode)")
	rest, err := parseFlags(flags, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageErrorf("eval run takes no arguments, got %q", rest)
	}
	if in.mode, err = modeFlag(*batch, *online); err != nil {
		return err
	}
	if *workers < 1 || *maxCost < 0 || in.prompts < 0 || in.samples < 0 || in.maxTokens < 0 {
		return usageErrorf("eval run: --workers must be at least 1; --prompts, --samples, --max-tokens and --max-cost must not be negative")
	}

	p, err := c.m.openProject(ctx, flags, pf)
	if err != nil {
		return err
	}
	defer p.Close()
	if err := p.CheckNoWork("eval run", *noWork, *maxCost); err != nil {
		return err
	}

	var settings eval.Settings
	if *resume != "" {
		run, err := p.Store().Run(ctx, *resume)
		if err != nil {
			return ethos.Errorf(ethos.Config, "--resume %s: %w", *resume, err)
		}
		if run.Kind != ethos.RunKindEval {
			return ethos.Errorf(ethos.Config, "--resume %s: a %s run, not an evaluation", *resume, run.Kind)
		}
		if err := json.Unmarshal(run.Params, &settings); err != nil {
			return ethos.Errorf(ethos.Internal, "evaluation %s: reading its settings: %w", run.ID, err)
		}
	} else if settings, err = c.m.evalSettings(ctx, p, in); err != nil {
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

// evalInputs are the flags of ethos eval run as given; empty and zero
// values take the config's defaults.
type evalInputs struct {
	models, judge, promptsFile, traits, systemPrompt, trainingFiles string
	prompts, samples, maxTokens                                     int
	pointwise                                                       bool
	seed                                                            int64
	mode                                                            string // --batch or --online: config.ModeBatch, ModeOnline or ""
}

// evalSettings resolves an evaluation's settings from the config and the
// flags (see pipeline.EvalSettings): the files named on the command line
// are found here, the prompts of a pipe kept beside the store.
func (m *Main) evalSettings(ctx context.Context, p *project.Project, in evalInputs) (eval.Settings, error) {
	pi := pipeline.EvalInputs{Models: in.models, Judge: in.judge, Traits: in.traits, SystemPrompt: in.systemPrompt,
		Prompts: in.prompts, Samples: in.samples, MaxTokens: in.maxTokens, Pointwise: in.pointwise, Seed: in.seed, Mode: in.mode}
	if in.promptsFile != "" {
		file, err := p.PromptsFile(in.promptsFile, m.Stdin)
		if err != nil {
			return eval.Settings{}, err
		}
		pi.PromptsFile = file
	}
	for f := range strings.SplitSeq(in.trainingFiles, ",") {
		if f = strings.TrimSpace(f); f != "" {
			pi.TrainingFiles = append(pi.TrainingFiles, m.abs(f))
		}
	}
	return p.EvalSettings(ctx, pi)
}
