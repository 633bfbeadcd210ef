package stats

import (
	"math"

	"github.com/ethos-toolkit/ethos"
)

// BTOptions set how Bradley–Terry strengths are shown as ratings.
type BTOptions struct {
	// Scale is the Elo scale: a rating gap of Scale points means odds of
	// 10:1. Zero means 400.
	Scale float64
	// Centre is the mean rating when no anchor is set (FastChat and
	// ethos use 1000).
	Centre float64
	// Anchor, if set, is the model whose rating is fixed at AnchorRating
	// instead of centring the mean.
	Anchor       string
	AnchorRating float64
}

func (o BTOptions) withDefaults() BTOptions {
	if o.Scale == 0 {
		o.Scale = 400
	}
	return o
}

// BTFit is a Bradley–Terry maximum-likelihood fit.
type BTFit struct {
	Models []string
	// Strengths are the models' strengths p, normalised to sum 1; model i
	// beats model j with probability p_i/(p_i + p_j).
	Strengths []float64
	// Ratings are the strengths on the Elo scale, Scale·log10(p), shifted
	// so that their mean is Centre (or the anchor has AnchorRating).
	Ratings []float64
	// Iterations is how many Newton steps the fit took.
	Iterations int
}

// BradleyTerry fits the Bradley–Terry model to the battles by maximum
// likelihood, a tie counting as half a win and half a loss (as FastChat
// and evalica do). The fit is converged to machine precision (Newton's
// method on the log-strengths), not stopped at a loose tolerance.
//
// The maximum-likelihood estimate exists only when no group of models won
// or tied none of its battles against the rest; otherwise some ratings
// would be infinite and the error says which model is to blame.
func BradleyTerry(t *Table, o BTOptions) (*BTFit, error) {
	o = o.withDefaults()
	anchor := -1
	if o.Anchor != "" {
		i, ok := t.Index(o.Anchor)
		if !ok {
			return nil, ethos.Errorf(ethos.Invalid, "anchor model %q does not appear in the battles", o.Anchor)
		}
		anchor = i
	}
	if len(t.Models) < 2 {
		return nil, ethos.Errorf(ethos.Invalid, "Bradley–Terry needs battles between at least two models, got %d", len(t.Models))
	}
	s := newBTSolver(t)
	theta, iters, ok := s.fit(t.cellCounts())
	if !ok {
		return nil, ethos.Errorf(ethos.Invalid, "no finite Bradley–Terry ratings: %s", s.why(t))
	}
	fit := &BTFit{Models: t.Models, Iterations: iters, Strengths: make([]float64, len(theta)), Ratings: make([]float64, len(theta))}
	strengths(theta, fit.Strengths)
	ratings(theta, o, anchor, fit.Ratings)
	return fit, nil
}

// strengths turns log-strengths into strengths that sum to 1.
func strengths(theta, out []float64) {
	hi := math.Inf(-1)
	for _, v := range theta {
		hi = max(hi, v)
	}
	sum := 0.0
	for i, v := range theta {
		out[i] = math.Exp(v - hi)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
}

// ratings puts log-strengths (natural log) on the Elo scale.
func ratings(theta []float64, o BTOptions, anchor int, out []float64) {
	shift := 0.0
	if anchor < 0 {
		for _, v := range theta {
			shift += v
		}
		shift /= float64(len(theta))
	} else {
		shift = theta[anchor]
	}
	base := o.Centre
	if anchor >= 0 {
		base = o.AnchorRating
	}
	for i, v := range theta {
		out[i] = base + o.Scale*(v-shift)/math.Ln10
	}
}

// btSolver fits Bradley–Terry by damped Newton's method on θ = ln p with
// the last model's θ fixed at 0 (only differences are identified). Its
// buffers are reused across fits, as a bootstrap does thousands.
type btSolver struct {
	k     int
	pairs [][2]int32

	n, w             []float64 // per pair: games, lower index's score
	theta, next      []float64
	grad, step       []float64
	hess             []float64 // (k−1)×(k−1), row-major
	adj, radj        [][]int32 // for the existence check
	seen             []bool
	stack            []int32
	scoreOf, gamesOf []float64
}

func newBTSolver(t *Table) *btSolver {
	t.compileCells()
	k := len(t.Models)
	return &btSolver{
		k: k, pairs: t.pairs,
		n: make([]float64, len(t.pairs)), w: make([]float64, len(t.pairs)),
		theta: make([]float64, k), next: make([]float64, k),
		grad: make([]float64, k), step: make([]float64, k),
		hess: make([]float64, (k-1)*(k-1)),
		adj:  make([][]int32, k), radj: make([][]int32, k), seen: make([]bool, k),
		scoreOf: make([]float64, k), gamesOf: make([]float64, k),
	}
}

// fit returns the log-strengths for the cell counts, the number of
// Newton steps, and whether a finite maximum exists.
func (s *btSolver) fit(counts []float64) ([]float64, int, bool) {
	for p := range s.pairs {
		c := counts[3*p : 3*p+3]
		s.n[p] = c[0] + c[1] + c[2]
		s.w[p] = c[0] + 0.5*c[1]
	}
	if !s.exists() {
		return nil, 0, false
	}
	theta := s.theta
	clear(theta)
	nll := s.nll(theta)
	const maxIter = 200
	for iter := 1; iter <= maxIter; iter++ {
		s.derivatives(theta)
		if !cholSolve(s.hess, s.grad[:s.k-1], s.step[:s.k-1], s.k-1) {
			return nil, iter, false
		}
		biggest := 0.0
		for i := 0; i < s.k-1; i++ {
			biggest = max(biggest, math.Abs(s.step[i]))
		}
		if biggest < 1e-8 {
			// Converged: Newton's error after a step of δ is of order
			// δ², below what floating point resolves, and a line search
			// could not tell better from worse at this scale anyway.
			for i := 0; i < s.k-1; i++ {
				theta[i] -= s.step[i]
			}
			return theta, iter, true
		}
		// Step along −H⁻¹g, halving until the likelihood improves (it
		// does at once near the optimum, where Newton converges fast).
		slope := 0.0
		for i := 0; i < s.k-1; i++ {
			slope -= s.grad[i] * s.step[i]
		}
		t := 1.0
		var nextNLL float64
		for half := 0; ; half++ {
			for i := 0; i < s.k-1; i++ {
				s.next[i] = theta[i] - t*s.step[i]
			}
			s.next[s.k-1] = 0
			nextNLL = s.nll(s.next)
			// The slack lets a step through that the likelihood, a sum
			// of many terms, cannot resolve: near the optimum Newton's
			// steps are right and rounding would otherwise stall them.
			if nextNLL <= nll+1e-4*t*slope+1e-12*(1+math.Abs(nll)) || half == 60 {
				break
			}
			t /= 2
		}
		copy(theta, s.next)
		nll = nextNLL
	}
	return theta, maxIter, true
}

// nll is the negative log-likelihood of θ.
func (s *btSolver) nll(theta []float64) float64 {
	sum := 0.0
	for p, ij := range s.pairs {
		if s.n[p] == 0 {
			continue
		}
		d := theta[ij[0]] - theta[ij[1]]
		sum -= s.w[p]*logSigmoid(d) + (s.n[p]-s.w[p])*logSigmoid(-d)
	}
	return sum
}

// derivatives fills the gradient and the Hessian of the negative
// log-likelihood with respect to θ_0..θ_{k−2}.
func (s *btSolver) derivatives(theta []float64) {
	m := s.k - 1
	clear(s.grad)
	clear(s.hess)
	for p, ij := range s.pairs {
		if s.n[p] == 0 {
			continue
		}
		i, j := int(ij[0]), int(ij[1])
		prob := sigmoid(theta[i] - theta[j])
		g := s.n[p]*prob - s.w[p]
		h := s.n[p] * prob * (1 - prob)
		s.grad[i] += g
		s.grad[j] -= g
		if i < m {
			s.hess[i*m+i] += h
		}
		if j < m {
			s.hess[j*m+j] += h
		}
		if i < m && j < m {
			s.hess[i*m+j] -= h
			s.hess[j*m+i] -= h
		}
	}
}

// exists reports whether the maximum-likelihood estimate is finite: the
// directed graph with an edge i→j whenever i scored against j (won or
// tied) must be strongly connected (Ford, 1957).
func (s *btSolver) exists() bool {
	for i := range s.adj {
		s.adj[i] = s.adj[i][:0]
		s.radj[i] = s.radj[i][:0]
	}
	for p, ij := range s.pairs {
		if s.w[p] > 0 {
			s.adj[ij[0]] = append(s.adj[ij[0]], ij[1])
			s.radj[ij[1]] = append(s.radj[ij[1]], ij[0])
		}
		if s.n[p]-s.w[p] > 0 {
			s.adj[ij[1]] = append(s.adj[ij[1]], ij[0])
			s.radj[ij[0]] = append(s.radj[ij[0]], ij[1])
		}
	}
	return s.reachesAll(s.adj) && s.reachesAll(s.radj)
}

// reachesAll reports whether every model is reachable from model 0
// along the edges of adj.
func (s *btSolver) reachesAll(adj [][]int32) bool {
	clear(s.seen)
	s.seen[0] = true
	s.stack = append(s.stack[:0], 0)
	count := 1
	for len(s.stack) > 0 {
		v := s.stack[len(s.stack)-1]
		s.stack = s.stack[:len(s.stack)-1]
		for _, u := range adj[v] {
			if !s.seen[u] {
				s.seen[u] = true
				count++
				s.stack = append(s.stack, u)
			}
		}
	}
	return count == s.k
}

// why explains why no finite estimate exists, naming a model whose
// record makes it so.
func (s *btSolver) why(t *Table) string {
	clear(s.scoreOf)
	clear(s.gamesOf)
	for p, ij := range s.pairs {
		s.scoreOf[ij[0]] += s.w[p]
		s.scoreOf[ij[1]] += s.n[p] - s.w[p]
		s.gamesOf[ij[0]] += s.n[p]
		s.gamesOf[ij[1]] += s.n[p]
	}
	for i, m := range t.Models {
		switch {
		case s.gamesOf[i] == 0:
			return "model " + m + " played no battle"
		case s.scoreOf[i] == 0:
			return "model " + m + " lost every battle (no win or tie), so its rating would be −∞"
		case s.scoreOf[i] == s.gamesOf[i]:
			return "model " + m + " won every battle, so its rating would be +∞"
		}
	}
	return "the models split into groups where one group never lost (nor tied) to the other; compare them with more battles across the groups"
}

func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// logSigmoid is log σ(x), accurate for large |x|.
func logSigmoid(x float64) float64 {
	if x >= 0 {
		return -math.Log1p(math.Exp(-x))
	}
	return x - math.Log1p(math.Exp(x))
}

// cholSolve solves A·x = b for a symmetric positive-definite m×m matrix
// A (overwritten by its Cholesky factor). It reports false if A is not
// positive definite.
func cholSolve(a, b, x []float64, m int) bool {
	for j := 0; j < m; j++ {
		d := a[j*m+j]
		for k := 0; k < j; k++ {
			d -= a[j*m+k] * a[j*m+k]
		}
		if d <= 0 || math.IsNaN(d) {
			return false
		}
		d = math.Sqrt(d)
		a[j*m+j] = d
		for i := j + 1; i < m; i++ {
			v := a[i*m+j]
			for k := 0; k < j; k++ {
				v -= a[i*m+k] * a[j*m+k]
			}
			a[i*m+j] = v / d
		}
	}
	for i := 0; i < m; i++ { // L·y = b
		v := b[i]
		for k := 0; k < i; k++ {
			v -= a[i*m+k] * x[k]
		}
		x[i] = v / a[i*m+i]
	}
	for i := m - 1; i >= 0; i-- { // Lᵀ·x = y
		v := x[i]
		for k := i + 1; k < m; k++ {
			v -= a[k*m+i] * x[k]
		}
		x[i] = v / a[i*m+i]
	}
	return true
}
