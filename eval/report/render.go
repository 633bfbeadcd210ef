package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/ethos-toolkit/ethos"
)

// Formats are the formats Render writes.
var Formats = []string{"md", "html", "json"}

// Render writes the report in format: "md" (Markdown), "html" (one
// self-contained page: inline CSS and SVG charts, no script, every model
// text escaped) or "json".
func Render(w io.Writer, r *Report, format string) error {
	switch format {
	case "md", "markdown":
		return r.Markdown(w)
	case "html":
		return r.HTML(w)
	case "json":
		return r.JSON(w)
	}
	return ethos.Errorf(ethos.Invalid, "report format %q: want md, html or json", format)
}

// JSON writes the report as indented JSON.
func (r *Report) JSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// title is the report's heading.
func (r *Report) title() string {
	if r.EvalID == "" {
		return "Evaluation report"
	}
	return "Evaluation " + r.EvalID
}

// sandboxNote is the label of a sandbox evaluation's results.
const sandboxNote = "Sandbox evaluation: the models or the judge are ethos's offline sandbox. These results show the pipeline working; they say nothing about how real models compare."

// overview is the one-paragraph description of what was compared.
func (r *Report) overview() []string {
	var models []string
	for _, m := range r.Spec.Models {
		models = append(models, m.Name+" ("+m.Ref+")")
	}
	system := "without"
	if r.Spec.SystemPrompt {
		system = "with"
	}
	out := []string{
		"Models: " + strings.Join(models, ", "),
		"Judge: " + r.Spec.Judge,
		fmt.Sprintf("Prompts: %d; answers per model and prompt: %d; system prompt: %s", r.Counts.Prompts, max(1, r.Spec.Samples), system),
		fmt.Sprintf("Judgments: %d (ok %d, parse failures %d, failed calls %d); answers: %d (failed %d)",
			r.Counts.Judgments, r.Counts.JudgmentsOK, r.Counts.ParseFailures, r.Counts.CallFailures, r.Counts.Answers, r.Counts.AnswersFailed),
	}
	if r.Spec.PromptsFile != "" {
		out = append(out, "Prompts file: "+r.Spec.PromptsFile)
	}
	if r.GeneratedAt != nil {
		out = append(out, "Generated: "+r.GeneratedAt.Format("2006-01-02 15:04 UTC"))
	}
	return out
}

// costNote says what the cost section counts.
const costNote = "Calls sent to a provider, per stage; calls answered from ethos's own ledger cost nothing and are left out. Cache-hit share: the input tokens the provider read from its prompt cache, of all input tokens. Uncached cost: the same calls with every cache read and write billed at the input price; saved is the difference."

// costWarnings are what a reader of the cost section must not miss: a
// negative saving, and savings that could not be priced.
func (r *Report) costWarnings() []string {
	c := r.Cost
	if c == nil {
		return nil
	}
	var out []string
	if c.Total.SavedUSD < 0 {
		out = append(out, "Prompt caching cost more than it saved: the cache writes were billed above the input price and too few reads followed.")
	}
	if c.Total.Unpriced > 0 {
		out = append(out, fmt.Sprintf("%d calls used a model with no price: their saving is unknown and counted as none.", c.Total.Unpriced))
	}
	return out
}

// Formatting helpers shared by the Markdown and HTML renderers.

func pct1(x float64) string { return fmt.Sprintf("%.1f%%", 100*x) }

// usd writes dollars with the sign before the dollar sign.
func usd(x float64) string {
	if x < 0 {
		return fmt.Sprintf("-$%.6f", -x)
	}
	return fmt.Sprintf("$%.6f", x)
}

func f2(x float64) string  { return fmt.Sprintf("%.2f", x) }
func f3(x float64) string  { return fmt.Sprintf("%.3f", x) }
func f1(x float64) string  { return fmt.Sprintf("%.1f", x) }
func pct(x float64) string { return fmt.Sprintf("%.0f%%", 100*x) }

func optF2(x *float64) string {
	if x == nil {
		return "—"
	}
	return f2(*x)
}

func optPct(x *float64) string {
	if x == nil {
		return "—"
	}
	return pct(*x)
}

func ci(iv *Interval) string {
	if iv == nil {
		return "—"
	}
	return f2(iv.Low) + "–" + f2(iv.High)
}

func needed(pr PairResult) string {
	obs := "—"
	if pr.Needed > 0 {
		obs = fmt.Sprint(pr.Needed)
	}
	return fmt.Sprintf("%s / %d", obs, pr.NeededForEffect)
}

func traitLabel(t string) string {
	if t == ethos.TraitOverall {
		return "overall"
	}
	return t
}
