package eval

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/jobs"
)

// judgeMaxTokens bounds a judge's reply: two lines.
const judgeMaxTokens = 600

// streamAbove is the answer length, in tokens, above which answers are
// streamed, so that a slow long answer is not cut by a client timeout.
const streamAbove = 4000

// settle records a failed model call on the row being made and decides
// what the job does next: a failure of this item alone (a refusal, a
// request the provider refused, output cut short) is recorded and final;
// one that another attempt may cure (rate limits, overload, a dropped
// connection) goes back to the job layer, and is recorded on the row only
// when it is the job's last try (jobs.LastTry), so that the evaluation
// ends incomplete and a later run of it tries the row again; one that no
// attempt can cure (a missing key, the budget, an unknown model) stops the
// evaluation and records nothing, so that the row is made when the
// evaluation is run again after the cause is fixed.
func (e *Evaluator) settle(ctx context.Context, err error, record func(reason string) error) error {
	if ctx.Err() != nil {
		return err // stopping: the job is tried again later, nothing to record
	}
	kind := ethos.KindOf(err)
	outcome := ethos.OutcomeOf(kind)
	switch {
	case outcome == ethos.Cancel && kind != ethos.Invalid:
		return e.stop(ctx, err)
	case (outcome == ethos.Retry || outcome == ethos.Snooze) && !jobs.LastTry(ctx, err):
		return err // another attempt follows
	}
	if rerr := record(string(kind) + ": " + err.Error()); rerr != nil {
		return errors.Join(err, rerr)
	}
	if kind == ethos.Invalid || outcome == ethos.Quarantine {
		return nil
	}
	return err
}

// failureKind returns the error kind a recorded failure's reason starts
// with, and whether another attempt may cure an error of that kind.
func failureKind(reason string) (kind ethos.Kind, retryable bool) {
	k, _, ok := strings.Cut(reason, ":")
	if !ok {
		return "", false
	}
	switch ethos.OutcomeOf(ethos.Kind(k)) {
	case ethos.Retry, ethos.Snooze:
		return ethos.Kind(k), true
	}
	return ethos.Kind(k), false
}

func payload(t jobs.Task, v any) error {
	if err := json.Unmarshal(t.Payload, v); err != nil {
		return ethos.Errorf(ethos.Invalid, "task %s: payload: %w", t.Key, err)
	}
	return nil
}

// workAnswer asks one model for its answer to one prompt.
func (e *Evaluator) workAnswer(ctx context.Context, t jobs.Task) error {
	if ok, err := e.active(ctx, t); err != nil || !ok {
		return err
	}
	var pl answerTask
	if err := payload(t, &pl); err != nil {
		return err
	}
	p, err := e.prompt(ctx, pl.Prompt)
	if err != nil {
		return err
	}
	s := e.settings
	ref := s.ref(pl.Model)
	if ref == "" {
		return ethos.Errorf(ethos.Invalid, "task %s: model %q is not in the evaluation", t.Key, pl.Model)
	}
	req := ethos.Request{
		Model:       ref,
		Messages:    []ethos.Message{{Role: ethos.RoleUser, Content: p.Text}},
		MaxTokens:   s.MaxTokens,
		Temperature: s.Temperature,
		Sample:      pl.Sample,
		Stream:      s.MaxTokens > streamAbove,
	}
	if s.SystemPrompt {
		// Every answer repeats the character's prompt: the provider may
		// cache it when it is long enough for the model.
		req.System, req.CachePrefix = s.Character.SystemPrompt, 1
	}
	resp, callKey, err := e.call(ctx, TaskAnswer, t.Key, req)
	if err == nil && strings.TrimSpace(resp.Text) == "" {
		// Nothing to judge. A refusal or a cut with some text is an
		// answer like any other: the judge sees it as it is.
		kind := ethos.Parse
		switch {
		case resp.StopReason == ethos.StopRefusal:
			kind = ethos.Refused
		case resp.StopReason.Cut():
			kind = ethos.Truncated
		}
		err = ethos.Errorf(kind, "empty answer (stop reason %s)", resp.StopReason)
	}
	a := &ethos.Answer{EvalID: e.id, PromptKey: pl.Prompt, Model: pl.Model, Sample: pl.Sample, CallKey: callKey}
	if err != nil {
		return e.settle(ctx, err, func(reason string) error {
			a.Status, a.Error = ethos.AnswerFailed, reason
			return e.store.PutAnswer(ctx, a)
		})
	}
	a.Status, a.Text = ethos.AnswerOK, resp.Text
	return e.store.PutAnswer(ctx, a)
}

// judgeCall asks the judge for a reply until parse accepts one, at most
// JudgeAttempts times, each retry saying what was wrong with the last
// reply. It returns the last reply, the number of attempts and the parse
// error of the last one (nil when it parsed), or the error of a failed
// call.
func (e *Evaluator) judgeCall(ctx context.Context, stage, key string, prompt func(feedback string) Prompt, parse func(string) error) (raw, callKey string, attempts int, parseErr, callErr error) {
	feedback := ""
	for attempts = 1; attempts <= JudgeAttempts; attempts++ {
		pr := prompt(feedback)
		// No temperature: the Anthropic Messages API that ethos speaks has
		// none, and a provider's default is what its judges are tuned at.
		resp, ck, err := e.call(ctx, stage, key, pr.Request(e.settings.Judge, judgeMaxTokens))
		callKey = ck
		if err != nil {
			return "", callKey, attempts, nil, err
		}
		raw = resp.Text
		if parseErr = parse(raw); parseErr == nil {
			return raw, callKey, attempts, nil, nil
		}
		var pe *ethos.Error
		errors.As(parseErr, &pe)
		feedback = pe.Msg
	}
	return raw, callKey, JudgeAttempts, parseErr, nil
}

// workJudge has the judge compare two answers on one trait, in one order.
func (e *Evaluator) workJudge(ctx context.Context, t jobs.Task) error {
	if ok, err := e.active(ctx, t); err != nil || !ok {
		return err
	}
	var pl judgeTask
	if err := payload(t, &pl); err != nil {
		return err
	}
	p, err := e.prompt(ctx, pl.Prompt)
	if err != nil {
		return err
	}
	first, err := e.answer(ctx, answerKey{pl.Prompt, pl.First, pl.Sample})
	if err != nil {
		return err
	}
	second, err := e.answer(ctx, answerKey{pl.Prompt, pl.Second, pl.Sample})
	if err != nil {
		return err
	}
	j := &ethos.Judgment{EvalID: e.id, PromptKey: pl.Prompt, Trait: pl.Trait, First: pl.First, Second: pl.Second,
		Sample: pl.Sample, Judge: e.settings.Judge}
	var verdict ethos.Verdict
	var reason string
	raw, callKey, attempts, parseErr, callErr := e.judgeCall(ctx, TaskJudge, t.Key,
		func(feedback string) Prompt {
			return JudgePrompt(e.settings.Character, pl.Trait, p.Text, first.Text, second.Text, feedback)
		},
		func(reply string) (err error) {
			verdict, reason, err = ParseVerdict(reply)
			return err
		})
	j.CallKey, j.Attempts = callKey, attempts
	switch {
	case callErr != nil:
		return e.settle(ctx, callErr, func(why string) error {
			j.Status, j.Error = ethos.JudgmentFailed, why
			return e.store.PutJudgment(ctx, j)
		})
	case parseErr != nil:
		j.Status, j.Error, j.Raw = ethos.JudgmentParseFailed, "parse: "+parseErr.Error(), raw
	default:
		j.Status, j.Verdict, j.Reason = ethos.JudgmentOK, verdict, reason
	}
	return e.store.PutJudgment(ctx, j)
}

// workScore has the judge rate one answer on one trait.
func (e *Evaluator) workScore(ctx context.Context, t jobs.Task) error {
	if ok, err := e.active(ctx, t); err != nil || !ok {
		return err
	}
	var pl scoreTask
	if err := payload(t, &pl); err != nil {
		return err
	}
	p, err := e.prompt(ctx, pl.Prompt)
	if err != nil {
		return err
	}
	a, err := e.answer(ctx, answerKey{pl.Prompt, pl.Model, pl.Sample})
	if err != nil {
		return err
	}
	sc := &ethos.TraitScore{EvalID: e.id, PromptKey: pl.Prompt, Model: pl.Model, Sample: pl.Sample, Trait: pl.Trait}
	var score int
	var reason string
	raw, _, _, parseErr, callErr := e.judgeCall(ctx, TaskScore, t.Key,
		func(feedback string) Prompt {
			return ScorePrompt(e.settings.Character, pl.Trait, p.Text, a.Text, feedback)
		},
		func(reply string) (err error) {
			score, reason, err = ParseScore(reply)
			return err
		})
	switch {
	case callErr != nil:
		return e.settle(ctx, callErr, func(why string) error {
			sc.Status, sc.Error = ethos.JudgmentFailed, why
			return e.store.PutTraitScore(ctx, sc)
		})
	case parseErr != nil:
		sc.Status, sc.Error, sc.Raw = ethos.JudgmentParseFailed, "parse: "+parseErr.Error(), raw
	default:
		sc.Status, sc.Score, sc.Reason = ethos.JudgmentOK, score, reason
	}
	return e.store.PutTraitScore(ctx, sc)
}
