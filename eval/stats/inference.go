package stats

import (
	"math"
	"slices"
)

// NormalQuantile is the p-quantile of the standard normal distribution.
func NormalQuantile(p float64) float64 {
	return math.Sqrt2 * math.Erfinv(2*p-1)
}

// zFor is the two-sided critical value of a confidence level (1.95996…
// for 0.95).
func zFor(level float64) float64 {
	return NormalQuantile(1 - (1-level)/2)
}

// Wilson is the Wilson score interval for k successes in n trials at the
// given confidence level (0.95 for 95%). k need not be whole: a score with
// ties counted as ½ gives k = wins + ties/2. With n = 0 the interval is
// the whole of [0, 1].
func Wilson(k, n, level float64) (lo, hi float64) {
	if n <= 0 {
		return 0, 1
	}
	z := zFor(level)
	p := k / n
	z2n := z * z / n
	centre := (p + z2n/2) / (1 + z2n)
	half := z / (1 + z2n) * math.Sqrt(p*(1-p)/n+z*z/(4*n*n))
	return max(0, centre-half), min(1, centre+half)
}

// SignTest is the exact two-sided sign (binomial) test of wins against
// losses under H0: each decisive comparison is a coin toss. Ties are not
// its business: leave them out and report their rate beside it.
// p = min(1, 2·Σ_{i ≤ min(w, l)} C(n, i)·0.5ⁿ) with n = w + l.
func SignTest(wins, losses int) float64 {
	n := wins + losses
	if n == 0 {
		return 1
	}
	k := min(wins, losses)
	return min(1, 2*binomCDF(k, n, 0.5))
}

// binomCDF is P(X ≤ k) for X ~ Binomial(n, p), summed in log space so
// that large n neither overflows nor underflows term by term.
func binomCDF(k, n int, p float64) float64 {
	if k < 0 {
		return 0
	}
	if k >= n {
		return 1
	}
	sum := 0.0
	for i := 0; i <= k; i++ {
		sum += math.Exp(logBinomPMF(i, n, p))
	}
	return min(1, sum)
}

// logBinomPMF is log P(X = i) for X ~ Binomial(n, p).
func logBinomPMF(i, n int, p float64) float64 {
	if p == 0 {
		if i == 0 {
			return 0
		}
		return math.Inf(-1)
	}
	if p == 1 {
		if i == n {
			return 0
		}
		return math.Inf(-1)
	}
	return logChoose(n, i) + float64(i)*math.Log(p) + float64(n-i)*math.Log1p(-p)
}

func logChoose(n, k int) float64 {
	a, _ := math.Lgamma(float64(n + 1))
	b, _ := math.Lgamma(float64(k + 1))
	c, _ := math.Lgamma(float64(n - k + 1))
	return a - b - c
}

// Holm adjusts p-values for multiple comparisons by Holm's step-down
// method, which controls the family-wise error rate without assuming
// independence. Reject the hypotheses whose adjusted p is below α.
func Holm(p []float64) []float64 {
	m := len(p)
	order := make([]int, m)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case p[a] < p[b]:
			return -1
		case p[a] > p[b]:
			return 1
		}
		return 0
	})
	adj := make([]float64, m)
	running := 0.0
	for rank, i := range order {
		running = max(running, min(1, float64(m-rank)*p[i]))
		adj[i] = running
	}
	return adj
}
