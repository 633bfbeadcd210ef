package dataset_test

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/dataset"
	"github.com/google/go-cmp/cmp"
)

// numbered returns n distinct one-line examples.
func numbered(n int) []string {
	var lines []string
	for i := range n {
		lines = append(lines, `{"prompt":"question `+string(rune('A'+i/26))+string(rune('a'+i%26))+`","completion":"answer"}`)
	}
	return lines
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

// isSubsequence says whether sub appears in all in the same order.
func isSubsequence(sub, all []string) bool {
	i := 0
	for _, s := range all {
		if i < len(sub) && sub[i] == s {
			i++
		}
	}
	return i == len(sub)
}

func TestSplit(t *testing.T) {
	t.Parallel()
	lines := numbered(20)
	dir := t.TempDir()
	in := filepath.Join(dir, "agora.jsonl")
	os.WriteFile(in, []byte(file(lines...)), 0o644)

	res, err := dataset.Split(t.Context(), in, 0.1, 7, "", "", false)
	if err != nil {
		t.Fatal(err)
	}
	want := &dataset.SplitResult{
		Train: filepath.Join(dir, "agora.train.jsonl"), Validation: filepath.Join(dir, "agora.validation.jsonl"),
		TrainExamples: 18, ValidationExamples: 2, Seed: 7,
	}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Fatalf("result (-want +got):\n%s", diff)
	}
	train, val := readLines(t, res.Train), readLines(t, res.Validation)
	if len(train) != 18 || len(val) != 2 {
		t.Fatalf("%d training and %d validation lines", len(train), len(val))
	}
	all := slices.Concat(train, val)
	slices.Sort(all)
	sorted := slices.Clone(lines)
	slices.Sort(sorted)
	if diff := cmp.Diff(sorted, all); diff != "" {
		t.Fatalf("the outputs do not hold exactly the input's examples:\n%s", diff)
	}
	if !isSubsequence(train, lines) || !isSubsequence(val, lines) {
		t.Error("an output does not keep the input's order")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Errorf("directory holds %d entries, want the input and two outputs (no temporary files)", len(entries))
	}

	// The same seed gives the same split; another seed another one.
	again, err := dataset.Split(t.Context(), in, 0.1, 7, filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl"), false)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(val, readLines(t, again.Validation)); diff != "" {
		t.Errorf("same seed, different validation set:\n%s", diff)
	}
	other, err := dataset.Split(t.Context(), in, 0.1, 8, filepath.Join(dir, "c.jsonl"), filepath.Join(dir, "d.jsonl"), false)
	if err != nil {
		t.Fatal(err)
	}
	if cmp.Equal(val, readLines(t, other.Validation)) {
		t.Error("seeds 7 and 8 chose the same validation set")
	}
}

// TestSplitDependsOnContentNotPosition: reordering the file does not move
// an example to the other side.
func TestSplitDependsOnContentNotPosition(t *testing.T) {
	t.Parallel()
	lines := numbered(30)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")
	os.WriteFile(a, []byte(file(lines...)), 0o644)
	reversed := slices.Clone(lines)
	slices.Reverse(reversed)
	os.WriteFile(b, []byte(file(reversed...)), 0o644)
	ra, err := dataset.Split(t.Context(), a, 5, 1, "", "", false)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := dataset.Split(t.Context(), b, 5, 1, "", "", false)
	if err != nil {
		t.Fatal(err)
	}
	va, vb := readLines(t, ra.Validation), readLines(t, rb.Validation)
	slices.Reverse(vb)
	if ra.ValidationExamples != 5 || !cmp.Equal(va, vb) {
		t.Errorf("validation sets differ: %v vs %v", va, vb)
	}
}

func TestSplitKeepsCopiesTogether(t *testing.T) {
	t.Parallel()
	lines := numbered(7)
	copyLine := lines[3]
	// The same example three times, once with other spacing.
	spaced := strings.ReplaceAll(copyLine, `":"`, `" : "`)
	lines = append(lines, copyLine, spaced)
	in := writeFile(t, "dups.jsonl", file(lines...))
	for seed := range int64(20) {
		dir := t.TempDir()
		res, err := dataset.Split(t.Context(), in, 0.3, seed, filepath.Join(dir, "t.jsonl"), filepath.Join(dir, "v.jsonl"), false)
		if err != nil {
			t.Fatal(err)
		}
		train := strings.Join(readLines(t, res.Train), "\n")
		val := strings.Join(readLines(t, res.Validation), "\n")
		inTrain := strings.Contains(train, "question Ad")
		inVal := strings.Contains(val, "question Ad")
		if inTrain == inVal {
			t.Fatalf("seed %d: copies of one example on both sides\ntrain:\n%s\nvalidation:\n%s", seed, train, val)
		}
		if res.TrainExamples+res.ValidationExamples != 9 || res.ValidationExamples < 1 || res.ValidationExamples > 3 {
			t.Fatalf("seed %d: %+v", seed, res)
		}
	}
}

func TestSplitRefuses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := filepath.Join(dir, "d.jsonl")
	os.WriteFile(in, []byte(file(numbered(10)...)), 0o644)
	one := writeFile(t, "one.jsonl", file(numbered(1)...))
	same := writeFile(t, "same.jsonl", file(numbered(1)[0], numbered(1)[0], numbered(1)[0]))
	for _, tc := range []struct {
		name       string
		in         string
		validation float64
		train, val string
		kind       ethos.Kind
		want       string
	}{
		{"zero", in, 0, "", "", ethos.Config, "between 0 and 1"},
		{"negative", in, -0.1, "", "", ethos.Config, "between 0 and 1"},
		{"fraction above 1", in, 1.5, "", "", ethos.Config, "whole number"},
		{"NaN", in, math.NaN(), "", "", ethos.Config, "between 0 and 1"},
		{"same outputs", in, 0.1, filepath.Join(dir, "x.jsonl"), filepath.Join(dir, "x.jsonl"), ethos.Config, "two different paths"},
		{"output is the input", in, 0.1, in, "", ethos.Config, "is the input"},
		{"one example", one, 0.5, "", "", ethos.Invalid, "at least 2"},
		{"one example three times", same, 0.5, "", "", ethos.Invalid, "remove the duplicates"},
		{"missing", filepath.Join(dir, "nope.jsonl"), 0.1, "", "", ethos.NotFound, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dataset.Split(t.Context(), tc.in, tc.validation, 0, tc.train, tc.val, false)
			if ethos.KindOf(err) != tc.kind || !strings.Contains(errText(err), tc.want) {
				t.Fatalf("error %v (kind %s), want kind %s containing %q", err, ethos.KindOf(err), tc.kind, tc.want)
			}
		})
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestSplitNeverOverwritesWithoutForce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := filepath.Join(dir, "d.jsonl")
	os.WriteFile(in, []byte(file(numbered(10)...)), 0o644)
	train, val := dataset.SplitOutputs(in)
	os.WriteFile(val, []byte("mine\n"), 0o644)
	_, err := dataset.Split(t.Context(), in, 0.2, 0, "", "", false)
	if ethos.KindOf(err) != ethos.Config || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("existing output: %v", err)
	}
	if got, _ := os.ReadFile(val); string(got) != "mine\n" {
		t.Fatal("the existing file was changed")
	}
	if _, err := os.Stat(train); err == nil {
		t.Fatal("the training file was written although the split was refused")
	}
	res, err := dataset.Split(t.Context(), in, 0.2, 0, "", "", true)
	if err != nil || res.ValidationExamples != 2 || len(readLines(t, val)) != 2 {
		t.Fatalf("--force: %v %+v", err, res)
	}
}

func TestSplitOutputs(t *testing.T) {
	t.Parallel()
	for in, want := range map[string][2]string{
		"data/agora.jsonl": {"data/agora.train.jsonl", "data/agora.validation.jsonl"},
		"data/agora.JSONL": {"data/agora.train.jsonl", "data/agora.validation.jsonl"},
		"agora.json":       {"agora.json.train.jsonl", "agora.json.validation.jsonl"},
		"data.v2/set":      {"data.v2/set.train.jsonl", "data.v2/set.validation.jsonl"},
	} {
		train, val := dataset.SplitOutputs(in)
		if train != want[0] || val != want[1] {
			t.Errorf("SplitOutputs(%q) = %q, %q; want %q", in, train, val, want)
		}
	}
}

func TestSplitCreatesOutputDirectory(t *testing.T) {
	t.Parallel()
	in := writeFile(t, "d.jsonl", file(numbered(4)...)+"\n\n")
	dir := t.TempDir()
	res, err := dataset.Split(t.Context(), in, 0.25, 3, filepath.Join(dir, "out", "t.jsonl"), filepath.Join(dir, "out", "v.jsonl"), false)
	if err != nil {
		t.Fatal(err)
	}
	if res.TrainExamples != 3 || res.ValidationExamples != 1 {
		t.Fatalf("blank lines are not examples: %+v", res)
	}
}

// TestSplitPreference splits a preference file by content as it does a
// conversation file: a pair written again with other spacing and key
// order lands on the same side as its first copy, and both outputs are
// preference files that check clean.
func TestSplitPreference(t *testing.T) {
	t.Parallel()
	var lines []string
	for i := range 10 {
		lines = append(lines, preference(i))
	}
	// Pair 3 again, keys in another order and spaced out.
	lines = append(lines, fmt.Sprintf(`{ "non_preferred_output": [ %s ], "preferred_output": [ %s ], "input": { "messages": [ %s ] } }`,
		turn("assistant", "No idea, sorry, number 3"), turn("assistant", pairs[3][1]), turn("user", pairs[3][0])))
	dir := t.TempDir()
	in := filepath.Join(dir, "pairs.jsonl")
	os.WriteFile(in, []byte(file(lines...)), 0o644)
	for seed := range int64(8) {
		res, err := dataset.Split(t.Context(), in, 0.3, seed, filepath.Join(dir, fmt.Sprint(seed, ".train.jsonl")), filepath.Join(dir, fmt.Sprint(seed, ".val.jsonl")), false)
		if err != nil {
			t.Fatal(err)
		}
		train, val := readLines(t, res.Train), readLines(t, res.Validation)
		if len(train)+len(val) != 11 || len(val) == 0 {
			t.Fatalf("seed %d: %d training and %d validation lines", seed, len(train), len(val))
		}
		if slices.Contains(train, lines[3]) != slices.Contains(train, lines[10]) {
			t.Errorf("seed %d: the two copies of pair 3 landed on different sides", seed)
		}
		for _, out := range []string{res.Train, res.Validation} {
			rep, err := dataset.CheckFileWith(t.Context(), out, dataset.Options{Method: dataset.MethodPreference, Validation: out == res.Validation})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Method() != dataset.MethodPreference || rep.Errors() > 0 {
				t.Errorf("seed %d: %s is %s with %d errors:\n%s", seed, out, rep.Method(), rep.Errors(), messages(rep))
			}
		}
	}
}
