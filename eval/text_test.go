package eval_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/eval"
	"github.com/ethos-toolkit/ethos/generate"
)

func TestProgressLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		p    eval.Progress
		want string
	}{
		{eval.Progress{Phase: "prompts", HeldOut: &generate.Progress{RunID: "gen-h", Examples: 12, Target: 30}},
			"  held-out prompts: 12 of 30 documents written (run gen-h)"},
		{eval.Progress{Phase: "prompts"}, ""},
		{eval.Progress{Phase: "done"}, ""},
		{eval.Progress{Phase: "judging", Counts: eval.Counts{AnswersWanted: 60, Answers: 58, AnswersFailed: 2,
			JudgmentsWanted: 600, Judgments: 100, JudgmentsUnparsed: 1, JudgmentsFailed: 2}},
			"  judging: answers 60/60 (2 failed), judgments 103/600 (1 unparsed, 2 failed) · batches: 1 in flight"},
	} {
		if got := tc.p.Line(" · batches: 1 in flight"); got != tc.want {
			t.Errorf("Line of %s = %q, want %q", tc.p.Phase, got, tc.want)
		}
	}
}

func TestWriteSummary(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		s    eval.Summary
		want string
	}{
		{eval.Summary{EvalID: "eval-1", Status: ethos.RunFailed, Refused: 3, RefusedReasons: []string{"prompt 4 is in the training data"}, Sandbox: true,
			Counts: eval.Counts{Prompts: 30, Answers: 58, AnswersFailed: 2, JudgmentsWanted: 600, Judgments: 590, JudgmentsUnparsed: 4, JudgmentsFailed: 6,
				AnswersToRetry: eval.Failures{ethos.Transient: 2}, JudgmentsToRetry: eval.Failures{ethos.RateLimited: 6}},
			Tallies: []eval.Tally{{Trait: "overall", A: "tuned", B: "base", WinsA: 50, WinsB: 8, Ties: 2},
				{Trait: "collaborative", A: "tuned", B: "base", WinsA: 40, WinsB: 15, Ties: 5}}},
			"\n" +
				"evaluation eval-1 (incomplete) — sandbox models: results show the pipeline, not real model quality\n" +
				"  prompts    30 held out (3 refused as in the training data or repeated)\n" +
				"  answers    58 ok, 2 failed (not judged)\n" +
				"  judgments  590 ok, 4 parse failures, 6 failed calls, of 600\n" +
				"  to retry   2 answers failed at the provider (transient 2): run the same command again\n" +
				"  to retry   6 judgments failed at the provider (rate_limited 6): run the same command again\n" +
				"  refused: prompt 4 is in the training data\n" +
				"\n" +
				"  judgments won (both orders; a first look — see the report for intervals and tests):\n" +
				"  TRAIT          PAIR           WINS   TIES\n" +
				"  overall        tuned vs base  50–8   2\n" +
				"  collaborative  tuned vs base  40–15  5\n" +
				"\n" +
				"ethos eval report eval-1  — statistics, judge diagnostics and examples\n"},
		{eval.Summary{EvalID: "eval-2", Status: ethos.RunCompleted, Counts: eval.Counts{Prompts: 5, ScoresWanted: 10, Scores: 9, ScoresUnparsed: 1}},
			"\nevaluation eval-2 (completed)\n" +
				"  prompts    5 held out\n" +
				"  answers    0 ok, 0 failed (not judged)\n" +
				"  judgments  0 ok, 0 parse failures, 0 failed calls, of 0\n" +
				"  scores     9 ok, 1 parse failures, 0 failed calls, of 10\n" +
				"\nethos eval report eval-2  — statistics, judge diagnostics and examples\n"},
	} {
		var b strings.Builder
		eval.WriteSummary(&b, tc.s)
		if diff := cmp.Diff(tc.want, b.String()); diff != "" {
			t.Errorf("WriteSummary of %s (-want +got):\n%s", tc.s.EvalID, diff)
		}
	}
}
