package report

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ethos-toolkit/ethos"
)

// memStore is one store in memory holding syntheticEval and a generation
// run, with the ledger's prompt caching figures unpriced.
type memStore struct {
	runs      []ethos.Run // newest first
	prompts   []ethos.EvalPrompt
	answers   []ethos.Answer
	judgments []ethos.Judgment
	scores    []ethos.TraitScore
	caching   []ethos.PromptCacheUse
}

func (s *memStore) Run(_ context.Context, id string) (ethos.Run, error) {
	for _, r := range s.runs {
		if r.ID == id {
			return r, nil
		}
	}
	return ethos.Run{}, ethos.Errorf(ethos.NotFound, "run %s", id)
}

func (s *memStore) Runs(_ context.Context, kind string, limit int) ([]ethos.Run, error) {
	var out []ethos.Run
	for _, r := range s.runs {
		if r.Kind == kind && len(out) < limit {
			out = append(out, r)
		}
	}
	return out, nil
}

func (s *memStore) EvalPrompts(context.Context, string) ([]ethos.EvalPrompt, error) {
	return s.prompts, nil
}
func (s *memStore) Answers(context.Context, string) ([]ethos.Answer, error) { return s.answers, nil }
func (s *memStore) Judgments(context.Context, string) ([]ethos.Judgment, error) {
	return s.judgments, nil
}
func (s *memStore) TraitScores(context.Context, string) ([]ethos.TraitScore, error) {
	return s.scores, nil
}
func (s *memStore) PromptCaching(context.Context, ethos.CallFilter) ([]ethos.PromptCacheUse, error) {
	return append([]ethos.PromptCacheUse(nil), s.caching...), nil
}

func newMemStore(t *testing.T) *memStore {
	t.Helper()
	spec, prompts, answers, judgments, scores := syntheticEval()
	params, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	caching := syntheticPromptCache()
	for i := range caching {
		caching[i].UncachedUSD, caching[i].Unpriced = 0, 0
	}
	return &memStore{
		runs: []ethos.Run{
			{ID: "gen-1", Kind: "generate"},
			{ID: prompts[0].EvalID, Kind: ethos.RunKindEval, Params: params},
		},
		prompts: prompts, answers: answers, judgments: judgments, scores: scores, caching: caching,
	}
}

// TestLoadBuildsTheStoredEvaluation: Load, by ID or as the latest
// evaluation, gives the report Build gives of the same data, priced by
// Cost.
func TestLoadBuildsTheStoredEvaluation(t *testing.T) {
	t.Parallel()
	store := newMemStore(t)
	spec, prompts, answers, judgments, scores := syntheticEval()
	evalID := prompts[0].EvalID
	want, err := Build(spec, prompts, answers, judgments, scores,
		Options{EvalID: evalID, Seed: 3, Examples: 2, PromptCache: syntheticPromptCache()})
	if err != nil {
		t.Fatal(err)
	}
	sandboxCost := func(model string, u ethos.Usage) (float64, bool) {
		return (1*float64(u.In) + 5*float64(u.Out) + 0.1*float64(u.CacheRead) + 1.25*float64(u.CacheWrite)) / 1e6, true
	}
	for _, id := range []string{evalID, ""} {
		got, err := Load(t.Context(), store, id, LoadOptions{Options: Options{Seed: 3, Examples: 2}, Cost: sandboxCost})
		if err != nil {
			t.Fatalf("Load(%q): %v", id, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Load(%q) (-Build +Load):\n%s", id, diff)
		}
	}
}

// TestLoadRefuses: no evaluation, a run that is not one, and parameters
// that are not an eval spec are each a typed error that says so.
func TestLoadRefuses(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		edit     func(*memStore)
		id       string
		wantKind ethos.Kind
		wantText string
	}{
		{"no evaluation", func(s *memStore) { s.runs = s.runs[:1] }, "", ethos.NotFound, "no evaluation in the store /data/ethos.db"},
		{"not an evaluation", func(*memStore) {}, "gen-1", ethos.Invalid, "run gen-1 is a generate run"},
		{"unknown run", func(*memStore) {}, "eval-missing", ethos.NotFound, "eval-missing"},
		{"bad parameters", func(s *memStore) { s.runs[1].Params = json.RawMessage(`[1]`) }, "", ethos.Internal, "not an eval spec"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			store := newMemStore(t)
			tt.edit(store)
			_, err := Load(t.Context(), store, tt.id, LoadOptions{Where: "/data/ethos.db"})
			if ethos.KindOf(err) != tt.wantKind || err == nil || !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("err %v (kind %v), want kind %v with %q", err, ethos.KindOf(err), tt.wantKind, tt.wantText)
			}
		})
	}
}
