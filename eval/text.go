package eval

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/ethos-toolkit/ethos"
)

// This file is the text form of an evaluation as the ethos commands print
// it: its progress while it works and the summary of what it recorded.

// Line is the evaluation's progress in one line fit for logs: the
// held-out prompts written while they are, then the answers and
// judgments done, failed or unparsed of those wanted, with more at the
// end (such as llm.BatchLine of its batches). It is "" when there is
// nothing to show: when done, or before the held-out run reports.
func (p Progress) Line(more string) string {
	switch p.Phase {
	case "prompts":
		if h := p.HeldOut; h != nil {
			return fmt.Sprintf("  held-out prompts: %d of %d documents written (run %s)", h.Examples, h.Target, h.RunID)
		}
		return ""
	case "done":
		return ""
	}
	return fmt.Sprintf("  %s: answers %d/%d (%d failed), judgments %d/%d (%d unparsed, %d failed)%s", p.Phase,
		p.Answers+p.AnswersFailed, p.AnswersWanted, p.AnswersFailed,
		p.Judgments+p.JudgmentsUnparsed+p.JudgmentsFailed, p.JudgmentsWanted, p.JudgmentsUnparsed, p.JudgmentsFailed, more)
}

// WriteSummary writes what an evaluation recorded and a first look at who
// won, pointing to ethos eval report for the statistics.
func WriteSummary(w io.Writer, s Summary) {
	status := string(s.Status)
	if s.Status == ethos.RunFailed && s.Incomplete() {
		status = "incomplete"
	}
	fmt.Fprintf(w, "\nevaluation %s (%s)", s.EvalID, status)
	if s.Sandbox {
		fmt.Fprint(w, " — sandbox models: results show the pipeline, not real model quality")
	}
	fmt.Fprintf(w, "\n  prompts    %d held out", s.Prompts)
	if s.Refused > 0 {
		fmt.Fprintf(w, " (%d refused as in the training data or repeated)", s.Refused)
	}
	fmt.Fprintf(w, "\n  answers    %d ok, %d failed (not judged)\n", s.Answers, s.AnswersFailed)
	fmt.Fprintf(w, "  judgments  %d ok, %d parse failures, %d failed calls, of %d\n", s.Judgments, s.JudgmentsUnparsed, s.JudgmentsFailed, s.JudgmentsWanted)
	if s.ScoresWanted > 0 {
		fmt.Fprintf(w, "  scores     %d ok, %d parse failures, %d failed calls, of %d\n", s.Scores, s.ScoresUnparsed, s.ScoresFailed, s.ScoresWanted)
	}
	for _, f := range []struct {
		what     string
		failures Failures
	}{{"answers", s.AnswersToRetry}, {"judgments", s.JudgmentsToRetry}, {"scores", s.ScoresToRetry}} {
		if n := f.failures.Total(); n > 0 {
			fmt.Fprintf(w, "  to retry   %d %s failed at the provider (%s): run the same command again\n", n, f.what, f.failures)
		}
	}
	for _, r := range s.RefusedReasons {
		fmt.Fprintf(w, "  refused: %s\n", r)
	}
	if len(s.Tallies) > 0 {
		fmt.Fprintln(w, "\n  judgments won (both orders; a first look — see the report for intervals and tests):")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  TRAIT\tPAIR\tWINS\tTIES")
		for _, t := range s.Tallies {
			fmt.Fprintf(tw, "  %s\t%s vs %s\t%d–%d\t%d\n", t.Trait, t.A, t.B, t.WinsA, t.WinsB, t.Ties)
		}
		tw.Flush()
	}
	fmt.Fprintf(w, "\nethos eval report %s  — statistics, judge diagnostics and examples\n", s.EvalID)
}
