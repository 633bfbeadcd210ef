package stats

import "math"

// TieRule says what online Elo does with a tie.
type TieRule string

// Tie rules.
const (
	TiesHalf TieRule = "half" // a tie scores ½ to each side (FastChat, evalica)
	TiesSkip TieRule = "skip" // ties are left out (the legacy ethos rule)
)

// EloOptions are the parameters of online Elo. Zero K, Base, Scale and
// Ties take FastChat's defaults; Init is taken as given (FastChat uses
// 1000).
type EloOptions struct {
	Init  float64 // every model's starting rating
	K     float64 // the update step; zero means 4
	Base  float64 // zero means 10
	Scale float64 // zero means 400
	Ties  TieRule // "" means TiesHalf

	alpha float64 // ln(Base)/Scale, set by withDefaults
}

func (o EloOptions) withDefaults() EloOptions {
	if o.K == 0 {
		o.K = 4
	}
	if o.Base == 0 {
		o.Base = 10
	}
	if o.Scale == 0 {
		o.Scale = 400
	}
	if o.Ties == "" {
		o.Ties = TiesHalf
	}
	o.alpha = math.Log(o.Base) / o.Scale
	return o
}

// LegacyElo are the parameters of the sequential Elo of earlier ethos
// reports: init 1500, K 32, ties skipped. Its result depends on the order
// of the battles, so it is shown for continuity only, never to decide.
var LegacyElo = EloOptions{Init: 1500, K: 32, Base: 10, Scale: 400, Ties: TiesSkip}

// Elo runs online Elo over the battles in the table's order and returns
// the final ratings, aligned with t.Models. For a battle of A and B,
// E_A = 1/(1 + Base^((R_B − R_A)/Scale)); A gains K·(S_A − E_A) and B
// loses as much.
func Elo(t *Table, o EloOptions) []float64 {
	o = o.withDefaults()
	r := make([]float64, len(t.Models))
	for i := range r {
		r[i] = o.Init
	}
	for b := range t.score {
		eloUpdate(r, int(t.left[b]), int(t.right[b]), t.score[b], o)
	}
	return r
}

func eloUpdate(r []float64, a, b int, sa float64, o EloOptions) {
	if sa == 0.5 && o.Ties == TiesSkip {
		return
	}
	// Base^(d/Scale) as exp(d·ln(Base)/Scale): the same number, at a
	// fraction of math.Pow's cost, which dominates a bootstrap.
	ea := 1 / (1 + math.Exp((r[b]-r[a])*o.alpha))
	r[a] += o.K * (sa - ea)
	r[b] += o.K * ((1 - sa) - (1 - ea))
}
