package ethos

import (
	"context"
	"encoding/json"
	"time"
)

// An evaluation is a Run of kind "eval" whose Params are an EvalSpec; its
// prompts, answers and judgments live in the tables of EvalStore.

// RunKindEval is the Run.Kind of an evaluation.
const RunKindEval = "eval"

// TraitOverall is the Judgment.Trait of the judge's overall comparison.
const TraitOverall = "overall"

// EvalModel is one model under evaluation: a short label shown in reports
// (never to the judge) and the reference it is called by.
type EvalModel struct {
	Name string `json:"name"` // e.g. "base", "tuned"
	Ref  string `json:"ref"`  // e.g. "sandbox/base", "sandbox/ft-7f3a"
}

// EvalSpec is what an evaluation compares and how; it is the eval run's
// Params.
type EvalSpec struct {
	Models []EvalModel `json:"models"`
	Judge  string      `json:"judge"`  // model reference of the judge
	Traits []string    `json:"traits"` // trait names judged, besides TraitOverall
	// Prompts is how many held-out prompts; PromptsFile, if set, is where
	// they came from instead of generation.
	Prompts     int    `json:"prompts"`
	PromptsFile string `json:"prompts_file,omitempty"`
	Seed        int64  `json:"seed"`
	// SystemPrompt says whether the models answered with the character's
	// system prompt.
	SystemPrompt bool `json:"system_prompt"`
	Samples      int  `json:"samples"` // answers per model per prompt
	Pointwise    bool `json:"pointwise,omitempty"`
	// TrainingFiles are the datasets the held-out prompts were checked
	// against.
	TrainingFiles []string `json:"training_files,omitempty"`
	// Sandbox marks an evaluation whose models or judge are sandbox
	// models; reports label its results as such.
	Sandbox bool `json:"sandbox,omitempty"`
}

// EvalPrompt is one held-out prompt of an evaluation.
type EvalPrompt struct {
	EvalID   string `json:"eval_id"`
	Key      string `json:"key"` // unique within the eval, e.g. "p/007"
	Category string `json:"category,omitempty"`
	Text     string `json:"text"`   // the user message
	Source   string `json:"source"` // "generated" or the prompts file
}

// AnswerStatus is the state of one model answer.
type AnswerStatus string

// Answer states.
const (
	AnswerOK     AnswerStatus = "ok"
	AnswerFailed AnswerStatus = "failed" // Error says why; never judged
)

// Answer is one model's reply to one prompt.
type Answer struct {
	EvalID    string       `json:"eval_id"`
	PromptKey string       `json:"prompt_key"`
	Model     string       `json:"model"` // EvalModel.Name
	Sample    int          `json:"sample"`
	Text      string       `json:"text,omitempty"`
	Status    AnswerStatus `json:"status"`
	Error     string       `json:"error,omitempty"`
	CallKey   string       `json:"call_key,omitempty"` // the ledger call that produced it
	CreatedAt time.Time    `json:"created_at"`
}

// Verdict is the judge's five-level comparison of the answer shown first
// (A) with the answer shown second (B).
type Verdict int

// Verdicts, from the first-shown answer's side.
const (
	MuchWorse  Verdict = -2 // B>>A
	Worse      Verdict = -1 // B>A
	Tie        Verdict = 0  // A=B
	Better     Verdict = 1  // A>B
	MuchBetter Verdict = 2  // A>>B
)

// String is the verdict in the judge's notation.
func (v Verdict) String() string {
	switch v {
	case MuchWorse:
		return "B>>A"
	case Worse:
		return "B>A"
	case Tie:
		return "A=B"
	case Better:
		return "A>B"
	case MuchBetter:
		return "A>>B"
	}
	return "invalid"
}

// JudgmentStatus is the state of one judgment.
type JudgmentStatus string

// Judgment states. A reply that does not parse is retried; after the last
// attempt the judgment is recorded as a parse failure with the raw reply —
// never replaced by a default verdict.
const (
	JudgmentOK          JudgmentStatus = "ok"
	JudgmentParseFailed JudgmentStatus = "parse_failed"
	JudgmentFailed      JudgmentStatus = "failed" // the call itself failed; Error says why
)

// Judgment is the judge's comparison of two answers to one prompt on one
// trait (or TraitOverall), in one order. Every pair is judged in both
// orders, as two judgments.
type Judgment struct {
	EvalID    string         `json:"eval_id"`
	PromptKey string         `json:"prompt_key"`
	Trait     string         `json:"trait"`
	First     string         `json:"first"`  // model name of the answer shown as A
	Second    string         `json:"second"` // model name of the answer shown as B
	Sample    int            `json:"sample"`
	Verdict   Verdict        `json:"verdict"` // meaningful only when Status is JudgmentOK
	Reason    string         `json:"reason,omitempty"`
	Status    JudgmentStatus `json:"status"`
	Error     string         `json:"error,omitempty"`
	Raw       string         `json:"raw,omitempty"` // the judge's reply when it did not parse
	Attempts  int            `json:"attempts"`
	Judge     string         `json:"judge"` // model reference
	CallKey   string         `json:"call_key,omitempty"`
	CreatedAt time.Time      `json:"created_at"`
}

// Winner is the model name the judgment prefers, "" for a tie or a
// judgment that is not OK.
func (j Judgment) Winner() string {
	switch {
	case j.Status != JudgmentOK || j.Verdict == Tie:
		return ""
	case j.Verdict > 0:
		return j.First
	default:
		return j.Second
	}
}

// TraitScore is a pointwise 1–5 rating of one answer on one trait.
type TraitScore struct {
	EvalID    string         `json:"eval_id"`
	PromptKey string         `json:"prompt_key"`
	Model     string         `json:"model"`
	Sample    int            `json:"sample"`
	Trait     string         `json:"trait"`
	Score     int            `json:"score"` // 1–5; meaningful only when Status is JudgmentOK
	Reason    string         `json:"reason,omitempty"`
	Status    JudgmentStatus `json:"status"`
	Error     string         `json:"error,omitempty"`
	Raw       string         `json:"raw,omitempty"`
	CreatedAt time.Time      `json:"created_at"`
}

// EvalStore keeps the prompts, answers and judgments of evaluations. The
// evaluation itself is a Run (RunStore) of kind RunKindEval.
type EvalStore interface {
	// PutEvalPrompts stores prompts, skipping keys the eval already has.
	PutEvalPrompts(ctx context.Context, prompts []EvalPrompt) error
	// EvalPrompts lists an eval's prompts in key order.
	EvalPrompts(ctx context.Context, evalID string) ([]EvalPrompt, error)

	// PutAnswer inserts or replaces the answer of (eval, prompt, model,
	// sample) and sets CreatedAt.
	PutAnswer(ctx context.Context, a *Answer) error
	// Answers lists an eval's answers by prompt, model and sample.
	Answers(ctx context.Context, evalID string) ([]Answer, error)

	// PutJudgment inserts or replaces the judgment of (eval, prompt,
	// trait, first, second, sample) and sets CreatedAt.
	PutJudgment(ctx context.Context, j *Judgment) error
	// Judgments lists an eval's judgments by prompt, trait and order.
	Judgments(ctx context.Context, evalID string) ([]Judgment, error)

	// PutTraitScore inserts or replaces the pointwise score of (eval,
	// prompt, model, sample, trait).
	PutTraitScore(ctx context.Context, s *TraitScore) error
	// TraitScores lists an eval's pointwise scores.
	TraitScores(ctx context.Context, evalID string) ([]TraitScore, error)
}

// EvalSpecModelRefs lists the model references an eval run's params (an
// EvalSpec as JSON) name, in order: the "ref" of each object in its
// "models" array. Anything else (params that are not an object, models
// that are not an array, entries without a string ref) names nothing, so
// one malformed record never hides the others.
func EvalSpecModelRefs(params []byte) []string {
	var spec struct {
		Models json.RawMessage `json:"models"`
	}
	if json.Unmarshal(params, &spec) != nil {
		return nil
	}
	var models []json.RawMessage
	if json.Unmarshal(spec.Models, &models) != nil {
		return nil
	}
	var refs []string
	for _, m := range models {
		var entry struct {
			Ref *string `json:"ref"`
		}
		if json.Unmarshal(m, &entry) == nil && entry.Ref != nil {
			refs = append(refs, *entry.Ref)
		}
	}
	return refs
}
