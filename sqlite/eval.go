package sqlite

import (
	"context"

	"github.com/ethos-toolkit/ethos"
)

// Placeholder until the eval tables exist (migration 0004).

var _ ethos.EvalStore = (*DB)(nil)

func (d *DB) PutEvalPrompts(ctx context.Context, prompts []ethos.EvalPrompt) error {
	return notYet("PutEvalPrompts")
}
func (d *DB) EvalPrompts(ctx context.Context, evalID string) ([]ethos.EvalPrompt, error) {
	return nil, notYet("EvalPrompts")
}
func (d *DB) PutAnswer(ctx context.Context, a *ethos.Answer) error { return notYet("PutAnswer") }
func (d *DB) Answers(ctx context.Context, evalID string) ([]ethos.Answer, error) {
	return nil, notYet("Answers")
}
func (d *DB) PutJudgment(ctx context.Context, j *ethos.Judgment) error { return notYet("PutJudgment") }
func (d *DB) Judgments(ctx context.Context, evalID string) ([]ethos.Judgment, error) {
	return nil, notYet("Judgments")
}
func (d *DB) PutTraitScore(ctx context.Context, s *ethos.TraitScore) error {
	return notYet("PutTraitScore")
}
func (d *DB) TraitScores(ctx context.Context, evalID string) ([]ethos.TraitScore, error) {
	return nil, notYet("TraitScores")
}
