package generate_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/config"
	"github.com/ethos-toolkit/ethos/generate"
	"github.com/ethos-toolkit/ethos/sandbox"
)

// TestGeneratePairs runs a generation with the preference-pair stage: the
// student (sandbox/base) answers every accepted reply's document as
// itself, and the run writes exactly one pair per example in the
// providers' preference format, with no system prompt in the input and
// two different sides.
func TestGeneratePairs(t *testing.T) {
	t.Parallel()
	const examples = 8
	e := newEnv(t, examples, sandbox.Options{Seed: 4})
	e.settings.Generate.Pairs = &config.Pairs{Student: "sandbox/base", Mode: config.ModeOnline}
	withoutPairs := e.settings
	withoutPairs.Generate.Pairs = nil
	if e.settings.RunID() == withoutPairs.RunID() {
		t.Fatal("a run with pairs has the ID of the same run without")
	}
	meta, err := e.run(t)
	if err != nil {
		t.Fatal(err)
	}
	out := e.settings.Outputs()
	if meta.Examples != examples || out.Pairs == "" || meta.Models["student"] != "sandbox/base" {
		t.Fatalf("metadata: %d examples, pairs file %q, models %v", meta.Examples, out.Pairs, meta.Models)
	}
	data, err := os.ReadFile(out.Pairs)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != examples {
		t.Fatalf("%d pairs, want %d", len(lines), examples)
	}
	records := readRecords(t, e.settings.Output)
	for i, line := range lines {
		var pr generate.PreferenceRecord
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&pr); err != nil {
			t.Fatalf("pair %d: %v", i, err)
		}
		in, chosen, rejected := pr.Input.Messages, pr.PreferredOutput, pr.NonPreferredOutput
		if len(in) != 1 || in[0].Role != ethos.RoleUser || len(chosen) != 1 || len(rejected) != 1 ||
			chosen[0].Role != ethos.RoleAssistant || rejected[0].Role != ethos.RoleAssistant {
			t.Fatalf("pair %d is not one user turn and one assistant turn a side: %+v", i, pr)
		}
		if chosen[0].Content == rejected[0].Content || rejected[0].Content == "" {
			t.Errorf("pair %d: the sides do not differ", i)
		}
		// The chosen side is the SFT record's reply, to the same document.
		rec := records[i].Messages
		if rec[len(rec)-1].Content != chosen[0].Content || rec[len(rec)-2].Content != in[0].Content {
			t.Errorf("pair %d does not match example %d", i, i)
		}
	}
	counts, err := e.store.CountItems(t.Context(), e.settings.RunID())
	if err != nil {
		t.Fatal(err)
	}
	accepted := 0
	for _, c := range counts {
		if c.Stage == generate.StageRejected && c.Status == ethos.ItemAccepted {
			accepted += c.Count
		}
	}
	if accepted < examples {
		t.Errorf("%d rejected sides accepted, want at least %d", accepted, examples)
	}
}

// TestGeneratePairsConfirmed runs the pairs stage with the judge's
// confirmation: every pair in the file was confirmed on every trait in
// both orders (its confirm item holds the verdicts), and a pair the judge
// did not confirm is dropped with the reason and counted, not written.
func TestGeneratePairsConfirmed(t *testing.T) {
	t.Parallel()
	const examples = 6
	e := newEnv(t, examples, sandbox.Options{Seed: 4})
	e.settings.Generate.Pairs = &config.Pairs{Student: "sandbox/base", Mode: config.ModeOnline, Confirm: true}
	unconfirmed := e.settings
	unconfirmed.Generate.Pairs = &config.Pairs{Student: "sandbox/base", Mode: config.ModeOnline}
	if e.settings.RunID() == unconfirmed.RunID() {
		t.Fatal("a run confirming its pairs has the ID of the same run without")
	}
	meta, err := e.run(t)
	if err != nil {
		t.Fatal(err)
	}
	if meta.Examples != examples || countFileLines(t, e.settings.Outputs().Pairs) != examples || meta.Models["pair_judge"] != "sandbox/judge" {
		t.Fatalf("%d examples, models %v", meta.Examples, meta.Models)
	}
	if meta.Calls[generate.StageConfirm].Calls < examples*2*len(e.settings.Character.Traits) {
		t.Errorf("confirm calls %+v; want two per trait and pair", meta.Calls[generate.StageConfirm])
	}
	items, err := e.store.Items(t.Context(), ethos.ItemFilter{RunID: e.settings.RunID(), Stage: generate.StageConfirm})
	if err != nil {
		t.Fatal(err)
	}
	accepted, dropped := 0, 0
	for _, it := range items {
		var d struct {
			Verdicts []struct {
				ChosenWins bool `json:"chosen_wins"`
			} `json:"verdicts"`
		}
		if err := json.Unmarshal(it.Data, &d); err != nil {
			t.Fatal(err)
		}
		wins := 0
		for _, v := range d.Verdicts {
			if v.ChosenWins {
				wins++
			}
		}
		switch it.Status {
		case ethos.ItemAccepted:
			accepted++
			if wins != 2*len(e.settings.Character.Traits) {
				t.Errorf("%s confirmed with %d of %d verdicts for the chosen side", it.Key, wins, 2*len(e.settings.Character.Traits))
			}
		case ethos.ItemQuarantined:
			dropped++
			if !strings.HasPrefix(it.Reason, "not confirmed: ") && !strings.HasPrefix(it.Reason, "unparsed: ") {
				t.Errorf("%s dropped for %q", it.Key, it.Reason)
			}
		}
	}
	if dropped == 0 {
		t.Error("no pair was dropped: with seed 4 the judge does not confirm one, and the test no longer shows what becomes of it")
	}
	if accepted < examples {
		t.Errorf("%d pairs confirmed, want at least %d", accepted, examples)
	}
	if n := meta.Rejections["confirm: not confirmed"] + meta.Rejections["confirm: unparsed"]; n != dropped {
		t.Errorf("metadata counts %d dropped pairs (%v), the store %d", n, meta.Rejections, dropped)
	}
}

func countFileLines(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(data), "\n")
}
