package pipeline

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/ethos-toolkit/ethos/eval/report"
	"github.com/ethos-toolkit/ethos/generate"
)

// This file is the text form of what the workflows plan and make, as
// ethos generate --dry-run, ethos run and ethos demo print it.

// WriteRunResult is the summary of a pipeline run for people: where its
// files and models are (paths relative to res.Dir), and the headline
// result per trait with its confidence interval, grouped by pair of
// models in the order the pairs first appear.
func WriteRunResult(w io.Writer, res *RunResult) {
	fmt.Fprintf(w, "\ndataset   %s (train %s", Rel(res.Dir, res.Dataset), Rel(res.Dir, res.Train))
	if res.Validation != "" {
		fmt.Fprintf(w, ", validation %s", Rel(res.Dir, res.Validation))
	}
	fmt.Fprint(w, ")\n")
	if res.Pairs != "" {
		fmt.Fprintf(w, "pairs     %s\n", Rel(res.Dir, res.Pairs))
	}
	if in := res.Introspection; in != nil {
		fmt.Fprintf(w, "introspection %s (%d self-reflections, %d dialogues of %d turns, by %s; %d texts accepted, %d rejected; prompts %s)\n",
			Rel(res.Dir, in.Dataset), in.Reflections, in.Dialogues, in.Turns, in.Model, in.Accepted, in.Rejected, in.PromptSet)
	}
	for _, tm := range res.Trained {
		role := strings.ToUpper(tm.Method)
		if tm.Name == StageIntrospection {
			role += " on the introspection data"
		}
		if tm.Reference {
			role += ", a reference to compare with"
		}
		fmt.Fprintf(w, "model     %s (%s, job %s, base %s)\n", tm.Model.Name, role, tm.Job.ID, tm.Model.BaseModel)
	}
	fmt.Fprintf(w, "registry  %s\n", Rel(res.Dir, res.Registry))
	for i, r := range res.Reports {
		label := "report"
		if i > 0 {
			label = ""
		}
		fmt.Fprintf(w, "%-9s %s\n", label, Rel(res.Dir, r))
	}
	fmt.Fprintf(w, "\nrecipe %s; per trait (score = share of judgments won, ties ½; 95%% bootstrap CI over %d prompts):\n", res.Recipe, res.Counts.Prompts)
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
		report.WritePairResults(w, byPair[k])
	}
	if res.Sandbox {
		fmt.Fprintln(w, "\n(sandbox models and judge: this shows the pipeline working, not how real models compare)")
	}
}

// WritePlan writes what a generation run of s would do and cost, from
// PlanGeneration's plan and quotas: a line on the run, then per stage its
// model, mode, calls, tokens and cost (expected and worst, online and by
// batch), then the totals. It spends nothing.
func WritePlan(out io.Writer, s generate.Settings, plan []StagePlan, quotas map[string]int) {
	fmt.Fprintf(out, "plan for run %s: %d examples of %s over %d categories → %s\n(first attempts only: rejected items are written again, up to %d times)\n\n",
		s.RunID(), s.Examples, s.Character.Name, len(quotas), s.Outputs().Dataset, max(s.Generate.Review.MaxAttempts, 1))
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "STAGE\tMODEL\tMODE\tCALLS\tIN TOKENS\tOUT TOKENS (expected / max)\tCOST (expected / worst)\tONLINE / BATCH (expected)")
	var total, worst, allOnline, allBatch float64
	for _, sp := range plan {
		cost, both := "no price", "no price"
		if sp.PriceKnown {
			cost = fmt.Sprintf("$%.4f / $%.4f", sp.CostUSD, sp.WorstUSD)
			both = fmt.Sprintf("$%.4f / $%.4f", sp.OnlineUSD, sp.BatchUSD)
			allOnline += sp.OnlineUSD
			allBatch += sp.BatchUSD
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%d\t%d / %d\t%s\t%s\n", sp.Stage, sp.Model, sp.Mode, sp.Calls, sp.InTokens, sp.OutTokens, sp.MaxOut, cost, both)
		total += sp.CostUSD
		worst += sp.WorstUSD
	}
	w.Flush()
	fmt.Fprintf(out, "\ntotal: $%.4f expected, $%.4f worst case; nothing was spent (--dry-run)\n", total, worst)
	fmt.Fprintf(out, "every stage online: $%.4f expected; every stage by batch: $%.4f (--batch; answers within the providers' batch window, up to 24 h)\n", allOnline, allBatch)
}
