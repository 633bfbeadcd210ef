package report

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strings"
	"unicode"
)

// Markdown writes the report as Markdown. Names and reasons are escaped
// for inline use; prompts and answers go into fenced blocks, where a
// Markdown renderer interprets neither Markdown nor HTML.
func (r *Report) Markdown(out io.Writer) error {
	w := bufio.NewWriter(out)
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("<!-- %s -->\n# %s\n\n", Kind, mdInline(r.title()))
	if r.Sandbox {
		p("> **%s**\n\n", mdInline(sandboxNote))
	}
	for _, line := range r.overview() {
		p("- %s\n", mdInline(line))
	}

	p("\n## Verdicts\n\n")
	for _, pr := range r.Pairs {
		p("- **%s**, %s vs %s: %s\n", mdInline(traitLabel(pr.Trait)), mdInline(pr.Model), mdInline(pr.Baseline), mdInline(pr.Verdict))
	}

	p("\n## Results per trait\n\n")
	p("Score: the model's share of points against the baseline, a tie counting ½ (0.5 = no difference). W/L/T count battles (each order one battle); the sign test counts prompts.\n\n")
	p("| Trait | Model vs baseline | W | L | T | Score | 95%% CI (bootstrap over prompts) | Wilson 95%% | Prompts W/L/T | p | Holm p | Prompts needed (observed / %s) |\n", mdInline(effectLabel(r)))
	p("|---|---|--:|--:|--:|--:|---|---|---|--:|--:|---|\n")
	for _, pr := range r.Pairs {
		score := optF2(pr.Score)
		if pr.Significant {
			score = "**" + score + "**"
		}
		p("| %s | %s vs %s | %d | %d | %d | %s | %s | %s | %d/%d/%d | %s | %s | %s |\n",
			mdInline(traitLabel(pr.Trait)), mdInline(pr.Model), mdInline(pr.Baseline), pr.Wins, pr.Losses, pr.Ties, score,
			ci(pr.Bootstrap), ci(pr.Wilson), pr.PromptWins, pr.PromptLosses, pr.PromptTies, fmtP(pr.P), fmtP(pr.PHolm), needed(pr))
	}

	d := r.Judge
	p("\n## Judge diagnostics\n\n")
	p("- Judge: %s\n", mdInline(d.Judge))
	p("- Position consistency: %s (%d of %d comparisons name the same winner in both orders)\n", optPct(d.Consistency), d.Consistent, d.Units)
	p("- First-position preference: %s of %d decisive verdicts chose the answer shown first (sign test p = %s; 50%% is unbiased)\n",
		optPct(d.FirstShare), d.FirstPreferred+d.SecondPreferred, fmtP(d.FirstP))
	p("- Judgments without a verdict: parse failures %d, failed calls %d\n", r.Counts.ParseFailures, r.Counts.CallFailures)
	for _, warn := range d.Warnings {
		p("\n> **Warning:** %s\n", mdInline(warn))
	}
	p("\n| Trait | Consistency | Comparisons | First-position share | Failures |\n|---|--:|--:|--:|--:|\n")
	for _, t := range d.ByTrait {
		p("| %s | %s | %d | %s | %d |\n", mdInline(traitLabel(t.Trait)), optPct(t.Consistency), t.Units, optPct(t.FirstShare), t.Failures)
	}
	p("\n| Model vs baseline | Answer pairs | Mean length difference (characters) | Longer answer preferred | Decisive verdicts |\n|---|--:|--:|--:|--:|\n")
	for _, l := range d.Lengths {
		p("| %s vs %s | %d | %+.1f | %s | %d |\n", mdInline(l.Model), mdInline(l.Baseline), l.Pairs, l.MeanDiff, optPct(l.LongerPreferred), l.Decisive)
	}
	if len(d.Failures) > 0 {
		p("\n### Judgments without a verdict\n\n| Prompt | Trait | Shown first | Shown second | Sample | Status | Attempts | Error or reply |\n|---|---|---|---|--:|---|--:|---|\n")
		for _, f := range d.Failures {
			detail := f.Error
			if f.Raw != "" {
				detail = f.Raw
			}
			p("| %s | %s | %s | %s | %d | %s | %d | %s |\n", mdInline(f.PromptKey), mdInline(traitLabel(f.Trait)), mdInline(f.First), mdInline(f.Second),
				f.Sample, f.Status, f.Attempts, mdInline(detail))
		}
	}

	if len(r.Ratings) > 0 {
		p("\n## Bradley–Terry ratings\n\n")
		p("Maximum-likelihood ratings on the Elo scale (mean 1000), with 95%% percentile-bootstrap intervals over prompts. Rank: 1 + the number of models whose interval lies wholly above.\n")
		for _, tr := range r.Ratings {
			p("\n### %s\n\n", mdInline(traitLabel(tr.Trait)))
			if tr.Note != "" {
				p("%s\n", mdInline(tr.Note))
				continue
			}
			p("| Rank | Model | Rating | 95%% CI | W | L | T |\n|--:|---|--:|---|--:|--:|--:|\n")
			for _, m := range tr.Ratings {
				p("| %d | %s | %s | %s–%s | %d | %d | %d |\n", m.Rank, mdInline(m.Model), f1(m.Rating), f1(m.CI.Low), f1(m.CI.High), m.Wins, m.Losses, m.Ties)
			}
			if tr.Dropped > 0 {
				p("\n%d of %d bootstrap rounds had no finite estimate and were left out; the intervals are somewhat too narrow.\n", tr.Dropped, tr.Dropped+tr.Rounds)
			}
		}
	}

	if le := r.LegacyElo; le != nil {
		p("\n## Legacy sequential Elo (order-dependent)\n\n")
		p("For continuity with earlier reports only, never to decide: init 1500, K 32, ties skipped, over the %d overall battles in stored order. The same battles in %d random orders give the range shown.\n\n", le.Battles, le.Orders)
		p("| Model | Elo (stored order) | Range over orders |\n|---|--:|---|\n")
		for _, m := range le.Ratings {
			p("| %s | %s | %s–%s |\n", mdInline(m.Model), f1(m.Rating), f1(m.OrderRange.Low), f1(m.OrderRange.High))
		}
	}

	if len(r.Pointwise) > 0 {
		p("\n## Pointwise trait scores (1–5)\n\n| Trait | Model | n | Mean | 95%% CI | Failed |\n|---|---|--:|--:|---|--:|\n")
		for _, m := range r.Pointwise {
			mean, iv := "—", "—"
			if m.N > 0 {
				mean, iv = f2(m.Mean), f2(m.CI.Low)+"–"+f2(m.CI.High)
			}
			p("| %s | %s | %d | %s | %s | %d |\n", mdInline(traitLabel(m.Trait)), mdInline(m.Model), m.N, mean, iv, m.Failed)
		}
	}

	if len(r.Samples) > 0 {
		p("\n## Sample prompts\n")
		for _, s := range r.Samples {
			p("\n### %s — %s vs %s: %s\n\n**Prompt**\n\n%s\n", mdInline(s.PromptKey), mdInline(s.Model), mdInline(s.Baseline), mdInline(s.Why), fence(s.Prompt))
			for _, m := range []string{s.Model, s.Baseline} {
				p("\n**%s**\n\n%s\n", mdInline(m), fence(s.Answers[m]))
			}
			p("\n| Trait | Shown first | Verdict | Preferred | Judge's reason |\n|---|---|---|---|---|\n")
			for _, j := range s.Judgments {
				p("| %s | %s | %s | %s | %s |\n", mdInline(traitLabel(j.Trait)), mdInline(j.First), mdInline(j.Verdict), mdInline(j.Winner), mdInline(j.Reason))
			}
		}
	}

	if c := r.Cost; c != nil {
		p("\n## Cost and prompt caching\n\n%s\n\n", costNote)
		p("| Stage | Calls | Input tokens | Cache read | Cache write | Cache-hit share | Cost | Uncached cost | Saved |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|\n")
		for _, s := range append(c.Stages, c.Total) {
			p("| %s | %d | %d | %d | %d | %s | %s | %s | %s |\n", mdInline(s.Stage), s.Calls, s.InputTokens, s.CacheRead, s.CacheWrite,
				pct1(s.Share), usd(s.CostUSD), usd(s.UncachedUSD), usd(s.SavedUSD))
		}
		for _, line := range r.costWarnings() {
			p("\n> %s\n", mdInline(line))
		}
	}

	p("\n## Method\n\n")
	for _, m := range r.Method {
		p("- %s\n", mdInline(m))
	}
	return w.Flush()
}

func effectLabel(r *Report) string {
	for _, pr := range r.Pairs {
		return fmt.Sprintf("%.0f:%.0f", 100*pr.Effect, 100*(1-pr.Effect))
	}
	return "60:40"
}

// mdInline makes s safe inside a Markdown paragraph or table cell while
// keeping it as written: one line, with only what would change its meaning
// escaped. That is a table's pipe, emphasis, code spans, links and
// strikethrough (by backslash); an underscore only where it can emphasise,
// not inside a word (self_aware); '<', which could open an HTML tag, and
// '&' only where it would start a character reference (&amp;), as
// entities; and a leading '>' or '#', which would make a quote or a
// heading. So "cautious & ethical" stays as it is.
func mdInline(s string) string {
	var b strings.Builder
	rs := []rune(s)
	for i, c := range rs {
		switch {
		case c == '\n' || c == '\r' || c == '\t':
			b.WriteByte(' ')
		case c == '<':
			b.WriteString("&lt;")
		case c == '&' && charRef.MatchString(string(rs[i:])):
			b.WriteString("&amp;")
		case c == '_' && i > 0 && i < len(rs)-1 && isWordRune(rs[i-1]) && isWordRune(rs[i+1]):
			b.WriteRune(c)
		case strings.ContainsRune("\\`*_[]|~", c), (c == '>' || c == '#') && i == 0:
			b.WriteByte('\\')
			b.WriteRune(c)
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// charRef is a character reference at the start of a string: &amp;,
// &#38;, &#x26;.
var charRef = regexp.MustCompile(`^&(?:[A-Za-z][A-Za-z0-9]*|#[0-9]+|#[xX][0-9A-Fa-f]+);`)

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// fence puts text in a fenced block whose fence is longer than any run of
// tildes in it, so that no text can close it early.
func fence(text string) string {
	longest, run := 0, 0
	for _, c := range text {
		if c == '~' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	f := strings.Repeat("~", max(3, longest+1))
	return f + "text\n" + strings.TrimRight(text, "\n") + "\n" + f
}
