// Package generate holds the model-facing parts of the data pipeline that
// turns a character into fine-tuning data: the versioned prompts of each
// stage (ideas, documents, responses, trait review), strict parsers for the
// output contracts those prompts name and the planning of how many examples
// each category gets. The deterministic rules that reject defective
// documents and replies, and near-duplicate detection, are the pure
// packages review and dedup, which the pipeline applies.
//
// Everything here is pure: no calls, no storage, no clocks. The prompts end
// with an "Output contract: ethos-…/v1" line; the parsers accept exactly
// that contract and report anything else as an *ethos.Error of Kind Parse,
// never as a default value.
package generate

import (
	"crypto/sha256"
	"embed"
	"encoding/binary"
	"strings"
	"text/template"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/internal/prompttext"
	"github.com/ethos-toolkit/ethos/internal/promptver"
)

// PromptVersion is the version of the prompt set and of the output
// contracts the prompts name (ethos-ideas/v1 and so on). It changes when a
// contract changes; wording changes show in TemplateVersions.
const PromptVersion = "v1"

// Output contract names, as they appear on the last line of each prompt.
const (
	ContractIdeas    = "ethos-ideas/" + PromptVersion
	ContractDocument = "ethos-document/" + PromptVersion
	ContractResponse = "ethos-response/" + PromptVersion
	ContractReview   = "ethos-review/" + PromptVersion
)

//go:embed prompts/*.tmpl
var promptFS embed.FS

// templates are parsed once at start-up; the files are compiled in, so a
// parse failure is a build defect that the tests catch.
var templates = template.Must(template.New("").Option("missingkey=error").ParseFS(promptFS, "prompts/*.tmpl"))

// TemplateVersions names every prompt template with its version, "v1+"
// followed by the first 12 hex digits of the SHA-256 of its text, so that
// the metadata of each call says exactly which wording produced it.
func TemplateVersions() map[string]string {
	return promptver.Versions(promptFS, "prompts", PromptVersion, "generate")
}

// Prompt is the system and user text of one model call.
type Prompt struct {
	System string
	User   string
}

// DocumentTypes are the kinds of document a scenario is written as.
var DocumentTypes = []string{"memo", "email", "report", "proposal", "chat log", "meeting notes", "letter", "forum post"}

// DocumentType picks a document type for key (an idea's identity) from a
// hash of seed and key, so that a rerun of the same plan asks for the same
// types and the types spread evenly over many ideas.
func DocumentType(seed int64, key string) string {
	h := sha256.New()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(seed))
	h.Write(b[:])
	h.Write([]byte(key))
	sum := h.Sum(nil)
	return DocumentTypes[binary.BigEndian.Uint64(sum[:8])%uint64(len(DocumentTypes))]
}

// IdeasPrompt asks for n new scenario ideas in one category, listing the
// summaries of ideas already accepted there so that the model avoids them.
func IdeasPrompt(ch ethos.Character, cat ethos.Category, n int, existing []string) Prompt {
	lines := make([]string, 0, len(existing))
	for _, s := range existing {
		// One bullet per idea: a stray newline would start a line the
		// model (or the sandbox) could read as a label.
		lines = append(lines, strings.Join(strings.Fields(s), " "))
	}
	data := map[string]any{
		"Character":  ch,
		"Category":   cat,
		"N":          n,
		"Existing":   lines,
		"TraitNames": prompttext.TraitNames(ch.Traits),
	}
	return Prompt{
		System: render("ideas_system.tmpl", data),
		User:   render("ideas_user.tmpl", data),
	}
}

// DocumentPrompt asks for the document that turns idea into a user
// message: of type docType, about words long, ending with a request to the
// assistant. The traits named are the idea's, or all of the character's
// when the idea names none.
func DocumentPrompt(ch ethos.Character, cat ethos.Category, idea Idea, docType string, words int) Prompt {
	names := strings.Join(idea.Traits, ", ")
	if len(idea.Traits) == 0 {
		names = prompttext.TraitNames(ch.Traits)
	}
	data := map[string]any{
		"Character":  ch,
		"Category":   cat,
		"Idea":       Idea{Summary: prompttext.OneLine(idea.Summary), Situation: prompttext.OneLine(idea.Situation)},
		"Hard":       idea.Hard || cat.Hard,
		"DocType":    docType,
		"Words":      words,
		"TraitNames": names,
	}
	return Prompt{
		System: render("document_system.tmpl", data),
		User:   render("document_user.tmpl", data),
	}
}

// ResponsePrompt asks the character to reply to document. The user turn is
// the document exactly, because it becomes the user turn of the training
// record; the contract line therefore ends the system prompt instead.
func ResponsePrompt(ch ethos.Character, document string) Prompt {
	data := map[string]any{
		"Character":  ch,
		"TraitNames": prompttext.TraitNames(ch.Traits),
	}
	return Prompt{
		System: render("response_system.tmpl", data),
		User:   document,
	}
}

// ReviewPrompt asks a judge to score reply, the character's answer to
// document, on every trait of the character.
func ReviewPrompt(ch ethos.Character, document, reply string) Prompt {
	data := map[string]any{
		"Character":  ch,
		"TraitNames": prompttext.TraitNames(ch.Traits),
		"Document":   strings.TrimSpace(document),
		"Reply":      strings.TrimSpace(reply),
	}
	return Prompt{
		System: render("review_system.tmpl", data),
		User:   render("review_user.tmpl", data),
	}
}

// render executes one of the package's templates; see prompttext.Render.
func render(name string, data map[string]any) string {
	return prompttext.Render(templates, "generate", name, data)
}
