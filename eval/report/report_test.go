package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

func buildSynthetic(t *testing.T) *Report {
	t.Helper()
	spec, prompts, answers, judgments, scores := syntheticEval()
	r, err := Build(spec, prompts, answers, judgments, scores, Options{Rounds: 300, Seed: 1, Now: time.Date(2026, 11, 30, 12, 30, 0, 0, time.UTC),
		PromptCache: syntheticPromptCache()})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestGolden renders the fixed synthetic eval in every format and
// compares with testdata/golden (go test -update rewrites them).
func TestGolden(t *testing.T) {
	t.Parallel()
	r := buildSynthetic(t)
	for _, format := range Formats {
		var buf bytes.Buffer
		if err := Render(&buf, r, format); err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		path := filepath.Join("testdata", "golden", "synthetic."+format)
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -update to create it)", err)
		}
		if diff := cmp.Diff(string(want), buf.String()); diff != "" {
			t.Errorf("%s differs from %s (-want +got; go test -update rewrites it):\n%s", format, path, diff)
		}
	}
}

// The JSON form decodes back into the same report.
func TestJSONRoundTrip(t *testing.T) {
	t.Parallel()
	r := buildSynthetic(t)
	var buf bytes.Buffer
	if err := r.JSON(&buf); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(*r, back); diff != "" {
		t.Errorf("round trip (-built +decoded):\n%s", diff)
	}
}

// The synthetic eval's built-in facts show through: tuned is warmer than
// base (significant), the data cannot separate their curiosity, the
// failures are counted and listed, and ratings exist for three models.
func TestSyntheticFindings(t *testing.T) {
	t.Parallel()
	r := buildSynthetic(t)
	find := func(trait, model, baseline string) PairResult {
		for _, pr := range r.Pairs {
			if pr.Trait == trait && pr.Model == model && pr.Baseline == baseline {
				return pr
			}
		}
		t.Fatalf("no result for %s, %s vs %s", trait, model, baseline)
		return PairResult{}
	}
	warm := find("warmth", "tuned", "base")
	if !warm.Significant || *warm.Score <= 0.5 || !strings.HasPrefix(warm.Verdict, "tuned beats base on warmth") {
		t.Errorf("warmth, tuned vs base: %+v; want a significant win for tuned", warm)
	}
	cur := find("curiosity", "tuned", "base")
	if cur.Significant || !strings.HasPrefix(cur.Verdict, "The data cannot tell tuned and base apart on curiosity") ||
		!strings.Contains(cur.Verdict, "would take about") || !strings.Contains(cur.Verdict, "This eval has 24.") {
		t.Errorf("curiosity, tuned vs base: verdict %q; want that the data cannot tell them apart, with prompts needed", cur.Verdict)
	}
	if r.Counts.ParseFailures != 1 || r.Counts.CallFailures != 1 || len(r.Judge.Failures) != 2 || r.Counts.AnswersFailed != 1 {
		t.Errorf("counts %+v, failures %d; want 1 parse failure, 1 failed call, 1 failed answer", r.Counts, len(r.Judge.Failures))
	}
	if len(r.Ratings) != 3 || len(r.Ratings[0].Ratings) != 3 {
		t.Fatalf("ratings %+v; want three models on three traits", r.Ratings)
	}
	if top := r.Ratings[0].Ratings[0]; top.Model != "tuned" || top.Rank != 1 {
		t.Errorf("overall ratings %+v; want tuned first", r.Ratings[0].Ratings)
	}
	if r.LegacyElo == nil || r.LegacyElo.Orders == 0 {
		t.Error("no legacy Elo")
	}
	for _, rt := range r.LegacyElo.Ratings {
		if !rt.OrderRange.Contains(rt.Rating) || rt.OrderRange.High-rt.OrderRange.Low <= 0 {
			t.Errorf("legacy Elo %+v: want its stored-order rating inside a non-empty range over orders", rt)
		}
	}
	if len(r.Pointwise) != 6 {
		t.Errorf("%d pointwise means, want 2 traits × 3 models", len(r.Pointwise))
	}
	if len(r.Samples) != 9 {
		t.Errorf("%d samples, want 3 for each of 3 pairs", len(r.Samples))
	}
}

// judgmentsFor spells the two orders of one prompt's overall judgments
// of tuned against base: first the one with tuned shown first.
func judgmentsFor(prompt string, tunedFirst, baseFirst ethos.Verdict) []ethos.Judgment {
	return []ethos.Judgment{
		{PromptKey: prompt, Trait: ethos.TraitOverall, First: "tuned", Second: "base", Verdict: tunedFirst, Status: ethos.JudgmentOK},
		{PromptKey: prompt, Trait: ethos.TraitOverall, First: "base", Second: "tuned", Verdict: baseFirst, Status: ethos.JudgmentOK},
	}
}

var twoModels = ethos.EvalSpec{Models: []ethos.EvalModel{{Name: "base", Ref: "sandbox/base"}, {Name: "tuned", Ref: "sandbox/ft"}}, Judge: "sandbox/judge"}

// Hand-counted: how the two orders combine into battles, prompts, the
// judge's consistency and first-position preference, and lengths.
func TestTwoOrdersCombine(t *testing.T) {
	t.Parallel()
	var js []ethos.Judgment
	js = append(js, judgmentsFor("p/1", ethos.Better, ethos.MuchWorse)...) // tuned wins both
	js = append(js, judgmentsFor("p/2", ethos.Worse, ethos.Better)...)     // base wins both
	js = append(js, judgmentsFor("p/3", ethos.MuchBetter, ethos.Tie)...)   // tuned, then a tie
	js = append(js, judgmentsFor("p/4", ethos.Better, ethos.Better)...)    // the first shown wins each time
	var answers []ethos.Answer
	for i, p := range []string{"p/1", "p/2", "p/3", "p/4"} {
		answers = append(answers,
			ethos.Answer{PromptKey: p, Model: "base", Status: ethos.AnswerOK, Text: strings.Repeat("b", 10)},
			ethos.Answer{PromptKey: p, Model: "tuned", Status: ethos.AnswerOK, Text: strings.Repeat("t", 10+4*i)})
	}
	r, err := Build(twoModels, nil, answers, js, nil, Options{Rounds: 50, Examples: -1})
	if err != nil {
		t.Fatal(err)
	}
	pr := r.Pairs[0]
	got := []any{pr.Model, pr.Baseline, pr.Wins, pr.Losses, pr.Ties, pr.StrongWins, pr.StrongLosses, *pr.Score,
		pr.Prompts, pr.PromptWins, pr.PromptLosses, pr.PromptTies, pr.P, pr.Significant}
	want := []any{"tuned", "base", 4, 3, 1, 2, 0, 0.5625, 4, 2, 1, 1, 1.0, false}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tuned vs base (-want +got):\n%s", diff)
	}
	d := r.Judge
	gotJ := []any{d.Units, d.Consistent, *d.Consistency, d.FirstPreferred, d.SecondPreferred, *d.FirstShare}
	wantJ := []any{4, 2, 0.5, 5, 2, 0.7143}
	if diff := cmp.Diff(wantJ, gotJ); diff != "" {
		t.Errorf("judge (-want +got):\n%s", diff)
	}
	l := d.Lengths[0]
	// Differences 0, 4, 8, 12 characters; p/1 has equal lengths, so the
	// decisive verdicts counted are those of p/2, p/3 (one), p/4.
	gotL := []any{l.Pairs, l.MeanDiff, l.Decisive, *l.LongerPreferred}
	wantL := []any{4, 6.0, 5, 0.4}
	if diff := cmp.Diff(wantL, gotL); diff != "" {
		t.Errorf("lengths (-want +got):\n%s", diff)
	}
	if r.Ratings != nil {
		t.Error("Bradley–Terry ratings for two models; they add nothing to the score")
	}
}

func TestHolmAcrossTraits(t *testing.T) {
	t.Parallel()
	var js []ethos.Judgment
	// 12 prompts: tuned wins both orders of every prompt overall and on
	// warmth (p = 2·0.5¹² ≈ 0.00049), and of 8 on humour (p ≈ 0.0078).
	for i := range 12 {
		p := string(rune('a'+i)) + "/x"
		for _, trait := range []string{ethos.TraitOverall, "warmth", "humour"} {
			v1, v2 := ethos.Better, ethos.Worse
			if trait == "humour" && i >= 8 {
				v1, v2 = ethos.Tie, ethos.Tie
			}
			js = append(js,
				ethos.Judgment{PromptKey: p, Trait: trait, First: "tuned", Second: "base", Verdict: v1, Status: ethos.JudgmentOK},
				ethos.Judgment{PromptKey: p, Trait: trait, First: "base", Second: "tuned", Verdict: v2, Status: ethos.JudgmentOK})
		}
	}
	spec := twoModels
	spec.Traits = []string{"warmth", "humour"}
	r, err := Build(spec, nil, nil, js, nil, Options{Rounds: 50, Examples: -1})
	if err != nil {
		t.Fatal(err)
	}
	var got [][2]float64
	for _, pr := range r.Pairs {
		got = append(got, [2]float64{pr.P, pr.PHolm})
	}
	want := [][2]float64{{0.000488, 0.00146}, {0.000488, 0.00146}, {0.00781, 0.00781}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("p and Holm p per trait (overall, warmth, humour) (-want +got):\n%s", diff)
	}
}

func TestBuildRejectsUnknownModels(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		spec ethos.EvalSpec
		js   []ethos.Judgment
		as   []ethos.Answer
		want string
	}{
		{spec: ethos.EvalSpec{Models: []ethos.EvalModel{{Name: "base"}}}, want: "at least two"},
		{spec: ethos.EvalSpec{Models: []ethos.EvalModel{{Name: "a"}, {Name: "a"}}}, want: "unique"},
		{spec: twoModels, js: []ethos.Judgment{{PromptKey: "p/1", Trait: "overall", First: "tuned", Second: "other", Status: ethos.JudgmentOK}}, want: `"other"`},
		{spec: twoModels, as: []ethos.Answer{{PromptKey: "p/1", Model: "ghost"}}, want: `"ghost"`},
	} {
		_, err := Build(c.spec, nil, c.as, c.js, nil, Options{})
		if ethos.KindOf(err) != ethos.Invalid || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want an invalid error containing %q", err, c.want)
		}
	}
}

// Model text never becomes markup: not in HTML, not in Markdown.
func TestModelTextIsEscaped(t *testing.T) {
	t.Parallel()
	r := buildSynthetic(t)
	var html, md bytes.Buffer
	if err := r.HTML(&html); err != nil {
		t.Fatal(err)
	}
	if err := r.Markdown(&md); err != nil {
		t.Fatal(err)
	}
	h := html.String()
	for _, bad := range []string{"<script", "<b>both", "src=", "href=", "@import", "url("} {
		if strings.Contains(h, bad) {
			t.Errorf("HTML contains %q", bad)
		}
	}
	if !strings.Contains(h, "&lt;script&gt;alert(&#34;gotcha&#34;)&lt;/script&gt;") {
		t.Error("HTML lacks the escaped answer text")
	}
	m := md.String()
	if !strings.Contains(m, "~~~~text\n<script>alert") {
		t.Error("Markdown does not fence the answer with a fence longer than its ~~~")
	}
	if strings.Contains(m, "| I think <b>") || !strings.Contains(m, "I think &lt;b>both&lt;/b> are lovely \\| \\[\\[A>?\\]\\]") {
		t.Error("Markdown does not escape the judge's raw reply in the failure table")
	}
}

func TestMarkdownHelpers(t *testing.T) {
	t.Parallel()
	if got, want := fence("a\n~~~~~ b\n"), "~~~~~~text\na\n~~~~~ b\n~~~~~~"; got != want {
		t.Errorf("fence = %q, want %q", got, want)
	}
}

// mdInline keeps a name as written, escaping only what would change the
// line's meaning in Markdown: table pipes, emphasis, code spans, links,
// HTML tags and character references.
func TestMdInline(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"cautious & ethical", "cautious & ethical"},
		{"warmth", "warmth"},
		{"self_aware", "self_aware"},
		{"a > b, c != d", "a > b, c != d"},
		{"it's \"fair\" / kind-hearted (mostly)", "it's \"fair\" / kind-hearted (mostly)"},
		{"a|b", `a\|b`},
		{"*x* and _y_ and `z`", `\*x\* and \_y\_ and ` + "\\`z\\`"},
		{"[link](x)", `\[link\](x)`},
		{"<i>x</i>", "&lt;i>x&lt;/i>"},
		{"&amp; and &#38;", "&amp;amp; and &amp;#38;"},
		{"> quoted", `\> quoted`},
		{"a\\b", `a\\b`},
		{"two\nlines\tand tab", "two lines and tab"},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, mdInline(tt.in)); diff != "" {
			t.Errorf("mdInline(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestSandboxLabel(t *testing.T) {
	t.Parallel()
	r := buildSynthetic(t)
	for _, format := range Formats {
		var buf bytes.Buffer
		if err := Render(&buf, r, format); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(buf.String(), "Sandbox evaluation") && format != "json" {
			t.Errorf("%s: no sandbox label", format)
		}
	}
	if !r.Sandbox {
		t.Error("Report.Sandbox is false for a sandbox spec")
	}
	if err := Render(&bytes.Buffer{}, r, "pdf"); ethos.KindOf(err) != ethos.Invalid {
		t.Errorf("format pdf: error %v, want invalid", err)
	}
}

// When every prompt comes out even there is nothing to plan a sample size
// with: the verdict says so instead of quoting an impossible number.
func TestAllTiesVerdict(t *testing.T) {
	t.Parallel()
	var js []ethos.Judgment
	for _, p := range []string{"p/1", "p/2", "p/3"} {
		js = append(js, judgmentsFor(p, ethos.Tie, ethos.Tie)...)
	}
	r, err := Build(twoModels, nil, nil, js, nil, Options{Rounds: 20, Examples: -1})
	if err != nil {
		t.Fatal(err)
	}
	pr := r.Pairs[0]
	if pr.NeededForEffect != 0 || pr.Needed != 0 {
		t.Errorf("prompts needed %d / %d, want 0 / 0 when every prompt ties", pr.Needed, pr.NeededForEffect)
	}
	if !strings.Contains(pr.Verdict, "Every prompt came out even") || strings.Contains(pr.Verdict, "922337") {
		t.Errorf("verdict %q", pr.Verdict)
	}
}

// The cost section says when caching cost more than it saved and when a
// saving could not be priced, in every format; without the ledger's
// figures there is no section at all.
func TestCostSectionWarnings(t *testing.T) {
	t.Parallel()
	spec, prompts, answers, judgments, scores := syntheticEval()
	uses := []ethos.PromptCacheUse{
		{Stage: "eval.judge", Model: "sandbox/judge", Calls: 10, Usage: ethos.Usage{In: 100, CacheWrite: 10000}, CostUSD: 0.0126, UncachedUSD: 0.0101},
		{Stage: "eval.judge", Model: "local/judge", Calls: 3, Usage: ethos.Usage{In: 100, CacheRead: 500}, Unpriced: 3},
	}
	r, err := Build(spec, prompts, answers, judgments, scores, Options{Rounds: 10, Examples: -1, PromptCache: uses})
	if err != nil {
		t.Fatal(err)
	}
	want := StageCost{Stage: "eval.judge", Calls: 13, InputTokens: 10700, CacheRead: 500, CacheWrite: 10000, Share: 0.0467,
		CostUSD: 0.0126, UncachedUSD: 0.0101, SavedUSD: -0.0025, Unpriced: 3}
	if diff := cmp.Diff([]StageCost{want}, r.Cost.Stages); diff != "" {
		t.Errorf("stages (-want +got):\n%s", diff)
	}
	for _, format := range []string{"md", "html"} {
		var buf bytes.Buffer
		if err := Render(&buf, r, format); err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"-$0.002500", "cost more than it saved", "3 calls used a model with no price"} {
			if !strings.Contains(buf.String(), s) {
				t.Errorf("%s report lacks %q", format, s)
			}
		}
	}
	r, err = Build(spec, prompts, answers, judgments, scores, Options{Rounds: 10, Examples: -1})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Render(&buf, r, "md"); err != nil {
		t.Fatal(err)
	}
	if r.Cost != nil || strings.Contains(buf.String(), "prompt caching") {
		t.Errorf("a report without ledger figures has a cost section: %+v", r.Cost)
	}
}
