package generate

import (
	"math"

	"github.com/ethos-toolkit/ethos"
)

// PlanCategories splits total examples over cats.
//
// Without weights the split is balanced: counts differ by at most one and
// the remainder goes to the earliest categories, so every category gets at
// least one when total >= len(cats). With weights (by category name; a
// category not named weighs 1, a negative or non-finite weight 0) the split
// is proportional by largest remainder, ties to the earlier category, and
// every category of positive weight still gets at least one example when
// total is at least the number of such categories. If no category has positive weight the split is balanced. The
// counts always sum to total (for total > 0 and at least one category).
func PlanCategories(cats []ethos.Category, total int, weights map[string]float64) map[string]int {
	counts := make([]int, len(cats))
	if len(cats) > 0 && total > 0 {
		w := categoryWeights(cats, weights)
		if w == nil {
			for i := range counts {
				counts[i] = total / len(cats)
				if i < total%len(cats) {
					counts[i]++
				}
			}
		} else {
			counts = largestRemainder(w, total)
		}
	}
	out := make(map[string]int, len(cats))
	for i, c := range cats {
		out[c.Name] += counts[i]
	}
	return out
}

// categoryWeights returns the weight of each category, or nil for a
// balanced split.
func categoryWeights(cats []ethos.Category, weights map[string]float64) []float64 {
	if len(weights) == 0 {
		return nil
	}
	w := make([]float64, len(cats))
	positive := false
	for i, c := range cats {
		v, ok := weights[c.Name]
		if !ok {
			v = 1
		}
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			v = 0
		}
		w[i] = v
		positive = positive || v > 0
	}
	if !positive {
		return nil
	}
	return w
}

func largestRemainder(w []float64, total int) []int {
	sum := 0.0
	for _, v := range w {
		sum += v
	}
	counts := make([]int, len(w))
	rems := make([]float64, len(w))
	given := 0
	for i, v := range w {
		exact := v / sum * float64(total)
		counts[i] = int(math.Floor(exact))
		rems[i] = exact - float64(counts[i])
		given += counts[i]
	}
	for ; given < total; given++ {
		best := -1
		for i := range w {
			if w[i] > 0 && (best < 0 || rems[i] > rems[best]) {
				best = i
			}
		}
		counts[best]++
		rems[best] = -1
	}
	// A small weight can round to nothing; a category that is planned at
	// all should appear, so it takes one from the largest count.
	for i := range w {
		if w[i] > 0 && counts[i] == 0 {
			big := 0
			for j := range counts {
				if counts[j] > counts[big] {
					big = j
				}
			}
			if counts[big] <= 1 {
				break
			}
			counts[big]--
			counts[i]++
		}
	}
	return counts
}
