package stats

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ethos-toolkit/ethos"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestWilson(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		k, n     float64
		lo, hi   float64
		decimals float64
	}{
		{60, 100, 0.5020, 0.6906, 1e-4},
		{55, 100, 0.4524, 0.6439, 1e-4},
		{110, 200, 0.4808, 0.6174, 1e-4},
		{300, 500, 0.5565, 0.6420, 1e-4},
		{3.5, 10, 0.137, 0.646, 1e-3}, // the legacy 2 W, 5 L, 3 T with ties as ½
		{2, 7, 0.082, 0.641, 1e-3},    // the same, decisive only
		{0, 10, 0, 0.2775, 1e-4},
		{10, 10, 0.7225, 1, 1e-4},
		{0, 0, 0, 1, 0},
	} {
		lo, hi := Wilson(c.k, c.n, 0.95)
		if !near(lo, c.lo, c.decimals/2+1e-12) || !near(hi, c.hi, c.decimals/2+1e-12) {
			t.Errorf("Wilson(%v/%v) = (%.5f, %.5f), want (%v, %v)", c.k, c.n, lo, hi, c.lo, c.hi)
		}
	}
}

func TestSignTest(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		wins, losses int
		p, tol       float64
	}{
		{2, 5, 0.453, 5e-4}, // the legacy result: no evidence either way
		{5, 2, 0.453, 5e-4},
		{60, 40, 0.0569, 5e-5},
		{55, 45, 0.368, 5e-4},
		{300, 200, 8.9e-6, 5e-8},
		{0, 0, 1, 0},
		{3, 3, 1, 0},
		{0, 6, 0.03125, 1e-12},
		{9, 1, 0.021484375, 1e-12},
	} {
		if p := SignTest(c.wins, c.losses); !near(p, c.p, c.tol) {
			t.Errorf("SignTest(%d, %d) = %.6g, want %v", c.wins, c.losses, p, c.p)
		}
	}
}

func TestHolm(t *testing.T) {
	t.Parallel()
	got := Holm([]float64{0.01, 0.04, 0.03, 0.005})
	want := []float64{0.03, 0.06, 0.06, 0.02}
	if diff := cmp.Diff(want, got, cmpopts.EquateApprox(0, 1e-12)); diff != "" {
		t.Errorf("Holm (-want +got):\n%s", diff)
	}
	if got := Holm([]float64{0.5, 0.9}); !cmp.Equal(got, []float64{1, 1}, cmpopts.EquateApprox(0, 1e-12)) {
		t.Errorf("Holm caps at 1 and keeps the order: got %v, want [1 1]", got)
	}
	if got := Holm([]float64{0.2, 0.01}); !cmp.Equal(got, []float64{0.2, 0.02}, cmpopts.EquateApprox(0, 1e-12)) {
		t.Errorf("Holm: got %v, want [0.2 0.02]", got)
	}
	if got := Holm(nil); len(got) != 0 {
		t.Errorf("Holm(nil) = %v", got)
	}
}

// The comparisons needed to detect a win rate, from the table of the
// evaluation notes (normal approximation and exact sign test, α = 0.05).
func TestPromptsNeeded(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		p                  float64
		pow80, pow90, exac int
	}{
		{0.55, 783, 1047, 820},
		{0.60, 194, 259, 210},
		{0.65, 85, 113, 97},
		{0.70, 47, 62, 54},
		{0.75, 29, 38, 35},
		{0.40, 194, 259, 210}, // symmetric: detecting a loss takes as many
	} {
		n80, _ := PromptsNeeded(c.p, 0.05, 0.8)
		n90, _ := PromptsNeeded(c.p, 0.05, 0.9)
		ne, _ := ExactPromptsNeeded(c.p, 0.05, 0.8, 5000)
		if n80 != c.pow80 || n90 != c.pow90 || ne != c.exac {
			t.Errorf("p=%.2f: needed %d (power .8), %d (.9), exact %d; want %d, %d, %d", c.p, n80, n90, ne, c.pow80, c.pow90, c.exac)
		}
	}
	if n, ok := PromptsNeeded(1, 0.05, 0.8); n != 4 || !ok {
		t.Errorf("PromptsNeeded(1) = %d, %v; want 4 by the normal approximation", n, ok)
	}
	if _, ok := PromptsNeeded(0.5, 0.05, 0.8); ok {
		t.Error("PromptsNeeded(0.5) reported a size; no number of prompts detects no effect")
	}
	for _, c := range []struct {
		n    int
		ties float64
		want int
	}{{783, 0.3, 1119}, {194, 0.3, 278}, {47, 0.3, 68}, {100, 0, 100}} {
		if got := WithTies(c.n, c.ties); got != c.want {
			t.Errorf("WithTies(%d, %v) = %d, want %d", c.n, c.ties, got, c.want)
		}
	}
}

// battlesOf spells a sequence of results of "tuned" against "base":
// W a win, L a loss, T a tie.
func battlesOf(seq string) []Battle {
	var out []Battle
	for _, c := range seq {
		b := Battle{Left: "tuned", Right: "base", Winner: Tie}
		switch c {
		case 'W':
			b.Winner = Left
		case 'L':
			b.Winner = Right
		}
		out = append(out, b)
	}
	return out
}

// The legacy rule: init 1500, K 32, ties skipped, battles in the given
// order. Expected values computed independently.
func TestLegacyElo(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		seq   string
		tuned float64
	}{
		{"", 1500},
		{"T", 1500},
		{"W", 1516},
		{"WW", 1530.5304984710244},
		{"WL", 1498.5304984710244},
		{"LW", 1501.4695015289756}, // the same results in another order: another rating
		{"WTL", 1498.5304984710244},
		{"WWLLLLL", 1452.2430007126245},
		{"WWLLLLLTTT", 1452.2430007126245},
	} {
		tab := NewTable(battlesOf(c.seq))
		if c.seq == "" || c.seq == "T" {
			// No models or only ties: nothing moves.
			if r := Elo(tab, LegacyElo); c.seq == "T" && (r[0] != 1500 || r[1] != 1500) {
				t.Errorf("%q: ratings %v, want both 1500", c.seq, r)
			}
			continue
		}
		r := Elo(tab, LegacyElo)
		ti, _ := tab.Index("tuned")
		bi, _ := tab.Index("base")
		if !near(r[ti], c.tuned, 1e-9) || !near(r[ti]+r[bi], 3000, 1e-9) {
			t.Errorf("%q: tuned %.10f, base %.10f; want tuned %.10f and a zero-sum update", c.seq, r[ti], r[bi], c.tuned)
		}
	}
}

// Sequential Elo of the legacy result (2 W, 5 L, 3 T) over every order:
// the spread the evaluation notes give, which is why it is never the
// decision metric.
func TestEloOrderDependence(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		k, lo, hi float64
		ties      TieRule
	}{
		{4, 1493.9, 1494.8, TiesHalf},
		{16, 1474.2, 1486.7, TiesHalf},
		{32, 1447.5, 1488.7, TiesHalf},
		{32, 1452.2, 1475.1, TiesSkip},
	} {
		lo, hi := math.Inf(1), math.Inf(-1)
		permute([]byte("WWLLLLLTTT"), func(seq []byte) {
			tab := NewTable(battlesOf(string(seq)))
			i, _ := tab.Index("tuned")
			r := Elo(tab, EloOptions{Init: 1500, K: c.k, Ties: c.ties})[i]
			lo, hi = min(lo, r), max(hi, r)
		})
		if !near(lo, c.lo, 0.05) || !near(hi, c.hi, 0.05) {
			t.Errorf("K=%v ties %s: tuned over every order in [%.2f, %.2f], want [%v, %v]", c.k, c.ties, lo, hi, c.lo, c.hi)
		}
	}
}

// permute calls f with every distinct ordering of s (s sorted first).
func permute(s []byte, f func([]byte)) {
	var rec func(int)
	used := make([]bool, len(s))
	cur := make([]byte, 0, len(s))
	sorted := []byte(string(s))
	for i := 1; i < len(sorted); i++ {
		for j := i; j > 0 && sorted[j] < sorted[j-1]; j-- {
			sorted[j], sorted[j-1] = sorted[j-1], sorted[j]
		}
	}
	rec = func(depth int) {
		if depth == len(sorted) {
			f(cur)
			return
		}
		for i := range sorted {
			if used[i] || (i > 0 && sorted[i] == sorted[i-1] && !used[i-1]) {
				continue
			}
			used[i] = true
			cur = append(cur, sorted[i])
			rec(depth + 1)
			cur = cur[:len(cur)-1]
			used[i] = false
		}
	}
	rec(0)
}

// Two models: the MLE gap is 400·log10(s/(1−s)), s the score with ties
// as ½, whatever the order.
func TestBradleyTerryTwoModels(t *testing.T) {
	t.Parallel()
	tab := NewTable(battlesOf("WWLLLLLTTT"))
	fit, err := BradleyTerry(tab, BTOptions{Centre: 1500})
	if err != nil {
		t.Fatal(err)
	}
	ti, _ := tab.Index("tuned")
	bi, _ := tab.Index("base")
	gap := fit.Ratings[ti] - fit.Ratings[bi]
	if want := 400 * math.Log10(0.35/0.65); !near(gap, want, 1e-9) || !near(gap, -107.5, 0.05) {
		t.Errorf("gap %.6f, want 400·log10(0.35/0.65) = %.6f ≈ −107.5", gap, want)
	}
	if !near(fit.Ratings[bi], 1553.8, 0.05) || !near(fit.Ratings[ti], 1446.2, 0.05) {
		t.Errorf("ratings base %.2f, tuned %.2f; want 1553.8 and 1446.2 centred on 1500", fit.Ratings[bi], fit.Ratings[ti])
	}
	if !near(fit.Strengths[ti], 0.35, 1e-12) {
		t.Errorf("tuned strength %.15f, want 0.35", fit.Strengths[ti])
	}
	anchored, err := BradleyTerry(tab, BTOptions{Anchor: "base", AnchorRating: 1200})
	if err != nil {
		t.Fatal(err)
	}
	if !near(anchored.Ratings[bi], 1200, 1e-9) || !near(anchored.Ratings[ti]-anchored.Ratings[bi], gap, 1e-9) {
		t.Errorf("anchored ratings %v: want base at 1200 and the same gap", anchored.Ratings)
	}
}

func TestBradleyTerryWithoutFiniteEstimate(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		battles []Battle
		want    string
	}{
		{battlesOf("WWW"), "base lost every battle"},
		{append(battlesOf("LL"), Battle{"tuned", "other", Left}, Battle{"other", "tuned", Left}), "base won every battle"},
		{[]Battle{
			{"a", "b", Left}, {"b", "a", Left}, {"c", "d", Tie}, {"a", "c", Left}, {"b", "d", Left},
		}, "never lost"},
	} {
		_, err := BradleyTerry(NewTable(c.battles), BTOptions{})
		if ethos.KindOf(err) != ethos.Invalid || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want an invalid error mentioning %q", c.battles, err, c.want)
		}
	}
}

func TestRecordsAndWinRate(t *testing.T) {
	t.Parallel()
	tab := NewTable(battlesOf("WWLLLLLTTT"))
	ti, _ := tab.Index("tuned")
	recs := tab.Records()
	if diff := cmp.Diff(Record{Wins: 2, Losses: 5, Ties: 3}, recs[ti]); diff != "" {
		t.Errorf("tuned record (-want +got):\n%s", diff)
	}
	if wr := WinRate(tab)[ti]; !near(wr, 0.35, 1e-12) {
		t.Errorf("win rate %v, want 0.35", wr)
	}
	if n := tab.WithoutTies().Len(); n != 7 {
		t.Errorf("without ties: %d battles, want 7", n)
	}
}

// The bootstrap depends on its seed only, not on how many workers share
// the rounds.
func TestBootstrapDeterministic(t *testing.T) {
	t.Parallel()
	tab := readTable(t, "testdata/ratings/food.csv")
	var results []*Intervals
	for _, workers := range []int{1, 2, 5} {
		iv, err := Bootstrap{Rounds: 200, Seed: 7, Workers: workers}.BradleyTerry(tab, BTOptions{})
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, iv)
	}
	for _, iv := range results[1:] {
		if diff := cmp.Diff(results[0], iv); diff != "" {
			t.Errorf("intervals differ with the number of workers (-1 worker +more):\n%s", diff)
		}
	}
	other, _ := Bootstrap{Rounds: 200, Seed: 8}.BradleyTerry(tab, BTOptions{})
	if cmp.Equal(results[0], other) {
		t.Error("another seed gave the very same intervals")
	}
	fit, _ := BradleyTerry(tab, BTOptions{})
	for i, m := range tab.Models {
		if lo, hi := results[0].Low[i], results[0].High[i]; !(lo < fit.Ratings[i] && fit.Ratings[i] < hi) {
			t.Errorf("%s: rating %.1f outside its interval [%.1f, %.1f]", m, fit.Ratings[i], lo, hi)
		}
	}
}

// The percentile bootstrap over prompts covers the true score about as
// often as it claims. Each simulated eval has 100 prompts judged in both
// orders; the two orders of a prompt are correlated through the prompt's
// own leaning, which is why prompts, not battles, are resampled. Seeded,
// so the count is the same on every run.
func TestBootstrapCoverage(t *testing.T) {
	t.Parallel()
	const sims, prompts = 200, 100
	// A prompt leans to tuned (win prob .8, tie .1), to base (.2, .1)
	// or neither (.45, .2), with probabilities .5, .25, .25.
	type lean struct{ win, tie, weight float64 }
	leans := []lean{{0.8, 0.1, 0.5}, {0.2, 0.1, 0.25}, {0.45, 0.2, 0.25}}
	truth := 0.0
	for _, l := range leans {
		truth += l.weight * (l.win + l.tie/2)
	}
	rng := rand.New(rand.NewPCG(42, 1))
	covered := 0
	for sim := range sims {
		num := make([]float64, prompts)
		den := make([]float64, prompts)
		for p := range prompts {
			u, l := rng.Float64(), leans[len(leans)-1]
			for _, c := range leans {
				if u < c.weight {
					l = c
					break
				}
				u -= c.weight
			}
			for range 2 { // both orders
				switch v := rng.Float64(); {
				case v < l.win:
					num[p]++
				case v < l.win+l.tie:
					num[p] += 0.5
				}
				den[p]++
			}
		}
		lo, hi, err := Bootstrap{Rounds: 500, Seed: uint64(sim)}.Ratio(num, den)
		if err != nil {
			t.Fatal(err)
		}
		if lo <= truth && truth <= hi {
			covered++
		}
	}
	rate := float64(covered) / sims
	t.Logf("95%% percentile bootstrap covered the true score %.3f in %d of %d simulations (%.3f)", truth, covered, sims, rate)
	if rate < 0.90 || rate > 0.99 {
		t.Errorf("coverage %.3f, want within [0.90, 0.99] for a nominal 95%% interval", rate)
	}
}

func TestBootstrapGroupsResampleWholePrompts(t *testing.T) {
	t.Parallel()
	// Every prompt has one tuned win and one loss: resampling whole
	// prompts can only ever give a score of exactly ½, resampling
	// battles would not.
	var battles []Battle
	var groups []string
	for p := range 30 {
		battles = append(battles, Battle{"tuned", "base", Left}, Battle{"base", "tuned", Left})
		key := string(rune('a' + p%26))
		groups = append(groups, key+"/"+string(rune('0'+p/26)), key+"/"+string(rune('0'+p/26)))
	}
	grouped, err := NewGroupedTable(battles, groups)
	if err != nil {
		t.Fatal(err)
	}
	if grouped.Groups() != 30 {
		t.Fatalf("%d groups, want 30", grouped.Groups())
	}
	iv, err := Bootstrap{Rounds: 100, Seed: 1}.BradleyTerry(grouped, BTOptions{Centre: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for i := range grouped.Models {
		if !near(iv.Low[i], 1000, 1e-6) || !near(iv.High[i], 1000, 1e-6) {
			t.Errorf("grouped interval of %s [%v, %v], want exactly 1000", grouped.Models[i], iv.Low[i], iv.High[i])
		}
	}
	loose, _ := Bootstrap{Rounds: 100, Seed: 1}.BradleyTerry(NewTable(battles), BTOptions{})
	if loose.High[0]-loose.Low[0] < 10 {
		t.Errorf("battle resampling gave a width of %v; expected it to vary", loose.High[0]-loose.Low[0])
	}
}

func TestBootstrapDropsRoundsWithoutEstimate(t *testing.T) {
	t.Parallel()
	// tuned wins 9 of 10: some resamples have it winning all.
	iv, err := Bootstrap{Rounds: 400, Seed: 3}.BradleyTerry(NewTable(battlesOf("WWWWWWWWWL")), BTOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if iv.Dropped == 0 || iv.Rounds+iv.Dropped != 400 {
		t.Errorf("kept %d, dropped %d of 400 rounds; want some dropped (P(all wins) = 0.9^10 ≈ 0.35)", iv.Rounds, iv.Dropped)
	}
}

func TestQuantile(t *testing.T) {
	t.Parallel()
	xs := []float64{4, 1, 3, 2}
	for q, want := range map[float64]float64{0: 1, 1: 4, 0.5: 2.5, 0.25: 1.75} {
		if got := Quantile(xs, q); !near(got, want, 1e-12) {
			t.Errorf("Quantile(%v) = %v, want %v", q, got, want)
		}
	}
	if xs[0] != 4 {
		t.Error("Quantile sorted its input")
	}
}

// On a large table the fit must reach the optimum in a few Newton steps,
// not crawl at the resolution of the likelihood.
func TestBradleyTerryConvergesOnLargeData(t *testing.T) {
	t.Parallel()
	tab := NewTable(syntheticBattles(100_000, 20, 1))
	fit, err := BradleyTerry(tab, BTOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if fit.Iterations > 20 {
		t.Errorf("%d Newton steps, want a handful", fit.Iterations)
	}
	// At the optimum each model's expected score equals its observed one.
	s := newBTSolver(tab)
	theta := make([]float64, len(tab.Models))
	for i, p := range fit.Strengths {
		theta[i] = math.Log(p)
	}
	counts := tab.cellCounts()
	for p := range s.pairs {
		c := counts[3*p : 3*p+3]
		s.n[p], s.w[p] = c[0]+c[1]+c[2], c[0]+0.5*c[1]
	}
	s.derivatives(theta)
	for i, g := range s.grad {
		if math.Abs(g) > 1e-6 {
			t.Errorf("%s: score residual %g at the fit", tab.Models[i], g)
		}
	}
}
