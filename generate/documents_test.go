package generate_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/generate"
	"github.com/ethos-toolkit/ethos/jobs"
	"github.com/ethos-toolkit/ethos/review"
	"github.com/ethos-toolkit/ethos/sandbox"
)

// TestStopAfterDocuments runs the pipeline only as far as accepted
// documents, as evaluations do for held-out prompts: it reaches the count
// in documents, writes no reply, and lists the documents with their
// categories.
func TestStopAfterDocuments(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 9, sandbox.Options{Seed: 3})
	full := e.settings.RunID()
	e.settings.StopAfter = generate.StageDocument
	if e.settings.RunID() == full {
		t.Fatal("StopAfter does not change the run ID")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	pipe := generate.NewPipeline(e.store, e.chain, e.settings)
	cfg := jobs.Config{Workers: 8, Tasks: pipe.Tasks(), Completer: e.chain, Queue: pipe.RunID(),
		Backoff: func(int) time.Duration { return 5 * time.Millisecond }, FetchCooldown: 5 * time.Millisecond, FetchPollInterval: 50 * time.Millisecond}
	err := jobs.Run(ctx, e.store.SQL(), cfg, jobs.Work{
		Prepare: func(ctx context.Context, _ int64) (bool, error) {
			_, err := pipe.Begin(ctx)
			return err == nil, err
		},
		Drive: func(ctx context.Context) error { return pipe.Drive(ctx, nil) },
	})
	if err != nil {
		t.Fatalf("Drive: %v", err)
	}
	replies, err := e.store.Items(ctx, ethos.ItemFilter{RunID: pipe.RunID(), Stage: generate.StageResponse})
	if err != nil || len(replies) != 0 {
		t.Fatalf("%d reply items (%v), want none", len(replies), err)
	}
	docs, err := pipe.Documents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) < 9 {
		t.Fatalf("%d documents, want at least 9", len(docs))
	}
	cats := map[string]int{}
	for _, d := range docs {
		if d.Body == "" || d.Category == "" {
			t.Errorf("document %s: empty body or category: %+v", d.Key, d)
		}
		cats[d.Category]++
	}
	// Nine examples over more categories than that: one each in the
	// first nine.
	if want := min(9, len(e.settings.Character.Categories)); len(cats) != want {
		t.Errorf("documents cover %d categories, want %d: %v", len(cats), want, cats)
	}

	bad := e.settings
	bad.StopAfter = "idea"
	if _, err := generate.NewPipeline(e.store, e.chain, bad).Begin(ctx); ethos.KindOf(err) != ethos.Config {
		t.Errorf("StopAfter %q: %v, want a config error", bad.StopAfter, err)
	}
}

// TestPlaceholderDocumentsAreRejected writes every document with a writer
// that leaves a template slot ({amount}, {date}, …) in it: not one is
// accepted, each is rejected for the placeholder, and the run ends in a
// shortfall instead of training data with slots in it.
func TestPlaceholderDocumentsAreRejected(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 2, sandbox.Options{Seed: 3})
	e.settings.StopAfter = generate.StageDocument
	e.settings.Generate.Documents.Model = "sandbox/writer-defect-placeholder"
	e.settings.Limits.MaxIdeaBatches = 1
	_, err := e.run(t)
	var sf *generate.Shortfall
	if !errors.As(err, &sf) || sf.Got != 0 {
		t.Fatalf("run ended with %v, want a shortfall with no documents", err)
	}
	rejected, err := e.store.Items(t.Context(), ethos.ItemFilter{RunID: e.settings.RunID(), Stage: generate.StageDocument, Status: ethos.ItemRejected})
	if err != nil {
		t.Fatal(err)
	}
	if len(rejected) == 0 {
		t.Fatal("no document was rejected")
	}
	for _, it := range rejected {
		if !strings.Contains(it.Reason, review.RulePlaceholder) {
			t.Errorf("document %s rejected for %q, want a placeholder", it.Key, it.Reason)
		}
	}
}
