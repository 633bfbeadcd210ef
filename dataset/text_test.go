package dataset_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ethos-toolkit/ethos/dataset"
)

func TestWriteReport(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		rep  dataset.Report
		want string
	}{
		{"refused", dataset.Report{Path: "data/a.jsonl", Provider: "together", Format: "conversation", Examples: 10, Omitted: 5,
			Problems: []dataset.Problem{
				{Line: 3, Rule: "roles.alternate", Severity: dataset.SeverityError, Message: "two user messages in a row"},
				{Rule: "dup.exact", Severity: dataset.SeverityWarning, Message: "2 duplicates"},
			}},
			"data/a.jsonl:3: roles.alternate: two user messages in a row\n" +
				"data/a.jsonl: dup.exact: 2 duplicates (warning)\n" +
				"data/a.jsonl: 5 more problems not listed (at most 100 a rule); --json has the counts per rule\n" +
				"data/a.jsonl: together would refuse this file: 1 error, 1 warning in 10 examples (conversation format)\n"},
		{"ok", dataset.Report{Path: "b.jsonl", Provider: "openai", Examples: 1},
			"b.jsonl: ok for openai: 1 example, unknown format, 0 warnings\n"},
	} {
		var b strings.Builder
		dataset.WriteReport(&b, &tc.rep)
		if diff := cmp.Diff(tc.want, b.String()); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
}

func TestWriteStats(t *testing.T) {
	t.Parallel()
	st := dataset.Stats{Path: "data/a.jsonl", Format: "conversation", Examples: 3, Skipped: 1, Turns: 9,
		TurnsPerExample: dataset.Distribution{Min: 2, P50: 3, Max: 4},
		Roles: []dataset.RoleStats{{Role: "system", Messages: 3, Tokens: 30, MeanTokens: 10}, {Role: "user", Messages: 3, Tokens: 300, MeanTokens: 100},
			{Role: "assistant", Messages: 3, Tokens: 600, MeanTokens: 200}},
		Tokens:      dataset.Distribution{Min: 200, P50: 300, P90: 400, Max: 450, Mean: 310.4},
		TotalTokens: 930, TrainedTokens: 600,
		Histogram:  []dataset.Bucket{{From: 200, To: 300, Count: 1}, {From: 300, To: 400}, {From: 400, To: 500, Count: 2}},
		Duplicates: 1}
	var b strings.Builder
	dataset.WriteStats(&b, &st)
	want := "data/a.jsonl: 3 examples (conversation format), 9 turns, 1 lines skipped (see \"ethos dataset check\")\n" +
		"tokens per example (estimated): min 200  p50 300  p90 400  max 450  mean 310\n" +
		"tokens in all: 930, of which 600 trained (replies)\n" +
		"turns per example: min 2  p50 3  max 4\n" +
		"duplicates: 1 exact, 0 near\n" +
		"\n" +
		"ROLE       MESSAGES  TOKENS  MEAN\n" +
		"system     3         30      10\n" +
		"user       3         300     100\n" +
		"assistant  3         600     200\n" +
		"\n" +
		"tokens per example:\n" +
		"     200–299    ####################                     1\n" +
		"     300–399                                             0\n" +
		"     400–499    ######################################## 2\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("WriteStats (-want +got):\n%s", diff)
	}
	b.Reset()
	dataset.WriteStats(&b, &dataset.Stats{Path: "e.jsonl"})
	if got := b.String(); got != "e.jsonl: 0 examples (unknown format), 0 turns\n" {
		t.Errorf("WriteStats of an empty file = %q", got)
	}
}

func TestWritePreferenceStats(t *testing.T) {
	t.Parallel()
	pr := dataset.PreferenceStats{Pairs: 4, Identical: 1,
		InputTokens:        dataset.Distribution{Min: 10, P50: 20, P90: 30, Max: 40, Mean: 25},
		PreferredTokens:    dataset.Distribution{Min: 100, P50: 150, P90: 200, Max: 250, Mean: 160.4},
		NonPreferredTokens: dataset.Distribution{Min: 90, P50: 140, P90: 190, Max: 240, Mean: 150.6},
		SharedPrefix:       0.254, SharedPrefixHalf: 1, RejectedLonger: 2}
	var b strings.Builder
	dataset.WritePreferenceStats(&b, &pr)
	want := "\n" +
		"preference pairs: 4 (1 with identical sides, 0 nearly identical)\n" +
		"TOKENS PER PAIR       MIN  P50  P90  MAX  MEAN\n" +
		"input                 10   20   30   40   25\n" +
		"preferred_output      100  150  200  250  160\n" +
		"non_preferred_output  90   140  190  240  151\n" +
		"shared opening: 25% of the shorter side on average; 1 pairs share at least half (DPO learns only where the sides differ)\n" +
		"non-preferred side longer: 2 of 4 pairs\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("WritePreferenceStats (-want +got):\n%s", diff)
	}
}

func TestWriteSplit(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	dataset.WriteSplit(&b, "data/a.jsonl", &dataset.SplitResult{Train: "a.train.jsonl", Validation: "a.validation.jsonl", TrainExamples: 9, ValidationExamples: 1, Seed: 7})
	if got, want := b.String(), "data/a.jsonl: 10 examples → a.train.jsonl (9 training), a.validation.jsonl (1 validation), seed 7\n"; got != want {
		t.Errorf("WriteSplit = %q, want %q", got, want)
	}
}
