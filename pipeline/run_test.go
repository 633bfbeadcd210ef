package pipeline_test

import (
	"os"
	"testing"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/pipeline"
)

// TestRunResumes: pipeline.Run, used without the CLI, makes a dataset, a
// model, an evaluation and its reports, saying each step through its
// Observer; run again, it finds every step done and calls no model.
func TestRunResumes(t *testing.T) {
	t.Parallel()
	obs := &recorder{}
	d, _ := sandboxDeps(t, obs)
	d.Config.Generate.Examples, d.Config.Eval.Prompts, d.Config.FineTune.Validation = 12, 4, 0
	res, err := pipeline.Run(t.Context(), d, pipeline.RunOptions{Workers: 4})
	if err != nil {
		t.Fatalf("run: %v\n%q", err, obs.lines)
	}
	if res.Recipe != "sft" || len(res.Trained) != 1 || res.Trained[0].Name != "tuned" || res.Trained[0].Method != ethos.FineTuneSFT ||
		res.Model.Name == "" || res.Counts.Prompts != 4 || len(res.Reports) != 3 || len(res.Results) == 0 {
		t.Fatalf("run made %+v", res)
	}
	for _, f := range append([]string{res.Dataset, res.Registry}, res.Reports...) {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("run's file: %v", err)
		}
	}
	// The wait (step 4) is told to the Observer as the job's updates.
	for _, step := range []string{"[1/6] generate: 12 examples", "[2/6] check:", "[3/6] fine-tune:", "[5/6] eval:", "[6/6] report:"} {
		if !obs.said(step) {
			t.Errorf("no %q line: %q", step, obs.lines)
		}
	}
	calls := ledger(t, d)
	if calls == 0 {
		t.Fatal("the run recorded no call")
	}
	again, err := pipeline.Run(t.Context(), d, pipeline.RunOptions{Workers: 4})
	if err != nil {
		t.Fatalf("run again: %v", err)
	}
	if again.EvalID != res.EvalID || again.Model.Name != res.Model.Name || again.GenerateRun != res.GenerateRun || !obs.said("[1/6] generate: done before") {
		t.Errorf("run again made %+v, want what the first made", again)
	}
	if n := ledger(t, d) - calls; n != 0 {
		t.Errorf("run again made %d model calls, want none", n)
	}
}

// ledger is how many calls d's store has recorded.
func ledger(t *testing.T, d pipeline.Deps) int {
	t.Helper()
	calls, err := d.Store.Calls(t.Context(), ethos.CallFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return len(calls)
}
