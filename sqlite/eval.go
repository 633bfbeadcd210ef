package sqlite

import (
	"context"
	"fmt"

	"github.com/ethos-toolkit/ethos"
)

var _ ethos.EvalStore = (*DB)(nil)

// PutEvalPrompts stores prompts in one transaction, skipping keys their
// evaluation already has. An evaluation (run) that does not exist is
// NotFound; a prompt without an eval ID, key or text is Invalid, and then
// nothing is stored.
func (d *DB) PutEvalPrompts(ctx context.Context, prompts []ethos.EvalPrompt) error {
	const op = "sqlite: put eval prompts"
	for _, p := range prompts {
		if p.EvalID == "" || p.Key == "" || p.Text == "" {
			return ethos.Errorf(ethos.Invalid, "%s: a prompt needs an eval ID, a key and text (eval %q, key %q)", op, p.EvalID, p.Key)
		}
	}
	if len(prompts) == 0 {
		return nil
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return normalize(op, err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO eval_prompts (eval_id, key, category, text, source)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (eval_id, key) DO NOTHING`)
	if err != nil {
		return normalize(op, err)
	}
	defer stmt.Close()
	for _, p := range prompts {
		if _, err := stmt.ExecContext(ctx, p.EvalID, p.Key, p.Category, p.Text, p.Source); err != nil {
			e := normalize(op, err)
			if e.Kind == ethos.NotFound {
				e.Msg = fmt.Sprintf("eval %s does not exist", p.EvalID)
			}
			return e
		}
	}
	if err := tx.Commit(); err != nil {
		return normalize(op, err)
	}
	return nil
}

// EvalPrompts lists an evaluation's prompts in key order.
func (d *DB) EvalPrompts(ctx context.Context, evalID string) ([]ethos.EvalPrompt, error) {
	return list(ctx, d.read, "sqlite: eval prompts", func(s scanner) (ethos.EvalPrompt, error) {
		var p ethos.EvalPrompt
		err := s.Scan(&p.EvalID, &p.Key, &p.Category, &p.Text, &p.Source)
		return p, err
	}, `SELECT eval_id, key, category, text, source FROM eval_prompts
		WHERE eval_id = ? ORDER BY key`, evalID)
}

// promptMissing rewrites the message of a foreign-key failure: the row's
// prompt is not among its evaluation's prompts.
func promptMissing(e *ethos.Error, evalID, promptKey string) *ethos.Error {
	if e.Kind == ethos.NotFound {
		e.Msg = fmt.Sprintf("prompt %s of eval %s does not exist", promptKey, evalID)
	}
	return e
}

// PutAnswer inserts or replaces the answer of (eval, prompt, model,
// sample) and sets a.CreatedAt. The prompt must exist (else NotFound);
// an unknown status, a negative sample or a missing key field is Invalid.
func (d *DB) PutAnswer(ctx context.Context, a *ethos.Answer) error {
	const op = "sqlite: put answer"
	switch {
	case a == nil:
		return ethos.Errorf(ethos.Invalid, "%s: nil answer", op)
	case a.EvalID == "" || a.PromptKey == "" || a.Model == "" || a.Sample < 0:
		return ethos.Errorf(ethos.Invalid, "%s: an answer needs an eval ID, a prompt key, a model and a sample ≥ 0 (eval %q, prompt %q, model %q, sample %d)", op, a.EvalID, a.PromptKey, a.Model, a.Sample)
	case a.Status != ethos.AnswerOK && a.Status != ethos.AnswerFailed:
		return ethos.Errorf(ethos.Invalid, "%s: status %q: want %q or %q", op, a.Status, ethos.AnswerOK, ethos.AnswerFailed)
	}
	created := now()
	if _, err := d.db.ExecContext(ctx, `INSERT OR REPLACE INTO answers
		(eval_id, prompt_key, model, sample, text, status, error, call_key, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.EvalID, a.PromptKey, a.Model, a.Sample, a.Text, string(a.Status), a.Error, a.CallKey, formatTime(created)); err != nil {
		return promptMissing(normalize(op, err), a.EvalID, a.PromptKey)
	}
	a.CreatedAt = created
	return nil
}

// Answers lists an evaluation's answers by prompt, model and sample.
func (d *DB) Answers(ctx context.Context, evalID string) ([]ethos.Answer, error) {
	return list(ctx, d.read, "sqlite: answers", func(s scanner) (ethos.Answer, error) {
		var (
			a       ethos.Answer
			created string
		)
		if err := s.Scan(&a.EvalID, &a.PromptKey, &a.Model, &a.Sample, &a.Text, &a.Status, &a.Error, &a.CallKey, &created); err != nil {
			return a, err
		}
		var err error
		if a.CreatedAt, err = parseTime(created); err != nil {
			return a, fmt.Errorf("created_at of answer %s/%s/%d: %w", a.PromptKey, a.Model, a.Sample, err)
		}
		return a, nil
	}, `SELECT eval_id, prompt_key, model, sample, text, status, error, call_key, created_at
		FROM answers WHERE eval_id = ? ORDER BY prompt_key, model, sample`, evalID)
}

// checkJudged validates the status shared by judgments and trait scores.
func checkJudged(op string, status ethos.JudgmentStatus) error {
	switch status {
	case ethos.JudgmentOK, ethos.JudgmentParseFailed, ethos.JudgmentFailed:
		return nil
	}
	return ethos.Errorf(ethos.Invalid, "%s: status %q: want %q, %q or %q", op, status, ethos.JudgmentOK, ethos.JudgmentParseFailed, ethos.JudgmentFailed)
}

// PutJudgment inserts or replaces the judgment of (eval, prompt, trait,
// first, second, sample) and sets j.CreatedAt. The prompt must exist
// (else NotFound). A missing key field, first equal to second, an unknown
// status or a verdict outside -2..2 is Invalid, and so is a verdict other
// than zero on a judgment that is not OK: only an OK judgment has one.
func (d *DB) PutJudgment(ctx context.Context, j *ethos.Judgment) error {
	const op = "sqlite: put judgment"
	if j == nil {
		return ethos.Errorf(ethos.Invalid, "%s: nil judgment", op)
	}
	if j.EvalID == "" || j.PromptKey == "" || j.Trait == "" || j.First == "" || j.Second == "" || j.Sample < 0 {
		return ethos.Errorf(ethos.Invalid, "%s: a judgment needs an eval ID, a prompt key, a trait, two models and a sample ≥ 0 (eval %q, prompt %q, trait %q, %q vs %q, sample %d)",
			op, j.EvalID, j.PromptKey, j.Trait, j.First, j.Second, j.Sample)
	}
	if j.First == j.Second {
		return ethos.Errorf(ethos.Invalid, "%s: a judgment compares two different models, got %q twice", op, j.First)
	}
	if err := checkJudged(op, j.Status); err != nil {
		return err
	}
	if j.Verdict < ethos.MuchWorse || j.Verdict > ethos.MuchBetter {
		return ethos.Errorf(ethos.Invalid, "%s: verdict %d is outside -2..2", op, j.Verdict)
	}
	if j.Status != ethos.JudgmentOK && j.Verdict != ethos.Tie {
		return ethos.Errorf(ethos.Invalid, "%s: a %s judgment has no verdict, got %s", op, j.Status, j.Verdict)
	}
	created := now()
	if _, err := d.db.ExecContext(ctx, `INSERT OR REPLACE INTO judgments
		(eval_id, prompt_key, trait, first, second, sample, verdict, reason, status, error, raw, attempts, judge, call_key, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		j.EvalID, j.PromptKey, j.Trait, j.First, j.Second, j.Sample, int(j.Verdict), j.Reason, string(j.Status), j.Error, j.Raw,
		j.Attempts, j.Judge, j.CallKey, formatTime(created)); err != nil {
		return promptMissing(normalize(op, err), j.EvalID, j.PromptKey)
	}
	j.CreatedAt = created
	return nil
}

// Judgments lists an evaluation's judgments by prompt, trait and order
// (first, then second model name), then sample.
func (d *DB) Judgments(ctx context.Context, evalID string) ([]ethos.Judgment, error) {
	return list(ctx, d.read, "sqlite: judgments", func(s scanner) (ethos.Judgment, error) {
		var (
			j       ethos.Judgment
			created string
		)
		if err := s.Scan(&j.EvalID, &j.PromptKey, &j.Trait, &j.First, &j.Second, &j.Sample, &j.Verdict, &j.Reason, &j.Status,
			&j.Error, &j.Raw, &j.Attempts, &j.Judge, &j.CallKey, &created); err != nil {
			return j, err
		}
		var err error
		if j.CreatedAt, err = parseTime(created); err != nil {
			return j, fmt.Errorf("created_at of judgment %s/%s: %w", j.PromptKey, j.Trait, err)
		}
		return j, nil
	}, `SELECT eval_id, prompt_key, trait, first, second, sample, verdict, reason, status,
		error, raw, attempts, judge, call_key, created_at
		FROM judgments WHERE eval_id = ? ORDER BY prompt_key, trait, first, second, sample`, evalID)
}

// PutTraitScore inserts or replaces the pointwise score of (eval, prompt,
// model, sample, trait) and sets s.CreatedAt. The prompt must exist (else
// NotFound). A missing key field or an unknown status is Invalid, as is a
// score outside 1..5 on an OK score or other than 0 on one that is not OK.
func (d *DB) PutTraitScore(ctx context.Context, s *ethos.TraitScore) error {
	const op = "sqlite: put trait score"
	if s == nil {
		return ethos.Errorf(ethos.Invalid, "%s: nil score", op)
	}
	if s.EvalID == "" || s.PromptKey == "" || s.Model == "" || s.Trait == "" || s.Sample < 0 {
		return ethos.Errorf(ethos.Invalid, "%s: a score needs an eval ID, a prompt key, a model, a trait and a sample ≥ 0 (eval %q, prompt %q, model %q, trait %q, sample %d)",
			op, s.EvalID, s.PromptKey, s.Model, s.Trait, s.Sample)
	}
	if err := checkJudged(op, s.Status); err != nil {
		return err
	}
	switch {
	case s.Status == ethos.JudgmentOK && (s.Score < 1 || s.Score > 5):
		return ethos.Errorf(ethos.Invalid, "%s: score %d is outside 1..5", op, s.Score)
	case s.Status != ethos.JudgmentOK && s.Score != 0:
		return ethos.Errorf(ethos.Invalid, "%s: a %s score has no value, got %d", op, s.Status, s.Score)
	}
	created := now()
	if _, err := d.db.ExecContext(ctx, `INSERT OR REPLACE INTO trait_scores
		(eval_id, prompt_key, model, sample, trait, score, reason, status, error, raw, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.EvalID, s.PromptKey, s.Model, s.Sample, s.Trait, s.Score, s.Reason, string(s.Status), s.Error, s.Raw, formatTime(created)); err != nil {
		return promptMissing(normalize(op, err), s.EvalID, s.PromptKey)
	}
	s.CreatedAt = created
	return nil
}

// TraitScores lists an evaluation's pointwise scores by prompt, model,
// sample and trait.
func (d *DB) TraitScores(ctx context.Context, evalID string) ([]ethos.TraitScore, error) {
	return list(ctx, d.read, "sqlite: trait scores", func(row scanner) (ethos.TraitScore, error) {
		var (
			s       ethos.TraitScore
			created string
		)
		if err := row.Scan(&s.EvalID, &s.PromptKey, &s.Model, &s.Sample, &s.Trait, &s.Score, &s.Reason, &s.Status, &s.Error, &s.Raw, &created); err != nil {
			return s, err
		}
		var err error
		if s.CreatedAt, err = parseTime(created); err != nil {
			return s, fmt.Errorf("created_at of score %s/%s/%s: %w", s.PromptKey, s.Model, s.Trait, err)
		}
		return s, nil
	}, `SELECT eval_id, prompt_key, model, sample, trait, score, reason, status, error, raw, created_at
		FROM trait_scores WHERE eval_id = ? ORDER BY prompt_key, model, sample, trait`, evalID)
}
