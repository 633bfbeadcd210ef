package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/generate"
	"github.com/ethos-toolkit/ethos/sandbox"
)

// TestDemoRecipeDPOIntrospection runs the demo with the recipe
// dpo+introspection offline: the DPO model writes its self-reflections
// and self-interaction dialogues, reviewed and counted in the metadata; a
// third job trains on them by SFT continued from the DPO checkpoint, its
// model registered with the DPO model as parent; and the evaluation
// compares base, SFT (the demo's reference), DPO and DPO+introspection.
func TestDemoRecipeDPOIntrospection(t *testing.T) {
	t.Parallel()
	work := t.TempDir()
	r := ethosCLI(t, work, nil, "demo", "--dir", "demo", "--examples", "12", "--prompts", "6", "--recipe", "dpo+introspection", "--json")
	if r.code != 0 {
		t.Fatalf("demo: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	var res pipelineResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("demo --json: %v\n%s", err, r.stdout)
	}
	if res.Recipe != "dpo+introspection" || len(res.Trained) != 3 {
		t.Fatalf("recipe %q, trained %+v", res.Recipe, res.Trained)
	}
	sft, dpo, intro := res.Trained[0], res.Trained[1], res.Trained[2]
	if !sft.Reference || dpo.Method != ethos.FineTuneDPO || intro.Name != "introspection" || intro.Method != ethos.FineTuneSFT {
		t.Fatalf("trained: %+v", res.Trained)
	}
	if dpo.Job.FromCheckpoint != "" {
		t.Errorf("the DPO job continued from %q; want the base", dpo.Job.FromCheckpoint)
	}
	if intro.Model.Recipe != "dpo+introspection" || dpo.Model.Recipe != "dpo+introspection" || intro.Job.Recipe != "dpo+introspection" {
		t.Errorf("registry recipes: dpo %q, introspection %q (job %q); want dpo+introspection", dpo.Model.Recipe, intro.Model.Recipe, intro.Job.Recipe)
	}
	if intro.Job.FromCheckpoint != dpo.Job.ID || intro.Model.Parent != dpo.Model.Name || intro.Model.Hyperparameters.Method == ethos.FineTuneDPO {
		t.Errorf("introspection job from %q (want %q), parent %q (want %q), method %q",
			intro.Job.FromCheckpoint, dpo.Job.ID, intro.Model.Parent, dpo.Model.Name, intro.Model.Hyperparameters.Method)
	}

	in := res.Introspection
	if in == nil || in.Model != dpo.Model.Name || in.PromptSet != generate.IntrospectionPromptSet || in.Reflections != 20 || in.Dialogues != 8 || in.Turns != 4 {
		t.Fatalf("introspection: %+v (the DPO model is %s)", in, dpo.Model.Name)
	}
	if intro.Job.RunID != in.Run || !strings.HasPrefix(intro.Model.DatasetPath, "data/agora.introspection") {
		t.Errorf("the introspection job's run %q (want %q), dataset %q", intro.Job.RunID, in.Run, intro.Model.DatasetPath)
	}
	var meta generate.IntrospectionMetadata
	data, err := os.ReadFile(in.Metadata)
	if err != nil || json.Unmarshal(data, &meta) != nil {
		t.Fatalf("metadata: %v\n%s", err, data)
	}
	if meta.Records != 28 || meta.DialogueTurns != 32 || meta.Accepted < 52 || meta.Accepted-52 > meta.Rejected || meta.RejectedByReason == nil {
		t.Errorf("metadata counts: records %d, dialogue turns %d, accepted %d, rejected %d %v",
			meta.Records, meta.DialogueTurns, meta.Accepted, meta.Rejected, meta.RejectedByReason)
	}
	if countLines(t, in.Dataset) != 28 {
		t.Errorf("%s has %d lines, want 28", in.Dataset, countLines(t, in.Dataset))
	}
	if c := ethosCLI(t, filepath.Join(work, "demo"), nil, "dataset", "check", "--method", "sft", in.Dataset); c.code != 0 {
		t.Errorf("dataset check --method sft of the introspection file: exit %d\n%s%s", c.code, c.stdout, c.stderr)
	}

	seen := map[string]bool{}
	for _, pr := range res.Results {
		seen[pr.Model+" vs "+pr.Baseline], seen[pr.Baseline+" vs "+pr.Model] = true, true
	}
	for _, want := range []string{"dpo vs base", "introspection vs base", "introspection vs dpo"} {
		if !seen[want] {
			t.Errorf("no result for %s: %v", want, seen)
		}
	}
	report, err := os.ReadFile(res.Reports[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(report), "Bradley–Terry") || !strings.Contains(string(report), "| introspection |") {
		t.Error("the report has no Bradley–Terry rating of the introspection model")
	}
}

// TestRunIntrospectionSurvivesKill kills ethos run (recipe
// dpo+introspection) with SIGKILL while the DPO model is writing its
// introspection, and runs it again: the introspection file is complete,
// the third job trains, and the sandbox answered no request it had
// answered before beyond those in flight at the kill.
func TestRunIntrospectionSurvivesKill(t *testing.T) {
	t.Parallel()
	const workers = 4
	sb := startSandbox(t, sandbox.Options{Seed: 29, Faults: sandbox.Faults{LatencyMean: 40 * time.Millisecond}})
	dir := t.TempDir()
	sandboxProject(t, dir, map[string]string{
		"  examples: 50": "  examples: 12",
		"  prompts: 50":  "  prompts: 5",
		"finetune:\n":    "finetune:\n  recipe: dpo+introspection\n  introspection: {reflections: 10, dialogues: 4, turns: 4}\n",
	})
	child := func() *exec.Cmd {
		return ethosChild(dir, sb.URL, "run", "--workers", fmt.Sprint(workers), "--json")
	}
	db := filepath.Join(dir, ".ethos", "ethos.db")
	killWhen(t, child(), 120*time.Second, "the first process never got part-way through the introspection",
		func() bool { return acceptedItems(db, generate.StageTurn) >= 6 })
	if n := acceptedItems(db, generate.StageTurn); n >= 16 {
		t.Fatalf("the introspection was over (%d turns) before the kill", n)
	}

	out, err := child().Output()
	if err != nil {
		t.Fatalf("second run: %v\n%s", err, out)
	}
	var res pipelineResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("run --json: %v\n%s", err, out)
	}
	if res.Introspection == nil || countLines(t, res.Introspection.Dataset) != 14 || len(res.Trained) != 2 {
		t.Fatalf("introspection %+v, trained %+v", res.Introspection, res.Trained)
	}
	if res.Trained[1].Job.FromCheckpoint != res.Trained[0].Job.ID {
		t.Errorf("the introspection job continued from %q, want the DPO job %s", res.Trained[1].Job.FromCheckpoint, res.Trained[0].Job.ID)
	}
	if after := sb.Server.Stats(); after.Repeats > int64(workers) {
		t.Errorf("the sandbox answered %d requests it had answered before (in flight at the kill: at most %d)", after.Repeats, workers)
	}
}

// acceptedItems counts the accepted items of stage in the store at path,
// as another process writes it; 0 before the store exists.
func acceptedItems(path, stage string) int {
	if _, err := os.Stat(path); err != nil {
		return 0
	}
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(2000)&_pragma=query_only(1)")
	if err != nil {
		return 0
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM items WHERE stage = ? AND status = ?`, stage, string(ethos.ItemAccepted)).Scan(&n); err != nil {
		return 0
	}
	return n
}

// TestRunIntrospectionOnDedicatedEndpoints: when the provider serves
// trained models only on dedicated endpoints, the DPO model is deployed
// once, for its introspection, kept up for the evaluation, and every
// endpoint is stopped when the run ends.
func TestRunIntrospectionOnDedicatedEndpoints(t *testing.T) {
	t.Parallel()
	dir := servingDedicatedProject(t)
	path := filepath.Join(dir, "ethos.yaml")
	cfg, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	withRecipe := strings.Replace(string(cfg), "\nfinetune:\n", "\nfinetune:\n  recipe: dpo+introspection\n  introspection: {reflections: 10, dialogues: 2, turns: 2}\n", 1)
	if withRecipe == string(cfg) {
		t.Fatal("the demo config has no finetune section to add the recipe to")
	}
	if err := os.WriteFile(path, []byte(withRecipe), 0o644); err != nil {
		t.Fatal(err)
	}
	res, r := runDedicated(t, dir)
	if len(res.Trained) != 2 || res.Introspection == nil || res.Introspection.Model != res.Trained[0].Model.Name {
		t.Fatalf("trained %+v, introspection %+v", res.Trained, res.Introspection)
	}
	if n := strings.Count(r.stderr, "is not served serverless: deploying a dedicated endpoint"); n != 2 {
		t.Errorf("%d deployments, want 2 (the DPO model once, the introspection model once):\n%s", n, r.stderr)
	}
	if n := strings.Count(r.stderr, "stopped; it cost about $"); n != 2 {
		t.Errorf("%d endpoints stopped, want 2:\n%s", n, r.stderr)
	}
	if up := endpointsUp(t, dir); len(up) != 0 {
		t.Errorf("after run, endpoints still up: %+v", up)
	}
}
