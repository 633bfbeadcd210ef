package finetune

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/dataset"
	"github.com/ethos-toolkit/ethos/sqlite"
	"github.com/google/go-cmp/cmp"
)

// clock is a fake clock that tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Now().UTC().Truncate(time.Second)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is a service over a real store and a fake provider.
type env struct {
	svc   *Service
	store *sqlite.DB
	fake  *fakeBackend
	clock *clock
	dir   string

	mu     sync.Mutex
	slept  []time.Duration
	checks []string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "ethos.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e := &env{store: store, clock: newClock(), dir: t.TempDir()}
	e.fake = newFake("together", e.clock.Now)
	e.svc = &Service{
		Store: store,
		Backend: func(provider string) (ethos.FineTuneBackend, error) {
			if provider != "together" {
				return nil, ethos.Errorf(ethos.Config, "provider %s needs an API key: set %s_API_KEY", provider, strings.ToUpper(provider))
			}
			return e.fake, nil
		},
		Check: func(ctx context.Context, path string, opts dataset.Options) (*dataset.Report, error) {
			e.mu.Lock()
			e.checks = append(e.checks, path)
			e.mu.Unlock()
			return &dataset.Report{Path: path, Provider: opts.Provider, Format: "conversation", Examples: 3}, nil
		},
		Now: e.clock.Now,
		Sleep: func(ctx context.Context, d time.Duration) error {
			e.mu.Lock()
			e.slept = append(e.slept, d)
			e.mu.Unlock()
			e.clock.Advance(d)
			return ctx.Err()
		},
	}
	return e
}

// dataset writes a training file with n examples and returns its path.
func (e *env) dataset(t *testing.T, name string, n int) string {
	t.Helper()
	return e.write(t, name, n, func(i int) string {
		return fmt.Sprintf(`{"messages":[{"role":"user","content":"question %d of %s"},{"role":"assistant","content":"answer %d"}]}`, i, name, i)
	})
}

// write writes a file of n lines, line(i) for i from 0, into e.dir.
func (e *env) write(t *testing.T, name string, n int, line func(i int) string) string {
	t.Helper()
	var b strings.Builder
	for i := range n {
		b.WriteString(line(i) + "\n")
	}
	path := filepath.Join(e.dir, name)
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func (e *env) options(t *testing.T) CreateOptions {
	return CreateOptions{
		Provider:        "together",
		BaseModel:       "together/meta-llama/Meta-Llama-3.1-8B-Instruct-Reference",
		TrainPath:       e.dataset(t, "train.jsonl", 3),
		Hyperparameters: ethos.Hyperparameters{Epochs: 2, LoRA: true, LoRARank: 8, Suffix: "agora"},
		RunID:           "gen-1",
	}
}

func (e *env) create(t *testing.T, o CreateOptions) Created {
	t.Helper()
	c, err := e.svc.Create(t.Context(), o)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return c
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	o := e.options(t)
	c := e.create(t, o)
	if c.How != HowCreated || !c.Uploaded || c.Job.ID != "ft-0001" || c.Intent == "" {
		t.Fatalf("Create = how %q uploaded %v job %q intent %q", c.How, c.Uploaded, c.Job.ID, c.Intent)
	}
	// Recorded before Create returned, with what only ethos knows.
	stored, err := e.store.Job(t.Context(), c.Job.ID)
	if err != nil {
		t.Fatalf("job not recorded by Create: %v", err)
	}
	if stored.State != ethos.FineTunePending || stored.DatasetPath != o.TrainPath || stored.DatasetSHA256 != c.TrainFile.SHA256 ||
		stored.RunID != "gen-1" || stored.BaseModel != "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference" {
		t.Errorf("recorded job = %+v", stored)
	}
	// What was asked wins; the provider's values fill what was left to it.
	wantHyper := ethos.Hyperparameters{Epochs: 2, LearningRate: 1e-5, BatchSize: 16, LoRA: true, LoRARank: 8, Suffix: "agora"}
	if diff := cmp.Diff(wantHyper, stored.Hyperparameters); diff != "" {
		t.Errorf("hyperparameters (-want +got):\n%s", diff)
	}

	var seen []string
	var losses []float64
	job, err := e.svc.Wait(t.Context(), c.Job.ID, time.Minute, func(u Update, err error) {
		if err != nil {
			t.Errorf("progress error: %v", err)
			return
		}
		seen = append(seen, u.Job.Status)
		if u.Job.Progress.Loss != nil {
			losses = append(losses, *u.Job.Progress.Loss)
		}
	})
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if diff := cmp.Diff([]string{"queued", "running", "running", "compressing", "uploading", "completed"}, seen); diff != "" {
		t.Errorf("statuses seen (-want +got):\n%s", diff)
	}
	if job.State != ethos.FineTuneCompleted || job.FinishedAt == nil || job.CostUSD != 15 {
		t.Errorf("final job = %+v", job)
	}
	// Progress comes from events: the furthest step, the latest loss.
	if job.Progress.Step != 30 || job.Progress.Epoch != 2 || job.Progress.Epochs != 2 || job.Progress.TotalSteps != 60 ||
		job.Progress.Loss == nil || *job.Progress.Loss != 2.0/3 {
		t.Errorf("progress = %+v", job.Progress)
	}
	if len(losses) == 0 || losses[0] != 1 {
		t.Errorf("losses seen = %v", losses)
	}
	events, err := e.store.Events(t.Context(), c.Job.ID)
	if err != nil || len(events) != 6 {
		t.Fatalf("recorded %d events (%v), want one per status change", len(events), err)
	}
	if events[1].Loss == nil || *events[1].Loss != 1 {
		t.Errorf("loss not recorded with its event: %+v", events[1])
	}
	if d := e.slept; len(d) != 5 || d[0] != time.Minute {
		t.Errorf("waited %v between polls", d)
	}

	name := "together/acme/meta-llama/Meta-Llama-3.1-8B-Instruct-Reference-agora-ft-0001"
	m, err := e.store.Model(t.Context(), name)
	if err != nil {
		t.Fatalf("model not registered: %v", err)
	}
	want := ethos.Model{Name: name, Provider: "together", ProviderModel: strings.TrimPrefix(name, "together/"),
		BaseModel: "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference", JobID: "ft-0001",
		DatasetPath: o.TrainPath, DatasetSHA256: c.TrainFile.SHA256, Hyperparameters: wantHyper,
		CostUSD: 15, CreatedAt: *job.FinishedAt}
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("registered model (-want +got):\n%s", diff)
	}
	got, err := e.svc.WaitModel(t.Context(), c.Job.ID, time.Minute, nil)
	if err != nil || got.Name != name {
		t.Errorf("WaitModel of the completed job = %+v, %v", got, err)
	}
	// A finished job is not polled again.
	gets := e.fake.gets
	if _, err := e.svc.Refresh(t.Context(), c.Job.ID); err != nil || e.fake.gets != gets {
		t.Errorf("Refresh of a completed job polled the provider (%v)", err)
	}
}

func TestCreateRefusesInvalidFile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.svc.Check = func(ctx context.Context, path string, opts dataset.Options) (*dataset.Report, error) {
		return &dataset.Report{Path: path, Provider: opts.Provider, Problems: []dataset.Problem{
			{Line: 3, Rule: "roles.alternate", Severity: "error", Message: "two user turns in a row"},
			{Line: 7, Rule: "content.placeholder", Severity: "warning", Message: "unfilled {name}"},
			{Line: 9, Rule: "json.syntax", Severity: "error", Message: "not JSON"},
		}}, nil
	}
	_, err := e.svc.Create(t.Context(), e.options(t))
	if ethos.KindOf(err) != ethos.Invalid {
		t.Fatalf("Create of an invalid file = %v, want Invalid", err)
	}
	var derr *DatasetError
	if !errors.As(err, &derr) || derr.Report.Errors() != 2 {
		t.Errorf("error %v does not carry the report", err)
	}
	for _, want := range []string{"line 3: roles.alternate: two user turns in a row", "line 9: json.syntax", "nothing was uploaded"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "line 7") {
		t.Errorf("error lists a warning as a problem: %v", err)
	}
	if e.fake.uploads != 0 || e.fake.creates != 0 {
		t.Errorf("an invalid file was uploaded (%d) or trained on (%d)", e.fake.uploads, e.fake.creates)
	}
}

// A hyperparameter out of range is refused before anything is checked,
// uploaded or created.
func TestCreateRefusesBadHyperparameters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	o := e.options(t)
	o.Hyperparameters = ethos.Hyperparameters{LoRA: true, LoRADropout: 1}
	_, err := e.svc.Create(t.Context(), o)
	if ethos.KindOf(err) != ethos.Config || !strings.Contains(err.Error(), "LoRA dropout 1 is outside [0, 1)") {
		t.Fatalf("Create with dropout 1 = %v, want a config error", err)
	}
	if e.fake.uploads != 0 || e.fake.creates != 0 {
		t.Errorf("uploaded %d files and created %d jobs, want none", e.fake.uploads, e.fake.creates)
	}
}

func TestCreateValidationFileChecked(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	o := e.options(t)
	o.ValidationPath = e.dataset(t, "val.jsonl", 2)
	c := e.create(t, o)
	if c.ValidationFile == nil || c.Job.ValidationFile != c.ValidationFile.ID || c.Job.ValidationFile == c.Job.TrainFile {
		t.Errorf("validation file %+v, job's %q", c.ValidationFile, c.Job.ValidationFile)
	}
	if diff := cmp.Diff([]string{o.TrainPath, o.ValidationPath}, e.checks); diff != "" {
		t.Errorf("files checked (-want +got):\n%s", diff)
	}
}

func TestCreateReusesUploadAndJob(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	o := e.options(t)
	first := e.create(t, o)

	// The same request again: the same job, nothing sent.
	again := e.create(t, o)
	if again.How != HowExisting || again.Job.ID != first.Job.ID || again.Uploaded || again.Intent != first.Intent {
		t.Errorf("second Create = how %q job %q uploaded %v", again.How, again.Job.ID, again.Uploaded)
	}
	// Other settings on the same content: a new job on the same upload.
	o.Hyperparameters.Epochs = 5
	other := e.create(t, o)
	if other.How != HowCreated || other.Job.ID == first.Job.ID || other.Uploaded || other.TrainFile.ID != first.TrainFile.ID {
		t.Errorf("Create with other settings = how %q job %q uploaded %v file %q", other.How, other.Job.ID, other.Uploaded, other.TrainFile.ID)
	}
	if e.fake.uploads != 1 || e.fake.creates != 2 {
		t.Errorf("%d uploads and %d creates, want 1 and 2", e.fake.uploads, e.fake.creates)
	}
}

// TestCreateUploadsAgainWhenTheFileIsGone: a recorded upload the
// provider no longer has is sent again, not used blind.
func TestCreateUploadsAgainWhenTheFileIsGone(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	o := e.options(t)
	first := e.create(t, o)
	e.fake.mu.Lock()
	delete(e.fake.files, first.TrainFile.ID)
	e.fake.mu.Unlock()
	o.Hyperparameters.Epochs = 4
	second := e.create(t, o)
	if !second.Uploaded || second.TrainFile.ID == first.TrainFile.ID || second.Job.TrainFile != second.TrainFile.ID || e.fake.uploads != 2 {
		t.Errorf("create after the file was deleted: uploaded %v file %q (first %q), %d uploads", second.Uploaded, second.TrainFile.ID, first.TrainFile.ID, e.fake.uploads)
	}
	// The new upload is recorded: the next request reuses it.
	o.Hyperparameters.Epochs = 6
	if reuse := e.create(t, o); reuse.Uploaded || reuse.TrainFile.ID != second.TrainFile.ID || e.fake.uploads != 2 {
		t.Errorf("create after a re-upload: uploaded %v file %q (want %q), %d uploads", reuse.Uploaded, reuse.TrainFile.ID, second.TrainFile.ID, e.fake.uploads)
	}
	// Killed after creating on the new upload: the next attempt looks for
	// the job on the file that attempt sent.
	e.fake.mu.Lock()
	delete(e.fake.files, second.TrainFile.ID)
	e.fake.mu.Unlock()
	o.Hyperparameters.Epochs = 5
	e.fake.lostCreate = ethos.Errorf(ethos.Transient, "connection reset")
	if _, err := e.svc.Create(t.Context(), o); err == nil {
		t.Fatal("create with a lost response succeeded")
	}
	third := e.create(t, o)
	if third.How != HowAttached || e.fake.jobCount() != 4 {
		t.Errorf("create after a kill on a re-uploaded file: how %q, provider has %d jobs", third.How, e.fake.jobCount())
	}
}

func TestCreateAgainAfterFailedJob(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.fake.script = []string{"pending", "running", "error"}
	e.fake.failWith = "out of memory"
	o := e.options(t)
	c := e.create(t, o)
	job, err := e.svc.Wait(t.Context(), c.Job.ID, time.Second, nil)
	if err != nil || job.State != ethos.FineTuneFailed || job.Status != "error" || job.Error != "out of memory" {
		t.Fatalf("Wait = %+v, %v", job, err)
	}
	if err := JobError(job); ethos.KindOf(err) != ethos.Internal || !strings.Contains(err.Error(), "out of memory") {
		t.Errorf("JobError = %v", err)
	}
	if _, err := e.svc.WaitModel(t.Context(), c.Job.ID, time.Second, nil); err == nil {
		t.Error("WaitModel of a failed job succeeded")
	}
	if models, _ := e.store.Models(t.Context()); len(models) != 0 {
		t.Errorf("a failed job registered %v", models)
	}
	retried := e.create(t, o)
	if retried.How != HowCreated || retried.Job.ID == c.Job.ID || retried.Intent != c.Intent {
		t.Errorf("Create after a failed job = how %q job %q", retried.How, retried.Job.ID)
	}
}

func TestCreateRefusedByProvider(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	o := e.options(t)
	o.BaseModel = "no-such-model"
	_, err := e.svc.Create(t.Context(), o)
	if ethos.KindOf(err) != ethos.Invalid || !strings.Contains(err.Error(), "model no-such-model is not available for fine-tuning") {
		t.Fatalf("Create on an unknown base model = %v, want the provider's message", err)
	}
	// The refusal closed the attempt: the next one does not search the
	// provider's jobs for one it might have made.
	_, err = e.svc.Create(t.Context(), o)
	if ethos.KindOf(err) != ethos.Invalid || e.fake.lists != 0 {
		t.Errorf("second Create = %v after %d listings", err, e.fake.lists)
	}
	runs, err := e.store.Runs(t.Context(), RunKind, 0)
	if err != nil || len(runs) != 1 || runs[0].Status != ethos.RunFailed {
		t.Errorf("intent runs = %+v, %v", runs, err)
	}
}

func TestCreateMissingKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	o := e.options(t)
	o.Provider = "openai"
	_, err := e.svc.Create(t.Context(), o)
	if ethos.KindOf(err) != ethos.Config || !strings.Contains(err.Error(), "OPENAI_API_KEY") {
		t.Errorf("Create without a key = %v", err)
	}
}

// failingStore is a store whose next PutJob fails, as if the process had
// been killed right after the provider created the job.
type failingStore struct {
	*sqlite.DB
	failPutJob bool
}

func (s *failingStore) PutJob(ctx context.Context, j *ethos.FineTuneJob) error {
	if s.failPutJob {
		s.failPutJob = false
		return ethos.Errorf(ethos.Internal, "killed")
	}
	return s.DB.PutJob(ctx, j)
}

func TestReattachAfterKill(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		breakIt func(e *env, fs *failingStore)
		want    string
		creates int
	}{
		{"killed after create, before the job was recorded", func(e *env, fs *failingStore) { fs.failPutJob = true }, HowAttached, 1},
		{"the create's response was lost", func(e *env, fs *failingStore) {
			e.fake.lostCreate = ethos.Errorf(ethos.Transient, "connection reset")
		}, HowAttached, 1},
		{"the create never reached the provider", func(e *env, fs *failingStore) {
			e.fake.createErr = ethos.Errorf(ethos.Transient, "connection refused")
		}, HowCreated, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			fs := &failingStore{DB: e.store}
			e.svc.Store = fs
			o := e.options(t)
			tc.breakIt(e, fs)
			if _, err := e.svc.Create(t.Context(), o); err == nil {
				t.Fatal("the broken Create succeeded")
			}
			c := e.create(t, o)
			if c.How != tc.want || e.fake.creates != tc.creates || e.fake.jobCount() != 1 {
				t.Fatalf("next Create: how %q, %d creates, provider has %d jobs", c.How, e.fake.creates, e.fake.jobCount())
			}
			if _, err := e.store.Job(t.Context(), c.Job.ID); err != nil {
				t.Errorf("attached job not recorded: %v", err)
			}
			if c.Job.DatasetPath != o.TrainPath || c.Job.RunID != "gen-1" {
				t.Errorf("attached job lost ethos's fields: %+v", c.Job)
			}
			// And again: the recorded job, nothing new.
			if again := e.create(t, o); again.How != HowExisting || again.Job.ID != c.Job.ID || e.fake.jobCount() != 1 {
				t.Errorf("third Create: how %q job %q, provider has %d jobs", again.How, again.Job.ID, e.fake.jobCount())
			}
		})
	}
}

func TestReattachNeedsTheProviderList(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	o := e.options(t)
	e.fake.lostCreate = ethos.Errorf(ethos.Transient, "timeout")
	if _, err := e.svc.Create(t.Context(), o); err == nil {
		t.Fatal("Create with a lost response succeeded")
	}
	// Without the provider's list, ethos cannot know whether the job
	// exists, so it creates nothing.
	e.fake.listErr = ethos.Errorf(ethos.Transient, "503")
	if _, err := e.svc.Create(t.Context(), o); ethos.KindOf(err) != ethos.Transient || e.fake.jobCount() != 1 {
		t.Fatalf("Create without a list = %v; provider has %d jobs", err, e.fake.jobCount())
	}
	e.fake.listErr = nil
	if c := e.create(t, o); c.How != HowAttached || e.fake.jobCount() != 1 {
		t.Errorf("Create once the list works: how %q, provider has %d jobs", c.How, e.fake.jobCount())
	}
}

func TestReattachSkipsOtherJobs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	o := e.options(t)
	// A job on the same file with other settings, already followed.
	other := o
	other.Hyperparameters.Epochs = 9
	e.create(t, other)
	// An older job on the same file made outside ethos, before this
	// request was recorded.
	e.fake.mu.Lock()
	e.fake.jobs = append(e.fake.jobs, &fakeJob{script: []string{"running"}, job: ethos.FineTuneJob{
		ID: "ft-manual", Provider: "together", BaseModel: "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference",
		Status: "running", TrainFile: "file-1", CreatedAt: e.clock.Now().Add(-3 * time.Hour)}})
	e.fake.mu.Unlock()
	e.clock.Advance(time.Minute)

	e.fake.createErr = ethos.Errorf(ethos.Transient, "connection refused")
	if _, err := e.svc.Create(t.Context(), o); err == nil {
		t.Fatal("broken Create succeeded")
	}
	c := e.create(t, o)
	if c.How != HowCreated || c.Job.ID == "ft-manual" || c.Job.ID == "ft-0001" {
		t.Errorf("Create attached to someone else's job: how %q job %q", c.How, c.Job.ID)
	}
}

func TestPollingSurvivesProviderErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.create(t, e.options(t))
	transient := ethos.Errorf(ethos.Transient, "502 bad gateway")

	// Two failures: retried within one refresh.
	e.fake.getErrs = []error{transient, &ethos.Error{Kind: ethos.RateLimited, Msg: "slow down", RetryAfter: 7 * time.Second}}
	u, err := e.svc.Refresh(t.Context(), c.Job.ID)
	if err != nil || u.Job.Status != "queued" {
		t.Fatalf("Refresh after two transient failures = %q, %v", u.Job.Status, err)
	}
	if diff := cmp.Diff([]time.Duration{retryWait, 7 * time.Second}, e.slept); diff != "" {
		t.Errorf("waits between tries (-want +got):\n%s", diff)
	}

	// More failures than attempts: an error, and the job is untouched.
	e.fake.getErrs = []error{transient, transient, transient, transient}
	before, _ := e.store.Job(t.Context(), c.Job.ID)
	_, err = e.svc.Refresh(t.Context(), c.Job.ID)
	if ethos.KindOf(err) != ethos.Transient {
		t.Fatalf("Refresh through a provider outage = %v, want Transient", err)
	}
	after, _ := e.store.Job(t.Context(), c.Job.ID)
	if after.State != before.State || after.Status != before.Status || after.Error != "" {
		t.Errorf("a provider outage changed the job: %+v → %+v", before, after)
	}
	st, err := e.svc.Status(t.Context(), c.Job.ID)
	if err != nil || st.Stale != nil || st.Job.ID != c.Job.ID {
		t.Errorf("Status with the outage over = %+v, %v", st, err)
	}
	e.fake.getErrs = []error{transient, transient, transient}
	before, _ = e.store.Job(t.Context(), c.Job.ID)
	st, err = e.svc.Status(t.Context(), c.Job.ID)
	if err != nil || st.Stale == nil || st.Job.ID != c.Job.ID || st.Job.Status != before.Status {
		t.Errorf("Status during an outage = %+v, %v; want the stored job marked stale", st, err)
	}

	// Wait rides out an outage longer than one refresh.
	e.fake.getErrs = []error{transient, transient, transient, transient, transient}
	e.fake.eventErrs = []error{transient}
	var failures int
	job, err := e.svc.Wait(t.Context(), c.Job.ID, time.Minute, func(u Update, err error) {
		if err != nil {
			failures++
		}
	})
	if err != nil || job.State != ethos.FineTuneCompleted || failures != 1 {
		t.Errorf("Wait = %s, %v after %d reported failures", job.State, err, failures)
	}

	// A job the provider does not know is an error Wait returns.
	e.fake.mu.Lock()
	e.fake.jobs = nil
	e.fake.mu.Unlock()
	o := e.options(t)
	o.Hyperparameters.Epochs = 1
	c2 := e.create(t, o)
	e.fake.mu.Lock()
	e.fake.jobs = nil
	e.fake.mu.Unlock()
	if _, err := e.svc.Wait(t.Context(), c2.Job.ID, time.Minute, nil); ethos.KindOf(err) != ethos.NotFound {
		t.Errorf("Wait on a job the provider lost = %v, want NotFound", err)
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.create(t, e.options(t))
	u, err := e.svc.Cancel(t.Context(), c.Job.ID)
	if err != nil || u.Job.Status != "cancel_requested" || u.Job.State != ethos.FineTuneRunning {
		t.Fatalf("Cancel = %s/%s, %v", u.Job.Status, u.Job.State, err)
	}
	job, err := e.svc.Wait(t.Context(), c.Job.ID, time.Second, nil)
	if err != nil || job.State != ethos.FineTuneCancelled || job.FinishedAt == nil {
		t.Fatalf("Wait after cancel = %+v, %v", job, err)
	}
	_, err = e.svc.Cancel(t.Context(), c.Job.ID)
	if ethos.KindOf(err) != ethos.Invalid || !strings.Contains(err.Error(), "already finished (status cancelled)") {
		t.Errorf("Cancel of a finished job = %v", err)
	}
	if e.fake.cancels != 1 {
		t.Errorf("%d cancels sent, want 1 (a finished job is not asked)", e.fake.cancels)
	}
	if _, err := e.svc.Cancel(t.Context(), "ft-nope"); ethos.KindOf(err) != ethos.NotFound || !strings.Contains(err.Error(), "ethos finetune list") {
		t.Errorf("Cancel of an unknown job = %v", err)
	}
}

func TestCancelRaceWithCompletion(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.create(t, e.options(t))
	// The job finishes on the provider before the cancel arrives.
	e.fake.mu.Lock()
	e.fake.jobs[0].job.Status = "completed"
	e.fake.jobs[0].job.Payload = e.fake.payload(e.fake.jobs[0])
	e.fake.mu.Unlock()
	u, err := e.svc.Cancel(t.Context(), c.Job.ID)
	if ethos.KindOf(err) != ethos.Invalid || !strings.Contains(err.Error(), "cannot be cancelled") {
		t.Fatalf("Cancel of a job that just finished = %v", err)
	}
	if u.Job.State != ethos.FineTuneCompleted || u.Model == nil {
		t.Errorf("after the refused cancel the job is %s, model %v", u.Job.State, u.Model)
	}
}

func TestUnknownStatusIsNotFinal(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.fake.script = []string{"pending", "paused", "paused_for_review", "completed"}
	c := e.create(t, e.options(t))
	var states []string
	job, err := e.svc.Wait(t.Context(), c.Job.ID, time.Second, func(u Update, err error) {
		states = append(states, u.Job.Status+"/"+string(u.Job.State))
	})
	if err != nil || job.State != ethos.FineTuneCompleted {
		t.Fatalf("Wait = %+v, %v", job, err)
	}
	if diff := cmp.Diff([]string{"paused/unknown", "paused_for_review/unknown", "completed/completed"}, states); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}
}

func TestListAndEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	o := e.options(t)
	first := e.create(t, o)
	if _, err := e.svc.Wait(t.Context(), first.Job.ID, time.Second, nil); err != nil {
		t.Fatal(err)
	}
	o.Hyperparameters.Epochs = 4
	second := e.create(t, o)
	gets := e.fake.gets
	updates, err := e.svc.List(t.Context(), ethos.FineTuneFilter{})
	if err != nil || len(updates) != 2 {
		t.Fatalf("List = %d jobs, %v", len(updates), err)
	}
	if updates[0].Job.ID != second.Job.ID || updates[0].Job.Status != "queued" || updates[1].Job.State != ethos.FineTuneCompleted {
		t.Errorf("List = %s/%s, %s/%s", updates[0].Job.ID, updates[0].Job.Status, updates[1].Job.ID, updates[1].Job.Status)
	}
	if e.fake.gets != gets+1 {
		t.Errorf("List polled %d jobs, want only the active one", e.fake.gets-gets)
	}
	_, events, err := e.svc.Events(t.Context(), first.Job.ID)
	if err != nil || len(events) != 6 || events[0].Seq != 1 || events[5].Message != "job is completed" {
		t.Errorf("Events = %d events, %v", len(events), err)
	}
	if _, _, err := e.svc.Events(t.Context(), "ft-nope"); ethos.KindOf(err) != ethos.NotFound {
		t.Errorf("Events of an unknown job = %v", err)
	}
}

func TestStateOf(t *testing.T) {
	t.Parallel()
	for status, want := range map[string]ethos.FineTuneState{
		// Together
		"pending": ethos.FineTunePending, "queued": ethos.FineTunePending, "running": ethos.FineTuneRunning,
		"compressing": ethos.FineTuneRunning, "uploading": ethos.FineTuneRunning, "cancel_requested": ethos.FineTuneRunning,
		"cancelled": ethos.FineTuneCancelled, "error": ethos.FineTuneFailed, "user_error": ethos.FineTuneFailed,
		"completed": ethos.FineTuneCompleted,
		// OpenAI
		"validating_files": ethos.FineTunePending, "succeeded": ethos.FineTuneCompleted, "failed": ethos.FineTuneFailed,
		// Unknown values are not final.
		"paused": ethos.FineTuneUnknown, "": ethos.FineTuneUnknown, "COMPLETED ": ethos.FineTuneCompleted,
	} {
		if got := StateOf(status); got != want {
			t.Errorf("StateOf(%q) = %s, want %s", status, got, want)
		}
	}
}

// TestModelNameFromPayloads resolves registry names from the providers'
// real job objects (testdata/payloads, see its README).
func TestModelNameFromPayloads(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		file, provider, want string
		state                ethos.FineTuneState
	}{
		{"together-completed.json", "together", "together/mynamespace/meta-llama/Llama-2-7b-hf-32162631", ethos.FineTuneCompleted},
		{"together-output-name.json", "together", "together/acme/Meta-Llama-3.1-8B-Instruct-Reference-agora-3b883474", ethos.FineTuneCompleted},
		{"together-uploading.json", "together", "together/acme/Meta-Llama-3.1-8B-Instruct-Reference-agora-3b883474", ethos.FineTuneRunning},
		{"together-completed.json", "sandbox", "sandbox/mynamespace/meta-llama/Llama-2-7b-hf-32162631", ethos.FineTuneCompleted},
		{"openai-succeeded.json", "openai", "openai/ft:davinci-002:my-org:custom_suffix:7q8mpxmy", ethos.FineTuneCompleted},
		{"openai-queued.json", "openai", "", ethos.FineTunePending},
	} {
		raw, err := os.ReadFile(filepath.Join("testdata", "payloads", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		var p struct {
			Status string `json:"status"`
		}
		if err := json.Unmarshal(raw, &p); err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		j := ethos.FineTuneJob{Provider: tc.provider, Status: p.Status, Payload: raw}
		if got := ModelName(j); got != tc.want {
			t.Errorf("%s: ModelName = %q, want %q", tc.file, got, tc.want)
		}
		if got := StateOf(p.Status); got != tc.state {
			t.Errorf("%s: state of %q = %s, want %s", tc.file, p.Status, got, tc.state)
		}
	}
	// The backend's own reading wins over the payload.
	if got := ModelName(ethos.FineTuneJob{Provider: "sandbox", OutputModel: "ft-7f3a", Payload: json.RawMessage(`{"output_name":"x"}`)}); got != "sandbox/ft-7f3a" {
		t.Errorf("ModelName with OutputModel = %q", got)
	}
	if got := ModelName(ethos.FineTuneJob{Provider: "together", Payload: json.RawMessage(`not json`)}); got != "" {
		t.Errorf("ModelName of a broken payload = %q", got)
	}
}

func TestCompletedWithoutName(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.create(t, e.options(t))
	j, _ := e.store.Job(t.Context(), c.Job.ID)
	j.Status, j.State, j.OutputModel, j.Payload = "completed", ethos.FineTuneCompleted, "", json.RawMessage(`{"id":"x"}`)
	if err := e.store.PutJob(t.Context(), &j); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.Refresh(t.Context(), c.Job.ID)
	if err == nil || !strings.Contains(err.Error(), "names no model") {
		t.Errorf("Refresh of a completed job without a model name = %v", err)
	}
}

// metricsBackend is the fake with its losses at a metrics endpoint, as
// Together has them: the service records them with the job's events.
type metricsBackend struct {
	*fakeBackend
	errs  []error // returned by the next calls of Metrics
	calls int
}

func (m *metricsBackend) Metrics(ctx context.Context, id string) ([]ethos.FineTuneEvent, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	if len(m.errs) > 0 {
		err := m.errs[0]
		m.errs = m.errs[1:]
		return nil, err
	}
	j, err := m.find(id)
	if err != nil {
		return nil, err
	}
	var out []ethos.FineTuneEvent
	for s := 1; s <= j.step; s++ {
		train, val := 2.0/float64(s), 2.5/float64(s)
		out = append(out,
			ethos.FineTuneEvent{Type: ethos.FineTuneMetricsType, ProviderID: fmt.Sprintf("metrics:train:%d", s), Step: s, Loss: &train, Message: "train"},
			ethos.FineTuneEvent{Type: ethos.FineTuneMetricsType, ProviderID: fmt.Sprintf("metrics:eval:%d", s), Step: s, ValLoss: &val, Message: "eval"})
	}
	return out, nil
}

// TestMetricsRecordedWithEvents: losses from a metrics endpoint are kept
// once each with the events, progress shows the latest, and a failing
// metrics endpoint fails the refresh rather than leaving the losses out.
func TestMetricsRecordedWithEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	mb := &metricsBackend{fakeBackend: e.fake}
	e.svc.Backend = func(string) (ethos.FineTuneBackend, error) { return mb, nil }
	c := e.create(t, e.options(t))
	for range 3 {
		if _, err := e.svc.Refresh(t.Context(), c.Job.ID); err != nil {
			t.Fatal(err)
		}
	}
	events, err := e.store.Events(t.Context(), c.Job.ID)
	if err != nil {
		t.Fatal(err)
	}
	var train, val []int
	for _, ev := range events {
		switch {
		case ev.Type == ethos.FineTuneMetricsType && ev.Loss != nil:
			train = append(train, ev.Step)
		case ev.Type == ethos.FineTuneMetricsType && ev.ValLoss != nil:
			val = append(val, ev.Step)
		}
	}
	if diff := cmp.Diff([]int{1, 2, 3}, train); diff != "" {
		t.Errorf("training losses recorded at steps (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{1, 2, 3}, val); diff != "" {
		t.Errorf("validation losses recorded at steps (-want +got):\n%s", diff)
	}
	job, _ := e.store.Job(t.Context(), c.Job.ID)
	if job.Progress.Loss == nil || *job.Progress.Loss != 2.0/3 {
		t.Errorf("progress loss %v, want the latest training loss 0.667", job.Progress.Loss)
	}

	mb.errs = []error{ethos.Errorf(ethos.Transient, "502"), ethos.Errorf(ethos.Transient, "502"), ethos.Errorf(ethos.Transient, "502")}
	if _, err := e.svc.Refresh(t.Context(), c.Job.ID); ethos.KindOf(err) != ethos.Transient || !strings.Contains(err.Error(), "metrics of together job") {
		t.Errorf("Refresh with the metrics endpoint down = %v, want a transient error naming the metrics", err)
	}
}

// limitedBackend refuses every batch size above 8, as a model's limits
// would.
type limitedBackend struct{ *fakeBackend }

func (l limitedBackend) CheckHyperparameters(ctx context.Context, base string, h ethos.Hyperparameters) error {
	if h.BatchSize > 8 {
		return ethos.Errorf(ethos.Config, "%s takes batch sizes up to 8, got %d", base, h.BatchSize)
	}
	return nil
}

// TestCreateChecksModelLimitsBeforeUpload: settings the base model does
// not take are refused before anything is uploaded or created.
func TestCreateChecksModelLimitsBeforeUpload(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.svc.Backend = func(string) (ethos.FineTuneBackend, error) { return limitedBackend{e.fake}, nil }
	o := e.options(t)
	o.Hyperparameters.BatchSize = 16
	_, err := e.svc.Create(t.Context(), o)
	if ethos.KindOf(err) != ethos.Config || !strings.Contains(err.Error(), "up to 8, got 16") {
		t.Fatalf("Create with a batch size above the limit = %v, want a Config error", err)
	}
	if e.fake.uploads != 0 || e.fake.creates != 0 {
		t.Errorf("%d uploads and %d creates despite the refusal", e.fake.uploads, e.fake.creates)
	}
	o.Hyperparameters.BatchSize = 8
	if c := e.create(t, o); c.How != HowCreated {
		t.Errorf("Create within the limits: %s", c.How)
	}
}

// preferencePairs writes a preference (DPO) file of n pairs.
func (e *env) preferencePairs(t *testing.T, name string, n int) string {
	t.Helper()
	return e.write(t, name, n, func(i int) string {
		return fmt.Sprintf(`{"input":{"messages":[{"role":"user","content":"question %d of %s"}]},"preferred_output":[{"role":"assistant","content":"a kind answer %d"}],"non_preferred_output":[{"role":"assistant","content":"a curt answer %d"}]}`, i, name, i, i)
	})
}

// TestCreateRefusesAFileOfTheOtherMethod: an SFT job refuses a preference
// file and a DPO job a conversation file (its validation file too), by the
// real check, before anything is uploaded, naming the line and the rule.
func TestCreateRefusesAFileOfTheOtherMethod(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.svc.Check = nil // dataset.CheckFileWith
	pairs, chats := e.preferencePairs(t, "pairs.jsonl", 3), e.dataset(t, "chat.jsonl", 3)
	for _, tc := range []struct {
		name              string
		method            string
		train, validation string
		want              string
	}{
		{"sft job, preference file", "", pairs, "", "pairs.jsonl: 1 error(s) for together\n  line 1: method.format: a preference (DPO) example"},
		{"sft named, preference file", ethos.FineTuneSFT, pairs, "", "line 1: method.format"},
		{"dpo job, conversation file", ethos.FineTuneDPO, chats, "", "line 1: method.format: conversation format, but the job trains on preferences"},
		{"dpo job, conversation validation file", ethos.FineTuneDPO, pairs, chats, "chat.jsonl: 1 error(s) for together\n  line 1: method.format"},
	} {
		o := e.options(t)
		o.TrainPath, o.ValidationPath, o.Hyperparameters.Method = tc.train, tc.validation, tc.method
		_, err := e.svc.Create(t.Context(), o)
		if ethos.KindOf(err) != ethos.Invalid || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "nothing was uploaded") {
			t.Errorf("%s: Create = %v; want Invalid saying %q and that nothing was uploaded", tc.name, err, tc.want)
		}
		if e.fake.uploads != 0 || e.fake.creates != 0 {
			t.Fatalf("%s: %d uploads and %d creates; want none", tc.name, e.fake.uploads, e.fake.creates)
		}
	}
}

// TestCreateDPO sends a DPO job's method, beta and checkpoint to the
// backend and records them; a continued job is a request of its own.
func TestCreateDPO(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.svc.Check = nil
	o := e.options(t)
	o.TrainPath = e.preferencePairs(t, "pairs.jsonl", 3)
	o.Hyperparameters.Method, o.Hyperparameters.DPOBeta = ethos.FineTuneDPO, 0.2
	first := e.create(t, o)
	o.BaseModel, o.FromCheckpoint = "", "ft-parent"
	continued := e.create(t, o)
	if continued.How != HowCreated || continued.Job.ID == first.Job.ID || continued.Intent == first.Intent {
		t.Fatalf("a continued job with the same file: %s job %s (intent %s); want a new job and intent beside %s (%s)",
			continued.How, continued.Job.ID, continued.Intent, first.Job.ID, first.Intent)
	}
	if len(e.fake.requests) != 2 {
		t.Fatalf("%d create requests, want 2", len(e.fake.requests))
	}
	req := e.fake.requests[1]
	if req.Hyperparameters.Method != ethos.FineTuneDPO || req.Hyperparameters.DPOBeta != 0.2 || req.FromCheckpoint != "ft-parent" || req.BaseModel != "" {
		t.Errorf("request = %+v; want dpo, beta 0.2, from ft-parent, no base model", req)
	}
	got, err := e.store.Job(t.Context(), continued.Job.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Hyperparameters.Method != ethos.FineTuneDPO || got.Hyperparameters.DPOBeta != 0.2 {
		t.Errorf("recorded hyperparameters %+v; want the method and beta asked for", got.Hyperparameters)
	}
	if continued.Job.FromCheckpoint != "ft-parent" {
		t.Errorf("created job continues from %q, want ft-parent", continued.Job.FromCheckpoint)
	}
	// Asking again finds the same job.
	if again := e.create(t, o); again.How != HowExisting || again.Job.ID != continued.Job.ID {
		t.Errorf("the same continued request again: %s job %s; want existing %s", again.How, again.Job.ID, continued.Job.ID)
	}
}

// TestWaitFinished: a completed job comes with its model, polled at the
// provider's interval when none is given; a failed one with the error
// that says how it ended, and no model.
func TestWaitFinished(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.create(t, e.options(t))
	f, err := e.svc.WaitFinished(t.Context(), c.Job.ID, 0, nil)
	if err != nil || f.Job.State != ethos.FineTuneCompleted || f.Model == nil || f.Model.JobID != c.Job.ID {
		t.Fatalf("WaitFinished = %+v, %v", f, err)
	}
	if d := e.slept; len(d) == 0 || d[0] != PollInterval("together") {
		t.Errorf("waited %v between polls, want together's %v", d, PollInterval("together"))
	}

	failed := newEnv(t)
	failed.fake.script = []string{"pending", "error"}
	failed.fake.failWith = "out of memory"
	c = failed.create(t, failed.options(t))
	f, err = failed.svc.WaitFinished(t.Context(), c.Job.ID, time.Second, nil)
	if f.Job.State != ethos.FineTuneFailed || f.Model != nil || !strings.Contains(fmt.Sprint(err), "out of memory") {
		t.Errorf("WaitFinished of a failed job = %+v, %v", f, err)
	}
	if f, err := failed.svc.WaitFinished(t.Context(), "ft-nope", time.Second, nil); ethos.KindOf(err) != ethos.NotFound || f.Job.ID != "" {
		t.Errorf("WaitFinished of an unknown job = %+v, %v", f, err)
	}
}
