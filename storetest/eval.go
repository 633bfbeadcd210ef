package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// evalTests are the subtests of the EvalStore contract.
var evalTests = []struct {
	name string
	fn   func(t *testing.T, s ethos.Store)
}{
	{"EvalPromptsIdempotentInKeyOrder", testEvalPrompts},
	{"EvalPromptsNeedTheirEval", testEvalPromptsUnknownEval},
	{"AnswersReplaceAndOrder", testAnswers},
	{"JudgmentsReplaceAndOrder", testJudgments},
	{"TraitScoresReplaceAndOrder", testTraitScores},
	{"EvalRowsNeedTheirPrompt", testEvalRowsUnknownPrompt},
	{"EvalRowsInvalid", testEvalRowsInvalid},
	{"EvalsAreSeparate", testEvalsSeparate},
}

// newEval creates an eval run with prompts "p/0001".."p/000n".
func newEval(t *testing.T, s ethos.Store, id string, n int) []ethos.EvalPrompt {
	t.Helper()
	createRun(t, s, &ethos.Run{ID: id, Kind: ethos.RunKindEval})
	var ps []ethos.EvalPrompt
	for i := n; i >= 1; i-- { // out of order: the store sorts
		ps = append(ps, ethos.EvalPrompt{EvalID: id, Key: promptKey(i), Category: "cat", Text: "prompt " + promptKey(i), Source: "generated"})
	}
	if err := s.PutEvalPrompts(t.Context(), ps); err != nil {
		t.Fatalf("PutEvalPrompts(%s): %v", id, err)
	}
	return ps
}

func promptKey(i int) string { return fmt.Sprintf("p/%04d", i) }

// recent checks that a CreatedAt the store set is close to now.
func recent(t *testing.T, what string, at time.Time) {
	t.Helper()
	if d := time.Since(at); at.IsZero() || d < -time.Minute || d > time.Minute {
		t.Errorf("%s: CreatedAt %v is not the time of the write", what, at)
	}
}

func testEvalPrompts(t *testing.T, s ethos.Store) {
	ctx := t.Context()
	newEval(t, s, "eval-1", 3)
	// Again with a changed text for an existing key and one new key: the
	// existing prompt is kept as it was.
	again := []ethos.EvalPrompt{
		{EvalID: "eval-1", Key: promptKey(2), Text: "changed"},
		{EvalID: "eval-1", Key: promptKey(4), Text: "prompt four", Source: "prompts.jsonl"},
	}
	if err := s.PutEvalPrompts(ctx, again); err != nil {
		t.Fatalf("PutEvalPrompts again: %v", err)
	}
	if err := s.PutEvalPrompts(ctx, nil); err != nil {
		t.Fatalf("PutEvalPrompts(nil): %v", err)
	}
	got, err := s.EvalPrompts(ctx, "eval-1")
	if err != nil {
		t.Fatalf("EvalPrompts: %v", err)
	}
	want := []ethos.EvalPrompt{
		{EvalID: "eval-1", Key: "p/0001", Category: "cat", Text: "prompt p/0001", Source: "generated"},
		{EvalID: "eval-1", Key: "p/0002", Category: "cat", Text: "prompt p/0002", Source: "generated"},
		{EvalID: "eval-1", Key: "p/0003", Category: "cat", Text: "prompt p/0003", Source: "generated"},
		{EvalID: "eval-1", Key: "p/0004", Text: "prompt four", Source: "prompts.jsonl"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("EvalPrompts (-want +got):\n%s", diff)
	}
	none, err := s.EvalPrompts(ctx, "eval-none")
	if err != nil || len(none) != 0 {
		t.Errorf("EvalPrompts(unknown) = %v, %v; want none", none, err)
	}
}

func testEvalPromptsUnknownEval(t *testing.T, s ethos.Store) {
	ctx := t.Context()
	err := s.PutEvalPrompts(ctx, []ethos.EvalPrompt{{EvalID: "eval-missing", Key: "p/0001", Text: "x"}})
	wantKind(t, "PutEvalPrompts for an eval that does not exist", err, ethos.NotFound)
	createRun(t, s, &ethos.Run{ID: "eval-1", Kind: ethos.RunKindEval})
	// One invalid prompt stores none of the batch.
	err = s.PutEvalPrompts(ctx, []ethos.EvalPrompt{{EvalID: "eval-1", Key: "p/0001", Text: "x"}, {EvalID: "eval-1", Key: "p/0002"}})
	wantKind(t, "PutEvalPrompts with an empty text", err, ethos.Invalid)
	wantKind(t, "PutEvalPrompts without a key", s.PutEvalPrompts(ctx, []ethos.EvalPrompt{{EvalID: "eval-1", Text: "x"}}), ethos.Invalid)
	if got, _ := s.EvalPrompts(ctx, "eval-1"); len(got) != 0 {
		t.Errorf("a refused batch stored %d prompts", len(got))
	}
}

func putAnswer(t *testing.T, s ethos.Store, a ethos.Answer) ethos.Answer {
	t.Helper()
	if err := s.PutAnswer(t.Context(), &a); err != nil {
		t.Fatalf("PutAnswer(%s/%s/%d): %v", a.PromptKey, a.Model, a.Sample, err)
	}
	recent(t, "PutAnswer", a.CreatedAt)
	return a
}

func testAnswers(t *testing.T, s ethos.Store) {
	ctx := t.Context()
	newEval(t, s, "eval-1", 2)
	ok := func(p, model string, sample int, text string) ethos.Answer {
		return ethos.Answer{EvalID: "eval-1", PromptKey: p, Model: model, Sample: sample, Text: text, Status: ethos.AnswerOK, CallKey: "k-" + text}
	}
	putAnswer(t, s, ok("p/0002", "tuned", 0, "t2"))
	putAnswer(t, s, ok("p/0001", "tuned", 1, "t1b"))
	putAnswer(t, s, ok("p/0001", "base", 0, "b1"))
	putAnswer(t, s, ok("p/0001", "tuned", 0, "t1a"))
	// A failed attempt, then the same answer replaced by a success; and a
	// failure that stays.
	putAnswer(t, s, ethos.Answer{EvalID: "eval-1", PromptKey: "p/0002", Model: "base", Sample: 0, Status: ethos.AnswerFailed, Error: "transient: 500"})
	putAnswer(t, s, ok("p/0002", "base", 0, "b2"))
	failed := putAnswer(t, s, ethos.Answer{EvalID: "eval-1", PromptKey: "p/0002", Model: "base", Sample: 1, Status: ethos.AnswerFailed, Error: "refused: model refused to answer"})

	got, err := s.Answers(ctx, "eval-1")
	if err != nil {
		t.Fatalf("Answers: %v", err)
	}
	want := []ethos.Answer{
		ok("p/0001", "base", 0, "b1"),
		ok("p/0001", "tuned", 0, "t1a"),
		ok("p/0001", "tuned", 1, "t1b"),
		ok("p/0002", "base", 0, "b2"),
		{EvalID: "eval-1", PromptKey: "p/0002", Model: "base", Sample: 1, Status: ethos.AnswerFailed, Error: "refused: model refused to answer"},
		ok("p/0002", "tuned", 0, "t2"),
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(ethos.Answer{}, "CreatedAt")); diff != "" {
		t.Errorf("Answers (-want +got):\n%s", diff)
	}
	for _, a := range got {
		recent(t, "Answers", a.CreatedAt)
		if a.PromptKey == failed.PromptKey && a.Sample == 1 && !a.CreatedAt.Equal(failed.CreatedAt) {
			t.Errorf("CreatedAt read back %v, PutAnswer set %v", a.CreatedAt, failed.CreatedAt)
		}
	}
}

func putJudgment(t *testing.T, s ethos.Store, j ethos.Judgment) {
	t.Helper()
	if err := s.PutJudgment(t.Context(), &j); err != nil {
		t.Fatalf("PutJudgment(%s/%s/%s>%s): %v", j.PromptKey, j.Trait, j.First, j.Second, err)
	}
	recent(t, "PutJudgment", j.CreatedAt)
}

func testJudgments(t *testing.T, s ethos.Store) {
	ctx := t.Context()
	newEval(t, s, "eval-1", 2)
	j := func(p, trait, first, second string, v ethos.Verdict) ethos.Judgment {
		return ethos.Judgment{EvalID: "eval-1", PromptKey: p, Trait: trait, First: first, Second: second, Verdict: v,
			Reason: "A asks more questions", Status: ethos.JudgmentOK, Attempts: 1, Judge: "sandbox/judge", CallKey: "ck-" + p + trait + first}
	}
	parseFailed := ethos.Judgment{EvalID: "eval-1", PromptKey: "p/0001", Trait: "inquisitive", First: "tuned", Second: "base", Sample: 1,
		Status: ethos.JudgmentParseFailed, Error: "parse: the verdict must be exactly one of …", Raw: "I think A is better.\nVerdict: maybe", Attempts: 3, Judge: "sandbox/judge"}
	putJudgment(t, s, j("p/0002", ethos.TraitOverall, "base", "tuned", ethos.Tie))
	putJudgment(t, s, j("p/0001", "inquisitive", "tuned", "base", ethos.Better))
	putJudgment(t, s, parseFailed)
	putJudgment(t, s, j("p/0001", "inquisitive", "base", "tuned", ethos.Worse))
	putJudgment(t, s, j("p/0001", "collaborative", "base", "tuned", ethos.MuchWorse))
	// Replaced: the judge's verdict after a re-run.
	putJudgment(t, s, j("p/0001", "collaborative", "tuned", "base", ethos.Tie))
	putJudgment(t, s, j("p/0001", "collaborative", "tuned", "base", ethos.MuchBetter))
	failed := ethos.Judgment{EvalID: "eval-1", PromptKey: "p/0002", Trait: ethos.TraitOverall, First: "tuned", Second: "base",
		Status: ethos.JudgmentFailed, Error: "overloaded: 529", Attempts: 5, Judge: "sandbox/judge"}
	putJudgment(t, s, failed)

	got, err := s.Judgments(ctx, "eval-1")
	if err != nil {
		t.Fatalf("Judgments: %v", err)
	}
	want := []ethos.Judgment{
		j("p/0001", "collaborative", "base", "tuned", ethos.MuchWorse),
		j("p/0001", "collaborative", "tuned", "base", ethos.MuchBetter),
		j("p/0001", "inquisitive", "base", "tuned", ethos.Worse),
		j("p/0001", "inquisitive", "tuned", "base", ethos.Better),
		parseFailed,
		j("p/0002", ethos.TraitOverall, "base", "tuned", ethos.Tie),
		failed,
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(ethos.Judgment{}, "CreatedAt")); diff != "" {
		t.Errorf("Judgments (-want +got):\n%s", diff)
	}
	for _, g := range got {
		recent(t, "Judgments", g.CreatedAt)
	}
}

func testTraitScores(t *testing.T, s ethos.Store) {
	ctx := t.Context()
	newEval(t, s, "eval-1", 2)
	sc := func(p, model, trait string, score int) ethos.TraitScore {
		return ethos.TraitScore{EvalID: "eval-1", PromptKey: p, Model: model, Trait: trait, Score: score, Reason: "two questions", Status: ethos.JudgmentOK}
	}
	put := func(x ethos.TraitScore) {
		t.Helper()
		if err := s.PutTraitScore(ctx, &x); err != nil {
			t.Fatalf("PutTraitScore: %v", err)
		}
		recent(t, "PutTraitScore", x.CreatedAt)
	}
	bad := ethos.TraitScore{EvalID: "eval-1", PromptKey: "p/0001", Model: "base", Trait: "thorough", Status: ethos.JudgmentParseFailed, Raw: "Score: 7", Error: "parse: …"}
	put(sc("p/0002", "base", "inquisitive", 2))
	put(sc("p/0001", "tuned", "inquisitive", 1))
	put(sc("p/0001", "tuned", "inquisitive", 5)) // replaced
	put(sc("p/0001", "base", "inquisitive", 3))
	put(bad)
	got, err := s.TraitScores(ctx, "eval-1")
	if err != nil {
		t.Fatalf("TraitScores: %v", err)
	}
	want := []ethos.TraitScore{sc("p/0001", "base", "inquisitive", 3), bad, sc("p/0001", "tuned", "inquisitive", 5), sc("p/0002", "base", "inquisitive", 2)}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(ethos.TraitScore{}, "CreatedAt")); diff != "" {
		t.Errorf("TraitScores (-want +got):\n%s", diff)
	}
}

func testEvalRowsUnknownPrompt(t *testing.T, s ethos.Store) {
	ctx := t.Context()
	newEval(t, s, "eval-1", 1)
	wantKind(t, "PutAnswer for an unknown prompt", s.PutAnswer(ctx, &ethos.Answer{EvalID: "eval-1", PromptKey: "p/0009", Model: "base", Status: ethos.AnswerOK}), ethos.NotFound)
	wantKind(t, "PutAnswer for an unknown eval", s.PutAnswer(ctx, &ethos.Answer{EvalID: "eval-9", PromptKey: "p/0001", Model: "base", Status: ethos.AnswerOK}), ethos.NotFound)
	wantKind(t, "PutJudgment for an unknown prompt", s.PutJudgment(ctx, &ethos.Judgment{EvalID: "eval-1", PromptKey: "p/0009", Trait: "x", First: "a", Second: "b", Status: ethos.JudgmentOK}), ethos.NotFound)
	wantKind(t, "PutTraitScore for an unknown prompt", s.PutTraitScore(ctx, &ethos.TraitScore{EvalID: "eval-1", PromptKey: "p/0009", Model: "a", Trait: "x", Score: 3, Status: ethos.JudgmentOK}), ethos.NotFound)
}

func testEvalRowsInvalid(t *testing.T, s ethos.Store) {
	ctx := t.Context()
	newEval(t, s, "eval-1", 1)
	a := func(f func(*ethos.Answer)) *ethos.Answer {
		x := &ethos.Answer{EvalID: "eval-1", PromptKey: "p/0001", Model: "base", Status: ethos.AnswerOK, Text: "hi"}
		f(x)
		return x
	}
	j := func(f func(*ethos.Judgment)) *ethos.Judgment {
		x := &ethos.Judgment{EvalID: "eval-1", PromptKey: "p/0001", Trait: "inquisitive", First: "a", Second: "b", Status: ethos.JudgmentOK}
		f(x)
		return x
	}
	sc := func(f func(*ethos.TraitScore)) *ethos.TraitScore {
		x := &ethos.TraitScore{EvalID: "eval-1", PromptKey: "p/0001", Model: "a", Trait: "inquisitive", Score: 3, Status: ethos.JudgmentOK}
		f(x)
		return x
	}
	for name, err := range map[string]error{
		"nil answer":             s.PutAnswer(ctx, nil),
		"answer without model":   s.PutAnswer(ctx, a(func(x *ethos.Answer) { x.Model = "" })),
		"answer negative sample": s.PutAnswer(ctx, a(func(x *ethos.Answer) { x.Sample = -1 })),
		"answer unknown status":  s.PutAnswer(ctx, a(func(x *ethos.Answer) { x.Status = "maybe" })),
		"answer no status":       s.PutAnswer(ctx, a(func(x *ethos.Answer) { x.Status = "" })),
		"nil judgment":           s.PutJudgment(ctx, nil),
		"judgment same models":   s.PutJudgment(ctx, j(func(x *ethos.Judgment) { x.Second = "a" })),
		"judgment no trait":      s.PutJudgment(ctx, j(func(x *ethos.Judgment) { x.Trait = "" })),
		"judgment verdict 3":     s.PutJudgment(ctx, j(func(x *ethos.Judgment) { x.Verdict = 3 })),
		"judgment verdict -3":    s.PutJudgment(ctx, j(func(x *ethos.Judgment) { x.Verdict = -3 })),
		"judgment bad status":    s.PutJudgment(ctx, j(func(x *ethos.Judgment) { x.Status = "fine" })),
		"verdict on a failure":   s.PutJudgment(ctx, j(func(x *ethos.Judgment) { x.Status, x.Verdict = ethos.JudgmentParseFailed, ethos.Better })),
		"nil score":              s.PutTraitScore(ctx, nil),
		"score 0 when ok":        s.PutTraitScore(ctx, sc(func(x *ethos.TraitScore) { x.Score = 0 })),
		"score 6":                s.PutTraitScore(ctx, sc(func(x *ethos.TraitScore) { x.Score = 6 })),
		"score on a failure":     s.PutTraitScore(ctx, sc(func(x *ethos.TraitScore) { x.Status = ethos.JudgmentFailed })),
		"score without model":    s.PutTraitScore(ctx, sc(func(x *ethos.TraitScore) { x.Model = "" })),
	} {
		wantKind(t, name, err, ethos.Invalid)
	}
	for what, n := range map[string]func() (int, error){
		"answers":   func() (int, error) { x, err := s.Answers(ctx, "eval-1"); return len(x), err },
		"judgments": func() (int, error) { x, err := s.Judgments(ctx, "eval-1"); return len(x), err },
		"scores":    func() (int, error) { x, err := s.TraitScores(ctx, "eval-1"); return len(x), err },
	} {
		if got, err := n(); err != nil || got != 0 {
			t.Errorf("%s after refused writes: %d, %v; want none", what, got, err)
		}
	}
}

func testEvalsSeparate(t *testing.T, s ethos.Store) {
	ctx := t.Context()
	newEval(t, s, "eval-1", 1)
	newEval(t, s, "eval-2", 1)
	for _, id := range []string{"eval-1", "eval-2"} {
		putAnswer(t, s, ethos.Answer{EvalID: id, PromptKey: "p/0001", Model: "base", Status: ethos.AnswerOK, Text: id})
		putJudgment(t, s, ethos.Judgment{EvalID: id, PromptKey: "p/0001", Trait: "x", First: "a", Second: "b", Status: ethos.JudgmentOK, Reason: id})
		if err := s.PutTraitScore(ctx, &ethos.TraitScore{EvalID: id, PromptKey: "p/0001", Model: "a", Trait: "x", Score: 2, Status: ethos.JudgmentOK, Reason: id}); err != nil {
			t.Fatal(err)
		}
	}
	answers, err := s.Answers(ctx, "eval-2")
	if err != nil || len(answers) != 1 || answers[0].Text != "eval-2" {
		t.Errorf("Answers(eval-2) = %+v, %v", answers, err)
	}
	js, err := s.Judgments(ctx, "eval-1")
	if err != nil || len(js) != 1 || js[0].Reason != "eval-1" {
		t.Errorf("Judgments(eval-1) = %+v, %v", js, err)
	}
	scores, err := s.TraitScores(ctx, "eval-2")
	if err != nil || len(scores) != 1 || scores[0].Reason != "eval-2" {
		t.Errorf("TraitScores(eval-2) = %+v, %v", scores, err)
	}
}
