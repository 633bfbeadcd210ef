package report

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/eval/stats"
)

func TestFormatOf(t *testing.T) {
	t.Parallel()
	for path, want := range map[string]string{
		"": "md", "report.md": "md", "notes.txt": "md", "out/r.HTML": "html", "r.htm": "html", "r.json": "json",
	} {
		if got := FormatOf(path); got != want {
			t.Errorf("FormatOf(%q) = %q, want %q", path, got, want)
		}
	}
}

func TestResolveFormat(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ format, output, want string }{
		{"", "", "md"}, {"", "r.html", "html"}, {"json", "r.html", "json"}, {"md", "", "md"}, {"pdf", "r.pdf", ""},
	} {
		got, err := ResolveFormat(tc.format, tc.output)
		if got != tc.want || (err != nil) != (tc.want == "") || (err != nil && ethos.KindOf(err) != ethos.Config) {
			t.Errorf("ResolveFormat(%q, %q) = %q, %v; want %q", tc.format, tc.output, got, err, tc.want)
		}
	}
}

// An earlier report is replaced; any other file only with force.
func TestWriteFileReplacesOnlyReports(t *testing.T) {
	t.Parallel()
	r := buildSynthetic(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "eval.html")
	for range 2 {
		if err := WriteFile(path, r, "html", false); err != nil {
			t.Fatal(err)
		}
	}
	if data, _ := os.ReadFile(path); !strings.HasPrefix(string(data), "<!DOCTYPE html>") {
		t.Errorf("eval.html starts %.40q", data)
	}

	notes := filepath.Join(dir, "notes.md")
	os.WriteFile(notes, []byte("my notes\n"), 0o644)
	err := WriteFile(notes, r, "md", false)
	if !errors.Is(err, ErrNotReport) || ethos.KindOf(err) != ethos.Conflict || !strings.Contains(err.Error(), notes) {
		t.Errorf("writing over notes.md: %v (kind %s); want a Conflict naming the file", err, ethos.KindOf(err))
	}
	if data, _ := os.ReadFile(notes); string(data) != "my notes\n" {
		t.Errorf("notes.md changed to %.40q", data)
	}
	if err := WriteFile(notes, r, "md", true); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(notes); !strings.HasPrefix(string(data), "<!-- "+Kind+" -->") {
		t.Errorf("forced notes.md starts %.40q", data)
	}
}

func TestWriteRatings(t *testing.T) {
	t.Parallel()
	lo, hi := 0.25, 0.75
	var b strings.Builder
	err := WriteRatings(&b, stats.MethodRatings{Method: "winrate", Battles: 10, Bootstrap: 100, Seed: 1, Ratings: []stats.ModelRating{
		{Model: "tuned", Rating: 0.65, CILow: &lo, CIHigh: &hi, Wins: 5, Losses: 2, Ties: 3},
		{Model: "base", Rating: 0.35, Wins: 2, Losses: 5, Ties: 3},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := "winrate: win rate, a tie counting ½; Wilson 95% interval — 10 battles, 2 models\n" +
		"  #  MODEL  RATING         95% CI  W  L  T\n" +
		"  1  tuned  0.6500  0.2500–0.7500  5  2  3\n" +
		"  2   base  0.3500              —  2  5  3\n"
	if got := b.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}

	b.Reset()
	WriteRatings(&b, stats.MethodRatings{Method: "bt", Battles: 4, Bootstrap: 200, Seed: 7, Dropped: 3, Ratings: []stats.ModelRating{{Model: "a", Rating: 1012.34}}})
	for _, line := range []string{"bt: Bradley–Terry maximum likelihood, on the Elo scale — 4 battles, 1 models; 95% interval from 200 bootstrap rounds (seed 7)",
		"(3 bootstrap rounds had no finite estimate", "1012.3"} {
		if !strings.Contains(b.String(), line) {
			t.Errorf("bt table lacks %q:\n%s", line, b.String())
		}
	}
}
