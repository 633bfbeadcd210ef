package pipeline_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/finetune"
	"github.com/ethos-toolkit/ethos/jobs"
	"github.com/ethos-toolkit/ethos/pipeline"
)

// TestPollOnce: one round over a store with one active job whose provider
// cannot be reached is a Transient error that names it, after the round
// is reported; with no active job the round is clean.
func TestPollOnce(t *testing.T) {
	t.Parallel()
	db := openStore(t)
	svc := &finetune.Service{Store: db, Backend: func(provider string) (ethos.FineTuneBackend, error) {
		return nil, ethos.Errorf(ethos.Config, "provider %s needs an API key: set TOGETHER_API_KEY", provider)
	}}
	var rounds []finetune.Round
	obs := pipeline.MonitorObserver{Polled: func(r finetune.Round) { rounds = append(rounds, r) }}
	if err := pipeline.PollOnce(t.Context(), jobs.SQLite(db.SQL()), &finetune.Monitor{Service: svc}, obs); err != nil {
		t.Fatalf("a round without active jobs: %v", err)
	}
	if err := db.PutJob(t.Context(), &ethos.FineTuneJob{ID: "ft-1", Provider: "together", BaseModel: "base",
		Status: "running", State: ethos.FineTuneRunning}); err != nil {
		t.Fatal(err)
	}
	err := pipeline.PollOnce(t.Context(), jobs.SQLite(db.SQL()), &finetune.Monitor{Service: svc}, obs)
	if ethos.KindOf(err) != ethos.Transient || !strings.Contains(err.Error(), "TOGETHER_API_KEY") {
		t.Errorf("a round with a job that cannot be polled: %v, want a Transient error naming the cause", err)
	}
	if len(rounds) != 2 || rounds[0].Polled != 0 || rounds[1].Polled != 1 || len(rounds[1].Errors) != 1 {
		t.Errorf("rounds reported: %+v", rounds)
	}
	// The job is not marked failed for it.
	if j, err := db.Job(context.WithoutCancel(t.Context()), "ft-1"); err != nil || j.State != ethos.FineTuneRunning {
		t.Errorf("the job after the round: %+v, %v", j, err)
	}
}

// TestCompleteOnce: the call's answer comes back through the job queue;
// an error that no retry can fix is returned after one try, with its kind.
func TestCompleteOnce(t *testing.T) {
	t.Parallel()
	db := openStore(t)
	calls := 0
	completer := ethos.CompleterFunc(func(_ context.Context, req ethos.Request) (ethos.Response, error) {
		calls++
		if req.Model == "sandbox/no-key" {
			return ethos.Response{}, ethos.Errorf(ethos.Config, "provider sandbox needs an API key")
		}
		return ethos.Response{Text: "hello from " + req.Model, StopReason: ethos.StopEnd}, nil
	})
	req := ethos.Request{Model: "sandbox/writer", MaxTokens: 16, Messages: []ethos.Message{{Role: ethos.RoleUser, Content: "Hi"}},
		Metadata: map[string]string{"stage": "complete"}}
	resp, err := pipeline.CompleteOnce(t.Context(), jobs.SQLite(db.SQL()), completer, req)
	if err != nil || resp.Text != "hello from sandbox/writer" || calls != 1 {
		t.Fatalf("CompleteOnce: %+v, %v after %d calls", resp, err, calls)
	}
	req.Model = "sandbox/no-key"
	if _, err := pipeline.CompleteOnce(t.Context(), jobs.SQLite(db.SQL()), completer, req); ethos.KindOf(err) != ethos.Config || calls != 2 {
		t.Errorf("a call no retry can fix: %v (kind %v) after %d calls; want the Config error after one", err, ethos.KindOf(err), calls-1)
	}
}
