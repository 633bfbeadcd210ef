package eval

import (
	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/internal/judgeprompt"
)

// The judge's prompts and parsers live in internal/judgeprompt, shared
// with generation's confirmation of preference pairs; these are their
// names in the evaluation.

// JudgeVersion is the version of the judge prompts and of the output
// contracts they name.
const JudgeVersion = judgeprompt.JudgeVersion

// Output contracts of the judge prompts, as they appear on their last line.
const (
	ContractJudge = judgeprompt.ContractJudge // pairwise: a Verdict line and a Reason line
	ContractScore = judgeprompt.ContractScore // pointwise: a Score line and a Reason line
)

// MaxReasonRunes bounds the reason of a judge reply.
const MaxReasonRunes = judgeprompt.MaxReasonRunes

// Prompt is the text of one judge call (see judgeprompt.Prompt).
type Prompt = judgeprompt.Prompt

// TemplateVersions names every judge template with its version; an
// evaluation's ID depends on them.
func TemplateVersions() map[string]string { return judgeprompt.TemplateVersions() }

// JudgePrompt asks the judge to compare answer a (shown first) with answer
// b on trait; see judgeprompt.JudgePrompt.
func JudgePrompt(ch ethos.Character, trait, message, a, b, feedback string) Prompt {
	return judgeprompt.JudgePrompt(ch, trait, message, a, b, feedback)
}

// ScorePrompt asks the judge to rate how strongly answer shows trait; see
// judgeprompt.ScorePrompt.
func ScorePrompt(ch ethos.Character, trait, message, answer, feedback string) Prompt {
	return judgeprompt.ScorePrompt(ch, trait, message, answer, feedback)
}

// ParseVerdict reads a reply to the ethos-judge/v1 contract; see
// judgeprompt.ParseVerdict.
func ParseVerdict(reply string) (ethos.Verdict, string, error) {
	return judgeprompt.ParseVerdict(reply)
}

// ParseScore reads a reply to the ethos-score/v1 contract; see
// judgeprompt.ParseScore.
func ParseScore(reply string) (int, string, error) { return judgeprompt.ParseScore(reply) }
