package sandbox

import (
	"fmt"
	"math"
	"regexp"
	"strings"
)

// The sandbox judges evaluations the way it reviews replies: by counting
// the trait markers that its personas write (see ethos_reply.go). A request
// naming one of the judge contracts
//
//	Output contract: ethos-judge/v1   two answers, <answer_a> and <answer_b>, compared on one trait
//	Output contract: ethos-score/v1   one answer, <answer>, rated 1–5 on one trait
//
// reads the answers and the trait from its last user turn (consecutive
// user messages are one turn, as Anthropic combines them), the trait from
// its "Trait: name" line ("Trait: overall" compares
// the character as a whole, over the traits of its "Traits:" line) and
// answers in the contract's two-line shape:
//
//	Verdict: A>B                       Score: 4
//	Reason: Answer A has 3 …           Reason: The answer has 3 …
//
// A pairwise verdict follows the difference d in marker counts (A minus
// B; for "overall", the number of traits on which A has more markers minus
// those on which B has more): |d| < 0.5 is A=B, |d| < 2.5 is A>B or B>A,
// and anything larger A>>B or B>>A. A score is the review's: 1 plus the
// marker count, at most 5. The reason names the counts, so every verdict
// can be checked by hand.
//
// Judges with known flaws, for showing that an evaluation's diagnostics
// catch them:
//
//	judge-biased  PositionBias 1.5: adds 1.5 to d, so close calls go to
//	              the answer shown first (a tie becomes A>B, a one-marker
//	              loss too)
//	judge-noisy   Noise 1.5: adds normal noise with that standard
//	              deviation to d, and a rounded draw to each score
//
// Every other model that answers contracts judges without flaws. Noise is
// drawn from the request's hash, so the same request gets the same verdict.
// The offformat defect (Options.Defects, or the model
// writer-defect-offformat) breaks the reply's shape, so that callers'
// strict parsing and retries have something to catch.

// judgeContractRE finds the judge contracts' line.
var judgeContractRE = regexp.MustCompile(`Output contract: ethos-(judge|score)/v\d+`)

// JudgeFlaws are the injected flaws of a sandbox judge.
type JudgeFlaws struct {
	// PositionBias is added to the marker difference in favour of the
	// answer shown first (Answer A).
	PositionBias float64
	// Noise is the standard deviation of normal noise added to the marker
	// difference (pairwise) or to the score (pointwise).
	Noise float64
}

// Judge models with flaws, answered by every Server.
const (
	ModelJudgeBiased = "judge-biased"
	ModelJudgeNoisy  = "judge-noisy"
)

// judgeFlaws are the flaws of the flawed judge models.
var judgeFlaws = map[string]JudgeFlaws{
	ModelJudgeBiased: {PositionBias: 1.5},
	ModelJudgeNoisy:  {Noise: 1.5},
}

// judgeWriter answers the judge contracts for one model.
type judgeWriter struct {
	flaws  JudgeFlaws
	rates  map[string]float64
	forced string
}

// judgeWriter is the judge contract writer of a model: its flaws, the
// configured defect rates and, for writer-defect-<name>, that defect.
func (s *Server) judgeWriter(model string) judgeWriter {
	w := judgeWriter{flaws: judgeFlaws[model], rates: s.opts.Defects}
	if name, ok := strings.CutPrefix(model, "writer-defect-"); ok && isDefect(name) {
		w.forced = name
	}
	return w
}

// write answers p if it names a judge contract; ok is false otherwise.
func (w judgeWriter) write(p Prompt) (contractText, bool) {
	text := promptText(p)
	m := judgeContractRE.FindStringSubmatch(text)
	if m == nil {
		return contractText{}, false
	}
	user := lastUserTurn(p)
	trait, _ := label(user, "Trait")
	d := drawDefects(p.Seed, w.rates, w.forced)
	if m[1] == "score" {
		return contractText{text: w.score(p, user, trait, d)}, true
	}
	return contractText{text: w.compare(p, user, trait, d)}, true
}

// section returns the text between <tag> and </tag>.
func section(text, tag string) (string, bool) {
	_, rest, ok := strings.Cut(text, "<"+tag+">")
	if !ok {
		return "", false
	}
	body, _, ok := strings.Cut(rest, "</"+tag+">")
	return strings.TrimSpace(body), ok
}

// markerPhrase is "3 questions to the person" for a trait's markers.
func markerPhrase(trait string, n int) string {
	f := familyOf(trait)
	what := f.what[1]
	if n == 1 {
		what = f.what[0]
	}
	return fmt.Sprintf("%d %s", n, what)
}

// compare answers ethos-judge/v1.
func (w judgeWriter) compare(p Prompt, user, trait string, d defectSet) string {
	a, okA := section(user, "answer_a")
	b, okB := section(user, "answer_b")
	if !okA || !okB || trait == "" {
		return "Verdict: A=B\nReason: The message does not contain a trait and two answers to compare."
	}
	var diff float64
	var reason string
	if strings.EqualFold(trait, "overall") {
		traits := traitsOf(user)
		if len(traits) == 0 {
			traits = defaultTraits
		}
		winsA, winsB := 0, 0
		var counts []string
		for _, t := range traits {
			na, nb := countMarkers(a, t), countMarkers(b, t)
			switch {
			case na > nb:
				winsA++
			case nb > na:
				winsB++
			}
			counts = append(counts, fmt.Sprintf("%s %d–%d", t, na, nb))
		}
		diff = float64(winsA - winsB)
		reason = fmt.Sprintf("Answer A has more trait markers on %d of %d traits and Answer B on %d (markers A–B: %s).",
			winsA, len(traits), winsB, strings.Join(counts, ", "))
	} else {
		na, nb := countMarkers(a, trait), countMarkers(b, trait)
		diff = float64(na - nb)
		reason = fmt.Sprintf("For %s, Answer A has %s and Answer B has %s.", trait, markerPhrase(trait, na), markerPhrase(trait, nb))
	}
	r := newRand(p.Seed, "judge")
	if w.flaws.Noise > 0 {
		diff += w.flaws.Noise * r.NormFloat64()
	}
	diff += w.flaws.PositionBias
	verdict := verdictOf(diff)
	if d[DefectOffFormat] {
		return offFormatVerdict(verdict, reason, r.IntN(4))
	}
	return "Verdict: " + verdict + "\nReason: " + reason
}

// verdictOf maps a marker difference to the five-level verdict.
func verdictOf(d float64) string {
	switch {
	case d >= 2.5:
		return "A>>B"
	case d >= 0.5:
		return "A>B"
	case d > -0.5:
		return "A=B"
	case d > -2.5:
		return "B>A"
	default:
		return "B>>A"
	}
}

// offFormatVerdict is a reply a strict parser must reject: prose, an
// ambiguous verdict, markdown labels, or no reason.
func offFormatVerdict(verdict, reason string, kind int) string {
	switch kind {
	case 0:
		return "Having compared both answers carefully, I would say " + verdict + ". " + reason
	case 1:
		return "Verdict: " + verdict + " (or possibly A=B)\nReason: " + reason
	case 2:
		return "**Verdict:** " + verdict + "\n**Reason:** " + reason
	default:
		return "Verdict: " + verdict
	}
}

// score answers ethos-score/v1.
func (w judgeWriter) score(p Prompt, user, trait string, d defectSet) string {
	answer, ok := section(user, "answer")
	if !ok || trait == "" {
		return "Score: 1\nReason: The message does not contain a trait and an answer to rate."
	}
	n := countMarkers(answer, trait)
	score := markerScore(n)
	r := newRand(p.Seed, "judge")
	if w.flaws.Noise > 0 {
		score = min(max(score+int(math.Round(w.flaws.Noise*r.NormFloat64())), 1), 5)
	}
	reason := fmt.Sprintf("The answer has %s, so %s is %s.", markerPhrase(trait, n), trait,
		[]string{"absent", "barely present", "present", "clearly present", "strongly present"}[markerScore(n)-1])
	if d[DefectOffFormat] {
		switch r.IntN(3) {
		case 0:
			return fmt.Sprintf("I would rate this answer %d out of 5. %s", score, reason)
		case 1:
			return fmt.Sprintf("Score: %d/5\nReason: %s", score, reason)
		default:
			return fmt.Sprintf("Reason: %s\nScore: %d", reason, score)
		}
	}
	return fmt.Sprintf("Score: %d\nReason: %s", score, reason)
}
