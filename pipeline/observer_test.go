package pipeline_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/eval"
	"github.com/ethos-toolkit/ethos/finetune"
	"github.com/ethos-toolkit/ethos/generate"
	"github.com/ethos-toolkit/ethos/pipeline"
)

// TestLogObserver: steps as lines, an evaluation's progress at each
// change of phase, a generation's when it begins (with the calls in flight
// only when this process works it), a fine-tune job's status once per
// change.
func TestLogObserver(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	o := &pipeline.LogObserver{W: &b, InFlight: func() string { return " · in flight sandbox 2/8" }}
	o.Logf("[1/6] generate: %d examples", 60)

	ev := o.Evaluating("eval-1")
	ev(eval.Progress{Phase: "prompts", HeldOut: &generate.Progress{RunID: "gen-h", Examples: 3, Target: 30}})
	ev(eval.Progress{Phase: "answers", Counts: eval.Counts{AnswersWanted: 60, Answers: 10}})
	ev(eval.Progress{Phase: "done"})

	update, done := o.Generating("gen-1", 60, true)
	update(generate.Progress{RunID: "gen-1", Target: 60, Examples: 5})
	done()
	update, done = o.Generating("gen-2", 60, false)
	update(generate.Progress{RunID: "gen-2", Target: 60})
	done()

	job := ethos.FineTuneJob{Status: "running", Progress: ethos.FineTuneProgress{Step: 1, TotalSteps: 4}}
	o.Training("ft-1", finetune.Update{Job: job}, nil)
	o.Training("ft-1", finetune.Update{Job: job}, nil)
	o.Training("ft-1", finetune.Update{}, errors.New("connection refused"))
	job.Status = "completed"
	o.Training("ft-1", finetune.Update{Job: job}, nil)

	want := "[1/6] generate: 60 examples\n" +
		"  held-out prompts: 3 of 30 documents written (run gen-h)\n" +
		"  answers: answers 10/60 (0 failed), judgments 0/0 (0 unparsed, 0 failed)\n" +
		"generate gen-1: ideas 0 · documents 0 (rejected 0) · replies 5/60 (rejected 0, quarantined 0) · $0.0000 · 0 call errors · 0s · in flight sandbox 2/8\n" +
		"generate gen-2: ideas 0 · documents 0 (rejected 0) · replies 0/60 (rejected 0, quarantined 0) · $0.0000 · 0 call errors · 0s\n" +
		"[4/6] wait: running, step 1/4\n" +
		"      ft-1: provider not reachable, trying again: connection refused\n" +
		"[4/6] wait: completed, step 1/4\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("LogObserver (-want +got):\n%s", diff)
	}
}

// TestLoadRunSpend sums a run's calls from the ledger, other runs' left
// out.
func TestLoadRunSpend(t *testing.T) {
	t.Parallel()
	db := openStore(t)
	for i, c := range []ethos.Call{
		{RunID: "gen-1", Provider: "sandbox", Model: "sandbox/writer", CostUSD: 0.25, Response: &ethos.Response{}},
		{RunID: "gen-1", Provider: "sandbox", Model: "sandbox/writer", ErrorKind: ethos.Transient},
		{RunID: "gen-2", Provider: "sandbox", Model: "sandbox/writer", CostUSD: 1},
	} {
		c.Key = "k" + string(rune('0'+i))
		if err := db.RecordCall(t.Context(), &c); err != nil {
			t.Fatal(err)
		}
	}
	got, err := pipeline.LoadRunSpend(db, "gen-1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(pipeline.RunSpend{USD: 0.25, CallErrors: 1}, got); diff != "" {
		t.Errorf("LoadRunSpend (-want +got):\n%s", diff)
	}
	if got, err := pipeline.LoadRunSpend(nil, "gen-1"); err != nil || got != (pipeline.RunSpend{}) {
		t.Errorf("LoadRunSpend without a store = %+v, %v; want none", got, err)
	}
}
