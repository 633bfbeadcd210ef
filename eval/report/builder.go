package report

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/eval/stats"
)

// key identifies one comparison unit: a prompt, trait, unordered pair and
// sample.
type unitKey struct {
	prompt, trait   string
	model, baseline int // indices into spec.Models, baseline < model
	sample          int
}

// unit holds the (up to) two judgments of a unit: the one with the model
// shown first and the one with the baseline first.
type unit struct {
	modelFirst, baselineFirst *ethos.Judgment
}

type builder struct {
	spec   ethos.EvalSpec
	opts   Options
	evalID string
	models map[string]int
	traits []string

	prompts   []ethos.EvalPrompt
	promptOf  map[string]ethos.EvalPrompt
	answers   []ethos.Answer
	answerOf  map[answerKey]ethos.Answer
	judgments []ethos.Judgment
	scores    []ethos.TraitScore

	units    map[unitKey]*unit
	unitKeys []unitKey // sorted: trait order, pair, prompt, sample
}

type answerKey struct {
	prompt string
	model  string
	sample int
}

func newBuilder(spec ethos.EvalSpec, prompts []ethos.EvalPrompt, answers []ethos.Answer, judgments []ethos.Judgment, scores []ethos.TraitScore, opts Options) (*builder, error) {
	b := &builder{spec: spec, opts: opts, models: map[string]int{}, prompts: prompts, answers: answers, judgments: judgments, scores: scores,
		promptOf: map[string]ethos.EvalPrompt{}, answerOf: map[answerKey]ethos.Answer{}, units: map[unitKey]*unit{}}
	if len(spec.Models) < 2 {
		return nil, ethos.Errorf(ethos.Invalid, "report: the eval spec lists %d models; a comparison needs at least two", len(spec.Models))
	}
	for i, m := range spec.Models {
		if _, dup := b.models[m.Name]; dup || m.Name == "" {
			return nil, ethos.Errorf(ethos.Invalid, "report: the eval spec lists model name %q twice or empty; names must be unique", m.Name)
		}
		b.models[m.Name] = i
	}
	b.evalID = opts.EvalID
	if b.evalID == "" && len(prompts) > 0 {
		b.evalID = prompts[0].EvalID
	}
	for _, p := range prompts {
		b.promptOf[p.Key] = p
	}
	for _, a := range answers {
		if _, ok := b.models[a.Model]; !ok {
			return nil, ethos.Errorf(ethos.Invalid, "report: answer to prompt %s is by model %q, which the eval spec does not list", a.PromptKey, a.Model)
		}
		b.answerOf[answerKey{a.PromptKey, a.Model, a.Sample}] = a
	}
	// Traits: overall first, then the spec's, then any others judged.
	seen := map[string]bool{}
	add := func(t string) {
		if !seen[t] {
			seen[t] = true
			b.traits = append(b.traits, t)
		}
	}
	var extra []string
	judged := map[string]bool{}
	for _, j := range judgments {
		judged[j.Trait] = true
	}
	if judged[ethos.TraitOverall] || len(judgments) == 0 {
		add(ethos.TraitOverall)
	}
	for _, t := range spec.Traits {
		add(t)
	}
	for t := range judged {
		if !seen[t] {
			extra = append(extra, t)
		}
	}
	slices.Sort(extra)
	for _, t := range extra {
		add(t)
	}
	traitRank := map[string]int{}
	for i, t := range b.traits {
		traitRank[t] = i
	}
	for i := range judgments {
		j := &judgments[i]
		fi, ok1 := b.models[j.First]
		si, ok2 := b.models[j.Second]
		if !ok1 || !ok2 || fi == si {
			return nil, ethos.Errorf(ethos.Invalid, "report: judgment of prompt %s (trait %s) compares %q with %q; both must be distinct models of the eval spec",
				j.PromptKey, j.Trait, j.First, j.Second)
		}
		k := unitKey{prompt: j.PromptKey, trait: j.Trait, model: max(fi, si), baseline: min(fi, si), sample: j.Sample}
		u := b.units[k]
		if u == nil {
			u = &unit{}
			b.units[k] = u
			b.unitKeys = append(b.unitKeys, k)
		}
		if fi == k.model {
			u.modelFirst = j
		} else {
			u.baselineFirst = j
		}
	}
	slices.SortFunc(b.unitKeys, func(x, y unitKey) int {
		return cmp.Or(cmp.Compare(traitRank[x.trait], traitRank[y.trait]), cmp.Compare(x.baseline, y.baseline),
			cmp.Compare(x.model, y.model), cmp.Compare(x.prompt, y.prompt), cmp.Compare(x.sample, y.sample))
	})
	return b, nil
}

func (b *builder) counts() Counts {
	c := Counts{Prompts: len(b.prompts), Answers: len(b.answers), Judgments: len(b.judgments)}
	for _, a := range b.answers {
		if a.Status != ethos.AnswerOK {
			c.AnswersFailed++
		}
	}
	for _, j := range b.judgments {
		switch j.Status {
		case ethos.JudgmentOK:
			c.JudgmentsOK++
		case ethos.JudgmentParseFailed:
			c.ParseFailures++
		default:
			c.CallFailures++
		}
	}
	for _, s := range b.scores {
		if s.Status == ethos.JudgmentOK {
			c.PointwiseOK++
		} else {
			c.PointwiseNotOK++
		}
	}
	return c
}

// points is the model's score in a judgment of status ok: 1, ½ or 0.
func points(j *ethos.Judgment, model string) float64 {
	switch j.Winner() {
	case "":
		return 0.5
	case model:
		return 1
	}
	return 0
}

// pairs computes the per-trait, per-pair results.
func (b *builder) pairs() ([]PairResult, error) {
	var out []PairResult
	var raw []float64 // the p-values before rounding, for Holm
	for _, trait := range b.traits {
		for bi := range b.spec.Models {
			for mi := bi + 1; mi < len(b.spec.Models); mi++ {
				pr, p, err := b.pair(trait, mi, bi)
				if err != nil {
					return nil, err
				}
				out = append(out, pr)
				raw = append(raw, p)
			}
		}
	}
	// Holm across the traits of each pair.
	for bi := range b.spec.Models {
		for mi := bi + 1; mi < len(b.spec.Models); mi++ {
			var idx []int
			var ps []float64
			for i, pr := range out {
				if pr.Model == b.spec.Models[mi].Name && pr.Baseline == b.spec.Models[bi].Name && pr.Score != nil {
					idx = append(idx, i)
					ps = append(ps, raw[i])
				}
			}
			for k, adj := range stats.Holm(ps) {
				pr := &out[idx[k]]
				pr.PHolm = sig(adj)
				pr.Significant = adj < Alpha && !pr.Bootstrap.Contains(0.5)
			}
		}
	}
	for i := range out {
		prompts := len(b.prompts)
		if prompts == 0 { // prompts not given: count those judged
			prompts = out[i].Prompts
		}
		out[i].Verdict = verdict(&out[i], prompts)
	}
	return out, nil
}

// pair compares model mi with baseline bi on one trait; p is the sign
// test's p-value before rounding.
func (b *builder) pair(trait string, mi, bi int) (pr PairResult, p float64, err error) {
	model, baseline := b.spec.Models[mi].Name, b.spec.Models[bi].Name
	pr = PairResult{Trait: trait, Model: model, Baseline: baseline, Effect: b.opts.Effect, P: 1, PHolm: 1}
	// Per prompt: the model's points and battles over both orders and
	// every sample.
	type tally struct{ points, games float64 }
	perPrompt := map[string]*tally{}
	var order []string
	for _, k := range b.unitKeys {
		if k.trait != trait || k.model != mi || k.baseline != bi {
			continue
		}
		u := b.units[k]
		for _, j := range []*ethos.Judgment{u.modelFirst, u.baselineFirst} {
			if j == nil || j.Status != ethos.JudgmentOK {
				continue
			}
			pts := points(j, model)
			switch pts {
			case 1:
				pr.Wins++
			case 0:
				pr.Losses++
			default:
				pr.Ties++
			}
			strong := j.Verdict == ethos.MuchBetter || j.Verdict == ethos.MuchWorse
			if strong && pts == 1 {
				pr.StrongWins++
			} else if strong && pts == 0 {
				pr.StrongLosses++
			}
			t := perPrompt[k.prompt]
			if t == nil {
				t = &tally{}
				perPrompt[k.prompt] = t
				order = append(order, k.prompt)
			}
			t.points += pts
			t.games++
		}
	}
	n := pr.Wins + pr.Losses + pr.Ties
	if n == 0 {
		return pr, 1, nil
	}
	score := (float64(pr.Wins) + float64(pr.Ties)/2) / float64(n)
	pr.Score = ptr(round(score, 4))
	lo, hi := stats.Wilson(float64(pr.Wins)+float64(pr.Ties)/2, float64(n), 0.95)
	pr.Wilson = &Interval{round(lo, 4), round(hi, 4)}
	num := make([]float64, len(order))
	den := make([]float64, len(order))
	for i, key := range order {
		t := perPrompt[key]
		num[i], den[i] = t.points, t.games
		switch {
		case t.points*2 > t.games:
			pr.PromptWins++
		case t.points*2 < t.games:
			pr.PromptLosses++
		default:
			pr.PromptTies++
		}
	}
	pr.Prompts = len(order)
	lo, hi, err = stats.Bootstrap{Rounds: b.opts.Rounds, Seed: b.opts.Seed}.Ratio(num, den)
	if err != nil {
		return pr, 1, err
	}
	pr.Bootstrap = &Interval{round(lo, 4), round(hi, 4)}
	p = stats.SignTest(pr.PromptWins, pr.PromptLosses)
	pr.P = sig(p)
	pr.PHolm = pr.P
	tieRate := float64(pr.PromptTies) / float64(pr.Prompts)
	if decisive := pr.PromptWins + pr.PromptLosses; decisive > 0 {
		if need, ok := stats.PromptsNeeded(float64(pr.PromptWins)/float64(decisive), Alpha, 0.8); ok {
			pr.Needed = stats.WithTies(need, tieRate)
		}
	}
	// With every prompt even there is no tie rate to plan with: no number
	// of prompts like these would show a preference.
	if need, ok := stats.PromptsNeeded(b.opts.Effect, Alpha, 0.8); ok && tieRate < 1 {
		pr.NeededForEffect = stats.WithTies(need, tieRate)
	}
	return pr, p, nil
}

// verdict says in words what the data show for one trait and pair.
func verdict(pr *PairResult, prompts int) string {
	what := "on " + pr.Trait
	if pr.Trait == ethos.TraitOverall {
		what = "overall"
	}
	if pr.Score == nil {
		return fmt.Sprintf("No usable judgments of %s against %s %s: nothing can be said.", pr.Model, pr.Baseline, what)
	}
	summary := fmt.Sprintf("score %.2f for %s (95%% CI %.2f–%.2f); %s preferred on %d prompts, %s on %d, %d even; sign test p = %s, Holm-adjusted %s",
		*pr.Score, pr.Model, pr.Bootstrap.Low, pr.Bootstrap.High, pr.Model, pr.PromptWins, pr.Baseline, pr.PromptLosses, pr.PromptTies, fmtP(pr.P), fmtP(pr.PHolm))
	if pr.Significant {
		better, worse := pr.Model, pr.Baseline
		if *pr.Score < 0.5 {
			better, worse = worse, better
		}
		return fmt.Sprintf("%s beats %s %s: %s.", better, worse, what, summary)
	}
	var why []string
	if pr.Bootstrap.Contains(0.5) {
		why = append(why, "the CI includes 0.5")
	}
	if pr.PHolm >= Alpha {
		why = append(why, fmt.Sprintf("the Holm-adjusted p is %s, not below %.2f", fmtP(pr.PHolm), Alpha))
	}
	s := fmt.Sprintf("The data cannot tell %s and %s apart %s (%s): %s.", pr.Model, pr.Baseline, what, strings.Join(why, "; "), summary)
	decisive := pr.PromptWins + pr.PromptLosses
	switch {
	case decisive == 0:
		return s + fmt.Sprintf(" Every prompt came out even, so more prompts like these would not detect a preference either. This eval has %d.", prompts)
	case pr.Needed > 0:
		share := float64(max(pr.PromptWins, pr.PromptLosses)) / float64(decisive)
		s += fmt.Sprintf(" Detecting a preference as large as the one observed (%.0f/%.0f among decisive prompts) would take about %d prompts;", 100*share, 100*(1-share), pr.Needed)
	default:
		s += " The decisive prompts split evenly, so no number of prompts would detect the observed difference;"
	}
	s += fmt.Sprintf(" a %.0f/%.0f preference would take about %d. This eval has %d.", 100*pr.Effect, 100*(1-pr.Effect), pr.NeededForEffect, prompts)
	return s
}

// diagnostics measures the judge.
func (b *builder) diagnostics() Diagnostics {
	d := Diagnostics{Judge: b.spec.Judge}
	byTrait := map[string]*TraitJudge{}
	firstByTrait := map[string][2]int{}
	for _, t := range b.traits {
		byTrait[t] = &TraitJudge{Trait: t}
	}
	for _, k := range b.unitKeys {
		u := b.units[k]
		tj := byTrait[k.trait]
		a, c := u.modelFirst, u.baselineFirst
		if a != nil && c != nil && a.Status == ethos.JudgmentOK && c.Status == ethos.JudgmentOK {
			tj.Units++
			d.Units++
			if a.Winner() == c.Winner() {
				tj.Consistent++
				d.Consistent++
			}
		}
	}
	for i := range b.judgments {
		j := &b.judgments[i]
		if j.Status != ethos.JudgmentOK {
			byTrait[j.Trait].Failures++
			d.Failures = append(d.Failures, Failure{PromptKey: j.PromptKey, Trait: j.Trait, First: j.First, Second: j.Second, Sample: j.Sample,
				Status: j.Status, Attempts: j.Attempts, Error: truncate(j.Error, b.opts.MaxText), Raw: truncate(j.Raw, b.opts.MaxText)})
			continue
		}
		f := firstByTrait[j.Trait]
		switch {
		case j.Verdict > 0:
			d.FirstPreferred++
			f[0]++
		case j.Verdict < 0:
			d.SecondPreferred++
			f[1]++
		}
		firstByTrait[j.Trait] = f
	}
	d.Consistency = share(d.Consistent, d.Units)
	d.FirstShare = share(d.FirstPreferred, d.FirstPreferred+d.SecondPreferred)
	d.FirstP = sig(stats.SignTest(d.FirstPreferred, d.SecondPreferred))
	for _, t := range b.traits {
		tj := byTrait[t]
		tj.Consistency = share(tj.Consistent, tj.Units)
		f := firstByTrait[t]
		tj.FirstShare = share(f[0], f[0]+f[1])
		d.ByTrait = append(d.ByTrait, *tj)
	}
	d.Lengths = b.lengths()
	if d.Consistency != nil && *d.Consistency < 0.65 {
		d.Warnings = append(d.Warnings, fmt.Sprintf("Only %.0f%% of comparisons keep their winner when the order is swapped (GPT-4 as a judge reached 65%% on a hard test): the judge's verdicts depend on position; treat the results with care.", 100**d.Consistency))
	}
	if d.FirstShare != nil && d.FirstP < 0.01 {
		side := "first"
		if *d.FirstShare < 0.5 {
			side = "second"
		}
		d.Warnings = append(d.Warnings, fmt.Sprintf("The judge prefers the answer shown %s (%.0f%% of decisive verdicts, p = %s). Judging both orders cancels this bias in the scores, but it adds noise and ties.", side, 100**d.FirstShare, fmtP(d.FirstP)))
	}
	if n := len(d.Failures); n > 0 {
		d.Warnings = append(d.Warnings, fmt.Sprintf("%d judgments produced no verdict (listed below); they are left out of every statistic, never scored.", n))
	}
	for _, l := range d.Lengths {
		if l.LongerPreferred != nil && l.Decisive >= 20 && *l.LongerPreferred >= 0.75 {
			d.Warnings = append(d.Warnings, fmt.Sprintf("Between %s and %s the judge chose the longer answer in %.0f%% of decisive verdicts: check that a trait is not won by length alone.", l.Model, l.Baseline, 100**l.LongerPreferred))
		}
	}
	return d
}

func (b *builder) lengths() []LengthDiff {
	var out []LengthDiff
	for bi := range b.spec.Models {
		for mi := bi + 1; mi < len(b.spec.Models); mi++ {
			model, baseline := b.spec.Models[mi].Name, b.spec.Models[bi].Name
			l := LengthDiff{Model: model, Baseline: baseline}
			sum := 0.0
			seen := map[answerKey]bool{}
			longer := 0
			for _, k := range b.unitKeys {
				if k.model != mi || k.baseline != bi {
					continue
				}
				am, ok1 := b.answerOf[answerKey{k.prompt, model, k.sample}]
				ab, ok2 := b.answerOf[answerKey{k.prompt, baseline, k.sample}]
				if !ok1 || !ok2 || am.Status != ethos.AnswerOK || ab.Status != ethos.AnswerOK {
					continue
				}
				lm, lb := utf8.RuneCountInString(am.Text), utf8.RuneCountInString(ab.Text)
				if ak := (answerKey{k.prompt, "", k.sample}); !seen[ak] {
					seen[ak] = true
					l.Pairs++
					sum += float64(lm - lb)
				}
				if lm == lb {
					continue
				}
				u := b.units[k]
				for _, j := range []*ethos.Judgment{u.modelFirst, u.baselineFirst} {
					if j == nil || j.Status != ethos.JudgmentOK || j.Verdict == ethos.Tie {
						continue
					}
					l.Decisive++
					if (j.Winner() == model) == (lm > lb) {
						longer++
					}
				}
			}
			if l.Pairs > 0 {
				l.MeanDiff = round(sum/float64(l.Pairs), 1)
			}
			l.LongerPreferred = share(longer, l.Decisive)
			out = append(out, l)
		}
	}
	return out
}

// ratings fits Bradley–Terry per trait over every pair's battles, with a
// bootstrap over prompts.
func (b *builder) ratings() ([]TraitRatings, error) {
	var out []TraitRatings
	for _, trait := range b.traits {
		var battles []stats.Battle
		var groups []string
		for i := range b.judgments {
			j := b.judgments[i]
			if j.Trait != trait || j.Status != ethos.JudgmentOK {
				continue
			}
			bt, err := stats.FromJudgment(j)
			if err != nil {
				return nil, ethos.Errorf(ethos.Invalid, "report: prompt %s, trait %s: %s", j.PromptKey, trait, err)
			}
			battles = append(battles, bt)
			groups = append(groups, j.PromptKey)
		}
		tr := TraitRatings{Trait: trait}
		tab, err := stats.NewGroupedTable(battles, groups)
		if err != nil {
			return nil, err
		}
		if len(tab.Models) < len(b.spec.Models) {
			tr.Note = fmt.Sprintf("Only %d of the %d models have judgments on this trait; no ratings.", len(tab.Models), len(b.spec.Models))
			out = append(out, tr)
			continue
		}
		fit, err := stats.BradleyTerry(tab, stats.BTOptions{Centre: 1000})
		if err != nil {
			tr.Note = "No ratings: " + strings.TrimPrefix(err.Error(), "no finite Bradley–Terry ratings: ") + "."
			out = append(out, tr)
			continue
		}
		iv, err := stats.Bootstrap{Rounds: b.opts.Rounds, Seed: b.opts.Seed}.BradleyTerry(tab, stats.BTOptions{Centre: 1000})
		if err != nil {
			return nil, err
		}
		tr.Rounds, tr.Dropped = iv.Rounds, iv.Dropped
		recs := tab.Records()
		for i, m := range tab.Models {
			tr.Ratings = append(tr.Ratings, ModelRating{Model: m, Rating: round(fit.Ratings[i], 1),
				CI:   Interval{round(iv.Low[i], 1), round(iv.High[i], 1)},
				Wins: recs[i].Wins, Losses: recs[i].Losses, Ties: recs[i].Ties})
		}
		for i := range tr.Ratings {
			tr.Ratings[i].Rank = 1
			for _, o := range tr.Ratings {
				if o.CI.Low > tr.Ratings[i].CI.High {
					tr.Ratings[i].Rank++
				}
			}
		}
		slices.SortStableFunc(tr.Ratings, func(x, y ModelRating) int { return cmp.Compare(y.Rating, x.Rating) })
		out = append(out, tr)
	}
	return out, nil
}

// legacyElo is the sequential Elo over the overall judgments in stored
// order, with its range over random orders.
func (b *builder) legacyElo() *LegacyElo {
	var battles []stats.Battle
	for _, j := range b.judgments {
		if j.Trait != ethos.TraitOverall || j.Status != ethos.JudgmentOK {
			continue
		}
		if bt, err := stats.FromJudgment(j); err == nil {
			battles = append(battles, bt)
		}
	}
	if len(battles) == 0 {
		return nil
	}
	const orders = 200
	tab := stats.NewTable(battles)
	point := stats.Elo(tab, stats.LegacyElo)
	lo, hi := slices.Clone(point), slices.Clone(point)
	rng := rand.New(rand.NewPCG(b.opts.Seed, 0x1e9ac7))
	shuffled := slices.Clone(battles)
	for range orders {
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		r := stats.Elo(stats.NewTable(shuffled), stats.LegacyElo)
		for i := range r {
			lo[i], hi[i] = min(lo[i], r[i]), max(hi[i], r[i])
		}
	}
	le := &LegacyElo{Trait: ethos.TraitOverall, Battles: len(battles), Orders: orders}
	for i, m := range tab.Models {
		le.Ratings = append(le.Ratings, LegacyRating{Model: m, Rating: round(point[i], 1), OrderRange: Interval{round(lo[i], 1), round(hi[i], 1)}})
	}
	slices.SortStableFunc(le.Ratings, func(x, y LegacyRating) int { return cmp.Compare(y.Rating, x.Rating) })
	return le
}

// pointwise averages the 1–5 trait scores per trait and model.
func (b *builder) pointwise() []TraitMean {
	if len(b.scores) == 0 {
		return nil
	}
	type acc struct {
		xs     []float64
		failed int
	}
	accs := map[[2]string]*acc{}
	var traits []string
	seen := map[string]bool{}
	for _, s := range b.scores {
		k := [2]string{s.Trait, s.Model}
		if accs[k] == nil {
			accs[k] = &acc{}
		}
		if !seen[s.Trait] {
			seen[s.Trait] = true
			traits = append(traits, s.Trait)
		}
		if s.Status != ethos.JudgmentOK {
			accs[k].failed++
			continue
		}
		accs[k].xs = append(accs[k].xs, float64(s.Score))
	}
	rank := map[string]int{}
	for i, t := range b.traits {
		rank[t] = i + 1
	}
	slices.SortStableFunc(traits, func(x, y string) int {
		return cmp.Or(cmp.Compare(orLast(rank[x]), orLast(rank[y])), cmp.Compare(x, y))
	})
	z := stats.NormalQuantile(0.975)
	var out []TraitMean
	for _, t := range traits {
		for _, m := range b.spec.Models {
			a := accs[[2]string{t, m.Name}]
			if a == nil {
				continue
			}
			tm := TraitMean{Trait: t, Model: m.Name, N: len(a.xs), Failed: a.failed}
			if n := float64(len(a.xs)); n > 0 {
				mean, ss := 0.0, 0.0
				for _, x := range a.xs {
					mean += x
				}
				mean /= n
				for _, x := range a.xs {
					ss += (x - mean) * (x - mean)
				}
				half := 0.0
				if n > 1 {
					half = z * math.Sqrt(ss/(n-1)) / math.Sqrt(n)
				}
				tm.Mean = round(mean, 3)
				tm.CI = Interval{round(mean-half, 3), round(mean+half, 3)}
			}
			out = append(out, tm)
		}
	}
	return out
}

func orLast(rank int) int {
	if rank == 0 {
		return math.MaxInt
	}
	return rank
}

// samples picks, for each pair of models, prompts that show the judge at
// work: one the model won in both orders, one the baseline won in both,
// one where the orders disagree, then the first others by key.
func (b *builder) samples() []Sample {
	if b.opts.Examples < 0 {
		return nil
	}
	trait := ethos.TraitOverall
	if len(b.traits) > 0 {
		trait = b.traits[0]
	}
	var out []Sample
	for bi := range b.spec.Models {
		for mi := bi + 1; mi < len(b.spec.Models); mi++ {
			model, baseline := b.spec.Models[mi].Name, b.spec.Models[bi].Name
			var picked []string
			why := map[string]string{}
			pick := func(label string, want func(u *unit) bool) {
				if len(picked) >= b.opts.Examples {
					return
				}
				for _, k := range b.unitKeys {
					if k.trait != trait || k.model != mi || k.baseline != bi || k.sample != 0 || why[k.prompt] != "" {
						continue
					}
					if want(b.units[k]) {
						picked = append(picked, k.prompt)
						why[k.prompt] = label
						return
					}
				}
			}
			both := func(u *unit) bool {
				return u.modelFirst != nil && u.baselineFirst != nil && u.modelFirst.Status == ethos.JudgmentOK && u.baselineFirst.Status == ethos.JudgmentOK
			}
			pick(model+" preferred in both orders", func(u *unit) bool {
				return both(u) && u.modelFirst.Winner() == model && u.baselineFirst.Winner() == model
			})
			pick(baseline+" preferred in both orders", func(u *unit) bool {
				return both(u) && u.modelFirst.Winner() == baseline && u.baselineFirst.Winner() == baseline
			})
			pick("the two orders disagree", func(u *unit) bool { return both(u) && u.modelFirst.Winner() != u.baselineFirst.Winner() })
			for len(picked) < b.opts.Examples {
				n := len(picked)
				pick("next prompt", func(u *unit) bool { return true })
				if len(picked) == n {
					break
				}
			}
			for _, p := range picked {
				out = append(out, b.sample(p, why[p], mi, bi))
			}
		}
	}
	return out
}

func (b *builder) sample(prompt, why string, mi, bi int) Sample {
	model, baseline := b.spec.Models[mi].Name, b.spec.Models[bi].Name
	s := Sample{Model: model, Baseline: baseline, PromptKey: prompt, Why: why,
		Prompt: truncate(b.promptOf[prompt].Text, b.opts.MaxText), Answers: map[string]string{}}
	for _, m := range []string{model, baseline} {
		a, ok := b.answerOf[answerKey{prompt, m, 0}]
		switch {
		case !ok:
			s.Answers[m] = "(no answer recorded)"
		case a.Status != ethos.AnswerOK:
			s.Answers[m] = "(answer failed: " + truncate(a.Error, b.opts.MaxText) + ")"
		default:
			s.Answers[m] = truncate(a.Text, b.opts.MaxText)
		}
	}
	for _, trait := range b.traits {
		u := b.units[unitKey{prompt: prompt, trait: trait, model: mi, baseline: bi}]
		if u == nil {
			continue
		}
		for _, j := range []*ethos.Judgment{u.modelFirst, u.baselineFirst} {
			if j == nil {
				continue
			}
			sj := SampleJudgment{Trait: trait, First: j.First, Second: j.Second, Verdict: string(j.Status), Reason: truncate(j.Reason, b.opts.MaxText)}
			if j.Status == ethos.JudgmentOK {
				sj.Verdict = j.Verdict.String()
				sj.Winner = cmp.Or(j.Winner(), "tie")
			}
			s.Judgments = append(s.Judgments, sj)
		}
	}
	return s
}

func ptr[T any](v T) *T { return &v }

func share(k, n int) *float64 {
	if n == 0 {
		return nil
	}
	return ptr(round(float64(k)/float64(n), 4))
}

// round rounds x to d decimals.
func round(x float64, d int) float64 {
	p := math.Pow(10, float64(d))
	return math.Round(x*p) / p
}

// sig rounds a p-value to 3 significant digits.
func sig(p float64) float64 {
	if p < 1e-300 || math.IsInf(p, 0) || math.IsNaN(p) {
		return p
	}
	d := 2 - int(math.Floor(math.Log10(math.Abs(p))))
	return round(p, d)
}

func fmtP(p float64) string {
	if p < 0.0001 {
		return fmt.Sprintf("%.1e", p)
	}
	return fmt.Sprintf("%.3g", p)
}

// truncate cuts s to at most n characters, marking the cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "… [truncated]"
}
