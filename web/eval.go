package web

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"

	"github.com/ethos-toolkit/ethos"
)

// evalData is the eval page and GET /api/evals/{id}.
type evalData struct {
	Run     ethos.Run       `json:"run"`
	Spec    *ethos.EvalSpec `json:"spec,omitempty"`
	SpecErr string          `json:"spec_error,omitempty"`
	Prompts int             `json:"prompts"`
	// Answers and Judgments count by status, per model and per trait.
	Answers   section[[]statusCount] `json:"answers"`
	Judgments section[[]statusCount] `json:"judgments"`
	Report    section[*evalReport]   `json:"report"`
	Compare   section[*comparison]   `json:"compare"`
	// PromptCache is what the providers' prompt caching did for the
	// eval's calls, per stage (answers, judgments).
	PromptCache section[promptCacheData] `json:"prompt_cache"`
	// PromptKeys lists the prompts for the side-by-side navigation.
	PromptKeys []string `json:"prompt_keys"`

	version string // what the page shows, for live updates
}

// statusCount counts answers (per model) or judgments (per trait) by
// status.
type statusCount struct {
	Name   string         `json:"name"`
	Counts map[string]int `json:"counts"`
	Total  int            `json:"total"`
}

// OK, Failed and ParseFailed are the counts templates show.
func (c statusCount) OK() int          { return c.Counts["ok"] }
func (c statusCount) Failed() int      { return c.Counts["failed"] }
func (c statusCount) ParseFailed() int { return c.Counts["parse_failed"] }

// comparison is one prompt with every model's answer and the judge's
// verdicts on each pair, in both orders, with its reasons.
type comparison struct {
	Prompt  ethos.EvalPrompt `json:"prompt"`
	Prev    string           `json:"prev,omitempty"`
	Next    string           `json:"next,omitempty"`
	Answers []ethos.Answer   `json:"answers"`
	Pairs   []judgedPair     `json:"pairs"`
}

// judgedPair is the judge's view of two answers on one trait: the
// judgment with the first model's answer shown first, and the one with it
// shown second.
type judgedPair struct {
	Trait   string          `json:"trait"`
	A, B    string          `json:"-"`
	Models  [2]string       `json:"models"`
	Sample  int             `json:"sample"`
	Forward *ethos.Judgment `json:"forward,omitempty"` // A shown first
	Reverse *ethos.Judgment `json:"reverse,omitempty"` // B shown first
}

func (s *Server) evalData(ctx context.Context, r *http.Request, run ethos.Run) evalData {
	d := evalData{Run: run}
	var spec ethos.EvalSpec
	if err := json.Unmarshal(run.Params, &spec); err != nil {
		d.SpecErr = "the eval's settings do not decode: " + err.Error()
	} else {
		d.Spec = &spec
	}
	prompts, perr := s.store.EvalPrompts(ctx, run.ID)
	d.Prompts = len(prompts)
	for _, p := range prompts {
		d.PromptKeys = append(d.PromptKeys, p.Key)
	}
	answers, aerr := s.store.Answers(ctx, run.ID)
	d.Answers = newSection(countBy(answers, func(a ethos.Answer) (string, string) { return a.Model, string(a.Status) }), aerr)
	judgments, jerr := s.store.Judgments(ctx, run.ID)
	d.Judgments = newSection(countBy(judgments, func(j ethos.Judgment) (string, string) { return j.Trait, string(j.Status) }), jerr)
	scores, serr := s.store.TraitScores(ctx, run.ID)
	d.version = evalVersionOf(run, nil, len(answers), aerr, len(judgments), jerr, len(scores), serr)

	d.Report = s.evalReport(ctx, run, d.version, d.Spec, prompts, answers, judgments, scores, firstErr(perr, aerr, jerr, serr))
	d.PromptCache = s.runPromptCache(ctx, run.ID)

	switch err := firstErr(perr, aerr, jerr); {
	case err != nil:
		d.Compare = section[*comparison]{Err: err}
	case len(prompts) > 0:
		key := r.URL.Query().Get("prompt")
		d.Compare = newSection(compare(prompts, answers, judgments, key), nil)
		if d.Compare.Value == nil {
			d.Compare.Err = ethos.Errorf(ethos.NotFound, "prompt %q is not a prompt of eval %s", key, run.ID)
		}
	}
	return d
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// countBy counts values by a name and a status, names in first-seen order.
func countBy[T any](values []T, key func(T) (name, status string)) []statusCount {
	var out []statusCount
	index := map[string]int{}
	for _, v := range values {
		name, status := key(v)
		i, ok := index[name]
		if !ok {
			i = len(out)
			index[name] = i
			out = append(out, statusCount{Name: name, Counts: map[string]int{}})
		}
		out[i].Counts[status]++
		out[i].Total++
	}
	return out
}

// compare builds the side-by-side view of the prompt with key ("" for the
// first); nil when there is no such prompt.
func compare(prompts []ethos.EvalPrompt, answers []ethos.Answer, judgments []ethos.Judgment, key string) *comparison {
	i := 0
	if key != "" {
		i = slices.IndexFunc(prompts, func(p ethos.EvalPrompt) bool { return p.Key == key })
		if i < 0 {
			return nil
		}
	}
	c := &comparison{Prompt: prompts[i]}
	if i > 0 {
		c.Prev = prompts[i-1].Key
	}
	if i+1 < len(prompts) {
		c.Next = prompts[i+1].Key
	}
	key = prompts[i].Key
	for _, a := range answers {
		if a.PromptKey == key {
			c.Answers = append(c.Answers, a)
		}
	}
	// Pair each judgment with its mirror (same trait and sample, models
	// swapped); the pair is named in the order first seen.
	type pk struct {
		trait, first, second string
		sample               int
	}
	index := map[pk]int{}
	pairKey := func(trait, a, b string, sample int) pk { return pk{trait, a, b, sample} }
	for _, j := range judgments {
		if j.PromptKey != key {
			continue
		}
		j := j
		if i, ok := index[pairKey(j.Trait, j.Second, j.First, j.Sample)]; ok {
			c.Pairs[i].Reverse = &j
			continue
		}
		if i, ok := index[pairKey(j.Trait, j.First, j.Second, j.Sample)]; ok {
			c.Pairs[i].Forward = &j
			continue
		}
		index[pairKey(j.Trait, j.First, j.Second, j.Sample)] = len(c.Pairs)
		c.Pairs = append(c.Pairs, judgedPair{Trait: j.Trait, A: j.First, B: j.Second, Models: [2]string{j.First, j.Second}, Sample: j.Sample, Forward: &j})
	}
	// The overall verdict first, then traits in name order.
	slices.SortStableFunc(c.Pairs, func(x, y judgedPair) int {
		switch {
		case x.Trait == y.Trait:
			return 0
		case x.Trait == ethos.TraitOverall:
			return -1
		case y.Trait == ethos.TraitOverall:
			return 1
		case x.Trait < y.Trait:
			return -1
		}
		return 1
	})
	return c
}

func (s *Server) handleEval(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	run, err := s.store.Run(ctx, id)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	d := s.evalData(ctx, r, run)
	s.render(w, r, http.StatusOK, "eval", &page{Title: "Eval " + id, Topic: topicEval + id,
		Version: digest(d.version + "\n"), Data: d})
}
