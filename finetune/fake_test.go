package finetune

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ethos-toolkit/ethos"
)

// fakeBackend is a hand-written FineTuneBackend whose jobs move one status
// further on each Get, along a script, so tests step through a lifecycle
// without clocks. It names trained models only in the job payload, the
// way a provider's JSON does, so the service's name resolution runs.
type fakeBackend struct {
	mu       sync.Mutex
	provider string
	now      func() time.Time
	script   []string // statuses a new job goes through; the last one stays

	files map[string][]byte
	jobs  []*fakeJob

	uploads, creates, lists, gets, cancels int
	requests                               []ethos.FineTuneRequest // every Create's request, in order

	// Failure injection, consumed in order.
	getErrs    []error // returned by the next Gets, before any state change
	eventErrs  []error
	createErr  error // returned by Create without creating
	lostCreate error // Create creates the job, then returns this (a lost response)
	listErr    error
	cancelErr  error
	failWith   string // the error message of a job that ends in "error"
}

type fakeJob struct {
	job    ethos.FineTuneJob
	step   int // index into script
	script []string
	events []ethos.FineTuneEvent
}

// togetherScript is Together's lifecycle, "uploading" (the trained model)
// included.
var togetherScript = []string{"pending", "queued", "running", "running", "compressing", "uploading", "completed"}

func newFake(provider string, now func() time.Time) *fakeBackend {
	return &fakeBackend{provider: provider, now: now, script: togetherScript, files: map[string][]byte{}}
}

func (f *fakeBackend) Provider() string { return f.provider }

func (f *fakeBackend) Upload(ctx context.Context, name string, content []byte) (ethos.File, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.uploads++
	id := fmt.Sprintf("file-%d", f.uploads)
	f.files[id] = content
	return ethos.File{ID: id, Name: name, Bytes: int64(len(content)), CreatedAt: f.now()}, nil
}

// File makes the fake a FileChecker.
func (f *fakeBackend) File(ctx context.Context, id string) (ethos.File, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.files[id]; !ok {
		return ethos.File{}, &ethos.Error{Kind: ethos.NotFound, Status: 404, Msg: "file " + id + " not found"}
	}
	return ethos.File{ID: id}, nil
}

func (f *fakeBackend) Create(ctx context.Context, req ethos.FineTuneRequest) (ethos.FineTuneJob, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.createErr; err != nil {
		f.createErr = nil
		return ethos.FineTuneJob{}, err
	}
	if req.BaseModel == "no-such-model" {
		return ethos.FineTuneJob{}, &ethos.Error{Kind: ethos.Invalid, Status: 400, Msg: "model no-such-model is not available for fine-tuning"}
	}
	if _, ok := f.files[req.TrainFile]; !ok {
		return ethos.FineTuneJob{}, &ethos.Error{Kind: ethos.NotFound, Status: 404, Msg: "file " + req.TrainFile + " not found"}
	}
	f.creates++
	f.requests = append(f.requests, req)
	id := fmt.Sprintf("ft-%04d", f.creates)
	j := &fakeJob{script: slices.Clone(f.script), job: ethos.FineTuneJob{
		ID: id, Provider: f.provider, BaseModel: req.BaseModel, Status: f.script[0],
		TrainFile: req.TrainFile, ValidationFile: req.ValidationFile, CreatedAt: f.now(),
		Hyperparameters: ethos.Hyperparameters{Epochs: 3, LearningRate: 1e-5, BatchSize: 16},
	}}
	j.job.Payload = f.payload(j)
	f.jobs = append(f.jobs, j)
	if err := f.lostCreate; err != nil {
		f.lostCreate = nil
		return ethos.FineTuneJob{}, err
	}
	return j.job, nil
}

// payload is the job as Together's JSON would show it.
func (f *fakeBackend) payload(j *fakeJob) json.RawMessage {
	b, _ := json.Marshal(map[string]any{
		"id": j.job.ID, "status": j.job.Status, "model": j.job.BaseModel,
		"model_output_name": "acme/" + j.job.BaseModel + "-agora-" + j.job.ID,
		"training_file":     j.job.TrainFile, "total_price": 1500,
	})
	return b
}

func (f *fakeBackend) find(id string) (*fakeJob, error) {
	for _, j := range f.jobs {
		if j.job.ID == id {
			return j, nil
		}
	}
	return nil, &ethos.Error{Kind: ethos.NotFound, Status: 404, Msg: "job " + id + " not found"}
}

func (f *fakeBackend) Get(ctx context.Context, id string) (ethos.FineTuneJob, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets++
	if len(f.getErrs) > 0 {
		err := f.getErrs[0]
		f.getErrs = f.getErrs[1:]
		return ethos.FineTuneJob{}, err
	}
	j, err := f.find(id)
	if err != nil {
		return ethos.FineTuneJob{}, err
	}
	f.advance(j)
	// The backend reports the status; the service derives the state.
	out := j.job
	out.State = ""
	out.OutputModel = ""
	return out, nil
}

// advance moves j one status on and records the events a provider would.
func (f *fakeBackend) advance(j *fakeJob) {
	if j.step+1 >= len(j.script) || StateOf(j.job.Status).Final() {
		return
	}
	j.step++
	status := j.script[j.step]
	j.job.Status = status
	ev := ethos.FineTuneEvent{ProviderID: fmt.Sprintf("%s-ev-%d", j.job.ID, len(j.events)+1), CreatedAt: f.now(),
		Level: "info", Type: "status", Message: "job is " + status}
	switch status {
	case "running":
		ev.Type = "epoch_complete"
		ev.Step = 10 * j.step
		ev.Epoch = j.step - 1
		loss := 2.0 / float64(j.step)
		ev.Loss = &loss
		ev.Message = fmt.Sprintf("step %d loss %.3f", ev.Step, loss)
		j.job.Progress = ethos.FineTuneProgress{TotalSteps: 60}
	case "completed":
		j.job.CostUSD = 15
		t := f.now()
		j.job.FinishedAt = &t
	case "error":
		ev.Level, ev.Type = "error", "job_error"
		j.job.Error = f.failWith
	}
	j.events = append(j.events, ev)
	j.job.Payload = f.payload(j)
}

func (f *fakeBackend) List(ctx context.Context, limit int) ([]ethos.FineTuneJob, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists++
	if f.listErr != nil {
		return nil, f.listErr
	}
	var out []ethos.FineTuneJob
	for i := len(f.jobs) - 1; i >= 0 && len(out) < limit; i-- {
		// A listing is a summary: no payload.
		j := f.jobs[i].job
		j.Payload = nil
		out = append(out, j)
	}
	return out, nil
}

func (f *fakeBackend) Events(ctx context.Context, id string) ([]ethos.FineTuneEvent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.eventErrs) > 0 {
		err := f.eventErrs[0]
		f.eventErrs = f.eventErrs[1:]
		return nil, err
	}
	j, err := f.find(id)
	if err != nil {
		return nil, err
	}
	return slices.Clone(j.events), nil
}

func (f *fakeBackend) Cancel(ctx context.Context, id string) (ethos.FineTuneJob, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cancels++
	if f.cancelErr != nil {
		return ethos.FineTuneJob{}, f.cancelErr
	}
	j, err := f.find(id)
	if err != nil {
		return ethos.FineTuneJob{}, err
	}
	if StateOf(j.job.Status).Final() {
		return ethos.FineTuneJob{}, &ethos.Error{Kind: ethos.Invalid, Status: 400, Msg: "job " + id + " is " + j.job.Status + " and cannot be cancelled"}
	}
	// Together goes through cancel_requested to cancelled.
	j.script = []string{j.job.Status, "cancelled"}
	j.step = 0
	j.job.Status = "cancel_requested"
	j.job.Payload = f.payload(j)
	out := j.job
	out.State = ""
	return out, nil
}

// jobCount is how many jobs the provider has.
func (f *fakeBackend) jobCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.jobs)
}
