package pipeline_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/config"
	"github.com/ethos-toolkit/ethos/eval"
	"github.com/ethos-toolkit/ethos/eval/report"
	"github.com/ethos-toolkit/ethos/finetune"
	"github.com/ethos-toolkit/ethos/generate"
	"github.com/ethos-toolkit/ethos/pipeline"
)

// at is a time of 2026-12-03 in the local zone, which the text shows.
func at(hour, minute int) time.Time { return time.Date(2026, 12, 3, hour, minute, 0, 0, time.Local) }

func TestWriteStatus(t *testing.T) {
	t.Parallel()
	st := pipeline.Status{
		Runs: []ethos.Run{{ID: "gen-1", Kind: "generate", Status: ethos.RunFailed, UpdatedAt: at(9, 0), Error: "shortfall"},
			{ID: "eval-1", Kind: "eval", Status: ethos.RunInterrupted, UpdatedAt: at(10, 0)}},
		Models: []ethos.Model{{Name: "m2", CreatedAt: at(10, 0)}},
		Endpoints: []ethos.Endpoint{{ID: "endpoint-1", State: "STARTED", ModelName: "together/agora-v1", CallAs: "acct/agora-v1-ep",
			Hardware: "1x_h100", CentsPerMinute: 5, CreatedAt: at(10, 0)}},
		UnknownEndpoints: []finetune.PendingDeploy{{Provider: "together", ModelName: "together/agora-v2", JobID: "ft-9", Hardware: "2x_h100",
			CentsPerMinute: 10, Since: at(11, 0)}},
		Failed: []string{"run gen-1"}, Interrupted: []string{"run eval-1"},
	}
	updates := []finetune.Update{{Job: ethos.FineTuneJob{ID: "ft-1", Provider: "together", BaseModel: "llama-8b", Status: "running",
		State: ethos.FineTuneRunning, CreatedAt: at(9, 30)}}}
	var b strings.Builder
	pipeline.WriteStatus(&b, st, updates, at(11, 30))
	want := "RUNS (2)\n" +
		"ID      KIND      STATUS       UPDATED           ERROR\n" +
		"gen-1   generate  failed       2026-12-03 09:00  shortfall\n" +
		"eval-1  eval      interrupted  2026-12-03 10:00  -\n" +
		"\n" +
		"FINE-TUNE JOBS (1)\n" +
		"ID    PROVIDER  BASE      STATUS   PROGRESS  MODEL  CREATED\n" +
		"ft-1  together  llama-8b  running  -         -      2026-12-03 09:30\n" +
		"\n" +
		"MODELS (1)\n" +
		"MODEL  BASE  JOB  DATASET  SHA256  HYPERPARAMETERS  TRAINED           COST  SERVED  EVALS\n" +
		"m2                                 full             2026-12-03 10:00  -     -       -\n" +
		"\n" +
		"ENDPOINTS UP (1, and 1 unknown)\n" +
		"ENDPOINT    STATE                         MODEL              CALL AS           HARDWARE  PER HOUR  SINCE             COST SO FAR\n" +
		"endpoint-1  STARTED                       together/agora-v1  acct/agora-v1-ep  1x_h100   $3.00     2026-12-03 10:00  $4.50\n" +
		"?           unknown — rerun to re-attach  together/agora-v2  -                 2x_h100   $6.00     2026-12-03 11:00  ?\n" +
		"each bills while up: \"ethos finetune undeploy ID\" stops one\n" +
		"unknown: a deploy of together/agora-v2 was interrupted after asking together for an endpoint and before recording it;\n" +
		"  rerun the command to find that endpoint and re-attach to it, or stop it with: ethos finetune undeploy ft-9\n" +
		"\n" +
		"1 failed: run gen-1\n" +
		"1 interrupted (not failed): run eval-1; run the command that started it again to continue\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("WriteStatus (-want +got):\n%s", diff)
	}
	b.Reset()
	pipeline.WriteStatus(&b, pipeline.Status{}, nil, at(11, 30))
	if diff := cmp.Diff("RUNS (0)\n\nFINE-TUNE JOBS (0)\n\nMODELS (0)\n\nENDPOINTS UP (0)\n\nnothing failed\n", b.String()); diff != "" {
		t.Errorf("WriteStatus of an empty project (-want +got):\n%s", diff)
	}
}

func TestWritePlan(t *testing.T) {
	t.Parallel()
	s := generate.Settings{Examples: 40, Output: "data/agora.jsonl", Character: ethos.Character{Name: "Agora"},
		Generate: config.Generate{Review: config.Review{MaxAttempts: 3}}}
	plan := []pipeline.StagePlan{
		{Stage: "ideas", Model: "anthropic/claude", Mode: "online", Calls: 8, InTokens: 4000, OutTokens: 2000, MaxOut: 8000,
			CostUSD: 0.042, WorstUSD: 0.132, OnlineUSD: 0.042, BatchUSD: 0.021, PriceKnown: true},
		{Stage: "documents", Model: "sandbox/writer", Mode: "batch", Calls: 40, InTokens: 20000, OutTokens: 60000, MaxOut: 160000},
	}
	var b strings.Builder
	pipeline.WritePlan(&b, s, plan, map[string]int{"a": 20, "b": 20})
	want := "plan for run " + s.RunID() + ": 40 examples of Agora over 2 categories → data/agora.jsonl\n" +
		"(first attempts only: rejected items are written again, up to 3 times)\n\n" +
		"STAGE      MODEL             MODE    CALLS  IN TOKENS  OUT TOKENS (expected / max)  COST (expected / worst)  ONLINE / BATCH (expected)\n" +
		"ideas      anthropic/claude  online  8      4000       2000 / 8000                  $0.0420 / $0.1320        $0.0420 / $0.0210\n" +
		"documents  sandbox/writer    batch   40     20000      60000 / 160000               no price                 no price\n" +
		"\n" +
		"total: $0.0420 expected, $0.1320 worst case; nothing was spent (--dry-run)\n" +
		"every stage online: $0.0420 expected; every stage by batch: $0.0210 (--batch; answers within the providers' batch window, up to 24 h)\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("WritePlan (-want +got):\n%s", diff)
	}
}

func TestWriteRunResult(t *testing.T) {
	t.Parallel()
	trained := func(name, method, id string) pipeline.TrainedModel {
		return pipeline.TrainedModel{Name: name, Method: method, Job: ethos.FineTuneJob{ID: id}, Model: ethos.Model{Name: "sandbox/" + id, BaseModel: "base"}}
	}
	dpo := trained("dpo", "dpo", "ft-2")
	dpo.Reference = true
	score := 0.7
	res := &pipeline.RunResult{Dir: "/p", Dataset: "/p/data/a.jsonl", Train: "/p/data/a.train.jsonl", Validation: "/p/data/a.validation.jsonl",
		Pairs: "/p/data/a.pairs.jsonl",
		Introspection: &pipeline.IntrospectionResult{Dataset: "/p/data/a.introspection.jsonl", Model: "sandbox/ft-2", PromptSet: "v1",
			Reflections: 10, Dialogues: 5, Turns: 4, Accepted: 14, Rejected: 1},
		Trained:  []pipeline.TrainedModel{trained("sft", "sft", "ft-1"), dpo, trained(pipeline.StageIntrospection, "sft", "ft-3")},
		Registry: "/p/MODELS.md", Reports: []string{"/p/reports/eval-1.md", "/elsewhere/eval-1.html"},
		Recipe: "dpo+introspection", Counts: eval.Counts{Prompts: 30}, Sandbox: true,
		Results: []report.PairResult{
			{Trait: "overall", Model: "sft", Baseline: "base", Score: &score, Bootstrap: &report.Interval{Low: 0.6, High: 0.8}, Wins: 7, Losses: 3, PHolm: 0.01, Verdict: "better"},
			{Trait: "overall", Model: "dpo", Baseline: "sft", PHolm: 1, Verdict: "insufficient data"},
			{Trait: "curious", Model: "sft", Baseline: "base", PHolm: 1, Verdict: "insufficient data"},
		}}
	var b strings.Builder
	pipeline.WriteRunResult(&b, res)
	want := "\n" +
		"dataset   data/a.jsonl (train data/a.train.jsonl, validation data/a.validation.jsonl)\n" +
		"pairs     data/a.pairs.jsonl\n" +
		"introspection data/a.introspection.jsonl (10 self-reflections, 5 dialogues of 4 turns, by sandbox/ft-2; 14 texts accepted, 1 rejected; prompts v1)\n" +
		"model     sandbox/ft-1 (SFT, job ft-1, base base)\n" +
		"model     sandbox/ft-2 (DPO, a reference to compare with, job ft-2, base base)\n" +
		"model     sandbox/ft-3 (SFT on the introspection data, job ft-3, base base)\n" +
		"registry  MODELS.md\n" +
		"report    reports/eval-1.md\n" +
		"          /elsewhere/eval-1.html\n" +
		"\n" +
		"recipe dpo+introspection; per trait (score = share of judgments won, ties ½; 95% bootstrap CI over 30 prompts):\n" +
		"sft vs base\n" +
		"  overall                0.700 [0.600, 0.800]   W/L/T 7/3/0  p(Holm) 0.01  better\n" +
		"  curious                n/a                  W/L/T 0/0/0  p(Holm) 1  insufficient data\n" +
		"dpo vs sft\n" +
		"  overall                n/a                  W/L/T 0/0/0  p(Holm) 1  insufficient data\n" +
		"\n" +
		"(sandbox models and judge: this shows the pipeline working, not how real models compare)\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("WriteRunResult (-want +got):\n%s", diff)
	}
}
