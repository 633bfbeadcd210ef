package stats

import "math"

// PromptsNeeded is how many decisive comparisons a two-sided test at
// level alpha needs to detect a true win rate p (against 0.5) with the
// given power, by the normal approximation:
// n = ⌈(z_{1−α/2}·√.25 + z_power·√(p(1−p)))² / (p − .5)²⌉.
// It reports false when p is 0.5 (no effect can be detected) or not in
// [0, 1].
func PromptsNeeded(p, alpha, power float64) (int, bool) {
	if !(p >= 0 && p <= 1) || p == 0.5 {
		return 0, false
	}
	za := NormalQuantile(1 - alpha/2)
	zb := NormalQuantile(power)
	root := za*0.5 + zb*math.Sqrt(p*(1-p))
	n := root * root / ((p - 0.5) * (p - 0.5))
	return int(math.Ceil(n - 1e-9)), true
}

// ExactPromptsNeeded is the smallest number of decisive comparisons at
// which the exact two-sided sign test at level alpha has at least the
// given power against a true win rate p, and keeps it for the next 20
// sizes (the power of a discrete test is saw-toothed in n). It reports
// false when p is 0.5, not in (0, 1), or needs more than limit.
func ExactPromptsNeeded(p, alpha, power float64, limit int) (int, bool) {
	if !(p > 0 && p < 1) || p == 0.5 {
		return 0, false
	}
	run := 0
	for n := 1; n <= limit; n++ {
		if exactPower(n, p, alpha) >= power {
			run++
			if run == 21 {
				return n - 20, true
			}
		} else {
			run = 0
		}
	}
	return 0, false
}

// exactPower is the power of the exact two-sided sign test with n
// decisive comparisons against a true win rate p.
func exactPower(n int, p, alpha float64) float64 {
	// The test rejects when min(k, n−k) ≤ c for the largest c whose
	// two-sided p-value 2·P(X ≤ c | ½) is at most alpha.
	c := -1
	tail := 0.0
	for i := 0; 2*i < n; i++ {
		tail += math.Exp(logBinomPMF(i, n, 0.5))
		if 2*tail > alpha {
			break
		}
		c = i
	}
	if c < 0 {
		return 0
	}
	pow := 0.0
	for i := 0; i <= c; i++ {
		pow += math.Exp(logBinomPMF(i, n, p)) + math.Exp(logBinomPMF(n-i, n, p))
	}
	return pow
}

// WithTies is how many comparisons in all give n decisive ones when a
// share tieRate of comparisons are ties.
func WithTies(n int, tieRate float64) int {
	if tieRate <= 0 {
		return n
	}
	if tieRate >= 1 {
		return math.MaxInt
	}
	return int(math.Ceil(float64(n)/(1-tieRate) - 1e-9))
}
