package main

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethos-toolkit/ethos/dataset"
	"github.com/google/go-cmp/cmp"
)

// update rewrites golden files in testdata/ instead of comparing with them
// (go test ./cmd/ethos -run Golden -update).
var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or writes it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

// copyTestdata copies a file of the dataset package's testdata into dir.
func copyTestdata(t *testing.T, dir, name string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "dataset", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestDatasetCheckGolden checks the file with one error of every kind as
// each provider would, in text and JSON.
func TestDatasetCheckGolden(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	copyTestdata(t, dir, "every_error.jsonl")
	for _, provider := range []string{"together", "openai"} {
		for _, format := range []string{"txt", "json"} {
			args := []string{"dataset", "check", "every_error.jsonl", "--provider", provider}
			if format == "json" {
				args = append(args, "--json")
			}
			r := ethosCLI(t, dir, nil, args...)
			if r.code != 1 || r.stderr != "" {
				t.Errorf("%s %s: exit %d (want 1), stderr %q", provider, format, r.code, r.stderr)
			}
			golden(t, filepath.Join("dataset", "check_"+provider+"."+format), r.stdout)
			if format == "json" {
				var rep dataset.Report
				if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || rep.Errors() == 0 {
					t.Errorf("%s --json: %v, %d errors", provider, err, rep.Errors())
				}
			}
		}
	}
}

func TestDatasetCheckExits(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ok := `{"messages":[{"role":"user","content":"Which vegetables grow in shade?"},{"role":"assistant","content":"Spinach, lettuce and kale."}]}` + "\n"
	warn := `{"messages":[{"role":"user","content":"Dear [Your Name], which vegetables grow in shade?"},{"role":"assistant","content":"Spinach, lettuce and kale."}]}` + "\n"
	write("ok.jsonl", ok)
	write("warn.jsonl", warn)
	write("bad.jsonl", ok+"\n")
	write("preference.jsonl", `{"input":{"messages":[{"role":"user","content":"Which vegetables grow in shade?"}]},"preferred_output":[{"role":"assistant","content":"Spinach, lettuce and kale."}],"non_preferred_output":[{"role":"assistant","content":"None."}]}`+"\n")
	for _, tc := range []struct {
		name string
		args []string
		code int
		out  string // in stdout
		err  string // in stderr
	}{
		{"valid, provider from the offline defaults", []string{"ok.jsonl"}, 0, "ok.jsonl: ok for sandbox: 1 example, conversation format, 0 warnings", ""},
		{"warnings only", []string{"warn.jsonl", "--provider", "together"}, 0, `warn.jsonl:1: quality.placeholder: messages[0] (user): unfilled slot "[Your Name]" (warning)`, ""},
		{"an error", []string{"bad.jsonl", "--provider", "together"}, 1, "bad.jsonl:2: line.empty:", ""},
		{"a preference file for supervised training", []string{"preference.jsonl", "--provider", "together"}, 1, "preference.jsonl:1: method.format: a preference (DPO) example", ""},
		{"flags before the file", []string{"--provider", "openai", "ok.jsonl"}, 1, "ok.jsonl: examples.min: 1 example(s); openai needs at least 10", ""},
		{"missing file", []string{"nope.jsonl"}, 1, "", "nope.jsonl: no such file"},
		{"no file", nil, 2, "", "takes one FILE"},
		{"two files", []string{"ok.jsonl", "bad.jsonl"}, 2, "", "takes one FILE"},
		{"unknown provider", []string{"ok.jsonl", "--provider", "fireworks"}, 2, "", `unknown --provider "fireworks"`},
		{"missing --config", []string{"ok.jsonl", "--config", "none.yaml"}, 2, "", "none.yaml: no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ethosCLI(t, dir, nil, append([]string{"dataset", "check"}, tc.args...)...)
			if r.code != tc.code || !strings.Contains(r.stdout, tc.out) || !strings.Contains(r.stderr, tc.err) {
				t.Fatalf("exit %d (want %d)\nstdout %q (want %q)\nstderr %q (want %q)", r.code, tc.code, r.stdout, tc.out, r.stderr, tc.err)
			}
		})
	}
}

func TestDatasetUsage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"dataset"}, 2, "name a subcommand"},
		{[]string{"dataset", "frob"}, 2, `unknown subcommand "frob"`},
		{[]string{"dataset", "--help"}, 0, "Usage: ethos dataset check FILE"},
		{[]string{"dataset", "check", "--help"}, 0, "Usage: ethos dataset check FILE"},
		{[]string{"dataset", "stats", "--help"}, 0, "Usage: ethos dataset stats FILE"},
		{[]string{"dataset", "split", "--help"}, 0, "Usage: ethos dataset split FILE"},
		{[]string{"dataset", "stats", "--bogus", "x.jsonl"}, 2, "flag provided but not defined"},
	} {
		r := ethosCLI(t, dir, nil, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d (want %d), stderr %q (want %q)", tc.args, r.code, tc.code, r.stderr, tc.want)
		}
	}
}

// TestDatasetCheckOnGeneratedData runs the generation pipeline against
// the sandbox and checks what it exported: neither provider may refuse
// it, and the first dataset command a user runs after generate must pass.
func TestDatasetCheckOnGeneratedData(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if r := ethosCLI(t, dir, nil, "generate", "--examples", "12"); r.code != 0 {
		t.Fatalf("generate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, provider := range []string{"together", "openai", "sandbox"} {
		r := ethosCLI(t, dir, nil, "dataset", "check", "data/agora.jsonl", "--provider", provider, "--json")
		var rep dataset.Report
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("%s: %v\n%s", provider, err, r.stdout)
		}
		if r.code != 0 || rep.Errors() != 0 || rep.Examples != 12 {
			t.Errorf("%s: exit %d, %d examples, problems %+v", provider, r.code, rep.Examples, rep.Problems)
		}
		if rep.Warnings() != 0 {
			t.Errorf("%s: the generated data passed review but has warnings: %+v", provider, rep.Problems)
		}
	}
	r := ethosCLI(t, dir, nil, "dataset", "stats", "data/agora.jsonl", "--json")
	var st dataset.Stats
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || r.code != 0 {
		t.Fatalf("stats: exit %d, %v\n%s", r.code, err, r.stdout)
	}
	if st.Examples != 12 || st.Turns != 36 || len(st.Roles) != 3 || st.TrainedTokens == 0 || st.Duplicates != 0 {
		t.Errorf("stats of the generated data: %+v", st)
	}
}

func TestDatasetStatsCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	copyTestdata(t, dir, "every_error.jsonl")
	r := ethosCLI(t, dir, nil, "dataset", "stats", "every_error.jsonl")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	golden(t, filepath.Join("dataset", "stats.txt"), r.stdout)
	j := ethosCLI(t, dir, nil, "dataset", "stats", "every_error.jsonl", "--json")
	var st dataset.Stats
	if err := json.Unmarshal([]byte(j.stdout), &st); err != nil || j.code != 0 || st.Path != "every_error.jsonl" || st.Examples == 0 {
		t.Fatalf("--json: exit %d, %v, %+v", j.code, err, st)
	}
	if r := ethosCLI(t, dir, nil, "dataset", "stats", "missing.jsonl"); r.code != 1 || !strings.Contains(r.stderr, "missing.jsonl: no such file") {
		t.Fatalf("missing file: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestDatasetSplitCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var lines []string
	for _, q := range []string{"shade", "sun", "frost", "wind", "clay", "sand", "rain", "drought", "pests", "slugs"} {
		lines = append(lines, `{"messages":[{"role":"user","content":"What grows in `+q+`?"},{"role":"assistant","content":"Plenty grows in `+q+`."}]}`)
	}
	os.MkdirAll(filepath.Join(dir, "data"), 0o755)
	os.WriteFile(filepath.Join(dir, "data", "agora.jsonl"), []byte(strings.Join(lines, "\n")+"\n"), 0o644)

	r := ethosCLI(t, dir, nil, "dataset", "split", "data/agora.jsonl", "--validation", "0.2", "--seed", "3")
	want := "data/agora.jsonl: 10 examples → data/agora.train.jsonl (8 training), data/agora.validation.jsonl (2 validation), seed 3\n"
	if r.code != 0 || r.stdout != want {
		t.Fatalf("split: exit %d\nstdout %q\nwant   %q\nstderr %q", r.code, r.stdout, want, r.stderr)
	}
	for name, n := range map[string]int{"agora.train.jsonl": 8, "agora.validation.jsonl": 2} {
		data, err := os.ReadFile(filepath.Join(dir, "data", name))
		if err != nil || strings.Count(string(data), "\n") != n {
			t.Errorf("%s: %v, %d lines, want %d", name, err, strings.Count(string(data), "\n"), n)
		}
	}
	if r := ethosCLI(t, dir, nil, "dataset", "check", "data/agora.validation.jsonl", "--provider", "together"); r.code != 0 {
		t.Errorf("the validation file does not pass the check: %s", r.stdout)
	}

	again := ethosCLI(t, dir, nil, "dataset", "split", "data/agora.jsonl", "--validation", "0.2")
	if again.code != 2 || !strings.Contains(again.stderr, "already exists") {
		t.Fatalf("second split: exit %d, stderr %q", again.code, again.stderr)
	}
	forced := ethosCLI(t, dir, nil, "dataset", "split", "data/agora.jsonl", "--validation", "3", "--force", "--json")
	var res dataset.SplitResult
	if err := json.Unmarshal([]byte(forced.stdout), &res); err != nil || forced.code != 0 || res.ValidationExamples != 3 || res.TrainExamples != 7 {
		t.Fatalf("--force --json: exit %d, %v, %+v, stderr %q", forced.code, err, res, forced.stderr)
	}

	named := ethosCLI(t, dir, nil, "dataset", "split", "data/agora.jsonl", "--train-out", "out/t.jsonl", "--validation-out", "out/v.jsonl")
	if named.code != 0 || !strings.Contains(named.stdout, "out/t.jsonl (9 training), out/v.jsonl (1 validation)") {
		t.Fatalf("named outputs, validation from the offline defaults (0.1): exit %d\n%s%s", named.code, named.stdout, named.stderr)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"data/agora.jsonl", "--validation", "1.5"}, 2, "whole number"},
		{[]string{"data/agora.jsonl", "--validation", "-1"}, 2, "between 0 and 1"},
		{[]string{"data/agora.jsonl", "--validation", "0"}, 2, "--validation 0 holds no example out"},
		{[]string{"data/agora.jsonl", "--validation=0.0"}, 2, "--validation 0 holds no example out"},
		{[]string{"missing.jsonl", "--validation", "0.1"}, 1, "missing.jsonl: no such file"},
		{[]string{"data/agora.jsonl", "--train-out", "data/agora.jsonl", "--validation", "0.1"}, 2, "is the input"},
	} {
		r := ethosCLI(t, dir, nil, append([]string{"dataset", "split"}, tc.args...)...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d (want %d), stderr %q (want %q)", tc.args, r.code, tc.code, r.stderr, tc.want)
		}
	}
}

// TestDatasetStatsPreference: a preference file's stats add its pairs —
// the tokens of each part, how much of each pair opens alike, and how many
// non-preferred sides are the longer.
func TestDatasetStatsPreference(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pair := func(user, chosen, rejected string) string {
		b, _ := json.Marshal(map[string]any{
			"input":                map[string]any{"messages": []map[string]string{{"role": "user", "content": user}}},
			"preferred_output":     []map[string]string{{"role": "assistant", "content": chosen}},
			"non_preferred_output": []map[string]string{{"role": "assistant", "content": rejected}},
		})
		return string(b)
	}
	lines := []string{
		pair("What should I plant in spring?", "Peas and lettuce do well early; what light does your plot get?", "Plant tomatoes."),
		pair("How do I fix a slow drain?", "Start with hot water and a plunger, then tell me what you find.", "Start with hot water and a plunger, then call a plumber if it stays slow, because it may be the pipe."),
		pair("Is it too late to learn piano?", "No. Adults learn steadily with short daily practice; what draws you to it?", "It is never too late."),
	}
	if err := os.WriteFile(filepath.Join(dir, "pairs.jsonl"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := ethosCLI(t, dir, nil, "dataset", "stats", "pairs.jsonl")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	golden(t, filepath.Join("dataset", "stats_pairs.txt"), r.stdout)
}
