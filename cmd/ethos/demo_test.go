package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethos-toolkit/ethos"
	"github.com/google/go-cmp/cmp"
)

// TestDemoEndToEnd runs ethos demo — generate, check, fine-tune, wait,
// evaluate, report, registry — on the in-process sandbox, checks that the
// directory it leaves is an ordinary project the other commands read, and
// that running it again redoes nothing.
func TestDemoEndToEnd(t *testing.T) {
	t.Parallel()
	work := t.TempDir()
	r := ethosCLI(t, work, nil, "demo", "--dir", "demo", "--examples", "24", "--prompts", "8", "--json")
	if r.code != 0 {
		t.Fatalf("demo: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	var res pipelineResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("demo --json: %v\n%s", err, r.stdout)
	}
	dir := filepath.Join(work, "demo")
	if res.Dir != dir {
		t.Errorf("project dir %q, want %q", res.Dir, dir)
	}
	for _, f := range append([]string{res.Dataset, res.Train, res.Validation, res.Registry, filepath.Join(dir, "ethos.yaml"), filepath.Join(dir, ".ethos", "ethos.db")}, res.Reports...) {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("demo did not leave %s: %v", f, err)
		}
	}
	if n := countLines(t, res.Train) + countLines(t, res.Validation); n != 24 {
		t.Errorf("train + validation hold %d examples, want 24", n)
	}
	if res.Job.State != ethos.FineTuneCompleted || !strings.HasPrefix(res.Model.Name, "sandbox/ft-") {
		t.Errorf("job %s in state %s, model %q; want a completed job and a sandbox/ft-… model", res.Job.ID, res.Job.State, res.Model.Name)
	}
	if res.Counts.Prompts != 8 || res.Counts.Answers != 16 || res.Counts.Missing() != 0 {
		t.Errorf("eval counts %+v; want 8 prompts, 16 answers, nothing missing", res.Counts)
	}
	if !res.Sandbox {
		t.Error("a sandbox evaluation is not labelled as one")
	}
	// One result per judged trait and overall, each with a score and an
	// interval: the headline the demo prints.
	if len(res.Results) != 6 {
		t.Fatalf("%d per-trait results, want 6 (overall and five traits)", len(res.Results))
	}
	tunedWins := 0
	for _, pr := range res.Results {
		if pr.Score == nil || pr.Bootstrap == nil {
			t.Errorf("%s: no score or interval", pr.Trait)
			continue
		}
		if pr.Model == "tuned" && *pr.Score > 0.5 {
			tunedWins++
		}
	}
	// The fine-tuned sandbox model learnt the traits from its data; the
	// base model did not. The judge counts trait markers, so it must see it.
	if tunedWins < 5 {
		t.Errorf("the tuned model beats base on %d of 6, want at least 5: %+v", tunedWins, res.Results)
	}
	report, err := os.ReadFile(res.Reports[0])
	if err != nil || !strings.Contains(string(report), "sandbox") {
		t.Errorf("the Markdown report does not say its results are the sandbox's (err %v)", err)
	}

	// The directory is an ordinary project.
	if st := ethosCLI(t, dir, nil, "status"); st.code != 0 || !strings.Contains(st.stdout, res.Job.ID) || !strings.Contains(st.stdout, res.EvalID) ||
		!strings.Contains(st.stdout, "generate (held-out prompts)") {
		t.Errorf("status in the demo dir: exit %d\n%s%s", st.code, st.stdout, st.stderr)
	}
	if md := ethosCLI(t, dir, nil, "models"); md.code != 0 || !strings.Contains(md.stdout, res.Model.Name) || !strings.Contains(md.stdout, res.EvalID) {
		t.Errorf("models in the demo dir: exit %d\n%s%s", md.code, md.stdout, md.stderr)
	}

	// Again: every step is found done; no new job, no new calls.
	before := ethosCLI(t, dir, nil, "calls", "--json")
	again := ethosCLI(t, work, nil, "demo", "--dir", "demo", "--json")
	if again.code != 0 {
		t.Fatalf("demo again: exit %d\n%s", again.code, again.stderr)
	}
	for _, want := range []string{"generate: done before", "(existing)", "is complete"} {
		if !strings.Contains(again.stderr, want) {
			t.Errorf("demo again does not say %q:\n%s", want, again.stderr)
		}
	}
	var res2 pipelineResult
	if err := json.Unmarshal([]byte(again.stdout), &res2); err != nil {
		t.Fatal(err)
	}
	if res2.Job.ID != res.Job.ID || res2.EvalID != res.EvalID {
		t.Errorf("demo again made job %s / eval %s, want the first run's %s / %s", res2.Job.ID, res2.EvalID, res.Job.ID, res.EvalID)
	}
	after := ethosCLI(t, dir, nil, "calls", "--json")
	if diff := cmp.Diff(ledgerOf(t, before.stdout), ledgerOf(t, after.stdout)); diff != "" {
		t.Errorf("demo again made model calls (-before +after):\n%s", diff)
	}
}

// ledgerOf is what ethos calls --json says of the ledger, without the
// calls in flight: those are the rate limiter's live state, which the
// second run refreshes without making a call.
func ledgerOf(t *testing.T, callsJSON string) map[string]json.RawMessage {
	t.Helper()
	var out map[string]json.RawMessage
	if err := json.Unmarshal([]byte(callsJSON), &out); err != nil {
		t.Fatalf("ethos calls --json: %v\n%s", err, callsJSON)
	}
	delete(out, "in_flight")
	delete(out, "in_flight_by_provider")
	return out
}

// TestDemoRecipeSFTThenDPO runs the demo with the recipe sft+dpo offline:
// the dataset gets its preference pairs, a DPO job continues from the SFT
// job, the evaluation compares base, SFT and DPO together, and the registry
// records the DPO model's parent and method.
func TestDemoRecipeSFTThenDPO(t *testing.T) {
	t.Parallel()
	work := t.TempDir()
	r := ethosCLI(t, work, nil, "demo", "--dir", "demo", "--examples", "16", "--prompts", "6", "--recipe", "sft+dpo", "--json")
	if r.code != 0 {
		t.Fatalf("demo: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	var res pipelineResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("demo --json: %v\n%s", err, r.stdout)
	}
	if res.Recipe != "sft+dpo" || res.Pairs == "" || countLines(t, res.Pairs) != 16 {
		t.Fatalf("recipe %q, pairs %q", res.Recipe, res.Pairs)
	}
	if len(res.Trained) != 2 || res.Trained[0].Method != "sft" || res.Trained[1].Method != "dpo" {
		t.Fatalf("trained: %+v", res.Trained)
	}
	sft, dpo := res.Trained[0], res.Trained[1]
	if sft.Model.Recipe != "sft+dpo" || dpo.Model.Recipe != "sft+dpo" {
		t.Errorf("registry recipes: sft %q, dpo %q; want sft+dpo for both", sft.Model.Recipe, dpo.Model.Recipe)
	}
	if dpo.Job.FromCheckpoint != sft.Job.ID || dpo.Model.Parent != sft.Model.Name || dpo.Model.Hyperparameters.Method != ethos.FineTuneDPO {
		t.Errorf("DPO job from %q (want %q), parent %q (want %q), method %q", dpo.Job.FromCheckpoint, sft.Job.ID, dpo.Model.Parent, sft.Model.Name, dpo.Model.Hyperparameters.Method)
	}
	pairs := map[string]bool{}
	for _, pr := range res.Results {
		pairs[pr.Model+" vs "+pr.Baseline] = true
	}
	for _, want := range []string{"sft vs base", "dpo vs base", "dpo vs sft"} {
		if !pairs[want] && !pairs[reversePair(want)] {
			t.Errorf("no result for %s: %v", want, pairs)
		}
	}
	report, err := os.ReadFile(res.Reports[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"base", "sft", "dpo"} {
		if !strings.Contains(string(report), name) {
			t.Errorf("the report does not name %s", name)
		}
	}
}

func reversePair(s string) string {
	a, b, _ := strings.Cut(s, " vs ")
	return b + " vs " + a
}

// TestDemoRecipeDPO: the demo's DPO recipe trains DPO from the base model
// and, offline where training is free, an SFT model beside it to compare
// with, so the report has base, SFT and DPO.
func TestDemoRecipeDPO(t *testing.T) {
	t.Parallel()
	work := t.TempDir()
	r := ethosCLI(t, work, nil, "demo", "--dir", "demo", "--examples", "12", "--prompts", "6", "--recipe", "dpo", "--json")
	if r.code != 0 {
		t.Fatalf("demo: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	var res pipelineResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatal(err)
	}
	if res.Recipe != "dpo" || len(res.Trained) != 2 {
		t.Fatalf("recipe %q, trained %+v", res.Recipe, res.Trained)
	}
	sft, dpo := res.Trained[0], res.Trained[1]
	if !sft.Reference || sft.Method != "sft" || dpo.Reference || dpo.Method != "dpo" {
		t.Errorf("trained: sft %+v, dpo %+v", sft, dpo)
	}
	if sft.Model.Recipe != "sft" || dpo.Model.Recipe != "dpo" {
		t.Errorf("registry recipes: reference %q (want sft), dpo %q (want dpo)", sft.Model.Recipe, dpo.Model.Recipe)
	}
	if dpo.Job.FromCheckpoint != "" || dpo.Model.Parent != "" {
		t.Errorf("the DPO model of a DPO-only recipe continued from %q (parent %q); want the base", dpo.Job.FromCheckpoint, dpo.Model.Parent)
	}
	seen := map[string]bool{}
	for _, pr := range res.Results {
		seen[pr.Model+" vs "+pr.Baseline], seen[pr.Baseline+" vs "+pr.Model] = true, true
	}
	for _, want := range []string{"sft vs base", "dpo vs base"} {
		if !seen[want] {
			t.Errorf("no result for %s", want)
		}
	}
}
