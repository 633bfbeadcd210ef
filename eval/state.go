package eval

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/ethos-toolkit/ethos"
)

// Payloads of the evaluation's tasks.
type answerTask struct {
	Prompt string `json:"prompt"`
	Model  string `json:"model"`
	Sample int    `json:"sample"`
}

type judgeTask struct {
	Prompt string `json:"prompt"`
	Sample int    `json:"sample"`
	Trait  string `json:"trait"`
	First  string `json:"first"`
	Second string `json:"second"`
}

type scoreTask struct {
	Prompt string `json:"prompt"`
	Model  string `json:"model"`
	Sample int    `json:"sample"`
	Trait  string `json:"trait"`
}

func answerTaskKey(p, model string, sample int) string {
	return fmt.Sprintf("answer/%s/%s/%d", p, model, sample)
}

// Traits appear in keys by their place in the judged list, since a trait
// name may contain any character.
func judgeTaskKey(p string, sample, trait int, first, second string) string {
	return fmt.Sprintf("judge/%s/%d/t%d/%s/%s", p, sample, trait, first, second)
}

func scoreTaskKey(p, model string, sample, trait int) string {
	return fmt.Sprintf("score/%s/%s/%d/t%d", p, model, sample, trait)
}

// Counts are how many of an evaluation's rows are recorded, by outcome,
// and how many are wanted. Judgments are wanted for every pair of models
// whose answers to a prompt (same sample) are both OK, on every judged
// trait, in both orders; scores for every OK answer on every trait.
type Counts struct {
	Prompts int `json:"prompts"`

	AnswersWanted int `json:"answers_wanted"`
	Answers       int `json:"answers"`        // recorded OK
	AnswersFailed int `json:"answers_failed"` // recorded failed: never judged

	JudgmentsWanted   int `json:"judgments_wanted"`
	Judgments         int `json:"judgments"`            // OK: a verdict
	JudgmentsUnparsed int `json:"judgments_unparsed"`   // the judge never replied in the format
	JudgmentsFailed   int `json:"judgments_failed"`     // the judge's call failed
	JudgmentsUnjudged int `json:"judgments_not_judged"` // pairs with a failed answer, times traits and orders
	ScoresWanted      int `json:"scores_wanted"`
	Scores            int `json:"scores"`
	ScoresUnparsed    int `json:"scores_unparsed"`
	ScoresFailed      int `json:"scores_failed"`
	// The failed answers, judgments and scores whose calls failed at the
	// provider in a way another attempt may cure (5xx, timeouts, 429s that
	// never cleared), by error kind. While there are any the evaluation is
	// incomplete: running it again retries exactly these.
	AnswersToRetry     Failures `json:"answers_to_retry,omitempty"`
	JudgmentsToRetry   Failures `json:"judgments_to_retry,omitempty"`
	ScoresToRetry      Failures `json:"scores_to_retry,omitempty"`
	missingAnswers     int
	missingJudgments   int
	missingTraitScores int
}

// Missing is how many wanted rows are not recorded yet.
func (c Counts) Missing() int { return c.missingAnswers + c.missingJudgments + c.missingTraitScores }

// Incomplete reports whether some answers, judgments or scores failed at
// the provider and are retried when the evaluation runs again.
func (c Counts) Incomplete() bool {
	return c.AnswersToRetry.Total()+c.JudgmentsToRetry.Total()+c.ScoresToRetry.Total() > 0
}

// Failures counts failed rows by the kind of the error that failed them.
type Failures map[ethos.Kind]int

// Total is how many rows failed.
func (f Failures) Total() int {
	n := 0
	for _, c := range f {
		n += c
	}
	return n
}

// String lists the counts by kind, e.g. "rate_limited 2, transient 10".
func (f Failures) String() string {
	kinds := slices.Sorted(maps.Keys(f))
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%s %d", k, f[k])
	}
	return strings.Join(parts, ", ")
}

func (f *Failures) add(kind ethos.Kind) {
	if *f == nil {
		*f = Failures{}
	}
	(*f)[kind]++
}

// Incomplete is the error of an evaluation that has a row for every
// answer, judgment and score it could make, but some of them failed at
// the provider until their jobs gave up. The evaluation is recorded as
// failed with this error, never as completed; running the same command
// again retries exactly the failed rows and makes what waited on them.
type Incomplete struct {
	EvalID string
	Counts Counts
}

func (e *Incomplete) Error() string {
	c := e.Counts
	var parts []string
	if f := c.AnswersToRetry; f.Total() > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d answers failed at the provider (%s), so their comparisons are not judged yet", f.Total(), c.AnswersWanted, f))
	}
	if f := c.JudgmentsToRetry; f.Total() > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d judgments failed at the provider (%s)", f.Total(), c.JudgmentsWanted, f))
	}
	if f := c.ScoresToRetry; f.Total() > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d scores failed at the provider (%s)", f.Total(), c.ScoresWanted, f))
	}
	return fmt.Sprintf("evaluation %s is incomplete: %s; run the same command again to retry them", e.EvalID, strings.Join(parts, "; "))
}

// pendingTask is a task whose row is missing, or (retry) whose row
// records a failure another attempt may cure.
type pendingTask struct {
	name, key string
	payload   any
	retry     bool
}

// state is what Drive knows after one look at the store.
type state struct {
	counts  Counts
	missing int
	todo    []pendingTask
}

func (s state) phase() string {
	switch {
	case s.counts.missingAnswers > 0:
		return "answers"
	case s.missing > 0:
		return "judging"
	}
	return "done"
}

// look reads the evaluation's rows and works out what is missing.
func (e *Evaluator) look(ctx context.Context, prompts []ethos.EvalPrompt) (state, error) {
	answers, err := e.store.Answers(ctx, e.id)
	if err != nil {
		return state{}, err
	}
	e.setAnswers(answers)
	judgments, err := e.store.Judgments(ctx, e.id)
	if err != nil {
		return state{}, err
	}
	var scores []ethos.TraitScore
	if e.settings.Pointwise {
		if scores, err = e.store.TraitScores(ctx, e.id); err != nil {
			return state{}, err
		}
	}
	counts, todo := tally(e.settings, prompts, answers, judgments, scores)
	return state{counts: counts, missing: counts.Missing(), todo: todo}, nil
}

// plan queues the tasks of missing rows, and on the first look of a
// process (first) those of rows whose failure another attempt may cure:
// an evaluation run again after a provider's outage tries them again,
// while within one run a task the job layer gave up on stays failed. It
// returns how many tasks it queued.
func (e *Evaluator) plan(ctx context.Context, st state, enqueued map[string]bool, first bool) (int, error) {
	added := 0
	for _, t := range st.todo {
		if t.retry && !first {
			continue
		}
		ok, err := e.enqueue(ctx, t.name, t.key, t.payload, enqueued)
		if err != nil {
			return added, err
		}
		if ok {
			added++
		}
	}
	return added, nil
}

// tally counts the rows of an evaluation against what its settings want
// and lists the tasks of the missing ones.
func tally(s Settings, prompts []ethos.EvalPrompt, answers []ethos.Answer, judgments []ethos.Judgment, scores []ethos.TraitScore) (Counts, []pendingTask) {
	c := Counts{Prompts: len(prompts)}
	var todo []pendingTask
	ans := make(map[answerKey]ethos.Answer, len(answers))
	for _, a := range answers {
		ans[answerKey{a.PromptKey, a.Model, a.Sample}] = a
	}
	type judgmentKey struct {
		prompt, trait, first, second string
		sample                       int
	}
	judged := make(map[judgmentKey]ethos.Judgment, len(judgments))
	for _, j := range judgments {
		judged[judgmentKey{j.PromptKey, j.Trait, j.First, j.Second, j.Sample}] = j
	}
	type scoreKey struct {
		prompt, model, trait string
		sample               int
	}
	scored := make(map[scoreKey]ethos.TraitScore, len(scores))
	for _, sc := range scores {
		scored[scoreKey{sc.PromptKey, sc.Model, sc.Trait, sc.Sample}] = sc
	}
	countJudged := func(status ethos.JudgmentStatus, ok, unparsed, failed *int) {
		switch status {
		case ethos.JudgmentOK:
			*ok++
		case ethos.JudgmentParseFailed:
			*unparsed++
		default:
			*failed++
		}
	}
	// failedToRetry reports whether a recorded judgment or score failed in
	// a way another attempt may cure, counting it by kind in toRetry.
	failedToRetry := func(status ethos.JudgmentStatus, reason string, toRetry *Failures) bool {
		if status != ethos.JudgmentFailed {
			return false
		}
		kind, retry := failureKind(reason)
		if retry {
			toRetry.add(kind)
		}
		return retry
	}
	traits := s.judgedTraits()
	for _, p := range prompts {
		for sample := range s.Samples {
			for _, m := range s.Models {
				c.AnswersWanted++
				a, ok := ans[answerKey{p.Key, m.Name, sample}]
				switch {
				case !ok:
					c.missingAnswers++
					todo = append(todo, pendingTask{TaskAnswer, answerTaskKey(p.Key, m.Name, sample), answerTask{p.Key, m.Name, sample}, false})
					continue
				case a.Status != ethos.AnswerOK:
					c.AnswersFailed++
					if kind, retry := failureKind(a.Error); retry {
						c.AnswersToRetry.add(kind)
						todo = append(todo, pendingTask{TaskAnswer, answerTaskKey(p.Key, m.Name, sample), answerTask{p.Key, m.Name, sample}, true})
					}
					continue
				}
				c.Answers++
				if !s.Pointwise {
					continue
				}
				for ti, t := range s.Traits {
					c.ScoresWanted++
					sc, ok := scored[scoreKey{p.Key, m.Name, t, sample}]
					if !ok || failedToRetry(sc.Status, sc.Error, &c.ScoresToRetry) {
						todo = append(todo, pendingTask{TaskScore, scoreTaskKey(p.Key, m.Name, sample, ti), scoreTask{p.Key, m.Name, sample, t}, ok})
					}
					if !ok {
						c.missingTraitScores++
						continue
					}
					countJudged(sc.Status, &c.Scores, &c.ScoresUnparsed, &c.ScoresFailed)
				}
			}
			for _, pair := range s.pairs() {
				a, okA := ans[answerKey{p.Key, pair[0], sample}]
				b, okB := ans[answerKey{p.Key, pair[1], sample}]
				if !okA || !okB {
					continue // answers still to come
				}
				if a.Status != ethos.AnswerOK || b.Status != ethos.AnswerOK {
					c.JudgmentsUnjudged += 2 * len(traits)
					continue
				}
				for ti, t := range traits {
					for _, order := range [][2]string{pair, {pair[1], pair[0]}} {
						c.JudgmentsWanted++
						j, ok := judged[judgmentKey{p.Key, t, order[0], order[1], sample}]
						if !ok || failedToRetry(j.Status, j.Error, &c.JudgmentsToRetry) {
							todo = append(todo, pendingTask{TaskJudge, judgeTaskKey(p.Key, sample, ti, order[0], order[1]),
								judgeTask{p.Key, sample, t, order[0], order[1]}, ok})
						}
						if !ok {
							c.missingJudgments++
							continue
						}
						countJudged(j.Status, &c.Judgments, &c.JudgmentsUnparsed, &c.JudgmentsFailed)
					}
				}
			}
		}
	}
	return c, todo
}

// Tally is a quick count of one trait's OK judgments between two models:
// how often each was preferred and how often neither, over both orders.
// It is a look at the data, not a statistic (see eval/stats).
type Tally struct {
	Trait  string `json:"trait"`
	A      string `json:"a"`
	B      string `json:"b"`
	WinsA  int    `json:"wins_a"`
	WinsB  int    `json:"wins_b"`
	Ties   int    `json:"ties"`
	Judged int    `json:"judged"` // OK judgments
}

// Summary describes a recorded evaluation: its counts, the held-out
// prompts it refused, and the quick tallies per trait and pair.
type Summary struct {
	EvalID string          `json:"eval_id"`
	Status ethos.RunStatus `json:"status"`
	Counts
	// Refused counts the candidate prompts refused because they occur in
	// the training data or repeat another prompt; RefusedReasons gives the
	// first few reasons.
	Refused        int      `json:"refused"`
	RefusedReasons []string `json:"refused_reasons,omitempty"`
	Tallies        []Tally  `json:"tallies"`
	Sandbox        bool     `json:"sandbox,omitempty"`
}

// Summarize reads an evaluation's rows from store and counts them.
func Summarize(ctx context.Context, store ethos.Store, evalID string) (Summary, error) {
	run, err := store.Run(ctx, evalID)
	if err != nil {
		return Summary{}, err
	}
	var s Settings
	if err := json.Unmarshal(run.Params, &s); err != nil {
		return Summary{}, ethos.Errorf(ethos.Internal, "eval %s: reading its settings: %w", evalID, err)
	}
	prompts, err := store.EvalPrompts(ctx, evalID)
	if err != nil {
		return Summary{}, err
	}
	answers, err := store.Answers(ctx, evalID)
	if err != nil {
		return Summary{}, err
	}
	judgments, err := store.Judgments(ctx, evalID)
	if err != nil {
		return Summary{}, err
	}
	scores, err := store.TraitScores(ctx, evalID)
	if err != nil {
		return Summary{}, err
	}
	counts, _ := tally(s, prompts, answers, judgments, scores)
	sum := Summary{EvalID: evalID, Status: run.Status, Counts: counts, Sandbox: s.Sandbox}
	refused, err := store.Items(ctx, ethos.ItemFilter{RunID: evalID, Stage: StageHeldOut, Status: ethos.ItemRejected})
	if err != nil {
		return Summary{}, err
	}
	sum.Refused = len(refused)
	for _, it := range refused[:min(len(refused), 5)] {
		sum.RefusedReasons = append(sum.RefusedReasons, it.Reason)
	}
	byKey := map[[3]string]int{}
	for _, t := range s.judgedTraits() {
		for _, p := range s.pairs() {
			byKey[[3]string{t, p[0], p[1]}] = len(sum.Tallies)
			byKey[[3]string{t, p[1], p[0]}] = len(sum.Tallies)
			sum.Tallies = append(sum.Tallies, Tally{Trait: t, A: p[0], B: p[1]})
		}
	}
	for _, j := range judgments {
		i, ok := byKey[[3]string{j.Trait, j.First, j.Second}]
		if !ok || j.Status != ethos.JudgmentOK {
			continue
		}
		tl := &sum.Tallies[i]
		tl.Judged++
		switch j.Winner() {
		case tl.A:
			tl.WinsA++
		case tl.B:
			tl.WinsB++
		default:
			tl.Ties++
		}
	}
	return sum, nil
}
