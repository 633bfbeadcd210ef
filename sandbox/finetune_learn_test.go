package sandbox

import (
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestLearnPersona(t *testing.T) {
	t.Parallel()
	// learnt is the strength LearnPersona gives a trait from WeakPersona
	// when n assistant turns show it at shown.
	learnt := func(shown float64, n int) float64 {
		b := WeakPersona.Default
		return b + math.Max(0, shown-b)*float64(n)/float64(n+learnPrior)
	}
	two := `{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Let's do it together. We can try."}]}
{"messages": [{"role": "user", "content": "and?"}, {"role": "assistant", "content": "What now? Why? Let's go."}]}
`
	for _, c := range []struct {
		name   string
		file   string
		traits []string
		want   Persona
		stats  trainingStats
	}{
		{
			name: "counts markers per assistant turn", file: two, traits: []string{"collaborative", "inquisitive"},
			// collaborative: 3 + 1 markers over 2 turns of 4 slots; inquisitive: 0 + 2.
			want:  Persona{Default: 0.15, Markers: map[string]float64{"collaborative": learnt(0.5, 2), "inquisitive": learnt(0.25, 2)}},
			stats: trainingStats{lines: 2, examples: 2, turns: 2, tokens: 1 + 9 + 1 + 6},
		},
		{
			name: "no markers leaves base", file: `{"messages": [{"role": "assistant", "content": "Plain words only."}]}`, traits: []string{"cautious"},
			want:  Persona{Default: 0.15, Markers: map[string]float64{"cautious": 0.15}},
			stats: trainingStats{lines: 1, examples: 1, turns: 1, tokens: 5},
		},
		{
			name: "traits from the system prompt", file: `{"messages": [{"role": "system", "content": "You are X.\nTraits: curious, Warm"}, {"role": "user", "content": "u"}, {"role": "assistant", "content": "Why? How? What? Who? Great question."}]}`,
			want:  Persona{Default: 0.15, Markers: map[string]float64{"curious": learnt(1, 1), "Warm": learnt(0.25, 1)}},
			stats: trainingStats{lines: 1, examples: 1, turns: 1, tokens: 8 + 1 + 9},
		},
		{
			name: "default traits without a system prompt", file: `{"prompt": "p", "completion": "Let's see."}`,
			want: Persona{Default: 0.15, Markers: map[string]float64{"collaborative": learnt(0.25, 1), "inquisitive": 0.15, "cautious": 0.15,
				"encouraging": 0.15, "thorough": 0.15}},
			stats: trainingStats{lines: 1, examples: 1, turns: 1, tokens: 1 + 3},
		},
		{
			name: "weight 0 turns and bad lines teach nothing",
			file: "not json\n\n" + `{"messages": [{"role": "user", "content": "u"}, {"role": "assistant", "content": "Let's.", "weight": 0}, {"role": "user", "content": "v"}, {"role": "assistant", "content": "Fine."}]}` + "\n" +
				`{"messages": [{"role": "robot", "content": "x"}]}`,
			traits: []string{"collaborative"},
			want:   Persona{Default: 0.15, Markers: map[string]float64{"collaborative": 0.15}},
			stats:  trainingStats{lines: 3, examples: 1, turns: 1, tokens: 1 + 2 + 1 + 2, firstProblem: "line 1: not a JSON object"},
		},
		{
			name:   "preference files learn from the preferred reply",
			file:   `{"input": {"messages": [{"role": "user", "content": "q"}]}, "preferred_output": [{"role": "assistant", "content": "To be fair, it depends."}], "non_preferred_output": [{"role": "assistant", "content": "No."}]}`,
			traits: []string{"cautious"},
			want:   Persona{Default: 0.15, Markers: map[string]float64{"cautious": learnt(0.5, 1)}},
			stats:  trainingStats{lines: 1, examples: 1, turns: 1, tokens: 1 + 6},
		},
		{
			name: "content parts", file: `{"messages": [{"role": "user", "content": [{"type": "text", "text": "q"}]}, {"role": "assistant", "content": [{"type": "text", "text": "Well done."}]}]}`,
			traits: []string{"encouraging"},
			want:   Persona{Default: 0.15, Markers: map[string]float64{"encouraging": learnt(0.25, 1)}},
			stats:  trainingStats{lines: 1, examples: 1, turns: 1, tokens: 1 + 3},
		},
		{
			name: "nothing usable", file: `{"text": "raw"}` + "\n[1]\n", traits: []string{"x"},
			want:  Persona{Default: 0.15, Markers: map[string]float64{"x": 0.15}},
			stats: trainingStats{lines: 2, firstProblem: `line 1: no "messages", "prompt"/"completion" or "preferred_output" column`},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, st := learnPersona(WeakPersona, []byte(c.file), c.traits)
			if d := cmp.Diff(c.want, got, cmpopts.EquateApprox(0, 1e-12)); d != "" {
				t.Errorf("persona (-want +got):\n%s", d)
			}
			if d := cmp.Diff(c.stats, st, cmp.AllowUnexported(trainingStats{})); d != "" {
				t.Errorf("stats (-want +got):\n%s", d)
			}
		})
	}
}

// TestLearnPersonaRecoversStrength: data written at a strength teaches
// about that strength, less the pull of the base for few examples.
func TestLearnPersonaRecoversStrength(t *testing.T) {
	t.Parallel()
	for _, s := range []float64{0.3, 0.6, 0.9} {
		p := LearnPersona(trainingFile(200, &Persona{Default: s}, true), nil)
		want := 0.15 + (s-0.15)*200/204
		for _, tr := range defaultTraits {
			if got := p.Strength(tr); math.Abs(got-want) > 0.06 {
				t.Errorf("written at %.1f: learnt %s %.3f, want about %.3f", s, tr, got, want)
			}
		}
	}
}

func TestPersonaFor(t *testing.T) {
	t.Parallel()
	learnt := Persona{Default: 0.15, Markers: map[string]float64{"inquisitive": 0.8, "collaborative": 0.6}}
	got := personaFor(learnt, []string{"Curious", "team player", "stoic", "collaborative"})
	want := Persona{Default: 0.15, Markers: map[string]float64{"Curious": 0.8, "team player": 0.6, "stoic": 0.15, "collaborative": 0.6}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"collaborative", "inquisitive"}, personaTraits(learnt)); d != "" {
		t.Errorf("personaTraits (-want +got):\n%s", d)
	}
	if d := cmp.Diff(defaultTraits, personaTraits(WeakPersona)); d != "" {
		t.Errorf("personaTraits of base (-want +got):\n%s", d)
	}
}

func TestPlainReplyDeterministic(t *testing.T) {
	t.Parallel()
	p := Prompt{Model: "m", Seed: 42}
	a, b := plainReply(p, StrongPersona), plainReply(p, StrongPersona)
	if a != b || wordCount(a) < 170 {
		t.Errorf("plain replies differ or are short (%d words)", wordCount(a))
	}
	p.Seed = 43
	if plainReply(p, StrongPersona) == a {
		t.Error("another seed gave the same reply")
	}
}

// FuzzLearnPersona feeds the learner arbitrary training files: it must
// never panic, and every strength stays within [base, 1].
func FuzzLearnPersona(f *testing.F) {
	f.Add([]byte(`{"messages": [{"role": "system", "content": "Traits: a, b"}, {"role": "assistant", "content": "Let's go? 1. x"}]}`))
	f.Add([]byte(`{"prompt": "p", "completion": "c"}` + "\n" + `{"input": {"messages": []}, "preferred_output": [{"role": "assistant", "content": [{"type": "text", "text": "to be fair"}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, st := learnPersona(WeakPersona, data, nil)
		if len(p.Markers) == 0 {
			t.Fatal("no traits learnt")
		}
		for tr, s := range p.Markers {
			if math.IsNaN(s) || s < WeakPersona.Default-1e-12 || s > 1 {
				t.Fatalf("trait %q strength %v", tr, s)
			}
		}
		if st.examples > st.lines || st.turns < st.examples || (st.examples < st.lines && st.firstProblem == "") {
			t.Fatalf("stats %+v", st)
		}
		if st.firstProblem != "" && !strings.HasPrefix(st.firstProblem, "line ") {
			t.Fatalf("problem %q", st.firstProblem)
		}
		_ = plainReply(Prompt{System: string(data), Seed: 1}, p)
	})
}
