package eval

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/dedup"
)

// Training is the set of prompts a model was trained on: the user turns
// of one or more training files, indexed for exact and near-duplicate
// lookups. Held-out prompts found in it are refused.
type Training struct {
	exact map[string]string // normalised text → where it is
	where []string          // Deduper id → where it is
	dups  *dedup.Index
	// finding and what word Find's reasons.
	finding, what string
}

// NewTraining returns an empty set whose near-duplicate threshold is the
// estimated Jaccard similarity threshold (see dedup.Index).
func NewTraining(threshold float64) *Training {
	return &Training{exact: map[string]string{}, dups: dedup.New(threshold),
		finding: "in the training data", what: "the user turn at"}
}

// Add indexes one training prompt; where names it in messages
// ("train.jsonl:12").
func (t *Training) Add(text, where string) {
	norm := normalise(text)
	if norm == "" {
		return
	}
	if _, ok := t.exact[norm]; !ok {
		t.exact[norm] = where
	}
	t.dups.Add(len(t.where), text)
	t.where = append(t.where, where)
}

// Len is the number of training prompts indexed.
func (t *Training) Len() int { return len(t.where) }

// Find reports whether text occurs in the training prompts, and if so
// why: an exact copy (ignoring case and spacing) or a near-duplicate, with
// where the training prompt is.
func (t *Training) Find(text string) (reason string, found bool) {
	if where, ok := t.exact[normalise(text)]; ok {
		return fmt.Sprintf("%s: same text as %s %s", t.finding, t.what, where), true
	}
	if id, sim, dup := t.dups.Check(text); dup {
		return fmt.Sprintf("%s: near-duplicate (similarity %.2f) of %s %s", t.finding, sim, t.what, t.where[id]), true
	}
	return "", false
}

func normalise(s string) string { return strings.Join(strings.Fields(strings.ToLower(s)), " ") }

// LoadFile adds the user turns of a training file to t and returns the hex
// SHA-256 of its content. The file is JSON Lines: each line an object with
// "messages" (chat format: the turns whose role is "user" are indexed) or
// "prompt" (instruction format). A line that is neither is a Config error
// naming the file and line: a training file that cannot be read cannot
// vouch for the prompts checked against it.
func (t *Training) LoadFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", ethos.Errorf(ethos.Config, "training file: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	r := bufio.NewReader(io.TeeReader(f, h))
	for n := 1; ; n++ {
		line, err := r.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			if perr := t.addLine(line, fmt.Sprintf("%s:%d", path, n)); perr != nil {
				return "", perr
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", ethos.Errorf(ethos.Config, "training file %s: %w", path, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (t *Training) addLine(line []byte, where string) error {
	var rec struct {
		Messages []ethos.Message `json:"messages"`
		Prompt   *string         `json:"prompt"`
	}
	if err := json.Unmarshal(line, &rec); err != nil {
		return ethos.Errorf(ethos.Config, "%s: not a JSON object: %v", where, err)
	}
	switch {
	case len(rec.Messages) > 0:
		users := 0
		for _, m := range rec.Messages {
			if m.Role == ethos.RoleUser {
				t.Add(m.Content, where)
				users++
			}
		}
		if users == 0 {
			return ethos.Errorf(ethos.Config, "%s: no user turn among the messages", where)
		}
	case rec.Prompt != nil:
		t.Add(*rec.Prompt, where)
	default:
		return ethos.Errorf(ethos.Config, `%s: neither "messages" nor "prompt"; want a training record`, where)
	}
	return nil
}

// HashFile returns the hex SHA-256 of a file's content.
func HashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", ethos.Errorf(ethos.Config, "%w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", ethos.Errorf(ethos.Config, "reading %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
