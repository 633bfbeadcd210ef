package storetest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/google/go-cmp/cmp"
)

// fineTuneTests are the subtests of the FineTuneStore contract.
var fineTuneTests = []struct {
	name string
	fn   func(t *testing.T, s ethos.Store)
}{
	{"FilesByHash", testFilesByHash},
	{"PutJobAndReadBack", testPutJobReadBack},
	{"PutJobReplacesKeepingCreatedAt", testPutJobReplace},
	{"JobsFilterOrderLimit", testJobsFilter},
	{"UnknownJobNotFound", testUnknownJob},
	{"AddEventsSkipsRepeats", testAddEvents},
	{"AddEventsUnknownJob", testAddEventsUnknownJob},
	{"ModelsRegistry", testModelsRegistry},
	{"ModelEvalsFromEvalRuns", testModelEvals},
	{"EndpointsPutAndReadBack", testEndpointsReadBack},
	{"EndpointsFilterUp", testEndpointsFilter},
	{"UnknownEndpointNotFound", testUnknownEndpoint},
}

func float(f float64) *float64 { return &f }

func putJob(t *testing.T, s ethos.Store, j *ethos.FineTuneJob) {
	t.Helper()
	if err := s.PutJob(t.Context(), j); err != nil {
		t.Fatalf("PutJob(%s): %v", j.ID, err)
	}
}

func getJob(t *testing.T, s ethos.Store, id string) ethos.FineTuneJob {
	t.Helper()
	j, err := s.Job(t.Context(), id)
	if err != nil {
		t.Fatalf("Job(%s): %v", id, err)
	}
	return j
}

func newJob(id, provider string, state ethos.FineTuneState, created time.Time) *ethos.FineTuneJob {
	return &ethos.FineTuneJob{ID: id, Provider: provider, BaseModel: "base", Status: string(state), State: state,
		TrainFile: "file-" + id, DatasetPath: "data/" + id + ".jsonl", DatasetSHA256: "sha-" + id, CreatedAt: created}
}

func testFilesByHash(t *testing.T, s ethos.Store) {
	ctx := t.Context()
	f := &ethos.File{ID: "file-abc", Provider: "together", Purpose: "fine-tune", Name: "agora.jsonl",
		SHA256: "e3b0c442", Bytes: 1234, Lines: 50}
	if err := s.PutFile(ctx, f); err != nil {
		t.Fatalf("PutFile: %v", err)
	}
	if f.CreatedAt.IsZero() {
		t.Error("PutFile left CreatedAt zero")
	}
	got, err := s.FileByHash(ctx, "together", "fine-tune", "e3b0c442")
	if err != nil {
		t.Fatalf("FileByHash: %v", err)
	}
	if diff := cmp.Diff(*f, got); diff != "" {
		t.Errorf("FileByHash (-put +got):\n%s", diff)
	}
	// The same content for another provider or purpose is another upload.
	other := *f
	other.ID, other.Provider = "file-openai-1", "openai"
	if err := s.PutFile(ctx, &other); err != nil {
		t.Errorf("PutFile for another provider: %v", err)
	}
	// The same content sent again (the provider lost the first upload)
	// replaces the record.
	again := *f
	again.ID = "file-def"
	if err := s.PutFile(ctx, &again); err != nil {
		t.Fatalf("PutFile of the same hash again: %v", err)
	}
	if got, err := s.FileByHash(ctx, "together", "fine-tune", "e3b0c442"); err != nil || got.ID != "file-def" {
		t.Errorf("FileByHash after a second upload = %q, %v; want the new upload file-def", got.ID, err)
	}
	_, err = s.FileByHash(ctx, "together", "fine-tune", "ffff")
	wantKind(t, "FileByHash of an unknown hash", err, ethos.NotFound)
	_, err = s.FileByHash(ctx, "sandbox", "fine-tune", "e3b0c442")
	wantKind(t, "FileByHash for another provider", err, ethos.NotFound)
	wantKind(t, "PutFile without ID", s.PutFile(ctx, &ethos.File{Provider: "together", SHA256: "x"}), ethos.Invalid)
}

func testPutJobReadBack(t *testing.T, s ethos.Store) {
	created := base
	finished := base.Add(90 * time.Minute)
	j := &ethos.FineTuneJob{
		ID: "ft-1f2e", Provider: "together", BaseModel: "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference",
		Status: "completed", State: ethos.FineTuneCompleted,
		TrainFile: "file-train", ValidationFile: "file-val",
		DatasetPath: "/data/agora.jsonl", DatasetSHA256: "c0ffee", RunID: "gen-1", FromCheckpoint: "ft-0a1b:40", Recipe: "sft+dpo",
		Hyperparameters: ethos.Hyperparameters{Epochs: 3, LearningRate: 1e-5, BatchSize: 8, LoRA: true,
			LoRARank: 8, LoRAAlpha: 16, LoRADropout: 0.05, Suffix: "agora", WandbProject: "ethos",
			Method: ethos.FineTuneDPO, DPOBeta: 0.2},
		Progress:    ethos.FineTuneProgress{Epoch: 3, Epochs: 3, Step: 120, TotalSteps: 120, Loss: float(0.4321)},
		OutputModel: "acme/Meta-Llama-3.1-8B-Instruct-Reference-agora-1f2e",
		CostUSD:     4.25,
		Payload:     json.RawMessage(`{"id": "ft-1f2e", "status": "completed", "model_output_name": "acme/x"}`),
		CreatedAt:   created,
		FinishedAt:  &finished,
	}
	putJob(t, s, j)
	if j.UpdatedAt.IsZero() {
		t.Error("PutJob left UpdatedAt zero")
	}
	got := getJob(t, s, j.ID)
	if diff := cmp.Diff(*j, got, cmpJSON); diff != "" {
		t.Errorf("Job (-put +got):\n%s", diff)
	}

	// A minimal job: no progress, no payload, no finish; an empty state
	// is unknown.
	min := &ethos.FineTuneJob{ID: "ftjob-2", Provider: "openai", Status: "validating_files"}
	putJob(t, s, min)
	got = getJob(t, s, min.ID)
	if got.State != ethos.FineTuneUnknown || got.Payload != nil || got.FinishedAt != nil || got.Progress.Loss != nil || got.CreatedAt.IsZero() {
		t.Errorf("minimal job read back as %+v", got)
	}
	// A later write that names no recipe keeps the one recorded.
	again := *j
	again.Recipe = ""
	putJob(t, s, &again)
	if got := getJob(t, s, j.ID); got.Recipe != j.Recipe {
		t.Errorf("recipe %q after a write without one, want %q kept", got.Recipe, j.Recipe)
	}
	wantKind(t, "PutJob without an ID", s.PutJob(t.Context(), &ethos.FineTuneJob{Provider: "x"}), ethos.Invalid)
	bad := newJob("ft-bad", "together", ethos.FineTunePending, base)
	bad.Payload = json.RawMessage(`{not json`)
	wantKind(t, "PutJob with invalid payload", s.PutJob(t.Context(), bad), ethos.Invalid)
}

func testPutJobReplace(t *testing.T, s ethos.Store) {
	j := newJob("ft-r", "sandbox", ethos.FineTunePending, base)
	putJob(t, s, j)
	first := j.UpdatedAt

	// The provider's newer view, without a creation time: the recorded one
	// stays.
	next := *j
	next.CreatedAt = time.Time{}
	next.Status, next.State = "running", ethos.FineTuneRunning
	next.Progress = ethos.FineTuneProgress{Step: 10, TotalSteps: 100, Loss: float(1.5)}
	putJob(t, s, &next)
	if !next.CreatedAt.Equal(base) {
		t.Errorf("PutJob without CreatedAt set it to %v, want the recorded %v", next.CreatedAt, base)
	}
	if next.UpdatedAt.Before(first) {
		t.Errorf("UpdatedAt went back from %v to %v", first, next.UpdatedAt)
	}
	got := getJob(t, s, j.ID)
	if diff := cmp.Diff(next, got, cmpJSON); diff != "" {
		t.Errorf("replaced job (-put +got):\n%s", diff)
	}
	if n := len(listJobs(t, s, ethos.FineTuneFilter{})); n != 1 {
		t.Errorf("%d jobs after replacing one, want 1", n)
	}
}

func listJobs(t *testing.T, s ethos.Store, f ethos.FineTuneFilter) []ethos.FineTuneJob {
	t.Helper()
	jobs, err := s.Jobs(t.Context(), f)
	if err != nil {
		t.Fatalf("Jobs(%+v): %v", f, err)
	}
	return jobs
}

func jobIDs(jobs []ethos.FineTuneJob) []string {
	ids := []string{}
	for _, j := range jobs {
		ids = append(ids, j.ID)
	}
	return ids
}

func testJobsFilter(t *testing.T, s ethos.Store) {
	states := []ethos.FineTuneState{ethos.FineTunePending, ethos.FineTuneRunning, ethos.FineTuneCompleted,
		ethos.FineTuneFailed, ethos.FineTuneCancelled, ethos.FineTuneUnknown}
	for i, st := range states {
		provider := "together"
		if i%2 == 1 {
			provider = "openai"
		}
		putJob(t, s, newJob(fmt.Sprintf("job-%d-%s", i, st), provider, st, base.Add(time.Duration(i)*time.Minute)))
	}
	for _, tc := range []struct {
		f    ethos.FineTuneFilter
		want []string
	}{
		{ethos.FineTuneFilter{}, []string{"job-5-unknown", "job-4-cancelled", "job-3-failed", "job-2-completed", "job-1-running", "job-0-pending"}},
		{ethos.FineTuneFilter{Active: true}, []string{"job-5-unknown", "job-1-running", "job-0-pending"}},
		{ethos.FineTuneFilter{Provider: "openai"}, []string{"job-5-unknown", "job-3-failed", "job-1-running"}},
		{ethos.FineTuneFilter{Provider: "together", Active: true}, []string{"job-0-pending"}},
		{ethos.FineTuneFilter{Limit: 2}, []string{"job-5-unknown", "job-4-cancelled"}},
		{ethos.FineTuneFilter{Provider: "sandbox"}, []string{}},
	} {
		if diff := cmp.Diff(tc.want, jobIDs(listJobs(t, s, tc.f))); diff != "" {
			t.Errorf("Jobs(%+v) (-want +got):\n%s", tc.f, diff)
		}
	}
}

func testUnknownJob(t *testing.T, s ethos.Store) {
	_, err := s.Job(t.Context(), "ft-nope")
	wantKind(t, "Job of an unknown ID", err, ethos.NotFound)
	if jobs := listJobs(t, s, ethos.FineTuneFilter{}); len(jobs) != 0 {
		t.Errorf("empty store lists %d jobs", len(jobs))
	}
	models, err := s.Models(t.Context())
	if err != nil || len(models) != 0 {
		t.Errorf("Models of an empty store = %v, %v", models, err)
	}
	_, err = s.Model(t.Context(), "sandbox/ft-nope")
	wantKind(t, "Model of an unknown name", err, ethos.NotFound)
}

func addEvents(t *testing.T, s ethos.Store, jobID string, events ...ethos.FineTuneEvent) int {
	t.Helper()
	n, err := s.AddEvents(t.Context(), jobID, events)
	if err != nil {
		t.Fatalf("AddEvents(%s): %v", jobID, err)
	}
	return n
}

func testAddEvents(t *testing.T, s ethos.Store) {
	putJob(t, s, newJob("ft-e", "together", ethos.FineTuneRunning, base))
	putJob(t, s, newJob("ft-other", "together", ethos.FineTuneRunning, base))
	at := func(m int) time.Time { return base.Add(time.Duration(m) * time.Minute) }
	first := []ethos.FineTuneEvent{
		{ProviderID: "ev-1", CreatedAt: at(0), Level: "info", Type: "job_start", Message: "Job started"},
		{ProviderID: "ev-2", CreatedAt: at(1), Level: "info", Type: "epoch_complete", Message: "Epoch 1/3 done",
			Step: 40, Epoch: 1, Loss: float(1.25), ValLoss: float(1.5)},
		// No provider ID: recognised by time and message.
		{CreatedAt: at(2), Type: "metrics", Message: "step 50 loss 1.1", Step: 50, Loss: float(1.1)},
	}
	if n := addEvents(t, s, "ft-e", first...); n != 3 {
		t.Errorf("AddEvents of 3 new events = %d", n)
	}
	// A poll returns everything again, plus one new event, and a repeat
	// inside the same batch.
	second := append(append([]ethos.FineTuneEvent{}, first...),
		ethos.FineTuneEvent{ProviderID: "ev-3", CreatedAt: at(3), Type: "training_complete", Message: "Training done"},
		ethos.FineTuneEvent{ProviderID: "ev-3", CreatedAt: at(3), Type: "training_complete", Message: "Training done"},
		ethos.FineTuneEvent{CreatedAt: at(2), Message: "step 50 loss 1.1 (another message at the same time)"},
	)
	if n := addEvents(t, s, "ft-e", second...); n != 2 {
		t.Errorf("AddEvents of 2 new among 7 = %d", n)
	}
	// Event IDs are per job.
	if n := addEvents(t, s, "ft-other", first[0]); n != 1 {
		t.Errorf("AddEvents of another job's event ID = %d, want 1", n)
	}
	if n := addEvents(t, s, "ft-e"); n != 0 {
		t.Errorf("AddEvents of nothing = %d", n)
	}

	got, err := s.Events(t.Context(), "ft-e")
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	want := []ethos.FineTuneEvent{first[0], first[1], first[2], second[3], second[5]}
	for i := range want {
		want[i].JobID, want[i].Seq = "ft-e", int64(i+1)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Events (-want +got):\n%s", diff)
	}
	none, err := s.Events(t.Context(), "ft-unknown")
	if err != nil || len(none) != 0 {
		t.Errorf("Events of an unknown job = %v, %v", none, err)
	}
}

func testAddEventsUnknownJob(t *testing.T, s ethos.Store) {
	_, err := s.AddEvents(t.Context(), "ft-nope", []ethos.FineTuneEvent{{CreatedAt: base, Message: "x"}})
	wantKind(t, "AddEvents to an unknown job", err, ethos.NotFound)
	_, err = s.AddEvents(t.Context(), "ft-nope", nil)
	wantKind(t, "AddEvents of nothing to an unknown job", err, ethos.NotFound)
}

func putModel(t *testing.T, s ethos.Store, m *ethos.Model) {
	t.Helper()
	if err := s.PutModel(t.Context(), m); err != nil {
		t.Fatalf("PutModel(%s): %v", m.Name, err)
	}
}

func testModelsRegistry(t *testing.T, s ethos.Store) {
	older := &ethos.Model{Name: "together/acme/Llama-3-8B-agora-ab12", Provider: "together",
		ProviderModel: "acme/Llama-3-8B-agora-ab12", BaseModel: "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference",
		JobID: "ft-ab12", DatasetPath: "data/agora.jsonl", DatasetSHA256: "c0ffee",
		Hyperparameters: ethos.Hyperparameters{Epochs: 3, LearningRate: 1e-5, LoRA: true, LoRARank: 8},
		CostUSD:         3.5, CreatedAt: base}
	newer := &ethos.Model{Name: "sandbox/ft-7f3a", Provider: "sandbox", ProviderModel: "ft-7f3a",
		BaseModel: "base", JobID: "ft-7f3a", CreatedAt: base.Add(time.Hour), Parent: "sandbox/ft-5e6f", Recipe: "dpo+introspection",
		Serving: ethos.ServingDedicated, CallAs: "sandbox/sandbox-user/ft-7f3a-1a2b", EndpointID: "endpoint-1a2b"}
	putModel(t, s, older)
	putModel(t, s, newer)
	got, err := s.Model(t.Context(), older.Name)
	if err != nil {
		t.Fatalf("Model: %v", err)
	}
	if diff := cmp.Diff(*older, got); diff != "" {
		t.Errorf("Model (-put +got):\n%s", diff)
	}
	models, err := s.Models(t.Context())
	if err != nil {
		t.Fatalf("Models: %v", err)
	}
	if diff := cmp.Diff([]ethos.Model{*newer, *older}, models); diff != "" {
		t.Errorf("Models (-want +got):\n%s", diff)
	}

	// Replacing keeps one entry with the new fields.
	replaced := *newer
	replaced.CostUSD = 0.01
	putModel(t, s, &replaced)
	got, err = s.Model(t.Context(), newer.Name)
	if err != nil || got.CostUSD != 0.01 {
		t.Errorf("replaced model = %+v, %v", got, err)
	}
	if models, _ := s.Models(t.Context()); len(models) != 2 {
		t.Errorf("%d models after a replace, want 2", len(models))
	}
	noTime := &ethos.Model{Name: "sandbox/ft-x", Provider: "sandbox", ProviderModel: "ft-x"}
	putModel(t, s, noTime)
	if noTime.CreatedAt.IsZero() {
		t.Error("PutModel left CreatedAt zero")
	}
	wantKind(t, "PutModel without a name", s.PutModel(t.Context(), &ethos.Model{Provider: "x", ProviderModel: "y"}), ethos.Invalid)
}

func evalRun(t *testing.T, s ethos.Store, id string, created time.Time, refs ...string) {
	t.Helper()
	spec := ethos.EvalSpec{Judge: "sandbox/judge", Prompts: 10, Samples: 1}
	for i, ref := range refs {
		spec.Models = append(spec.Models, ethos.EvalModel{Name: fmt.Sprintf("m%d", i), Ref: ref})
	}
	params, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	createRun(t, s, &ethos.Run{ID: id, Kind: ethos.RunKindEval, Params: params, CreatedAt: created})
}

func testModelEvals(t *testing.T, s ethos.Store) {
	tuned := &ethos.Model{Name: "sandbox/ft-7f3a", Provider: "sandbox", ProviderModel: "ft-7f3a", BaseModel: "base", CreatedAt: base}
	other := &ethos.Model{Name: "together/acme/x", Provider: "together", ProviderModel: "acme/x", CreatedAt: base}
	unused := &ethos.Model{Name: "openai/ft:gpt-4o-mini:acme::abc", Provider: "openai", ProviderModel: "ft:gpt-4o-mini:acme::abc", CreatedAt: base}
	putModel(t, s, tuned)
	putModel(t, s, other)
	putModel(t, s, unused)

	evalRun(t, s, "eval-2", base.Add(2*time.Hour), "sandbox/base", "sandbox/ft-7f3a", "together/acme/x")
	evalRun(t, s, "eval-1", base.Add(time.Hour), "sandbox/base", "sandbox/ft-7f3a")
	// Runs of other kinds, and eval runs with other models or odd params,
	// do not count.
	createRun(t, s, &ethos.Run{ID: "gen-1", Kind: "generate", Params: json.RawMessage(`{"models":[{"ref":"sandbox/ft-7f3a"}]}`)})
	createRun(t, s, &ethos.Run{ID: "eval-odd", Kind: ethos.RunKindEval, Params: json.RawMessage(`{"models":["sandbox/ft-7f3a", 3]}`)})
	createRun(t, s, &ethos.Run{ID: "eval-empty", Kind: ethos.RunKindEval})
	// A spec holding a NUL character (PostgreSQL's JSON operators cannot
	// read one) still lists its models, and hides no other run's.
	createRun(t, s, &ethos.Run{ID: "eval-nul", Kind: ethos.RunKindEval, CreatedAt: base.Add(4 * time.Hour),
		Params: json.RawMessage(`{"models":[{"ref":"together/acme/x","system":"a\u0000b"}]}`)})
	evalRun(t, s, "eval-3", base.Add(3*time.Hour), "sandbox/ft-7f3a-other")

	got, err := s.Model(t.Context(), tuned.Name)
	if err != nil {
		t.Fatalf("Model: %v", err)
	}
	if diff := cmp.Diff([]string{"eval-1", "eval-2"}, got.Evals); diff != "" {
		t.Errorf("Model(%s).Evals (-want +got):\n%s", tuned.Name, diff)
	}
	models, err := s.Models(t.Context())
	if err != nil {
		t.Fatalf("Models: %v", err)
	}
	evals := map[string][]string{}
	for _, m := range models {
		evals[m.Name] = m.Evals
	}
	want := map[string][]string{
		tuned.Name:  {"eval-1", "eval-2"},
		other.Name:  {"eval-2", "eval-nul"},
		unused.Name: nil,
	}
	if diff := cmp.Diff(want, evals); diff != "" {
		t.Errorf("Models' evals (-want +got):\n%s", diff)
	}
}
