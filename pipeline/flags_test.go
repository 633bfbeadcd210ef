package pipeline_test

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ethos-toolkit/ethos"
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

// TestCompleteInputsRequest: the flags make one request, a system
// prompt's @FILE read from the directory given; each bad input is a
// Config error naming its flag.
func TestCompleteInputsRequest(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "system.txt"), []byte("Be brief."), 0o644); err != nil {
		t.Fatal(err)
	}
	var in pipeline.CompleteInputs
	parse(t, in.RegisterFlags, "--model", "sandbox/writer", "--system", "@system.txt", "--temperature", "0.5", "--sample", "2", "--stream")
	req, err := in.Request([]string{"hello"}, dir)
	if err != nil {
		t.Fatal(err)
	}
	temp := 0.5
	want := ethos.Request{Model: "sandbox/writer", System: "Be brief.", Messages: []ethos.Message{{Role: ethos.RoleUser, Content: "hello"}},
		MaxTokens: 1024, Temperature: &temp, Stream: true, Sample: 2, Metadata: map[string]string{"stage": "complete"}}
	if d := cmp.Diff(want, req); d != "" {
		t.Errorf("request (-want +got):\n%s", d)
	}
	for _, tc := range []struct {
		name    string
		args    []string
		prompts []string
		want    string
	}{
		{"no model", nil, []string{"hi"}, "--model is required"},
		{"a model without its provider", []string{"--model", "writer"}, []string{"hi"}, `--model "writer": want provider/model`},
		{"two prompts", []string{"--model", "sandbox/writer"}, []string{"hi", "there"}, "exactly one prompt argument (quote it), got 2"},
		{"a blank prompt", []string{"--model", "sandbox/writer"}, []string{"  "}, "exactly one prompt argument"},
		{"no tokens", []string{"--model", "sandbox/writer", "--max-tokens", "0"}, []string{"hi"}, "--max-tokens must be at least 1"},
		{"too hot", []string{"--model", "sandbox/writer", "--temperature", "2.5"}, []string{"hi"}, `--temperature "2.5": want a number from 0 to 2`},
	} {
		var in pipeline.CompleteInputs
		parse(t, in.RegisterFlags, tc.args...)
		_, err := in.Request(tc.prompts, dir)
		if ethos.KindOf(err) != ethos.Config || err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want a Config error with %q", tc.name, err, tc.want)
		}
	}
}
