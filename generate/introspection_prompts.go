package generate

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/ethos-toolkit/ethos"
)

// IntrospectionPromptSet names the version of the embedded introspection
// prompts; it goes into the introspection data's metadata. A change to the
// prompts is a new file and a new version, never an edit of this one.
const IntrospectionPromptSet = "introspection_v1"

//go:embed prompts/introspection_v1.txt
var introspectionV1 string

// PromptSet is a parsed introspection prompt file: the self-reflection
// prompts, and the subjects that open self-interaction dialogues.
type PromptSet struct {
	Version     string   `json:"version"`
	SHA256      string   `json:"sha256"`
	Reflections []string `json:"reflections"`
	Openers     []string `json:"openers"`
}

// IntrospectionPrompts is the embedded prompt set.
func IntrospectionPrompts() PromptSet {
	set, err := ParsePromptSet(IntrospectionPromptSet, introspectionV1)
	if err != nil {
		panic("generate: the embedded introspection prompts: " + err.Error())
	}
	return set
}

// ParsePromptSet reads a prompt file: "#" lines are comments, "[reflection]"
// and "[dialogue]" start their sections, and every other non-blank line is
// one prompt of the section it is in. Both sections must hold a prompt,
// and no prompt may appear twice.
func ParsePromptSet(version, text string) (PromptSet, error) {
	sum := sha256.Sum256([]byte(text))
	set := PromptSet{Version: version, SHA256: hex.EncodeToString(sum[:])}
	var section *[]string
	seen := map[string]int{}
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		n := i + 1
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
			continue
		case line == "[reflection]":
			section = &set.Reflections
		case line == "[dialogue]":
			section = &set.Openers
		case strings.HasPrefix(line, "["):
			return PromptSet{}, ethos.Errorf(ethos.Parse, "%s line %d: unknown section %q; want [reflection] or [dialogue]", version, n, line)
		case section == nil:
			return PromptSet{}, ethos.Errorf(ethos.Parse, "%s line %d: a prompt before any section; start with [reflection] or [dialogue]", version, n)
		default:
			if first, dup := seen[line]; dup {
				return PromptSet{}, ethos.Errorf(ethos.Parse, "%s line %d: the prompt of line %d again", version, n, first)
			}
			seen[line] = n
			*section = append(*section, line)
		}
	}
	if len(set.Reflections) == 0 || len(set.Openers) == 0 {
		return PromptSet{}, ethos.Errorf(ethos.Parse, "%s: %d reflection prompts and %d dialogue subjects; want at least one of each", version, len(set.Reflections), len(set.Openers))
	}
	return set, nil
}

// reflectionSystem is the system prompt of a self-reflection call (not of
// the training record): the k-th asking of the same prompt says so, so
// that each is its own request.
func reflectionSystem(round int) string {
	s := "You are reflecting on yourself: your values, your habits, how you treat the people you talk with. " +
		"Answer the question honestly and in the first person, as yourself, in a few paragraphs."
	if round > 0 {
		s += fmt.Sprintf("\nYou have answered this question %d times before; answer it afresh.", round)
	}
	return s
}

// dialogueSystem is the system prompt of each side of a self-interaction
// dialogue (not of the training record).
func dialogueSystem(subject string) string {
	return "You are talking with another instance of yourself: the same model, with the same character and values. " +
		"Neither of you is a user to be served. Talk as yourself: answer what the other says, " +
		"disagree where you do, ask what you are curious about, and keep each turn to a paragraph or two.\n" +
		"Subject: " + subject
}
