package stats

import (
	"cmp"
	"slices"

	"github.com/ethos-toolkit/ethos"
)

// The rating methods Rater knows.
const (
	MethodElo     = "elo"     // online Elo in battle order, bootstrap interval
	MethodBT      = "bt"      // Bradley–Terry maximum likelihood, bootstrap interval
	MethodWinRate = "winrate" // share of points, Wilson interval
)

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
