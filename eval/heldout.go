package eval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/generate"
)

// heldOutMargin is how many more documents than prompts the held-out
// generation writes, so that some can be refused without a shortfall.
func heldOutMargin(n int) int { return max(2, (n+4)/5) }

// heldOutSettings are the settings of the generation run that writes the
// held-out prompts: the idea and document stages of the character, with
// the evaluation's seed, stopping at accepted documents.
func (e *Evaluator) heldOutSettings() generate.Settings {
	s := e.settings
	var weights map[string]float64
	for _, c := range s.Character.Categories {
		if c.Weight > 0 {
			if weights == nil {
				weights = map[string]float64{}
			}
			weights[c.Name] = c.Weight
		}
	}
	g := s.Generate
	if h := s.heldOutGenerate(); h != nil {
		g = *h
	}
	return generate.Settings{
		Examples: s.Prompts + heldOutMargin(s.Prompts), Seed: s.Seed, Character: s.Character, Generate: g,
		Weights: weights, ConfigHash: s.ConfigHash, PromptHashes: s.GenerateVersions, StopAfter: generate.StageDocument,
	}
}

// HeldOutRunID is the ID of the generation run that writes the held-out
// prompts, "" when they come from a file.
func (e *Evaluator) HeldOutRunID() string {
	if e.heldOut == nil {
		return ""
	}
	return e.heldOut.RunID()
}

// ensurePrompts stores the evaluation's held-out prompts unless it has
// them: it writes or reads the candidates, refuses those found in the
// training data (exact or near-duplicate) and those that repeat another
// candidate, records each refusal with its reason, and keeps the wanted
// number. Too few left is a Config error that stops the evaluation.
func (e *Evaluator) ensurePrompts(ctx context.Context, progress func(*generate.Progress)) error {
	have, err := e.store.EvalPrompts(ctx, e.id)
	if err != nil || len(have) > 0 {
		return err
	}
	s := e.settings
	var cands []Candidate
	source := "generated"
	if s.PromptsFile != "" {
		var sum string
		if cands, sum, err = ReadPromptsFile(s.PromptsFile); err != nil {
			return e.stop(ctx, err)
		}
		if sum != s.PromptsSHA256 {
			return e.stop(ctx, ethos.Errorf(ethos.Config, "eval %s: the prompts file %s changed since the evaluation was set up; run the command again to start a new one", e.id, s.PromptsFile))
		}
		source = s.PromptsFile
	} else if cands, err = e.writeHeldOut(ctx, progress); err != nil {
		return err
	}

	training := NewTraining(s.Dedup)
	for _, path := range s.TrainingFiles {
		sum, err := training.LoadFile(path)
		if err != nil {
			return e.stop(ctx, err)
		}
		if want := s.TrainingSHA256[path]; sum != want {
			return e.stop(ctx, ethos.Errorf(ethos.Config, "eval %s: the training file %s changed since the evaluation was set up; run the command again to start a new one", e.id, path))
		}
	}

	accepted, refused := screen(cands, training, s.Dedup)
	for _, r := range refused {
		data, _ := json.Marshal(map[string]string{"origin": r.Origin, "text": clip(r.Text, 300)})
		it := &ethos.Item{RunID: e.id, Stage: StageHeldOut, Key: "heldout/" + r.Origin, Attempt: 1,
			Status: ethos.ItemRejected, Reason: r.reason, Data: data}
		if _, err := e.store.PutItem(ctx, it); err != nil {
			return err
		}
	}
	want := s.Prompts
	var chosen []Candidate
	if s.PromptsFile != "" {
		chosen = accepted
		if want > 0 && len(chosen) > want {
			chosen = chosen[:want]
		}
		want = max(want, 1)
	} else {
		chosen = chooseByCategory(accepted, s.Character, want, e.heldOutSettings().Weights)
	}
	if len(chosen) < want {
		first := ""
		if len(refused) > 0 {
			first = fmt.Sprintf(" (the first: %s: %s)", refused[0].Origin, refused[0].reason)
		}
		how := "choose another --seed, ask for fewer --prompts, or give a --prompts-file"
		if s.PromptsFile != "" {
			how = "add prompts to the file or ask for fewer --prompts"
		}
		return e.stop(ctx, ethos.Errorf(ethos.Config, "eval %s: only %d of %d held-out prompts remain after refusing %d that occur in the training data or repeat another prompt%s; %s",
			e.id, len(chosen), want, len(refused), first, how))
	}
	prompts := make([]ethos.EvalPrompt, len(chosen))
	for i, c := range chosen {
		prompts[i] = ethos.EvalPrompt{EvalID: e.id, Key: fmt.Sprintf("p/%04d", i+1), Category: c.Category, Text: c.Text, Source: source}
	}
	return e.store.PutEvalPrompts(ctx, prompts)
}

// writeHeldOut runs (or continues, or finds finished) the generation run
// of the held-out prompts and returns its documents as candidates.
func (e *Evaluator) writeHeldOut(ctx context.Context, progress func(*generate.Progress)) ([]Candidate, error) {
	_, err := e.heldOut.Begin(ctx)
	switch {
	case errors.Is(err, generate.ErrRunCompleted):
	case err != nil:
		return nil, err
	default:
		if err := e.heldOut.Drive(ctx, func(p generate.Progress) { progress(&p) }); err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			return nil, e.stop(ctx, fmt.Errorf("writing held-out prompts (run %s): %w", e.heldOut.RunID(), err))
		}
		// Finished: tasks of it still queued find it completed and stop.
		if err := e.store.SetRunStatus(ctx, e.heldOut.RunID(), ethos.RunCompleted, ""); err != nil {
			return nil, err
		}
	}
	docs, err := e.heldOut.Documents(ctx)
	if err != nil {
		return nil, err
	}
	cands := make([]Candidate, len(docs))
	for i, d := range docs {
		cands[i] = Candidate{Text: strings.TrimSpace(d.Body), Category: d.Category, Origin: d.Key}
	}
	return cands, nil
}

// refusal is a candidate refused, with why.
type refusal struct {
	Candidate
	reason string
}

// screen keeps the candidates that are not in the training data and do
// not repeat an earlier candidate, in order.
func screen(cands []Candidate, training *Training, dedup float64) ([]Candidate, []refusal) {
	var (
		kept    []Candidate
		refused []refusal
	)
	seen := NewTraining(dedup) // the candidates kept so far
	seen.finding, seen.what = "repeats another held-out prompt", "the prompt at"
	for _, c := range cands {
		if reason, found := training.Find(c.Text); found {
			refused = append(refused, refusal{c, reason})
			continue
		}
		if reason, found := seen.Find(c.Text); found {
			refused = append(refused, refusal{c, reason})
			continue
		}
		seen.Add(c.Text, c.Origin)
		kept = append(kept, c)
	}
	return kept, refused
}

// chooseByCategory takes want candidates, each category's planned share
// first (generate.PlanCategories) and then the earliest of the rest, in
// their original order.
func chooseByCategory(cands []Candidate, ch ethos.Character, want int, weights map[string]float64) []Candidate {
	quotas := generate.PlanCategories(ch.Categories, want, weights)
	take := make([]bool, len(cands))
	n := 0
	for i, c := range cands {
		if n < want && quotas[c.Category] > 0 {
			quotas[c.Category]--
			take[i] = true
			n++
		}
	}
	for i := range cands {
		if n < want && !take[i] {
			take[i] = true
			n++
		}
	}
	var out []Candidate
	for i, c := range cands {
		if take[i] {
			out = append(out, c)
		}
	}
	return out
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
