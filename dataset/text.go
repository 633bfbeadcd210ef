package dataset

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// This file is the text form of checks, statistics and splits, as ethos
// dataset prints them.

// WriteReport writes one line per problem, FILE:LINE: rule: message (a
// warning marked so), a line for the problems left unlisted, and a
// summary: whether the provider would take the file, with the counts.
func WriteReport(w io.Writer, rep *Report) {
	for _, p := range rep.Problems {
		where := rep.Path
		if p.Line > 0 {
			where = fmt.Sprintf("%s:%d", rep.Path, p.Line)
		}
		suffix := ""
		if p.Severity == SeverityWarning {
			suffix = " (warning)"
		}
		fmt.Fprintf(w, "%s: %s: %s%s\n", where, p.Rule, p.Message, suffix)
	}
	if rep.Omitted > 0 {
		fmt.Fprintf(w, "%s: %d more problems not listed (at most %d a rule); --json has the counts per rule\n", rep.Path, rep.Omitted, MaxListed)
	}
	format := orUnknown(rep.Format)
	errs, warns := rep.Errors(), rep.Warnings()
	if errs == 0 {
		fmt.Fprintf(w, "%s: ok for %s: %s, %s format, %s\n", rep.Path, rep.Provider, plural(rep.Examples, "example"), format, plural(warns, "warning"))
		return
	}
	fmt.Fprintf(w, "%s: %s would refuse this file: %s, %s in %s (%s format)\n", rep.Path, rep.Provider, plural(errs, "error"), plural(warns, "warning"), plural(rep.Examples, "example"), format)
}

// plural is n and the noun, with an s unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// orUnknown is a file's format, "unknown" when none was recognised.
func orUnknown(format string) string {
	if format == "" {
		return "unknown"
	}
	return format
}

// WriteStats writes a file's statistics: examples, turns and lines
// skipped; tokens per example, in all and trained; turns per example;
// duplicates; messages and tokens per role; a preference file's pairs
// (WritePreferenceStats); and a histogram of tokens per example.
func WriteStats(w io.Writer, st *Stats) {
	fmt.Fprintf(w, "%s: %d examples (%s format), %d turns", st.Path, st.Examples, orUnknown(st.Format), st.Turns)
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
		WritePreferenceStats(w, pr)
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

// WritePreferenceStats writes what a preference file's pairs hold: the
// tokens of each part, and how far the sides of a pair differ. It starts
// with a blank line.
func WritePreferenceStats(w io.Writer, pr *PreferenceStats) {
	fmt.Fprintf(w, "\npreference pairs: %d (%d with identical sides, %d nearly identical)\n", pr.Pairs, pr.Identical, pr.NearIdentical)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOKENS PER PAIR\tMIN\tP50\tP90\tMAX\tMEAN")
	for _, part := range []struct {
		name string
		d    Distribution
	}{{"input", pr.InputTokens}, {"preferred_output", pr.PreferredTokens}, {"non_preferred_output", pr.NonPreferredTokens}} {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%.0f\n", part.name, part.d.Min, part.d.P50, part.d.P90, part.d.Max, part.d.Mean)
	}
	tw.Flush()
	fmt.Fprintf(w, "shared opening: %.0f%% of the shorter side on average; %d pairs share at least half (DPO learns only where the sides differ)\n", 100*pr.SharedPrefix, pr.SharedPrefixHalf)
	fmt.Fprintf(w, "non-preferred side longer: %d of %d pairs\n", pr.RejectedLonger, pr.Pairs)
}

// WriteSplit writes what a split of file wrote: the examples, and the
// training and validation files with their counts and the seed.
func WriteSplit(w io.Writer, file string, res *SplitResult) {
	fmt.Fprintf(w, "%s: %d examples → %s (%d training), %s (%d validation), seed %d\n",
		file, res.TrainExamples+res.ValidationExamples, res.Train, res.TrainExamples, res.Validation, res.ValidationExamples, res.Seed)
}
