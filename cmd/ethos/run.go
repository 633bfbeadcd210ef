package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/ethos-toolkit/ethos/eval/report"
	"github.com/ethos-toolkit/ethos/jobs"
	"github.com/ethos-toolkit/ethos/pipeline"
)

// RunCommand runs the whole pipeline from the project's ethos.yaml:
// generate → split and check → fine-tune → wait → evaluate base against
// fine-tuned → report → registry. Every step is durable and skipped when
// already done, so running it again after any interruption continues.
type RunCommand struct{ m *Main }

// Run runs the pipeline and prints where its results are.
func (c *RunCommand) Run(ctx context.Context, args []string) error {
	flags := c.m.newFlagSet("run", "run [--max-cost USD] [--workers N] [--no-work] [--json] [--config FILE] [--db PATH]")
	var pf projectFlags
	pf.register(flags)
	maxCost := flags.Float64("max-cost", 0, "stop before the model calls of this run could spend more than this many `USD`")
	workers := flags.Int("workers", jobs.DefaultWorkers, "the most tasks held at once, waiting for the rate limiter or a model; the limiter sets the pace")
	noWork := flags.Bool("no-work", false, "on a PostgreSQL store: drive the run while ethos worker processes make the generation's and the evaluation's calls")
	asJSON := flags.Bool("json", false, "print the result as JSON")
	rest, err := parseFlags(flags, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageErrorf("run takes no arguments, got %q", rest)
	}
	if *maxCost < 0 || *workers < 1 {
		return usageErrorf("run: --max-cost must not be negative, --workers at least 1")
	}
	p, err := c.m.openProject(ctx, flags, pf)
	if err != nil {
		return err
	}
	defer p.Close()
	if err := p.CheckNoWork("run", *noWork, *maxCost); err != nil {
		return err
	}
	res, err := pipeline.Run(ctx, c.m.deps(p), pipeline.RunOptions{Workers: *workers, MaxCost: *maxCost, NoWork: *noWork, MemoryLimit: p.MemoryLimit()})
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(c.m.Stdout, res)
	}
	printPipelineResult(c.m.Stdout, res)
	return nil
}

// pipelineResult is what ethos run and ethos demo print.
type pipelineResult = pipeline.RunResult

// rel shows path relative to dir when it is inside it.
func rel(dir, path string) string { return pipeline.Rel(dir, path) }

// printPipelineResult is the human summary of a pipeline run: where things
// are and the headline result per trait with its confidence interval.
func printPipelineResult(w io.Writer, res *pipelineResult) {
	fmt.Fprintf(w, "\ndataset   %s (train %s", rel(res.Dir, res.Dataset), rel(res.Dir, res.Train))
	if res.Validation != "" {
		fmt.Fprintf(w, ", validation %s", rel(res.Dir, res.Validation))
	}
	fmt.Fprint(w, ")\n")
	if res.Pairs != "" {
		fmt.Fprintf(w, "pairs     %s\n", rel(res.Dir, res.Pairs))
	}
	if in := res.Introspection; in != nil {
		fmt.Fprintf(w, "introspection %s (%d self-reflections, %d dialogues of %d turns, by %s; %d texts accepted, %d rejected; prompts %s)\n",
			rel(res.Dir, in.Dataset), in.Reflections, in.Dialogues, in.Turns, in.Model, in.Accepted, in.Rejected, in.PromptSet)
	}
	for _, tm := range res.Trained {
		role := strings.ToUpper(tm.Method)
		if tm.Name == pipeline.StageIntrospection {
			role += " on the introspection data"
		}
		if tm.Reference {
			role += ", a reference to compare with"
		}
		fmt.Fprintf(w, "model     %s (%s, job %s, base %s)\n", tm.Model.Name, role, tm.Job.ID, tm.Model.BaseModel)
	}
	fmt.Fprintf(w, "registry  %s\n", rel(res.Dir, res.Registry))
	for i, r := range res.Reports {
		label := "report"
		if i > 0 {
			label = ""
		}
		fmt.Fprintf(w, "%-9s %s\n", label, rel(res.Dir, r))
	}
	fmt.Fprintf(w, "\nrecipe %s; per trait (score = share of judgments won, ties ½; 95%% bootstrap CI over %d prompts):\n", res.Recipe, res.Counts.Prompts)
	// Grouped by pair of models, in the order the pairs first appear.
	var order [][2]string
	byPair := map[[2]string][]report.PairResult{}
	for _, r := range res.Results {
		k := [2]string{r.Model, r.Baseline}
		if _, seen := byPair[k]; !seen {
			order = append(order, k)
		}
		byPair[k] = append(byPair[k], r)
	}
	for _, k := range order {
		fmt.Fprintf(w, "%s vs %s\n", k[0], k[1])
		printPairResults(w, byPair[k])
	}
	if res.Sandbox {
		fmt.Fprintln(w, "\n(sandbox models and judge: this shows the pipeline working, not how real models compare)")
	}
}

// printPairResults prints one line per trait of a pair of models.
func printPairResults(w io.Writer, results []report.PairResult) {
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
