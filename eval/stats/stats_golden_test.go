package stats

import (
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// golden reads a *-golden.csv file: algorithm → item → score.
func golden(t *testing.T, path string) map[string]map[string]float64 {
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
		v, err := strconv.ParseFloat(row[2], 64)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if out[row[0]] == nil {
			out[row[0]] = map[string]float64{}
		}
		out[row[0]][row[1]] = v
	}
	return out
}

func readTable(t *testing.T, path string) *Table {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	battles, err := ReadCSV(f, filepath.Base(path))
	if err != nil {
		t.Fatal(err)
	}
	return NewTable(battles)
}

// TestReferenceRatings matches every golden value of evalica for the
// methods ethos implements: Elo to 1e-9 relative, Bradley–Terry
// strengths, counting and average win rate to 1e-6.
func TestReferenceRatings(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"simple", "food", "llmfao"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tab := readTable(t, filepath.Join("testdata", "ratings", name+".csv"))
			want := golden(t, filepath.Join("testdata", "ratings", name+"-golden.csv"))
			fit, err := BradleyTerry(tab, BTOptions{})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string][]float64{
				"elo":              Elo(tab, EloOptions{Init: 1000, K: 4, Base: 10, Scale: 400, Ties: TiesHalf}),
				"bradley_terry":    fit.Strengths,
				"counting":         Counting(tab),
				"average_win_rate": AverageWinRate(tab),
			}
			tol := map[string]float64{"elo": 1e-9, "bradley_terry": 1e-6, "counting": 1e-6, "average_win_rate": 1e-6}
			worst := map[string]float64{}
			for alg, values := range got {
				if len(want[alg]) != len(tab.Models) {
					t.Fatalf("%s: golden has %d items, battles have %d models", alg, len(want[alg]), len(tab.Models))
				}
				for i, m := range tab.Models {
					w, ok := want[alg][m]
					if !ok {
						t.Fatalf("%s: no golden value for %q", alg, m)
					}
					rel := math.Abs(values[i]-w) / math.Max(math.Abs(w), 1e-300)
					worst[alg] = max(worst[alg], rel)
					if rel > tol[alg] {
						t.Errorf("%s %s: got %.15g, want %.15g (relative error %.2g > %g)", alg, m, values[i], w, rel, tol[alg])
					}
				}
			}
			t.Logf("%s: %d battles, %d models, Bradley–Terry in %d Newton steps; worst relative errors %v", name, tab.Len(), len(tab.Models), fit.Iterations, worst)
		})
	}
}
