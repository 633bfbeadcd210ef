package web

import (
	"context"
	"math"
	"strconv"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/eval/report"
)

// evalReport is an eval's statistics as eval/report computes them (the
// dashboard computes none of its own), with the geometry of the whisker
// charts that draw them.
type evalReport struct {
	*report.Report
	// Scores draws each (trait, pair) score with its bootstrap interval
	// against the line of no preference.
	Scores whiskerChart `json:"-"`
	// RatingCharts draw the Bradley–Terry ratings of each trait.
	RatingCharts []whiskerChart `json:"-"`
	// PointwiseChart draws the mean 1–5 scores.
	PointwiseChart whiskerChart `json:"-"`
}

// whiskerChart is a dot-and-interval chart: one row per estimate, a point
// at the value and a line across its interval, in an SVG whose geometry is
// computed here so that the template only places elements.
type whiskerChart struct {
	Title  string
	Width  float64
	Height float64
	Rows   []whiskerRow
	Ticks  []whiskerTick
	// RefX is the x of the reference line (no preference), 0 for none.
	RefX float64
}

type whiskerRow struct {
	Label       string
	Value       string // the value as text
	Interval    string // the interval as text
	Significant bool
	X, X1, X2   float64 // point, interval ends
	Y, TextY    float64
}

type whiskerTick struct {
	X     float64
	Label string
}

// Chart layout, in SVG user units.
const (
	whiskerWidth = 760.0
	whiskerLeft  = 260.0 // labels go left of this
	whiskerRight = 740.0
	whiskerRowH  = 26.0
	whiskerTop   = 10.0
)

// newWhiskers lays out rows over the axis [lo, hi]; ref is the value of
// the reference line (NaN for none).
func newWhiskers(title string, lo, hi, ref float64, ticks []float64, rows []whiskerRow, values [][3]float64) whiskerChart {
	c := whiskerChart{Title: title, Width: whiskerWidth, Height: whiskerTop + whiskerRowH*float64(len(rows)) + 24}
	x := func(v float64) float64 {
		if hi == lo {
			return whiskerLeft
		}
		v = math.Max(lo, math.Min(hi, v))
		return math.Round((whiskerLeft+(v-lo)/(hi-lo)*(whiskerRight-whiskerLeft))*10) / 10
	}
	for i := range rows {
		r := &rows[i]
		r.X, r.X1, r.X2 = x(values[i][0]), x(values[i][1]), x(values[i][2])
		r.Y = whiskerTop + whiskerRowH*float64(i) + whiskerRowH/2
		r.TextY = r.Y + 4
	}
	c.Rows = rows
	for _, t := range ticks {
		c.Ticks = append(c.Ticks, whiskerTick{X: x(t), Label: strconv.FormatFloat(t, 'f', -1, 64)})
	}
	if !math.IsNaN(ref) {
		c.RefX = x(ref)
	}
	return c
}

// TickY is where tick labels go.
func (c whiskerChart) TickY() float64 { return c.Height - 6 }

// AxisY is where the plot ends.
func (c whiskerChart) AxisY() float64 { return c.Height - 20 }

func fmt4(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }

func interval(iv report.Interval) string { return "[" + fmt4(iv.Low) + ", " + fmt4(iv.High) + "]" }

// evalReport computes an eval's statistics in the background (the
// bootstrap takes a moment on a large eval), keyed by the eval's version.
func (s *Server) evalReport(ctx context.Context, run ethos.Run, version string, spec *ethos.EvalSpec, prompts []ethos.EvalPrompt,
	answers []ethos.Answer, judgments []ethos.Judgment, scores []ethos.TraitScore, loadErr error) section[*evalReport] {
	switch {
	case loadErr != nil:
		return section[*evalReport]{Err: loadErr}
	case spec == nil:
		return section[*evalReport]{Err: ethos.Errorf(ethos.Invalid, "eval %s: its settings do not decode, so it cannot be reported", run.ID)}
	case len(judgments) == 0 && len(scores) == 0:
		return section[*evalReport]{}
	}
	c := s.snaps.get(ctx, topicEval+run.ID+"|report", version, func(ctx context.Context) (any, error) {
		r, err := report.Build(*spec, prompts, answers, judgments, scores, report.Options{EvalID: run.ID, Seed: uint64(spec.Seed), Examples: -1})
		if err != nil {
			return nil, err
		}
		return layoutReport(r), nil
	})
	return fromCache[*evalReport](c)
}

func layoutReport(r *report.Report) *evalReport {
	out := &evalReport{Report: r}

	var rows []whiskerRow
	var values [][3]float64
	for _, p := range r.Pairs {
		if p.Score == nil || p.Bootstrap == nil {
			continue
		}
		rows = append(rows, whiskerRow{Label: p.Trait + ": " + p.Model + " vs " + p.Baseline, Value: fmt4(*p.Score),
			Interval: interval(*p.Bootstrap), Significant: p.Significant})
		values = append(values, [3]float64{*p.Score, p.Bootstrap.Low, p.Bootstrap.High})
	}
	out.Scores = newWhiskers("Score (wins + ½ ties) with its 95% bootstrap interval; 0.5 is no preference",
		0, 1, 0.5, []float64{0, 0.25, 0.5, 0.75, 1}, rows, values)

	for _, tr := range r.Ratings {
		if len(tr.Ratings) == 0 {
			continue
		}
		lo, hi := math.Inf(1), math.Inf(-1)
		var rows []whiskerRow
		var values [][3]float64
		for _, m := range tr.Ratings {
			lo, hi = math.Min(lo, m.CI.Low), math.Max(hi, m.CI.High)
			rows = append(rows, whiskerRow{Label: m.Model, Value: strconv.FormatFloat(m.Rating, 'f', 1, 64),
				Interval: "[" + strconv.FormatFloat(m.CI.Low, 'f', 1, 64) + ", " + strconv.FormatFloat(m.CI.High, 'f', 1, 64) + "]"})
			values = append(values, [3]float64{m.Rating, m.CI.Low, m.CI.High})
		}
		lo, hi = math.Floor(lo/50)*50, math.Ceil(hi/50)*50
		out.RatingCharts = append(out.RatingCharts, newWhiskers("Bradley–Terry rating, "+tr.Trait, lo, hi, math.NaN(),
			[]float64{lo, (lo + hi) / 2, hi}, rows, values))
	}

	rows, values = nil, nil
	for _, m := range r.Pointwise {
		if m.N == 0 {
			continue
		}
		rows = append(rows, whiskerRow{Label: m.Trait + ": " + m.Model, Value: strconv.FormatFloat(m.Mean, 'f', 2, 64),
			Interval: "[" + strconv.FormatFloat(m.CI.Low, 'f', 2, 64) + ", " + strconv.FormatFloat(m.CI.High, 'f', 2, 64) + "]"})
		values = append(values, [3]float64{m.Mean, m.CI.Low, m.CI.High})
	}
	out.PointwiseChart = newWhiskers("Mean pointwise score (1–5) with its 95% interval", 1, 5, math.NaN(), []float64{1, 2, 3, 4, 5}, rows, values)
	return out
}
