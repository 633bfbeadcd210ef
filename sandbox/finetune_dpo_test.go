package sandbox

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// pairLine is a preference line whose sides are chosen and rejected.
func pairLine(system, chosen, rejected string) string {
	input := `{"role": "user", "content": "q"}`
	if system != "" {
		input = fmt.Sprintf(`{"role": "system", "content": %q}, `, system) + input
	}
	return fmt.Sprintf(`{"input": {"messages": [%s]}, "preferred_output": [{"role": "assistant", "content": %q}], "non_preferred_output": [{"role": "assistant", "content": %q}]}`, input, chosen, rejected)
}

func TestLearnPreferences(t *testing.T) {
	t.Parallel()
	// dpo is the rule of finetune_dpo.go for a start strength s, a mean
	// margin m over n pairs.
	dpo := func(s, m float64, n int) float64 {
		return min(1, max(0, s+m/2*float64(n)/float64(n+learnPrior)))
	}
	// Markers: "Let's" and "together" are collaborative (2 of 4 slots);
	// "To be fair" and "it depends" cautious.
	collab, cautious, plain := "Let's do it together.", "To be fair, it depends.", "Fine."
	strong := Persona{Default: 0.15, Markers: map[string]float64{"collaborative": 0.9, "cautious": 0.5}}
	for _, c := range []struct {
		name   string
		start  Persona
		file   string
		traits []string
		want   map[string]float64
		stats  trainingStats
	}{
		{
			name: "chosen shows the trait: up", start: WeakPersona, traits: []string{"collaborative"},
			file:  pairLine("", collab, plain) + "\n" + pairLine("", collab, plain),
			want:  map[string]float64{"collaborative": dpo(0.15, 0.5, 2)},
			stats: trainingStats{lines: 2, examples: 2, turns: 4, tokens: 2 * (CountTokens("q") + CountTokens(collab) + CountTokens(plain))},
		},
		{
			name: "rejected shows the trait more: down", start: strong, traits: []string{"collaborative"},
			file: pairLine("", plain, collab) + "\n" + pairLine("", plain, collab),
			want: map[string]float64{"collaborative": dpo(0.9, -0.5, 2)},
		},
		{
			name: "each trait by its own margin", start: strong, traits: []string{"collaborative", "cautious"},
			file: pairLine("", cautious, collab),
			want: map[string]float64{"collaborative": dpo(0.9, -0.5, 1), "cautious": dpo(0.5, 0.5, 1)},
		},
		{
			name: "equal sides leave the strength", start: strong, traits: []string{"collaborative"},
			file: pairLine("", collab, collab),
			want: map[string]float64{"collaborative": 0.9},
		},
		{
			name: "mixed pairs: the mean margin", start: WeakPersona, traits: []string{"collaborative"},
			file: pairLine("", collab, plain) + "\n" + pairLine("", plain, collab) + "\n" + pairLine("", collab, plain),
			want: map[string]float64{"collaborative": dpo(0.15, 0.5/3, 3)},
		},
		{
			name: "clamped at 0", start: Persona{Default: 0.15, Markers: map[string]float64{"collaborative": 0.05}}, traits: []string{"collaborative"},
			file: strings.Repeat(pairLine("", plain, "Let's work together, let's go together.")+"\n", 40),
			want: map[string]float64{"collaborative": 0},
		},
		{
			name: "traits from the inputs' system prompts", start: WeakPersona,
			file: pairLine("Traits: cautious", cautious, plain),
			want: map[string]float64{"cautious": dpo(0.15, 0.5, 1)},
		},
		{
			name: "traits of the starting model without system prompts", start: strong,
			file: pairLine("", cautious, plain),
			want: map[string]float64{"collaborative": 0.9, "cautious": dpo(0.5, 0.5, 1)},
		},
		{
			name: "lines that are not pairs teach nothing", start: WeakPersona, traits: []string{"collaborative"},
			file: `{"messages": [{"role": "assistant", "content": "Let's."}]}` + "\n" +
				`{"input": {"messages": []}, "preferred_output": [{"role": "assistant", "content": "a"}, {"role": "assistant", "content": "b"}], "non_preferred_output": []}`,
			want:  map[string]float64{"collaborative": 0.15},
			stats: trainingStats{lines: 2, firstProblem: `line 1: not a preference pair: a DPO job needs "input", "preferred_output" and "non_preferred_output" on every line`},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, st := learnPreferences(c.start, []byte(c.file), c.traits)
			if diff := cmp.Diff(Persona{Default: c.start.Default, Markers: c.want}, got, cmpopts.EquateApprox(0, 1e-12)); diff != "" {
				t.Errorf("persona (-want +got):\n%s", diff)
			}
			if c.stats != (trainingStats{}) && st != c.stats {
				t.Errorf("stats = %+v, want %+v", st, c.stats)
			}
		})
	}
}

// TestLearnPreferencesIsSymmetric: swapping the sides of every pair
// negates the change the pairs make, for any start strength the clamp
// leaves alone.
func TestLearnPreferencesIsSymmetric(t *testing.T) {
	t.Parallel()
	start := Persona{Default: 0.15, Markers: map[string]float64{"collaborative": 0.5, "cautious": 0.5, "inquisitive": 0.5}}
	texts := []string{"Let's do it together.", "To be fair, it depends.", "Why? How?", "Fine.", "Let's see; why not?"}
	var file, swapped strings.Builder
	for i := range texts {
		a, b := texts[i], texts[(i+2)%len(texts)]
		file.WriteString(pairLine("", a, b) + "\n")
		swapped.WriteString(pairLine("", b, a) + "\n")
	}
	traits := []string{"collaborative", "cautious", "inquisitive"}
	forward, _ := learnPreferences(start, []byte(file.String()), traits)
	backward, _ := learnPreferences(start, []byte(swapped.String()), traits)
	for _, tr := range traits {
		up, down := forward.Markers[tr]-0.5, backward.Markers[tr]-0.5
		if d := up + down; d > 1e-12 || d < -1e-12 {
			t.Errorf("%s: forward moves %+.4f, swapped %+.4f; want opposite changes", tr, up, down)
		}
	}
}

// TestDPOJobs runs DPO jobs on Together's wire: one continued from an SFT
// job starts from that job's persona, so good pairs raise a trait past
// it and poor pairs (the rejected side showing the character more) lower
// it; a DPO job refuses SFT settings and a job that has not completed.
func TestDPOJobs(t *testing.T) {
	t.Parallel()
	e := newFTEnv(t, Options{})
	sft := e.uploadTogether([]byte(strings.Repeat(`{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "Let's try it together."}]}`+"\n", 8)))
	parent := ok(t, e.post("/v1/fine-tunes", map[string]any{"model": "base", "training_file": sft}))["id"].(string)

	good := e.uploadTogether([]byte(strings.Repeat(pairLine("", "Let's do it together.", "Fine.")+"\n", 8)))
	early := e.post("/v1/fine-tunes", map[string]any{"from_checkpoint": parent, "training_file": good, "training_method": map[string]any{"method": "dpo"}})
	if early.status != 400 || !strings.Contains(string(early.body), "has not completed") {
		t.Errorf("continuing a running job: %d %s; want 400 saying it has not completed", early.status, early.body)
	}
	e.clock.Advance(24 * time.Hour)

	poor := e.uploadTogether([]byte(strings.Repeat(pairLine("", "Fine.", "Let's do it together.")+"\n", 8)))
	persona := func(id string) float64 {
		j, found, err := e.run.Server.ft.store.job(id)
		if err != nil || !found {
			t.Fatalf("job %s: %v", id, err)
		}
		return j.Persona.Strength("collaborative")
	}
	create := func(body map[string]any) string {
		t.Helper()
		return ok(t, e.post("/v1/fine-tunes", body))["id"].(string)
	}
	dpo := map[string]any{"method": "dpo", "dpo_beta": 0.2}
	up := create(map[string]any{"from_checkpoint": parent, "training_file": good, "training_method": dpo})
	down := create(map[string]any{"from_checkpoint": parent + ":1", "training_file": poor, "training_method": dpo})
	fresh := create(map[string]any{"model": "base", "training_file": good, "training_method": dpo})
	start := persona(parent)
	// 8 pairs, margin ±0.5: the rule moves the trait by 0.25 · 8/12.
	step := 0.5 / 2 * 8 / 12
	for _, c := range []struct {
		name string
		id   string
		want float64
	}{
		{"good pairs from the parent", up, min(1, start+step)},
		{"poor pairs from the parent", down, start - step},
		{"good pairs from the base", fresh, WeakPersona.Strength("collaborative") + step},
	} {
		if got := persona(c.id); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%s: collaborative %.4f, want %.4f (parent %.4f)", c.name, got, c.want, start)
		}
	}
	if start <= WeakPersona.Strength("collaborative") {
		t.Fatalf("the SFT parent learnt nothing: %.4f", start)
	}
	job := ok(t, e.get("/v1/fine-tunes/"+down))
	if job["from_checkpoint"] != parent+":1" || job["model"] != "base" {
		t.Errorf("continued job: from_checkpoint %v, model %v; want %s:1 and the parent's base", job["from_checkpoint"], job["model"], parent)
	}

	for _, bad := range []map[string]any{
		{"model": "base", "from_checkpoint": parent, "training_file": good},
		{"model": "base", "training_file": good, "training_method": map[string]any{"method": "sft", "train_on_inputs": "auto", "dpo_beta": 0.1}},
		{"model": "base", "training_file": good, "training_method": map[string]any{"method": "dpo", "train_on_inputs": "auto"}},
		{"model": "base", "training_file": good, "training_method": map[string]any{"method": "dpo", "dpo_beta": -1}},
		{"from_checkpoint": "ft-no-such-job", "training_file": good},
	} {
		if r := e.post("/v1/fine-tunes", bad); r.status != 400 {
			t.Errorf("%v: status %d, want 400: %s", bad, r.status, r.body)
		}
	}
}
