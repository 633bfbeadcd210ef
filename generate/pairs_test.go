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
