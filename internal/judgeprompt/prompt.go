// Package judgeprompt holds the judge's prompts and the parsers of its
// replies: the pairwise contract (ethos-judge/v1: which of two answers
// shows a trait more) and the pointwise one (ethos-score/v1). The
// evaluation judges with them, and generation confirms preference pairs
// with the pairwise one, so both ask the judge the same question in the
// same words.
package judgeprompt

import (
	"embed"
	"strings"
	"text/template"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/internal/prompttext"
	"github.com/ethos-toolkit/ethos/internal/promptver"
)

// JudgeVersion is the version of the judge prompts and of the output
// contracts they name. It changes when a contract changes; wording changes
// show in TemplateVersions.
const JudgeVersion = "v1"

// Output contracts of the judge prompts, as they appear on their last line.
const (
	ContractJudge = "ethos-judge/" + JudgeVersion // pairwise: a Verdict line and a Reason line
	ContractScore = "ethos-score/" + JudgeVersion // pointwise: a Score line and a Reason line
)

//go:embed prompts/*.tmpl
var promptFS embed.FS

// templates are parsed once; the files are compiled in, so a parse failure
// is a build defect the golden tests catch.
var templates = template.Must(template.New("").Option("missingkey=error").ParseFS(promptFS, "prompts/*.tmpl"))

// TemplateVersions names every judge template with its version, "v1+"
// followed by the first 12 hex digits of the SHA-256 of its text. An
// evaluation records them, and its ID depends on them, so a changed prompt
// starts a new evaluation instead of mixing two judges' verdicts.
func TemplateVersions() map[string]string {
	return promptver.Versions(promptFS, "prompts", JudgeVersion, "eval")
}

// Prompt is the text of one judge call: the system prompt, then the
// user's turn in two parts. Shared is what every trait's call about the
// same answers repeats (the person's message and the answers, in the order
// shown); User is what changes from call to call (the trait, the question,
// feedback on a previous reply, the contract line). Shared comes first so
// that a provider's prompt cache can serve it to the calls after the
// first.
type Prompt struct {
	System string
	Shared string
	User   string
}

// Request is the model call that asks p: the shared part and the rest as
// consecutive user messages (one turn to the provider), with the system
// prompt and the shared part marked as the prefix to cache.
func (p Prompt) Request(model string, maxTokens int) ethos.Request {
	return ethos.Request{
		Model:  model,
		System: p.System,
		Messages: []ethos.Message{
			{Role: ethos.RoleUser, Content: p.Shared},
			{Role: ethos.RoleUser, Content: p.User},
		},
		MaxTokens:   maxTokens,
		CachePrefix: 2,
	}
}

// JudgePrompt asks the judge to compare answer a (shown first, as Answer
// A) with answer b on trait, for the person's message. trait is one of
// ch.Traits, or TraitOverall for the character as a whole, whose rubric
// lists every trait. The prompt never names the models: the answers are
// only A and B. feedback, when not empty, says why the judge's previous
// reply could not be parsed.
func JudgePrompt(ch ethos.Character, trait, message, a, b, feedback string) Prompt {
	traits := make([]ethos.Trait, len(ch.Traits))
	for i, t := range ch.Traits {
		traits[i] = ethos.Trait{Name: t.Name, Definition: prompttext.OneLine(t.Definition)}
	}
	data := map[string]any{
		"Overall":    trait == ethos.TraitOverall,
		"TraitName":  trait,
		"Definition": definition(ch, trait),
		"TraitNames": prompttext.TraitNames(ch.Traits),
		"Traits":     traits,
		"Message":    fence(message),
		"A":          fence(a),
		"B":          fence(b),
		"Feedback":   prompttext.OneLine(feedback),
	}
	return Prompt{System: render("judge_system.tmpl", data), Shared: render("judge_shared.tmpl", data), User: render("judge_user.tmpl", data)}
}

// ScorePrompt asks the judge to rate how strongly answer shows trait (one
// of ch.Traits) on the 1–5 scale. feedback is as for JudgePrompt.
func ScorePrompt(ch ethos.Character, trait, message, answer, feedback string) Prompt {
	data := map[string]any{
		"TraitName":  trait,
		"Definition": definition(ch, trait),
		"Message":    fence(message),
		"Answer":     fence(answer),
		"Feedback":   prompttext.OneLine(feedback),
	}
	return Prompt{System: render("score_system.tmpl", data), Shared: render("score_shared.tmpl", data), User: render("score_user.tmpl", data)}
}

// definition is a trait's definition as one line.
func definition(ch ethos.Character, trait string) string {
	for _, t := range ch.Traits {
		if t.Name == trait {
			return prompttext.OneLine(t.Definition)
		}
	}
	return ""
}

// fenceTags are the tags that delimit the message and the answers. Model
// text that contains one would end its section early and could pass for
// the other answer, so its angle bracket is escaped there.
var fenceTags = strings.NewReplacer(
	"<message>", "&lt;message>", "</message>", "&lt;/message>",
	"<answer>", "&lt;answer>", "</answer>", "&lt;/answer>",
	"<answer_a>", "&lt;answer_a>", "</answer_a>", "&lt;/answer_a>",
	"<answer_b>", "&lt;answer_b>", "</answer_b>", "&lt;/answer_b>",
)

func fence(s string) string { return fenceTags.Replace(strings.TrimSpace(s)) }

// render executes one of the package's templates; see prompttext.Render.
func render(name string, data map[string]any) string {
	return prompttext.Render(templates, "eval", name, data)
}
