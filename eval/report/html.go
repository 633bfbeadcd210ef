package report

import (
	"fmt"
	"html/template"
	"io"
	"math"
)

// HTML writes the report as one self-contained page: inline CSS, inline
// SVG charts, no script and nothing fetched. html/template escapes every
// string from the evaluation (model names, prompts, answers, reasons), so
// model output cannot become markup.
func (r *Report) HTML(w io.Writer) error {
	return pageTemplate.Execute(w, htmlPage{
		Report: r, Title: r.title(), SandboxNote: sandboxNote, Overview: r.overview(),
		ScoreCharts: scoreCharts(r), RatingCharts: ratingCharts(r), EffectLabel: effectLabel(r),
		CostNote: costNote, CostWarnings: r.costWarnings(),
	})
}

type htmlPage struct {
	*Report
	Title, SandboxNote, EffectLabel string
	Overview                        []string
	CostNote                        string
	CostWarnings                    []string
	ScoreCharts, RatingCharts       []chart
}

// chart is a dot-and-whisker chart laid out for SVG: one row per item,
// a value with its interval on a shared horizontal axis.
type chart struct {
	Title         string
	Width, Height int
	PlotLeft      float64
	PlotRight     float64
	AxisY         float64
	Ref           *float64 // x of the reference line (score 0.5), if any
	Ticks         []tick
	Rows          []chartRow
}

type tick struct {
	X     float64
	Label string
}

type chartRow struct {
	Y           float64
	Label       string
	X, Lo, Hi   float64
	Value       string
	Highlighted bool // a significant difference
}

const (
	chartWidth  = 680
	chartLeft   = 170.0
	chartRight  = 600.0
	rowHeight   = 30.0
	chartTop    = 34.0
	chartBottom = 30.0
)

func newChart(title string, rows int) chart {
	h := chartTop + rowHeight*float64(rows) + chartBottom
	return chart{Title: title, Width: chartWidth, Height: int(h), PlotLeft: chartLeft, PlotRight: chartRight, AxisY: h - chartBottom + 6}
}

func (c *chart) x(v, lo, hi float64) float64 {
	return round(c.PlotLeft+(v-lo)/(hi-lo)*(c.PlotRight-c.PlotLeft), 1)
}

// scoreCharts draws, per pair of models, each trait's score with its
// bootstrap interval on a 0–1 axis with a line at 0.5.
func scoreCharts(r *Report) []chart {
	var out []chart
	seen := map[string]bool{}
	for _, first := range r.Pairs {
		key := first.Model + "\x00" + first.Baseline
		if seen[key] {
			continue
		}
		seen[key] = true
		var rows []PairResult
		for _, pr := range r.Pairs {
			if pr.Model == first.Model && pr.Baseline == first.Baseline && pr.Score != nil {
				rows = append(rows, pr)
			}
		}
		if len(rows) == 0 {
			continue
		}
		c := newChart(fmt.Sprintf("Score of %s against %s per trait, with 95%% CI", first.Model, first.Baseline), len(rows))
		ref := c.x(0.5, 0, 1)
		c.Ref = &ref
		for _, v := range []float64{0, 0.25, 0.5, 0.75, 1} {
			c.Ticks = append(c.Ticks, tick{X: c.x(v, 0, 1), Label: fmt.Sprintf("%.2g", v)})
		}
		for i, pr := range rows {
			c.Rows = append(c.Rows, chartRow{Y: chartTop + rowHeight*(float64(i)+0.5), Label: traitLabel(pr.Trait),
				X: c.x(*pr.Score, 0, 1), Lo: c.x(pr.Bootstrap.Low, 0, 1), Hi: c.x(pr.Bootstrap.High, 0, 1),
				Value: f2(*pr.Score), Highlighted: pr.Significant})
		}
		out = append(out, c)
	}
	return out
}

// ratingCharts draws, per trait, each model's Bradley–Terry rating with
// its interval.
func ratingCharts(r *Report) []chart {
	var out []chart
	for _, tr := range r.Ratings {
		if len(tr.Ratings) == 0 {
			continue
		}
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, m := range tr.Ratings {
			lo, hi = min(lo, m.CI.Low, m.Rating), max(hi, m.CI.High, m.Rating)
		}
		// Round the axis out to a step of 10, 25, 50, 100… points.
		step := 10.0
		for _, s := range []float64{25, 50, 100, 200, 500, 1000} {
			if (hi-lo)/step > 6 {
				step = s
			}
		}
		lo, hi = math.Floor(lo/step)*step, math.Ceil(hi/step)*step
		if hi == lo {
			lo, hi = lo-step, hi+step
		}
		c := newChart("Bradley–Terry rating on "+traitLabel(tr.Trait)+", with 95% CI", len(tr.Ratings))
		for v := lo; v <= hi+1e-9; v += step {
			c.Ticks = append(c.Ticks, tick{X: c.x(v, lo, hi), Label: fmt.Sprintf("%.0f", v)})
		}
		for i, m := range tr.Ratings {
			c.Rows = append(c.Rows, chartRow{Y: chartTop + rowHeight*(float64(i)+0.5), Label: m.Model,
				X: c.x(m.Rating, lo, hi), Lo: c.x(m.CI.Low, lo, hi), Hi: c.x(m.CI.High, lo, hi), Value: f1(m.Rating)})
		}
		out = append(out, c)
	}
	return out
}

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"f1": f1, "f2": f2, "pct": pct, "optF2": optF2, "optPct": optPct, "ci": ci, "p": fmtP, "needed": needed,
	"trait": traitLabel, "add": func(a, b float64) float64 { return a + b },
	"signed": func(x float64) string { return fmt.Sprintf("%+.1f", x) },
	"detail": func(f Failure) string {
		if f.Raw != "" {
			return f.Raw
		}
		return f.Error
	},
	"plus": func(a, b int) int { return a + b },
	"pct1": pct1, "usd": usd,
	"modelsOf": func(s Sample) []string { return []string{s.Model, s.Baseline} },
}).Parse(pageHTML))

const pageHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="generator" content="` + Kind + `">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1d2330;max-width:1100px;margin:2em auto;padding:0 1em}
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #d9dde5;padding-bottom:.2em}
table{border-collapse:collapse;margin:.8em 0;font-size:.92em}
th,td{border:1px solid #d9dde5;padding:.3em .55em;text-align:left;vertical-align:top}
th{background:#f3f5f9}td.n{text-align:right;font-variant-numeric:tabular-nums}
.sandbox{background:#fff4d6;border:1px solid #e8c15a;padding:.7em 1em;border-radius:4px}
.warn{background:#fdecea;border-left:4px solid #d9534f;padding:.5em 1em;margin:.5em 0}
.sig{font-weight:600}
pre{background:#f6f7f9;border:1px solid #e3e6eb;padding:.6em .8em;white-space:pre-wrap;word-wrap:break-word;max-height:24em;overflow:auto}
svg{display:block;margin:1em 0;max-width:100%;height:auto}
svg text{font:12px system-ui,sans-serif;fill:#1d2330}
.verdicts li{margin:.35em 0}
.why{color:#5a6274}
</style>
</head>
<body>
<h1>{{.Title}}</h1>
{{if .Sandbox}}<p class="sandbox"><strong>{{.SandboxNote}}</strong></p>{{end}}
<ul>{{range .Overview}}<li>{{.}}</li>{{end}}</ul>

<h2>Verdicts</h2>
<ul class="verdicts">{{range .Pairs}}<li><strong>{{trait .Trait}}</strong>, {{.Model}} vs {{.Baseline}}: {{.Verdict}}</li>{{end}}</ul>
{{range .ScoreCharts}}{{template "chart" .}}{{end}}

<h2>Results per trait</h2>
<p>Score: the model's share of points against the baseline, a tie counting ½ (0.5 = no difference). W/L/T count battles (each order one battle); the sign test counts prompts.</p>
<table>
<tr><th>Trait</th><th>Model vs baseline</th><th>W</th><th>L</th><th>T</th><th>Score</th><th>95% CI (bootstrap over prompts)</th><th>Wilson 95%</th><th>Prompts W/L/T</th><th>p</th><th>Holm p</th><th>Prompts needed (observed / {{.EffectLabel}})</th></tr>
{{range .Pairs}}<tr><td>{{trait .Trait}}</td><td>{{.Model}} vs {{.Baseline}}</td><td class="n">{{.Wins}}</td><td class="n">{{.Losses}}</td><td class="n">{{.Ties}}</td><td class="n{{if .Significant}} sig{{end}}">{{optF2 .Score}}</td><td>{{ci .Bootstrap}}</td><td>{{ci .Wilson}}</td><td>{{.PromptWins}}/{{.PromptLosses}}/{{.PromptTies}}</td><td class="n">{{p .P}}</td><td class="n">{{p .PHolm}}</td><td>{{needed .}}</td></tr>
{{end}}</table>

<h2>Judge diagnostics</h2>
{{with .Judge}}<ul>
<li>Judge: {{.Judge}}</li>
<li>Position consistency: {{optPct .Consistency}} ({{.Consistent}} of {{.Units}} comparisons name the same winner in both orders)</li>
<li>First-position preference: {{optPct .FirstShare}} of {{plus .FirstPreferred .SecondPreferred}} decisive verdicts chose the answer shown first (sign test p = {{p .FirstP}}; 50% is unbiased)</li>
<li>Judgments without a verdict: parse failures {{$.Counts.ParseFailures}}, failed calls {{$.Counts.CallFailures}}</li>
</ul>
{{range .Warnings}}<p class="warn"><strong>Warning:</strong> {{.}}</p>{{end}}
<table>
<tr><th>Trait</th><th>Consistency</th><th>Comparisons</th><th>First-position share</th><th>Failures</th></tr>
{{range .ByTrait}}<tr><td>{{trait .Trait}}</td><td class="n">{{optPct .Consistency}}</td><td class="n">{{.Units}}</td><td class="n">{{optPct .FirstShare}}</td><td class="n">{{.Failures}}</td></tr>
{{end}}</table>
<table>
<tr><th>Model vs baseline</th><th>Answer pairs</th><th>Mean length difference (characters)</th><th>Longer answer preferred</th><th>Decisive verdicts</th></tr>
{{range .Lengths}}<tr><td>{{.Model}} vs {{.Baseline}}</td><td class="n">{{.Pairs}}</td><td class="n">{{signed .MeanDiff}}</td><td class="n">{{optPct .LongerPreferred}}</td><td class="n">{{.Decisive}}</td></tr>
{{end}}</table>
{{if .Failures}}<h3>Judgments without a verdict</h3>
<table>
<tr><th>Prompt</th><th>Trait</th><th>Shown first</th><th>Shown second</th><th>Sample</th><th>Status</th><th>Attempts</th><th>Error or reply</th></tr>
{{range .Failures}}<tr><td>{{.PromptKey}}</td><td>{{trait .Trait}}</td><td>{{.First}}</td><td>{{.Second}}</td><td class="n">{{.Sample}}</td><td>{{.Status}}</td><td class="n">{{.Attempts}}</td><td><pre>{{detail .}}</pre></td></tr>
{{end}}</table>{{end}}{{end}}

{{if .Ratings}}<h2>Bradley–Terry ratings</h2>
<p>Maximum-likelihood ratings on the Elo scale (mean 1000), with 95% percentile-bootstrap intervals over prompts. Rank: 1 + the number of models whose interval lies wholly above.</p>
{{range .RatingCharts}}{{template "chart" .}}{{end}}
{{range .Ratings}}<h3>{{trait .Trait}}</h3>
{{if .Note}}<p>{{.Note}}</p>{{else}}<table>
<tr><th>Rank</th><th>Model</th><th>Rating</th><th>95% CI</th><th>W</th><th>L</th><th>T</th></tr>
{{range .Ratings}}<tr><td class="n">{{.Rank}}</td><td>{{.Model}}</td><td class="n">{{f1 .Rating}}</td><td>{{f1 .CI.Low}}–{{f1 .CI.High}}</td><td class="n">{{.Wins}}</td><td class="n">{{.Losses}}</td><td class="n">{{.Ties}}</td></tr>
{{end}}</table>
{{if .Dropped}}<p>{{.Dropped}} bootstrap rounds had no finite estimate and were left out; the intervals are somewhat too narrow.</p>{{end}}{{end}}
{{end}}{{end}}

{{with .LegacyElo}}<h2>Legacy sequential Elo (order-dependent)</h2>
<p>For continuity with earlier reports only, never to decide: init 1500, K 32, ties skipped, over the {{.Battles}} overall battles in stored order. The same battles in {{.Orders}} random orders give the range shown.</p>
<table>
<tr><th>Model</th><th>Elo (stored order)</th><th>Range over orders</th></tr>
{{range .Ratings}}<tr><td>{{.Model}}</td><td class="n">{{f1 .Rating}}</td><td>{{f1 .OrderRange.Low}}–{{f1 .OrderRange.High}}</td></tr>
{{end}}</table>{{end}}

{{if .Pointwise}}<h2>Pointwise trait scores (1–5)</h2>
<table>
<tr><th>Trait</th><th>Model</th><th>n</th><th>Mean</th><th>95% CI</th><th>Failed</th></tr>
{{range .Pointwise}}<tr><td>{{trait .Trait}}</td><td>{{.Model}}</td><td class="n">{{.N}}</td><td class="n">{{if .N}}{{f2 .Mean}}{{else}}—{{end}}</td><td>{{if .N}}{{f2 .CI.Low}}–{{f2 .CI.High}}{{else}}—{{end}}</td><td class="n">{{.Failed}}</td></tr>
{{end}}</table>{{end}}

{{if .Samples}}<h2>Sample prompts</h2>
{{range .Samples}}<h3>{{.PromptKey}} — {{.Model}} vs {{.Baseline}}: <span class="why">{{.Why}}</span></h3>
<p><strong>Prompt</strong></p><pre>{{.Prompt}}</pre>
{{$s := .}}{{range $m := (modelsOf $s)}}<p><strong>{{$m}}</strong></p><pre>{{index $s.Answers $m}}</pre>
{{end}}<table>
<tr><th>Trait</th><th>Shown first</th><th>Verdict</th><th>Preferred</th><th>Judge's reason</th></tr>
{{range .Judgments}}<tr><td>{{trait .Trait}}</td><td>{{.First}}</td><td>{{.Verdict}}</td><td>{{.Winner}}</td><td>{{.Reason}}</td></tr>
{{end}}</table>
{{end}}{{end}}

{{with .Cost}}<h2>Cost and prompt caching</h2>
<p>{{$.CostNote}}</p>
<table>
<tr><th>Stage</th><th>Calls</th><th>Input tokens</th><th>Cache read</th><th>Cache write</th><th>Cache-hit share</th><th>Cost</th><th>Uncached cost</th><th>Saved</th></tr>
{{range .Stages}}{{template "costRow" .}}{{end}}{{with .Total}}{{template "costRow" .}}{{end}}</table>
{{range $.CostWarnings}}<p class="warn">{{.}}</p>{{end}}{{end}}

<h2>Method</h2>
<ul>{{range .Method}}<li>{{.}}</li>{{end}}</ul>
</body>
</html>
{{define "costRow"}}<tr><td>{{.Stage}}</td><td class="n">{{.Calls}}</td><td class="n">{{.InputTokens}}</td><td class="n">{{.CacheRead}}</td><td class="n">{{.CacheWrite}}</td><td class="n">{{pct1 .Share}}</td><td class="n">{{usd .CostUSD}}</td><td class="n">{{usd .UncachedUSD}}</td><td class="n">{{usd .SavedUSD}}</td></tr>
{{end}}{{define "chart"}}<svg xmlns="http://www.w3.org/2000/svg" width="{{.Width}}" height="{{.Height}}" viewBox="0 0 {{.Width}} {{.Height}}" role="img" aria-label="{{.Title}}">
<text x="4" y="18" style="font-weight:600">{{.Title}}</text>
<line x1="{{.PlotLeft}}" y1="{{.AxisY}}" x2="{{.PlotRight}}" y2="{{.AxisY}}" stroke="#8a93a6"/>
{{$c := .}}{{range .Ticks}}<line x1="{{.X}}" y1="{{$c.AxisY}}" x2="{{.X}}" y2="{{add $c.AxisY 4}}" stroke="#8a93a6"/><text x="{{.X}}" y="{{add $c.AxisY 17}}" text-anchor="middle">{{.Label}}</text>
{{end}}{{with .Ref}}<line x1="{{.}}" y1="26" x2="{{.}}" y2="{{$c.AxisY}}" stroke="#8a93a6" stroke-dasharray="4 3"/>{{end}}
{{range .Rows}}<text x="{{add $c.PlotLeft -10}}" y="{{add .Y 4}}" text-anchor="end">{{.Label}}</text>
<line x1="{{.Lo}}" y1="{{.Y}}" x2="{{.Hi}}" y2="{{.Y}}" stroke="#3b6fd8" stroke-width="2"/><line x1="{{.Lo}}" y1="{{add .Y -5}}" x2="{{.Lo}}" y2="{{add .Y 5}}" stroke="#3b6fd8" stroke-width="2"/><line x1="{{.Hi}}" y1="{{add .Y -5}}" x2="{{.Hi}}" y2="{{add .Y 5}}" stroke="#3b6fd8" stroke-width="2"/>
<circle cx="{{.X}}" cy="{{.Y}}" r="{{if .Highlighted}}6{{else}}4.5{{end}}" fill="{{if .Highlighted}}#3b6fd8{{else}}#ffffff{{end}}" stroke="#3b6fd8" stroke-width="2"/><text x="{{add $c.PlotRight 12}}" y="{{add .Y 4}}">{{.Value}}</text>
{{end}}</svg>
{{end}}`
