package stats

import (
	"cmp"
	"flag"
	"slices"
	"strconv"
	"strings"

	"github.com/ethos-toolkit/ethos"
)

// The rating methods Rater knows.
const (
	MethodElo     = "elo"     // online Elo in battle order, bootstrap interval
	MethodBT      = "bt"      // Bradley–Terry maximum likelihood, bootstrap interval
	MethodWinRate = "winrate" // share of points, Wilson interval
)

// Methods are the rating methods, in the order "all" rates them.
var Methods = []string{MethodElo, MethodBT, MethodWinRate}

// MethodsOf returns the methods name asks for: one of Methods, or all of
// them for "all". ok is false for any other name.
func MethodsOf(name string) (methods []string, ok bool) {
	if name == "all" {
		return Methods, true
	}
	return []string{name}, slices.Contains(Methods, name)
}

// ParseAnchor parses a fixed Bradley–Terry rating written MODEL=RATING
// (e.g. base=1000) into BTOptions' Anchor and AnchorRating.
func ParseAnchor(s string) (model string, rating float64, ok bool) {
	model, value, ok := strings.Cut(s, "=")
	rating, err := strconv.ParseFloat(value, 64)
	return model, rating, ok && model != "" && err == nil
}

// MethodRatings are one method's ratings of every model.
type MethodRatings struct {
	Method    string        `json:"method"`
	Battles   int           `json:"battles"`
	Bootstrap int           `json:"bootstrap"`
	Seed      uint64        `json:"seed"`
	Ratings   []ModelRating `json:"ratings"`
	// Dropped bootstrap rounds had no finite estimate (bt only).
	Dropped int `json:"dropped,omitempty"`
	// Error says why the method failed; it has no ratings then.
	Error string `json:"error,omitempty"`
}

// ModelRating is one model's rating by one method, with its 95% interval
// (nil without one) and its record over every battle.
type ModelRating struct {
	Model    string   `json:"model"`
	Rating   float64  `json:"rating"`
	CILow    *float64 `json:"ci_low"`
	CIHigh   *float64 `json:"ci_high"`
	Strength *float64 `json:"strength,omitempty"`
	Wins     int      `json:"wins"`
	Losses   int      `json:"losses"`
	Ties     int      `json:"ties"`
}

// Rater rates battles by each method with the same options.
type Rater struct {
	// Full is every battle: Elo runs over it, and the records count it.
	Full *Table
	// Rated is what Bradley–Terry and the win rate rate: Full, or Full
	// without its ties when ties are skipped.
	Rated     *Table
	Bootstrap Bootstrap // no intervals for elo and bt with zero rounds
	Elo       EloOptions
	BT        BTOptions

	anchor string // --anchor as given, parsed by Check
}

// RegisterFlags adds the rater's settings to fs as ethos eval rate takes
// them; Check completes them once fs is parsed.
func (r *Rater) RegisterFlags(fs *flag.FlagSet) {
	fs.Float64Var(&r.Elo.Init, "init", 1000, "Elo's starting `rating`, and the mean Bradley–Terry rating")
	fs.Float64Var(&r.Elo.K, "k", 4, "Elo's update step `K`")
	fs.Float64Var(&r.Elo.Scale, "scale", 400, "rating `points` for odds of 10:1 (Elo and Bradley–Terry)")
	fs.StringVar((*string)(&r.Elo.Ties), "ties", string(TiesHalf), "what a tie counts: `half` to each side, or skip")
	fs.IntVar(&r.Bootstrap.Rounds, "bootstrap", 1000, "`rounds` of the percentile bootstrap over battles for elo and bt intervals (0: none)")
	fs.Uint64Var(&r.Bootstrap.Seed, "seed", 1, "the bootstrap's `seed`")
	fs.StringVar(&r.anchor, "anchor", "", "fix a Bradley–Terry rating, `MODEL=RATING`, instead of centring the mean")
}

// Check validates the settings RegisterFlags's flags gave, with errors of
// kind Config, and completes them: Bradley–Terry's scale and centre are
// Elo's, and its anchor the one --anchor names.
func (r *Rater) Check() error {
	if r.Elo.Ties != TiesHalf && r.Elo.Ties != TiesSkip {
		return ethos.Errorf(ethos.Config, "--ties %q: want half or skip", r.Elo.Ties)
	}
	if r.Elo.K <= 0 || r.Elo.Scale <= 0 || r.Bootstrap.Rounds < 0 {
		return ethos.Errorf(ethos.Config, "--k and --scale must be positive and --bootstrap at least 0")
	}
	r.BT.Scale, r.BT.Centre = r.Elo.Scale, r.Elo.Init
	if r.anchor != "" {
		var ok bool
		if r.BT.Anchor, r.BT.AnchorRating, ok = ParseAnchor(r.anchor); !ok {
			return ethos.Errorf(ethos.Config, "--anchor %q: want MODEL=RATING, e.g. base=1000", r.anchor)
		}
	}
	return nil
}

// Over returns r rating battles: Full is every battle, and Rated is Full
// without its ties when r.Elo.Ties is TiesSkip. It fails with an error of
// kind Invalid when skipping ties leaves nothing to rate.
func (r Rater) Over(battles []Battle) (Rater, error) {
	r.Full = NewTable(battles)
	r.Rated = r.Full
	if r.Elo.Ties == TiesSkip {
		r.Rated = r.Full.WithoutTies()
		if r.Rated.Len() == 0 {
			return r, ethos.Errorf(ethos.Invalid, "every battle is a tie; with ties skipped nothing is left to rate")
		}
	}
	return r, nil
}

// RateEach rates the battles by each of methods in turn. With one method,
// its failure is the error. With several, a method that fails does not
// hide the others: its result holds only its Error, and RateEach returns
// every result together with an error of kind Invalid naming each
// failure.
func (r Rater) RateEach(methods []string) ([]MethodRatings, error) {
	var results []MethodRatings
	var failed []string
	for _, m := range methods {
		res, err := r.Rate(m)
		if err != nil {
			if len(methods) == 1 {
				return nil, err
			}
			res = MethodRatings{Method: m, Battles: r.Rated.Len(), Bootstrap: r.Bootstrap.Rounds, Seed: r.Bootstrap.Seed, Error: err.Error()}
			failed = append(failed, m+" failed: "+err.Error())
		}
		results = append(results, res)
	}
	if len(failed) > 0 {
		return results, ethos.Errorf(ethos.Invalid, "%d of %d methods failed: %s", len(failed), len(methods), strings.Join(failed, "; "))
	}
	return results, nil
}

// Rate rates the battles by method, best first (ties in rating by model
// name), with the method's intervals.
func (r Rater) Rate(method string) (MethodRatings, error) {
	res := MethodRatings{Method: method, Battles: r.Rated.Len(), Bootstrap: r.Bootstrap.Rounds, Seed: r.Bootstrap.Seed}
	var values, strengths []float64
	var iv *Intervals
	var err error
	switch method {
	case MethodElo:
		values = Elo(r.Full, r.Elo)
		if r.Bootstrap.Rounds > 0 {
			if iv, err = r.Bootstrap.Elo(r.Full, r.Elo); err != nil {
				return res, err
			}
		}
	case MethodBT:
		fit, err := BradleyTerry(r.Rated, r.BT)
		if err != nil {
			return res, err
		}
		values, strengths = fit.Ratings, fit.Strengths
		if r.Bootstrap.Rounds > 0 {
			if iv, err = r.Bootstrap.BradleyTerry(r.Rated, r.BT); err != nil {
				return res, err
			}
			res.Dropped = iv.Dropped
		}
	case MethodWinRate:
		values = WinRate(r.Rated)
		iv = &Intervals{}
		recs := r.Rated.Records()
		for i := range values {
			lo, hi := Wilson(float64(recs[i].Wins)+float64(recs[i].Ties)/2, float64(recs[i].Games()), 0.95)
			iv.Low, iv.High = append(iv.Low, lo), append(iv.High, hi)
		}
	default:
		return res, ethos.Errorf(ethos.Invalid, "rating method %q: want %s, %s or %s", method, MethodElo, MethodBT, MethodWinRate)
	}
	recs := r.Full.Records()
	for i, model := range r.Full.Models {
		rec := ModelRating{Model: model, Rating: values[i], Wins: recs[i].Wins, Losses: recs[i].Losses, Ties: recs[i].Ties}
		if iv != nil {
			rec.CILow, rec.CIHigh = &iv.Low[i], &iv.High[i]
		}
		if strengths != nil {
			rec.Strength = &strengths[i]
		}
		res.Ratings = append(res.Ratings, rec)
	}
	slices.SortStableFunc(res.Ratings, func(a, b ModelRating) int {
		return cmp.Or(cmp.Compare(b.Rating, a.Rating), cmp.Compare(a.Model, b.Model))
	})
	return res, nil
}
