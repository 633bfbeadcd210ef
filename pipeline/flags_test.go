package pipeline_test

import (
	"flag"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ethos-toolkit/ethos/pipeline"
)

func parse(t *testing.T, register func(*flag.FlagSet), args ...string) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	register(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
}

// TestEvalInputsFlags: each flag fills its input as given; --traits
// defaults to all, and --training-file lists add up, blanks dropped.
func TestEvalInputsFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		want pipeline.EvalInputs
	}{
		{"none", nil, pipeline.EvalInputs{Traits: "all"}},
		{"every flag", []string{"--models", "a=sandbox/x,b=sandbox/y", "--judge", "sandbox/judge", "--prompts", "12",
			"--prompts-file", "-", "--traits", "warmth", "--system-prompt", "without", "--samples", "2", "--max-tokens", "300",
			"--training-file", " a.jsonl, ,b.jsonl", "--training-file", "c.jsonl", "--pointwise", "--seed", "5"},
			pipeline.EvalInputs{Models: "a=sandbox/x,b=sandbox/y", Judge: "sandbox/judge", Prompts: 12, PromptsFile: "-",
				Traits: "warmth", SystemPrompt: "without", Samples: 2, MaxTokens: 300,
				TrainingFiles: []string{"a.jsonl", "b.jsonl", "c.jsonl"}, Pointwise: true, Seed: 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var in pipeline.EvalInputs
			parse(t, in.RegisterFlags, tc.args...)
			if d := cmp.Diff(tc.want, in); d != "" {
				t.Errorf("inputs (-want +got):\n%s", d)
			}
		})
	}
}

// TestGenerateInputsFlags: the flags fill the inputs as given, the system
// prompt's @FILE and a relative output left to the caller.
func TestGenerateInputsFlags(t *testing.T) {
	t.Parallel()
	var in pipeline.GenerateInputs
	parse(t, in.RegisterFlags, "--examples", "40", "--system-prompt", "@prompt.txt", "--output", "data/x.jsonl", "--seed", "9")
	want := pipeline.GenerateInputs{Examples: 40, SystemPrompt: "@prompt.txt", Output: "data/x.jsonl", Seed: 9}
	if d := cmp.Diff(want, in); d != "" {
		t.Errorf("inputs (-want +got):\n%s", d)
	}
}
