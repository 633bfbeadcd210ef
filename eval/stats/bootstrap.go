package stats

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/ethos-toolkit/ethos"
)

// Bootstrap is a percentile bootstrap: Rounds resamples with replacement
// of the data's units (battles, or a table's groups), the statistic
// recomputed on each, and the interval read off the empirical quantiles.
//
// Rounds run in parallel, but each round draws from its own generator,
// seeded from Seed and the round's number, so the result depends on Seed
// alone — not on Workers or on scheduling.
type Bootstrap struct {
	Rounds  int
	Seed    uint64
	Level   float64 // the interval's confidence level; zero means 0.95
	Workers int     // zero means GOMAXPROCS
}

func (b Bootstrap) level() float64 {
	if b.Level == 0 {
		return 0.95
	}
	return b.Level
}

// Intervals are per-model bootstrap intervals, aligned with Table.Models.
type Intervals struct {
	Low, High []float64
	// Rounds is the number of rounds that produced an estimate; Dropped
	// is the number that could not (for Bradley–Terry: a resample with no
	// finite maximum-likelihood estimate). The interval is computed from
	// the rounds kept, so many dropped rounds make it too narrow.
	Rounds, Dropped int
}

// run calls the worker made by newWorker for every round, spread over
// the workers.
func (b Bootstrap) run(newWorker func() func(round int, rng *rand.Rand)) {
	workers := b.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, b.Rounds)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			work := newWorker()
			for {
				r := int(next.Add(1) - 1)
				if r >= b.Rounds {
					return
				}
				work(r, rand.New(rand.NewPCG(b.Seed, uint64(r))))
			}
		})
	}
	wg.Wait()
}

// resampler draws one bootstrap sample of a table's battles: how many
// times each battle is taken (counts), or the battles in drawn order
// (order), by resampling whole groups when the table has them.
type resampler struct {
	t       *Table
	members [][]int32 // per group, its battles in table order
}

func newResampler(t *Table) *resampler {
	r := &resampler{t: t}
	if t.group != nil {
		r.members = make([][]int32, t.groups)
		for b, g := range t.group {
			r.members[g] = append(r.members[g], int32(b))
		}
	}
	return r
}

// draw calls take for every battle of one resample, in drawn order.
func (r *resampler) draw(rng *rand.Rand, take func(battle int32)) {
	if r.members == nil {
		n := r.t.Len()
		for range n {
			take(int32(rng.IntN(n)))
		}
		return
	}
	g := len(r.members)
	for range g {
		for _, b := range r.members[rng.IntN(g)] {
			take(b)
		}
	}
}

// BradleyTerry bootstraps the Bradley–Terry ratings of the table (see the
// package function of the same name for o) and returns their intervals.
func (b Bootstrap) BradleyTerry(t *Table, o BTOptions) (*Intervals, error) {
	if b.Rounds <= 0 {
		return nil, ethos.Errorf(ethos.Invalid, "bootstrap needs at least one round, got %d", b.Rounds)
	}
	o = o.withDefaults()
	anchor := -1
	if o.Anchor != "" {
		i, ok := t.Index(o.Anchor)
		if !ok {
			return nil, ethos.Errorf(ethos.Invalid, "anchor model %q does not appear in the battles", o.Anchor)
		}
		anchor = i
	}
	t.compileCells()
	k := len(t.Models)
	out := make([]float64, b.Rounds*k) // NaN marks a dropped round
	rs := newResampler(t)
	b.run(func() func(int, *rand.Rand) {
		s := newBTSolver(t)
		counts := make([]float64, 3*len(t.pairs))
		return func(round int, rng *rand.Rand) {
			clear(counts)
			rs.draw(rng, func(battle int32) { counts[t.cell[battle]]++ })
			row := out[round*k : (round+1)*k]
			theta, _, ok := s.fit(counts)
			if !ok {
				row[0] = math.NaN()
				return
			}
			ratings(theta, o, anchor, row)
		}
	})
	return b.intervals(out, k), nil
}

// Elo bootstraps online Elo as FastChat does: each round runs Elo over a
// resample of the battles in the resampled order.
func (b Bootstrap) Elo(t *Table, o EloOptions) (*Intervals, error) {
	if b.Rounds <= 0 {
		return nil, ethos.Errorf(ethos.Invalid, "bootstrap needs at least one round, got %d", b.Rounds)
	}
	o = o.withDefaults()
	k := len(t.Models)
	out := make([]float64, b.Rounds*k)
	rs := newResampler(t)
	b.run(func() func(int, *rand.Rand) {
		return func(round int, rng *rand.Rand) {
			r := out[round*k : (round+1)*k]
			for i := range r {
				r[i] = o.Init
			}
			rs.draw(rng, func(battle int32) {
				eloUpdate(r, int(t.left[battle]), int(t.right[battle]), t.score[battle], o)
			})
		}
	})
	return b.intervals(out, k), nil
}

// intervals reads per-model quantiles off the rounds×k results, leaving
// out rounds marked NaN.
func (b Bootstrap) intervals(out []float64, k int) *Intervals {
	iv := &Intervals{Low: make([]float64, k), High: make([]float64, k)}
	col := make([]float64, 0, b.Rounds)
	alpha := 1 - b.level()
	for m := 0; m < k; m++ {
		col = col[:0]
		for r := 0; r < b.Rounds; r++ {
			if row := out[r*k : (r+1)*k]; !math.IsNaN(row[0]) {
				col = append(col, row[m])
			}
		}
		slices.Sort(col)
		iv.Low[m] = quantileSorted(col, alpha/2)
		iv.High[m] = quantileSorted(col, 1-alpha/2)
		iv.Rounds = len(col)
	}
	iv.Dropped = b.Rounds - iv.Rounds
	return iv
}

// Ratio bootstraps the ratio Σnum/Σden over units, resampling units: with
// num a prompt's points and den its comparisons, it is the interval of a
// score over prompts. Rounds whose resample has Σden = 0 are dropped.
func (b Bootstrap) Ratio(num, den []float64) (lo, hi float64, err error) {
	if len(num) != len(den) {
		return 0, 0, ethos.Errorf(ethos.Invalid, "bootstrap ratio: %d numerators, %d denominators", len(num), len(den))
	}
	if b.Rounds <= 0 || len(num) == 0 {
		return 0, 0, ethos.Errorf(ethos.Invalid, "bootstrap needs at least one round and one unit, got %d rounds of %d units", b.Rounds, len(num))
	}
	out := make([]float64, b.Rounds)
	n := len(num)
	b.run(func() func(int, *rand.Rand) {
		return func(round int, rng *rand.Rand) {
			var sn, sd float64
			for range n {
				u := rng.IntN(n)
				sn += num[u]
				sd += den[u]
			}
			if sd == 0 {
				out[round] = math.NaN()
				return
			}
			out[round] = sn / sd
		}
	})
	iv := b.intervals(out, 1)
	if iv.Rounds == 0 {
		return 0, 0, ethos.Errorf(ethos.Invalid, "bootstrap ratio: every resample had a zero denominator")
	}
	return iv.Low[0], iv.High[0], nil
}

// Quantile is the q-quantile of xs by linear interpolation between order
// statistics (numpy's default). xs is not modified.
func Quantile(xs []float64, q float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return quantileSorted(s, q)
}

func quantileSorted(s []float64, q float64) float64 {
	if len(s) == 0 {
		return math.NaN()
	}
	pos := q * float64(len(s)-1)
	i := int(math.Floor(pos))
	if i >= len(s)-1 {
		return s[len(s)-1]
	}
	frac := pos - float64(i)
	return s[i] + frac*(s[i+1]-s[i])
}
