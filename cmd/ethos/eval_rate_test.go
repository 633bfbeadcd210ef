package main

import (
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ethos-toolkit/ethos/eval/stats"
)

const ratingsDir = "../../eval/stats/testdata/ratings"

// The reference ratings of evalica, through the command line: Elo to 1e-9
// relative, Bradley–Terry strengths to 1e-6.
func TestEvalRateMatchesReference(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, name := range []string{"simple", "food", "llmfao"} {
		file, _ := filepath.Abs(filepath.Join(ratingsDir, name+".csv"))
		r := ethosCLI(t, dir, nil, "eval", "rate", file, "--method", "all", "--bootstrap", "0", "--json")
		if r.code != 0 {
			t.Fatalf("%s: exit %d: %s", name, r.code, r.stderr)
		}
		var results []stats.MethodRatings
		if err := json.Unmarshal([]byte(r.stdout), &results); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, r.stdout)
		}
		if len(results) != 3 || results[0].Method != "elo" || results[1].Method != "bt" || results[2].Method != "winrate" {
			t.Fatalf("%s: methods %+v, want elo, bt, winrate", name, results)
		}
		golden := readGolden(t, filepath.Join(ratingsDir, name+"-golden.csv"))
		for _, rec := range results[0].Ratings {
			if want := golden["elo"][rec.Model]; math.Abs(rec.Rating-want) > 1e-9*math.Abs(want) {
				t.Errorf("%s elo %s: %.12f, want %.12f", name, rec.Model, rec.Rating, want)
			}
			if rec.CILow != nil {
				t.Errorf("%s: an interval without a bootstrap", name)
			}
		}
		for _, rec := range results[1].Ratings {
			if want := golden["bradley_terry"][rec.Model]; rec.Strength == nil || math.Abs(*rec.Strength-want) > 1e-6*want {
				t.Errorf("%s bt %s: strength %v, want %.12f", name, rec.Model, rec.Strength, want)
			}
		}
		for _, res := range results {
			if len(res.Ratings) != len(golden["elo"]) {
				t.Errorf("%s %s: %d models, want %d", name, res.Method, len(res.Ratings), len(golden["elo"]))
			}
		}
	}
}

func readGolden(t *testing.T, path string) map[string]map[string]float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]float64{}
	for _, row := range rows[1:] {
		v, _ := strconv.ParseFloat(row[2], 64)
		if out[row[0]] == nil {
			out[row[0]] = map[string]float64{}
		}
		out[row[0]][row[1]] = v
	}
	return out
}

func TestEvalRate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, data string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return name
	}
	// The legacy result: tuned 2 W, 5 L, 3 T against base.
	legacy := write("legacy.csv", "left,right,winner\n"+
		strings.Repeat("tuned,base,left\n", 2)+strings.Repeat("tuned,base,right\n", 5)+strings.Repeat("base,tuned,tie\n", 3))

	// Bradley–Terry: the two-model gap is 400·log10(0.35/0.65) ≈ −107.5.
	r := ethosCLI(t, dir, nil, "eval", "rate", legacy, "--json", "--bootstrap", "200")
	var bt stats.MethodRatings
	if err := json.Unmarshal([]byte(r.stdout), &bt); err != nil || r.code != 0 {
		t.Fatalf("bt: exit %d, %v: %s%s", r.code, err, r.stdout, r.stderr)
	}
	if bt.Method != "bt" || bt.Battles != 10 || len(bt.Ratings) != 2 || bt.Ratings[0].Model != "base" {
		t.Fatalf("bt result %+v", bt)
	}
	gap := bt.Ratings[1].Rating - bt.Ratings[0].Rating
	if math.Abs(gap-400*math.Log10(0.35/0.65)) > 1e-9 || bt.Ratings[1].Wins != 2 || bt.Ratings[1].Losses != 5 || bt.Ratings[1].Ties != 3 {
		t.Errorf("tuned %+v, base %+v: want a gap of −107.5 and 2/5/3", bt.Ratings[1], bt.Ratings[0])
	}
	for _, rec := range bt.Ratings {
		if rec.CILow == nil || !(*rec.CILow <= rec.Rating && rec.Rating <= *rec.CIHigh) {
			t.Errorf("%s: rating %.1f, interval %v–%v", rec.Model, rec.Rating, rec.CILow, rec.CIHigh)
		}
	}

	// The legacy Elo rule from the command line.
	r = ethosCLI(t, dir, nil, "eval", "rate", legacy, "--method", "elo", "--init", "1500", "--k", "32", "--ties", "skip", "--bootstrap", "0", "--json")
	var elo stats.MethodRatings
	if err := json.Unmarshal([]byte(r.stdout), &elo); err != nil {
		t.Fatalf("elo: %v: %s%s", err, r.stdout, r.stderr)
	}
	if got := elo.Ratings[1]; got.Model != "tuned" || math.Abs(got.Rating-1452.2430007126245) > 1e-9 {
		t.Errorf("legacy Elo of tuned: %+v, want 1452.2430007126245", got)
	}

	// Text output, from stdin.
	data, _ := os.ReadFile(filepath.Join(dir, legacy))
	var out strings.Builder
	m := &Main{Stdin: strings.NewReader(string(data)), Stdout: &out, Stderr: &out, Dir: dir, Getenv: func(string) string { return "" }}
	if err := m.Run(t.Context(), []string{"eval", "rate", "-", "--method", "winrate"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"winrate: win rate", "10 battles, 2 models", "0.6500", "0.3500", "MODEL"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("text output lacks %q:\n%s", want, out.String())
		}
	}

	// A judgment export, one trait at a time.
	judgments := write("judgments.jsonl", `{"trait":"overall","first":"tuned","second":"base","verdict":2,"status":"ok"}
{"trait":"overall","first":"base","second":"tuned","verdict":-1,"status":"ok"}
{"trait":"overall","first":"base","second":"tuned","verdict":1,"status":"ok"}
{"trait":"warmth","first":"base","second":"tuned","verdict":0,"status":"ok"}
{"trait":"overall","first":"tuned","second":"base","status":"parse_failed","raw":"??"}
`)
	r = ethosCLI(t, dir, nil, "eval", "rate", judgments, "--trait", "overall", "--method", "winrate", "--json")
	var wr stats.MethodRatings
	if err := json.Unmarshal([]byte(r.stdout), &wr); err != nil || wr.Battles != 3 || !strings.Contains(r.stderr, "1 judgments without a verdict") {
		t.Errorf("judgment export: exit %d, %+v, stderr %q", r.code, wr, r.stderr)
	}

	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"eval", "rate"}, 2, "one battles file"},
		{[]string{"eval", "rate", legacy, "--method", "glicko"}, 2, `--method "glicko"`},
		{[]string{"eval", "rate", legacy, "--ties", "drop"}, 2, `--ties "drop"`},
		{[]string{"eval", "rate", legacy, "--anchor", "base"}, 2, "MODEL=RATING"},
		{[]string{"eval", "rate", "missing.csv"}, 1, "missing.csv"},
		{[]string{"eval", "rate", write("bad.csv", "left,right,winner\na,b,left\na,b,won\n")}, 1, `bad.csv:3: winner "won"`},
		{[]string{"eval", "rate", write("sweep.csv", "left,right,winner\na,b,left\na,b,left\n")}, 1, "model a won every battle"},
		{[]string{"eval", "rate", judgments}, 1, "rate one trait at a time (--trait NAME)"},
	} {
		r := ethosCLI(t, dir, nil, c.args...)
		if r.code != c.code || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", c.args, r.code, r.stderr, c.code, c.want)
		}
	}
}

// With --method all, a method that fails does not hide the others: their
// ratings are printed, the failure is named, and the exit is 1.
func TestEvalRateAllReportsAFailedMethod(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// a wins every battle: Bradley–Terry has no finite rating; Elo and the
	// win rate do.
	if err := os.WriteFile(filepath.Join(dir, "sweep.csv"), []byte("left,right,winner\na,b,left\nb,a,right\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := ethosCLI(t, dir, nil, "eval", "rate", "sweep.csv", "--method", "all", "--bootstrap", "0")
	if r.code != 1 {
		t.Errorf("exit %d, want 1", r.code)
	}
	for _, want := range []string{"elo: online Elo", "winrate: win rate"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.stderr, "bt failed") || !strings.Contains(r.stderr, "model a won every battle") {
		t.Errorf("stderr does not say bt failed and why: %q", r.stderr)
	}

	r = ethosCLI(t, dir, nil, "eval", "rate", "sweep.csv", "--method", "all", "--bootstrap", "0", "--json")
	var results []stats.MethodRatings
	if err := json.Unmarshal([]byte(r.stdout), &results); err != nil || r.code != 1 {
		t.Fatalf("--json: exit %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	if len(results) != 3 || len(results[0].Ratings) != 2 || results[1].Error == "" || len(results[1].Ratings) != 0 || len(results[2].Ratings) != 2 {
		t.Errorf("--json: %+v; want elo and winrate rated and bt with its error", results)
	}
}
