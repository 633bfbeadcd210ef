package generate_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/generate"
)

func TestProgressLines(t *testing.T) {
	t.Parallel()
	p := generate.Progress{RunID: "gen-1", Target: 60, Examples: 20, Elapsed: 83600 * time.Millisecond,
		Stages: map[string]map[ethos.ItemStatus]int{
			generate.StageIdea:     {ethos.ItemAccepted: 30},
			generate.StageDocument: {ethos.ItemAccepted: 25, ethos.ItemRejected: 3},
			generate.StageResponse: {ethos.ItemRejected: 2, ethos.ItemQuarantined: 1},
		}}
	for _, tc := range []struct{ name, got, want string }{
		{"Line", p.Line(1.25, 4, " · in flight anthropic 3/8"),
			"generate gen-1: ideas 30 · documents 25 (rejected 3) · replies 20/60 (rejected 2, quarantined 1) · $1.2500 · 4 call errors · 1m24s · in flight anthropic 3/8"},
		{"SpendLine", p.SpendLine(1.25, 4, " · batches: 0 in flight, 1 ended"),
			"run        $1.2500 spent · 4 call errors · 1m24s elapsed · batches: 0 in flight, 1 ended"},
		{"Rejected", p.Rejected(generate.StageDocument), "rejected 3, quarantined 0"},
		{"Rejected of a stage not begun", p.Rejected("introspection"), "rejected 0, quarantined 0"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}

func TestWriteSummary(t *testing.T) {
	t.Parallel()
	meta := generate.Metadata{Run: "gen-1", Examples: 60,
		Files:        generate.OutputPaths{Dataset: "data/a.jsonl", Detailed: "data/a.detailed.jsonl", Metadata: "data/a.metadata.json"},
		Calls:        map[string]generate.StageCalls{"ideas": {Calls: 12, CacheHits: 2}, "documents": {Calls: 70}},
		TotalCostUSD: 0.5, WallTime: "2m3s",
		Rejections: map[string]int{"placeholder": 3, "chatter": 12}}
	var b strings.Builder
	generate.WriteSummary(&b, meta)
	want := "\n60 examples written (run gen-1)\n" +
		"  dataset   data/a.jsonl\n" +
		"  detailed  data/a.detailed.jsonl\n" +
		"  metadata  data/a.metadata.json\n" +
		"  calls     82 (2 from cache), cost $0.5000, wall 2m3s\n" +
		"  rejected or quarantined, by reason:\n" +
		"       12  chatter\n" +
		"        3  placeholder\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("WriteSummary (-want +got):\n%s", diff)
	}
}
