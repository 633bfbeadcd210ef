package stats

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethos-toolkit/ethos"
	"github.com/google/go-cmp/cmp"
)

func TestReadCSV(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, in string
		want     []Battle
		err      string
	}{
		{name: "plain", in: "left,right,winner\na,b,left\nb,c,tie\nc,a,right\n",
			want: []Battle{{"a", "b", Left}, {"b", "c", Tie}, {"c", "a", Right}}},
		{name: "extra columns in any order", in: "\ufeffid,winner,right,note,left\n1,left,b,x,a\n2,tie,a,\"y, z\",c\n",
			want: []Battle{{"a", "b", Left}, {"c", "a", Tie}}},
		{name: "spaces and CRLF", in: "left,right,winner\r\n a , b ,right\r\n",
			want: []Battle{{"a", "b", Right}}},
		{name: "empty", in: "", err: "empty file"},
		{name: "no header columns", in: "a,b,c\n1,2,3\n", err: "f.csv:1: header lacks column left, right, winner"},
		{name: "header only", in: "left,right,winner\n", err: "no battles"},
		{name: "bad winner", in: "left,right,winner\na,b,left\na,b,draw\n", err: `f.csv:3: winner "draw": want left, right or tie`},
		{name: "short row", in: "left,right,winner\na,b\n", err: "f.csv:2: 2 fields, want at least 3"},
		{name: "self battle", in: "left,right,winner\na,a,tie\n", err: `f.csv:2: model "a" plays itself`},
		{name: "empty name", in: "left,right,winner\n,a,tie\n", err: "f.csv:2: empty left model name"},
		{name: "bad quoting", in: "left,right,winner\na,\"b,left\n", err: "f.csv:2:"},
	} {
		got, err := ReadCSV(strings.NewReader(c.in), "f.csv")
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || ethos.KindOf(err) != ethos.Invalid {
				t.Errorf("%s: error %v, want an invalid error containing %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, diff)
		}
	}
}

func judgmentLines(t *testing.T, js ...ethos.Judgment) string {
	t.Helper()
	var b strings.Builder
	for _, j := range js {
		data, err := json.Marshal(j)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(data)
		b.WriteByte('\n')
	}
	return b.String()
}

func TestJudgmentBattles(t *testing.T) {
	t.Parallel()
	ok := func(trait, first, second string, v ethos.Verdict) ethos.Judgment {
		return ethos.Judgment{EvalID: "e", PromptKey: "p/1", Trait: trait, First: first, Second: second, Verdict: v, Status: ethos.JudgmentOK}
	}
	in := judgmentLines(t,
		ok("overall", "tuned", "base", ethos.MuchBetter),
		ok("overall", "base", "tuned", ethos.Worse),
		ok("overall", "base", "tuned", ethos.Tie),
		ethos.Judgment{PromptKey: "p/2", Trait: "overall", First: "tuned", Second: "base", Status: ethos.JudgmentParseFailed, Raw: "hmm"},
		ok("overall", "tuned", "base", ethos.MuchWorse),
	) + "\n"
	got, skipped, err := ReadBattles(strings.NewReader(in), "j.jsonl", "")
	if err != nil {
		t.Fatal(err)
	}
	want := []Battle{{"tuned", "base", Left}, {"base", "tuned", Right}, {"base", "tuned", Tie}, {"tuned", "base", Right}}
	if diff := cmp.Diff(want, got); diff != "" || skipped != 1 {
		t.Errorf("battles (-want +got):\n%s\nskipped %d, want 1", diff, skipped)
	}

	mixed := in + judgmentLines(t, ok("warmth", "tuned", "base", ethos.Better))
	if _, _, err := ReadBattles(strings.NewReader(mixed), "j.jsonl", ""); err == nil || !strings.Contains(err.Error(), "2 traits (overall, warmth)") {
		t.Errorf("mixed traits: error %v, want one naming both traits", err)
	}
	got, _, err = ReadBattles(strings.NewReader(mixed), "j.jsonl", "warmth")
	if err != nil || len(got) != 1 {
		t.Errorf("--trait warmth: %d battles, error %v; want 1", len(got), err)
	}
	for _, c := range []struct{ in, err string }{
		{`{"first":"a"` + "\n", "j.jsonl:1: not a judgment"},
		{judgmentLines(t, ok("overall", "a", "b", ethos.Better)) + `{"bogus":1}` + "\n", `j.jsonl:2: status "": want ok`},
		{`{"verdict":"much better"}` + "\n", "j.jsonl:1: not a judgment"},
		{judgmentLines(t, ok("overall", "a", "a", ethos.Better)), `j.jsonl:1: model "a" plays itself`},
		{judgmentLines(t, ok("overall", "a", "b", 7)), "j.jsonl:1: verdict 7 out of range"},
		{`{"status":"ok","first":"a","second":"b"} {}` + "\n", "more than one JSON value"},
		{judgmentLines(t, ethos.Judgment{Trait: "overall", First: "a", Second: "b", Status: ethos.JudgmentFailed}), "no judgments of status ok"},
		{"  \n\t", "empty file"},
	} {
		if _, _, err := ReadBattles(strings.NewReader(c.in), "j.jsonl", ""); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%q: error %v, want one containing %q", c.in, err, c.err)
		}
	}
}

// FuzzReadCSV: any input either reads into valid battles or fails with an
// invalid-input error; it never panics.
func FuzzReadCSV(f *testing.F) {
	for _, name := range []string{"simple.csv", "food.csv"} {
		data, err := os.ReadFile(filepath.Join("testdata", "ratings", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		battles, _, err := ReadBattles(strings.NewReader(string(data)), "fuzz", "")
		if err != nil {
			if ethos.KindOf(err) != ethos.Invalid {
				t.Fatalf("error of kind %s: %v", ethos.KindOf(err), err)
			}
			return
		}
		for _, b := range battles {
			if err := b.check(); err != nil {
				t.Fatalf("read an invalid battle %+v: %v", b, err)
			}
		}
		tab := NewTable(battles)
		Elo(tab, EloOptions{})
		if fit, err := BradleyTerry(tab, BTOptions{}); err == nil {
			for _, r := range fit.Ratings {
				if r != r || r > 1e12 || r < -1e12 {
					t.Fatalf("rating %v from %d battles", r, len(battles))
				}
			}
		}
	})
}

// FuzzJudgmentBattles reads arbitrary judgment exports.
func FuzzJudgmentBattles(f *testing.F) {
	f.Add([]byte(`{"trait":"overall","first":"a","second":"b","verdict":2,"status":"ok"}` + "\n" +
		`{"trait":"overall","first":"b","second":"a","verdict":-1,"status":"ok"}`))
	f.Add([]byte(`{"trait":"overall","first":"a","second":"b","status":"parse_failed","raw":"[[A>]]"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		battles, skipped, err := JudgmentBattles(strings.NewReader(string(data)), "fuzz", "")
		if err != nil {
			if ethos.KindOf(err) != ethos.Invalid {
				t.Fatalf("error of kind %s: %v", ethos.KindOf(err), err)
			}
			return
		}
		if skipped < 0 || len(battles) == 0 {
			t.Fatalf("%d battles, %d skipped without an error", len(battles), skipped)
		}
		for _, b := range battles {
			if err := b.check(); err != nil {
				t.Fatalf("read an invalid battle %+v: %v", b, err)
			}
		}
	})
}

func TestReadBattlesFile(t *testing.T) {
	t.Parallel()
	battles, skipped, err := ReadBattlesFile(filepath.Join("testdata", "ratings", "simple.csv"), "")
	if err != nil || skipped != 0 || len(battles) == 0 {
		t.Errorf("simple.csv: %d battles, %d skipped, %v", len(battles), skipped, err)
	}
	missing := filepath.Join(t.TempDir(), "missing.csv")
	if _, _, err := ReadBattlesFile(missing, ""); ethos.KindOf(err) != ethos.Invalid || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: %v, want an Invalid error naming it", err)
	}
}
