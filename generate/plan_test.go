package generate_test

import (
	"math"
	"testing"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/generate"
	"github.com/google/go-cmp/cmp"
)

func cats(names ...string) []ethos.Category {
	out := make([]ethos.Category, len(names))
	for i, n := range names {
		out[i] = ethos.Category{Name: n}
	}
	return out
}

func TestPlanCategories(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cats    []ethos.Category
		total   int
		weights map[string]float64
		want    map[string]int
	}{
		{name: "even", cats: cats("a", "b", "c"), total: 9, want: map[string]int{"a": 3, "b": 3, "c": 3}},
		{name: "remainder to the earliest", cats: cats("a", "b", "c"), total: 11, want: map[string]int{"a": 4, "b": 4, "c": 3}},
		{name: "one each", cats: cats("a", "b", "c"), total: 3, want: map[string]int{"a": 1, "b": 1, "c": 1}},
		{name: "fewer than categories", cats: cats("a", "b", "c"), total: 2, want: map[string]int{"a": 1, "b": 1, "c": 0}},
		{name: "zero total", cats: cats("a", "b"), total: 0, want: map[string]int{"a": 0, "b": 0}},
		{name: "negative total", cats: cats("a", "b"), total: -4, want: map[string]int{"a": 0, "b": 0}},
		{name: "no categories", cats: nil, total: 10, want: map[string]int{}},
		{name: "weighted", cats: cats("a", "b", "c"), total: 10, weights: map[string]float64{"a": 2, "b": 1, "c": 2}, want: map[string]int{"a": 4, "b": 2, "c": 4}},
		{name: "unnamed category weighs 1", cats: cats("a", "b"), total: 9, weights: map[string]float64{"a": 2}, want: map[string]int{"a": 6, "b": 3}},
		{name: "weight ties to the earliest", cats: cats("a", "b", "c"), total: 4, weights: map[string]float64{"a": 1, "b": 1, "c": 1}, want: map[string]int{"a": 2, "b": 1, "c": 1}},
		{name: "zero weight drops a category", cats: cats("a", "b", "c"), total: 6, weights: map[string]float64{"b": 0}, want: map[string]int{"a": 3, "b": 0, "c": 3}},
		{name: "small weight still gets one", cats: cats("a", "b"), total: 10, weights: map[string]float64{"a": 100, "b": 1}, want: map[string]int{"a": 9, "b": 1}},
		{name: "bad weights count as zero", cats: cats("a", "b", "c"), total: 4, weights: map[string]float64{"a": -1, "b": math.NaN(), "c": math.Inf(1)}, want: map[string]int{"a": 2, "b": 1, "c": 1}},
		{name: "all zero falls back to balanced", cats: cats("a", "b"), total: 5, weights: map[string]float64{"a": 0, "b": 0}, want: map[string]int{"a": 3, "b": 2}},
		{name: "weights for unknown categories ignored", cats: cats("a", "b"), total: 4, weights: map[string]float64{"zzz": 50}, want: map[string]int{"a": 2, "b": 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := generate.PlanCategories(tt.cats, tt.total, tt.weights)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPlanCategoriesSum checks the invariants over many shapes: counts sum
// to total, balanced counts differ by at most one and cover every category
// when total allows, weighted counts cover every positive-weight category.
func TestPlanCategoriesSum(t *testing.T) {
	t.Parallel()
	names := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r", "s"}
	for n := 1; n <= len(names); n++ {
		cs := cats(names[:n]...)
		weights := map[string]float64{}
		for i, c := range cs {
			weights[c.Name] = float64(i%4) * 0.7 // some zero, some tiny
		}
		for total := 0; total <= 120; total++ {
			for _, w := range []map[string]float64{nil, weights} {
				got := generate.PlanCategories(cs, total, w)
				sum, lo, hi := 0, math.MaxInt, 0
				for _, c := range cs {
					v := got[c.Name]
					sum += v
					lo, hi = min(lo, v), max(hi, v)
				}
				if sum != total {
					t.Fatalf("n=%d total=%d weighted=%v: counts sum to %d", n, total, w != nil, sum)
				}
				if w == nil && hi-lo > 1 {
					t.Fatalf("n=%d total=%d: balanced counts range %d..%d", n, total, lo, hi)
				}
				if w == nil && total >= n && lo < 1 {
					t.Fatalf("n=%d total=%d: a category got nothing", n, total)
				}
				positive := 0
				for _, c := range cs {
					if w[c.Name] > 0 {
						positive++
					}
				}
				for _, c := range cs {
					if w != nil && w[c.Name] > 0 && total >= positive && got[c.Name] == 0 {
						t.Fatalf("n=%d total=%d: positive-weight %s got nothing: %v", n, total, c.Name, got)
					}
					if w != nil && w[c.Name] == 0 && positive > 0 && got[c.Name] != 0 {
						t.Fatalf("n=%d total=%d: zero-weight %s got %d", n, total, c.Name, got[c.Name])
					}
				}
			}
		}
	}
}
