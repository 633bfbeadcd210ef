package finetune_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/dataset"
	"github.com/ethos-toolkit/ethos/finetune"
)

// at is a time of 2026-12-03 in the local zone, which the text shows.
func at(hour, minute int) time.Time { return time.Date(2026, 12, 3, hour, minute, 0, 0, time.Local) }

func loss(v float64) *float64 { return &v }

func TestFormatProgress(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		p    ethos.FineTuneProgress
		want string
	}{
		{ethos.FineTuneProgress{}, ""},
		{ethos.FineTuneProgress{Step: 40, TotalSteps: 120, Epoch: 1, Epochs: 3, Loss: loss(1.23456)}, "step 40/120, epoch 1/3, loss 1.2346"},
		{ethos.FineTuneProgress{Step: 7}, "step 7"},
		{ethos.FineTuneProgress{Epoch: 2}, "epoch 2"},
		{ethos.FineTuneProgress{Loss: loss(0.5)}, "loss 0.5000"},
	} {
		if got := finetune.FormatProgress(tc.p); got != tc.want {
			t.Errorf("FormatProgress(%+v) = %q, want %q", tc.p, got, tc.want)
		}
	}
	j := ethos.FineTuneJob{Status: "running", Progress: ethos.FineTuneProgress{Step: 3, TotalSteps: 10}}
	if got := finetune.StatusLine(j); got != "running, step 3/10" {
		t.Errorf("StatusLine = %q", got)
	}
	if got := finetune.StatusLine(ethos.FineTuneJob{Status: "pending"}); got != "pending" {
		t.Errorf("StatusLine without progress = %q", got)
	}
}

func TestFormatEvent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ev   ethos.FineTuneEvent
		want string
	}{
		{ethos.FineTuneEvent{CreatedAt: at(9, 5), Level: "info", Type: "training", Message: "step 3", Loss: loss(0.25)}, "09:05:00 training: step 3 (loss 0.2500)"},
		{ethos.FineTuneEvent{CreatedAt: at(9, 5), Level: "error", Message: "out of memory"}, "09:05:00 ERROR: out of memory"},
		{ethos.FineTuneEvent{CreatedAt: at(9, 5), Message: "loss 0.3 at step 3", Loss: loss(0.3)}, "09:05:00: loss 0.3 at step 3"},
	} {
		if got := finetune.FormatEvent(tc.ev); got != tc.want {
			t.Errorf("FormatEvent(%+v) = %q, want %q", tc.ev, got, tc.want)
		}
	}
}

// TestWaitLog: each new event, the status line once per change, and each
// failure to reach the provider.
func TestWaitLog(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	log := finetune.WaitLog(&b, "ft-1")
	log(finetune.Update{Job: ethos.FineTuneJob{Status: "pending"}, NewEvents: []ethos.FineTuneEvent{{CreatedAt: at(9, 0), Message: "queued"}}}, nil)
	log(finetune.Update{Job: ethos.FineTuneJob{Status: "pending"}}, nil)
	log(finetune.Update{}, errors.New("connection refused"))
	log(finetune.Update{Job: ethos.FineTuneJob{Status: "running", Progress: ethos.FineTuneProgress{Step: 1, TotalSteps: 4}}}, nil)
	want := "  09:00:00: queued\n" +
		"ft-1: pending\n" +
		"ft-1: provider not reachable, trying again: connection refused\n" +
		"ft-1: running, step 1/4\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("WaitLog (-want +got):\n%s", diff)
	}
}

func TestWriteCreated(t *testing.T) {
	t.Parallel()
	job := ethos.FineTuneJob{ID: "ft-1", Provider: "together", BaseModel: "llama-8b", Status: "pending"}
	file := ethos.File{ID: "file-1", SHA256: "0123456789abcdef"}
	report := &dataset.Report{Examples: 60, Format: "conversation", Problems: []dataset.Problem{{Severity: dataset.SeverityWarning}}}
	follow := "follow it with: ethos finetune wait ft-1 (or ethos monitor)\n"
	for _, tc := range []struct {
		cr   finetune.Created
		want string
	}{
		{finetune.Created{Job: job, How: finetune.HowCreated, Report: report, TrainFile: file, Uploaded: true},
			"checked data/a.jsonl: 60 examples (conversation), 1 warnings\n" +
				"uploaded data/a.jsonl as file-1 (sha256 0123456789ab)\n" +
				"created together job ft-1 on llama-8b: pending\n" + follow},
		{finetune.Created{Job: job, How: finetune.HowAttached, TrainFile: file},
			"reused upload file-1 (same content, sha256 0123456789ab)\n" +
				"attached to together job ft-1, created by an interrupted earlier attempt: pending\n" + follow},
		{finetune.Created{Job: job, How: finetune.HowExisting, TrainFile: file},
			"reused upload file-1 (same content, sha256 0123456789ab)\n" +
				"the same request already has together job ft-1 (pending); nothing new was created\n" + follow},
	} {
		var b strings.Builder
		finetune.WriteCreated(&b, tc.cr, "data/a.jsonl")
		if diff := cmp.Diff(tc.want, b.String()); diff != "" {
			t.Errorf("WriteCreated, %s (-want +got):\n%s", tc.cr.How, diff)
		}
	}
}

func TestWriteJobs(t *testing.T) {
	t.Parallel()
	updates := []finetune.Update{
		{Job: ethos.FineTuneJob{ID: "ft-1", Provider: "together", BaseModel: "llama-8b", Status: "running", State: ethos.FineTuneRunning,
			Progress: ethos.FineTuneProgress{Step: 2, TotalSteps: 10}, CreatedAt: at(9, 0), Payload: []byte(`{"wandb_url":"https://wandb.ai/team/runs/1"}`)}},
		{Job: ethos.FineTuneJob{ID: "ft-22", Provider: "sandbox", BaseModel: "base", Status: "completed", State: ethos.FineTuneCompleted,
			OutputModel: "agora-v1", CreatedAt: at(10, 30)}, Stale: errors.New("timeout")},
		{Job: ethos.FineTuneJob{ID: "ft-3", Provider: "together", BaseModel: "llama-8b", Status: "tuning", State: ethos.FineTuneUnknown, CreatedAt: at(11, 0)}},
	}
	var b strings.Builder
	finetune.WriteJobs(&b, updates)
	want := "ID     PROVIDER  BASE      STATUS             PROGRESS   MODEL             CREATED\n" +
		"ft-1   together  llama-8b  running            step 2/10  -                 2026-12-03 09:00\n" +
		"ft-22  sandbox   base      completed (stale)  -          sandbox/agora-v1  2026-12-03 10:30\n" +
		"ft-3   together  llama-8b  tuning (unknown)   -          -                 2026-12-03 11:00\n" +
		"ft-1: W&B run https://wandb.ai/team/runs/1\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("WriteJobs (-want +got):\n%s", diff)
	}
	b.Reset()
	finetune.WriteStale(&b, updates)
	if got := b.String(); got != "ft-22: shown as last recorded: timeout\n" {
		t.Errorf("WriteStale = %q", got)
	}
}

func TestWriteStatus(t *testing.T) {
	t.Parallel()
	finished := at(10, 0)
	job := ethos.FineTuneJob{ID: "ft-1", Provider: "together", BaseModel: "llama-8b", Status: "completed", State: ethos.FineTuneCompleted,
		OutputModel: "agora-v1", DatasetPath: "/p/data/agora.jsonl", DatasetSHA256: "0123456789abcdef", TrainFile: "file-1",
		Hyperparameters: ethos.Hyperparameters{Epochs: 3, LoRA: true, LoRARank: 8}, RunID: "gen-1", CostUSD: 1.5,
		CreatedAt: at(9, 0), FinishedAt: &finished}
	var events []ethos.FineTuneEvent
	for i := range 6 {
		events = append(events, ethos.FineTuneEvent{CreatedAt: at(9, i), Message: "e" + string(rune('1'+i))})
	}
	var b strings.Builder
	finetune.WriteStatus(&b, finetune.Update{Job: job}, events)
	want := "job              ft-1\n" +
		"provider         together\n" +
		"base model       llama-8b\n" +
		"status           completed\n" +
		"state            completed\n" +
		"model            together/agora-v1\n" +
		"dataset          /p/data/agora.jsonl (sha256 0123456789ab)\n" +
		"files            file-1 (train)\n" +
		"hyperparameters  epochs 3, LoRA r=8\n" +
		"generation run   gen-1\n" +
		"cost             $1.50\n" +
		"created          2026-12-03 09:00:00\n" +
		"finished         2026-12-03 10:00:00\n" +
		"\n" +
		"last 5 of 6 events (ethos finetune events ft-1):\n" +
		"  09:01:00: e2\n" +
		"  09:02:00: e3\n" +
		"  09:03:00: e4\n" +
		"  09:04:00: e5\n" +
		"  09:05:00: e6\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("WriteStatus (-want +got):\n%s", diff)
	}
}

func TestWriteEvents(t *testing.T) {
	t.Parallel()
	events := []ethos.FineTuneEvent{
		{Seq: 1, CreatedAt: at(9, 0), Level: "info", Type: "job_started", Message: "started"},
		{Seq: 2, CreatedAt: at(9, 5), Step: 10, Epoch: 1, Loss: loss(0.5), Message: "step 10"},
	}
	var b strings.Builder
	if err := finetune.WriteEvents(&b, events); err != nil {
		t.Fatal(err)
	}
	want := "#  TIME                 LEVEL  TYPE         STEP  EPOCH  LOSS    MESSAGE\n" +
		"1  2026-12-03 09:00:00  info   job_started  -     -      -       started\n" +
		"2  2026-12-03 09:05:00  -      -            10    1      0.5000  step 10\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("WriteEvents (-want +got):\n%s", diff)
	}
}

func TestWriteModels(t *testing.T) {
	t.Parallel()
	models := []ethos.Model{
		{Name: "together/agora-v1", BaseModel: "llama-8b", JobID: "ft-1", DatasetPath: "data/agora.jsonl", DatasetSHA256: "0123456789abcdef",
			Hyperparameters: ethos.Hyperparameters{Epochs: 3, LoRA: true, LoRARank: 8}, CreatedAt: at(10, 0), CostUSD: 1.5,
			Serving: "dedicated", CallAs: "acct/agora-v1-ep", Evals: []string{"eval-1", "eval-2"}},
		{Name: "m2", CreatedAt: at(10, 0)},
	}
	var b strings.Builder
	finetune.WriteModels(&b, models)
	want := "MODEL              BASE      JOB   DATASET           SHA256        HYPERPARAMETERS     TRAINED           COST   SERVED                         EVALS\n" +
		"together/agora-v1  llama-8b  ft-1  data/agora.jsonl  0123456789ab  epochs 3, LoRA r=8  2026-12-03 10:00  $1.50  dedicated as acct/agora-v1-ep  eval-1,eval-2\n" +
		"m2                                                                 full                2026-12-03 10:00  -      -                              -\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("WriteModels (-want +got):\n%s", diff)
	}
}

func TestWriteEndpoints(t *testing.T) {
	t.Parallel()
	eps := []ethos.Endpoint{{ID: "endpoint-1", State: "STARTED", ModelName: "together/agora-v1", CallAs: "acct/agora-v1-ep",
		Hardware: "1x_h100", CentsPerMinute: 5, CreatedAt: at(10, 0)}}
	unknown := []finetune.PendingDeploy{{ModelName: "together/agora-v2", Hardware: "2x_h100", CentsPerMinute: 10, Since: at(11, 0)}}
	var b strings.Builder
	finetune.WriteEndpoints(&b, eps, unknown, at(11, 30))
	want := "ENDPOINT    STATE                         MODEL              CALL AS           HARDWARE  PER HOUR  SINCE             COST SO FAR\n" +
		"endpoint-1  STARTED                       together/agora-v1  acct/agora-v1-ep  1x_h100   $3.00     2026-12-03 10:00  $4.50\n" +
		"?           unknown — rerun to re-attach  together/agora-v2  -                 2x_h100   $6.00     2026-12-03 11:00  ?\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("WriteEndpoints (-want +got):\n%s", diff)
	}
}

func TestWriteDeployed(t *testing.T) {
	t.Parallel()
	m := ethos.Model{Name: "together/agora-v1"}
	for _, tc := range []struct {
		ep   ethos.Endpoint
		want string
	}{
		{ethos.Endpoint{ID: "endpoint-1", Name: "agora-ep", Hardware: "1x_h100", CentsPerMinute: 5, CallAs: "acct/agora-v1-ep"},
			"endpoint endpoint-1 (agora-ep) serves together/agora-v1 on 1x_h100 at $3.00/hour\n" +
				"call it as acct/agora-v1-ep; stop it with: ethos finetune undeploy endpoint-1\n"},
		{ethos.Endpoint{ID: "endpoint-2", Attached: true, CallAs: "acct/agora-v1"},
			"together/agora-v1 attached to endpoint endpoint-2: call it as acct/agora-v1\n"},
	} {
		var b strings.Builder
		finetune.WriteDeployed(&b, tc.ep, m)
		if diff := cmp.Diff(tc.want, b.String()); diff != "" {
			t.Errorf("WriteDeployed (-want +got):\n%s", diff)
		}
	}
}
