package pipeline_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/finetune"
	"github.com/ethos-toolkit/ethos/pipeline"
)

// TestLoadStatus: runs are listed with their kind told apart and without
// their settings, a fine-tune request's record is not a run, failed runs
// and jobs are named, an interrupted run is not a failure.
func TestLoadStatus(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := openStore(t)
	for _, r := range []ethos.Run{
		{ID: "gen-1", Kind: "generate", Status: ethos.RunCompleted, Params: json.RawMessage(`{"examples": 4}`)},
		{ID: "gen-2", Kind: "generate", Status: ethos.RunInterrupted, Params: json.RawMessage(`{"stop_after": "documents"}`)},
		{ID: "eval-1", Kind: ethos.RunKindEval, Status: ethos.RunFailed},
		{ID: "ft-request", Kind: finetune.RunKind, Status: ethos.RunCompleted},
	} {
		if err := db.CreateRun(ctx, &r); err != nil {
			t.Fatal(err)
		}
	}
	finished := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	if err := db.PutJob(ctx, &ethos.FineTuneJob{ID: "ft-1", Provider: "together", BaseModel: "base", Status: "error",
		State: ethos.FineTuneFailed, FinishedAt: &finished}); err != nil {
		t.Fatal(err)
	}
	svc := &finetune.Service{Store: db, Backend: func(string) (ethos.FineTuneBackend, error) {
		t.Error("a finished job was refreshed from its provider")
		return nil, ethos.Errorf(ethos.Internal, "no provider")
	}}
	st, updates, err := pipeline.LoadStatus(ctx, svc)
	if err != nil {
		t.Fatal(err)
	}
	type run struct{ ID, Kind string }
	var runs []run
	for _, r := range st.Runs {
		runs = append(runs, run{r.ID, r.Kind})
		if r.Params != nil {
			t.Errorf("run %s listed with its settings", r.ID)
		}
	}
	if diff := cmp.Diff([]run{{"eval-1", "eval"}, {"gen-2", "generate (held-out prompts)"}, {"gen-1", "generate"}}, runs,
		cmp.Transformer("sort", func(rs []run) map[string]string {
			m := map[string]string{}
			for _, r := range rs {
				m[r.ID] = r.Kind
			}
			return m
		})); diff != "" {
		t.Errorf("runs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"run eval-1", "job ft-1"}, st.Failed); diff != "" {
		t.Errorf("failed (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"run gen-2"}, st.Interrupted); diff != "" {
		t.Errorf("interrupted (-want +got):\n%s", diff)
	}
	if len(st.Jobs) != 1 || len(updates) != 1 || st.Jobs[0].ID != "ft-1" || st.Models == nil || st.Endpoints == nil {
		t.Errorf("jobs %+v, updates %d, models %v, endpoints %v", st.Jobs, len(updates), st.Models, st.Endpoints)
	}
}
