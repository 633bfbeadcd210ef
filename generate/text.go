package generate

import (
	"fmt"
	"io"
	"time"

	"github.com/ethos-toolkit/ethos"
)

// This file is the text form of a generation run as the ethos commands
// print it: its progress while it works and the summary of what it wrote.

// Line is the run's progress in one line fit for logs: accepted ideas,
// documents and replies with their rejections, what the run has spent
// and its failed calls (from the ledger), the time so far, and more at
// the end (such as llm.InFlightLine and llm.BatchLine).
func (p Progress) Line(spentUSD float64, callErrors int, more string) string {
	return fmt.Sprintf("generate %s: ideas %d · documents %d (rejected %d) · replies %d/%d (rejected %d, quarantined %d) · $%.4f · %d call errors · %s%s",
		p.RunID, p.Stages[StageIdea][ethos.ItemAccepted],
		p.Stages[StageDocument][ethos.ItemAccepted], p.Stages[StageDocument][ethos.ItemRejected],
		p.Examples, p.Target, p.Stages[StageResponse][ethos.ItemRejected], p.Stages[StageResponse][ethos.ItemQuarantined],
		spentUSD, callErrors, p.Elapsed.Round(time.Second), more)
}

// SpendLine is the line under a run's progress bars: what it has spent,
// its failed calls, the time so far, and more at the end (as for Line).
func (p Progress) SpendLine(spentUSD float64, callErrors int, more string) string {
	return fmt.Sprintf("%-10s $%.4f spent · %d call errors · %s elapsed%s", "run", spentUSD, callErrors, p.Elapsed.Round(time.Second), more)
}

// Rejected is what a stage's review turned away so far: "rejected 3,
// quarantined 1".
func (p Progress) Rejected(stage string) string {
	c := p.Stages[stage]
	return fmt.Sprintf("rejected %d, quarantined %d", c[ethos.ItemRejected], c[ethos.ItemQuarantined])
}

// WriteSummary writes what a finished run wrote: the examples and files,
// its calls, cost and wall time, and what was rejected or quarantined, by
// reason.
func WriteSummary(w io.Writer, meta Metadata) {
	fmt.Fprintf(w, "\n%d examples written (run %s)\n", meta.Examples, meta.Run)
	fmt.Fprintf(w, "  dataset   %s\n  detailed  %s\n  metadata  %s\n", meta.Files.Dataset, meta.Files.Detailed, meta.Files.Metadata)
	calls, hits := 0, 0
	for _, sc := range meta.Calls {
		calls += sc.Calls
		hits += sc.CacheHits
	}
	fmt.Fprintf(w, "  calls     %d (%d from cache), cost $%.4f, wall %s\n", calls, hits, meta.TotalCostUSD, meta.WallTime)
	if len(meta.Rejections) > 0 {
		fmt.Fprintln(w, "  rejected or quarantined, by reason:")
		for _, reason := range sortedKeys(meta.Rejections) {
			fmt.Fprintf(w, "    %5d  %s\n", meta.Rejections[reason], reason)
		}
	}
}
