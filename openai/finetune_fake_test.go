package openai

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ethos-toolkit/ethos/finetunetest"
)

// ftSpec loads the trimmed fine-tuning spec (testdata/finetune-spec) with
// the OpenAPI 3.0 keywords it still uses (nullable, boolean
// exclusiveMinimum) rewritten for 3.1.
var ftSpec = sync.OnceValues(func() ([]byte, error) {
	raw, err := os.ReadFile("testdata/finetune-spec/openapi.yaml")
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	if finetunetest.NullableToType(doc.Content[0]) == 0 {
		return nil, fmt.Errorf("the spec no longer uses OpenAPI 3.0's nullable: drop NullableToType")
	}
	if finetunetest.ExclusiveBoundsToNumbers(doc.Content[0]) == 0 {
		return nil, fmt.Errorf("the spec no longer uses OpenAPI 3.0's boolean exclusiveMinimum: drop ExclusiveBoundsToNumbers")
	}
	return yaml.Marshal(&doc)
})

var (
	ftSpecOnce sync.Once
	ftChecker  *finetunetest.Spec
)

func theFineTuneSpec(t testing.TB) *finetunetest.Spec {
	t.Helper()
	ftSpecOnce.Do(func() {
		doc, err := ftSpec()
		if err != nil {
			t.Fatal(err)
		}
		// An event's data is a free-form object.
		ftChecker = finetunetest.NewSpec(t, doc, "$.body.data[*].data.*")
	})
	if ftChecker == nil {
		t.Fatal("the spec validator failed to build in another test")
	}
	return ftChecker
}

// fakeOpenAI is a hand-written OpenAI files and fine-tuning API, served
// behind a strict spec check. Lifecycle from creation: validating_files
// 1s, queued 1s, running 6s (a metrics event per step), then succeeded.
// Base model "fail-train" fails at step 3; a cancelled job is cancelled at
// once.
type fakeOpenAI struct {
	mu    sync.Mutex
	now   time.Time
	seq   int
	files map[string]map[string]any
	jobs  map[string]*fakeFTJob
	order []string
}

type fakeFTJob struct {
	id, model, file, suffix string
	created                 time.Time
	cancelled               *time.Time
	epochs                  int
}

const fakeFTSteps = 6

func newFakeOpenAI(t *testing.T) (*fakeOpenAI, *httptest.Server) {
	f := &fakeOpenAI{now: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC), files: map[string]map[string]any{}, jobs: map[string]*fakeFTJob{}}
	srv := httptest.NewServer(theFineTuneSpec(t).Handler(t, f, true))
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeOpenAI) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

func (f *fakeOpenAI) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeOpenAI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+testKey {
		ftError(w, 401, "Incorrect API key provided: "+r.Header.Get("Authorization"), "invalid_request_error", "invalid_api_key")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	path := strings.TrimPrefix(r.URL.Path, "/v1")
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case r.Method == "POST" && path == "/files":
		f.upload(w, r)
	case r.Method == "POST" && path == "/fine_tuning/jobs":
		f.create(w, r)
	case r.Method == "GET" && path == "/fine_tuning/jobs":
		var data []any
		for _, id := range slices.Backward(f.order) {
			data = append(data, f.render(f.jobs[id]))
		}
		data = page(data, r, func(v any) string { return v.(map[string]any)["id"].(string) })
		ftJSON(w, 200, map[string]any{"object": "list", "data": data, "has_more": false})
	case len(parts) >= 3 && parts[0] == "fine_tuning" && parts[1] == "jobs":
		j, ok := f.jobs[parts[2]]
		if !ok {
			ftError(w, 404, "Could not find fine tune: "+parts[2], "invalid_request_error", "fine_tune_not_found")
			return
		}
		switch {
		case r.Method == "GET" && len(parts) == 3:
			ftJSON(w, 200, f.render(j))
		case r.Method == "GET" && parts[3] == "events":
			evs := f.events(j)
			slices.Reverse(evs) // newest first
			ftJSON(w, 200, map[string]any{"object": "list", "data": evs, "has_more": false})
		case r.Method == "GET" && parts[3] == "checkpoints":
			ftJSON(w, 200, map[string]any{"object": "list", "data": f.checkpoints(j), "has_more": false, "first_id": nil, "last_id": nil})
		case r.Method == "POST" && parts[3] == "cancel":
			if st := f.status(j); FineTuneState(st).Final() {
				ftError(w, 400, fmt.Sprintf("Cannot cancel a job that has already %s.", st), "invalid_request_error", "")
				return
			}
			at := f.now
			j.cancelled = &at
			ftJSON(w, 200, f.render(j))
		default:
			ftError(w, 404, "no such route", "invalid_request_error", "")
		}
	default:
		ftError(w, 404, "no such route", "invalid_request_error", "")
	}
}

// page applies after and limit to a newest-first list.
func page(data []any, r *http.Request, id func(any) string) []any {
	q := r.URL.Query()
	if after := q.Get("after"); after != "" {
		for i, v := range data {
			if id(v) == after {
				data = data[i+1:]
				break
			}
		}
	}
	if n, err := strconv.Atoi(q.Get("limit")); err == nil && n < len(data) {
		data = data[:n]
	}
	if data == nil {
		data = []any{}
	}
	return data
}

func (f *fakeOpenAI) upload(w http.ResponseWriter, r *http.Request) {
	_, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	form, err := multipart.NewReader(r.Body, params["boundary"]).ReadForm(1 << 20)
	if err != nil || len(form.File["file"]) != 1 {
		ftError(w, 400, "missing file", "invalid_request_error", "")
		return
	}
	fh := form.File["file"][0]
	file, _ := fh.Open()
	content, _ := io.ReadAll(file)
	f.seq++
	obj := map[string]any{"id": fmt.Sprintf("file-%04d", f.seq), "object": "file", "bytes": len(content),
		"created_at": f.now.Unix(), "filename": fh.Filename, "purpose": form.Value["purpose"][0], "status": "processed"}
	f.files[obj["id"].(string)] = obj
	ftJSON(w, 200, obj)
}

func (f *fakeOpenAI) create(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Model        string `json:"model"`
		TrainingFile string `json:"training_file"`
		Suffix       string `json:"suffix"`
		Method       struct {
			Supervised struct {
				Hyperparameters struct {
					NEpochs int `json:"n_epochs"`
				} `json:"hyperparameters"`
			} `json:"supervised"`
		} `json:"method"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		ftError(w, 400, err.Error(), "invalid_request_error", "")
		return
	}
	// A fine-tuned model ("ft:gpt-4o-mini…") is fine-tuned further.
	if !strings.HasPrefix(strings.TrimPrefix(req.Model, "ft:"), "gpt-4o-mini") && req.Model != "fail-train" {
		ftError(w, 400, fmt.Sprintf("Model %s is not available for fine-tuning or does not exist.", req.Model), "invalid_request_error", "model_not_available")
		return
	}
	if _, ok := f.files[req.TrainingFile]; !ok {
		ftError(w, 400, "invalid training_file: "+req.TrainingFile, "invalid_request_error", "invalid_training_file")
		return
	}
	f.seq++
	j := &fakeFTJob{id: fmt.Sprintf("ftjob-%04d", f.seq), model: req.Model, file: req.TrainingFile, suffix: req.Suffix,
		created: f.now, epochs: max(req.Method.Supervised.Hyperparameters.NEpochs, 1)}
	f.jobs[j.id] = j
	f.order = append(f.order, j.id)
	ftJSON(w, 200, f.render(j))
}

func (f *fakeOpenAI) status(j *fakeFTJob) string {
	e := f.now.Sub(j.created)
	switch {
	case j.cancelled != nil:
		return "cancelled"
	case e < time.Second:
		return "validating_files"
	case e < 2*time.Second:
		return "queued"
	case j.model == "fail-train" && e >= 5*time.Second:
		return "failed"
	case e < (2+fakeFTSteps)*time.Second:
		return "running"
	}
	return "succeeded"
}

func (f *fakeOpenAI) render(j *fakeFTJob) map[string]any {
	st := f.status(j)
	m := map[string]any{
		"object": "fine_tuning.job", "id": j.id, "model": j.model, "created_at": j.created.Unix(),
		"fine_tuned_model": nil, "organization_id": "org-fake", "result_files": []string{}, "status": st,
		"validation_file": nil, "training_file": j.file, "trained_tokens": nil, "error": nil, "finished_at": nil,
		"seed": 42, "hyperparameters": map[string]any{"n_epochs": j.epochs, "batch_size": "auto", "learning_rate_multiplier": "auto"},
		"method": map[string]any{"type": "supervised", "supervised": map[string]any{"hyperparameters": map[string]any{
			"n_epochs": j.epochs, "batch_size": "auto", "learning_rate_multiplier": "auto"}}},
	}
	switch st {
	case "succeeded":
		m["fine_tuned_model"] = fmt.Sprintf("ft:%s:fake-org:%s:%s", j.model, j.suffix, j.id[6:])
		m["finished_at"] = j.created.Add((2 + fakeFTSteps) * time.Second).Unix()
		m["trained_tokens"] = 1234
	case "failed":
		m["finished_at"] = j.created.Add(5 * time.Second).Unix()
		m["error"] = map[string]any{"code": "training_failed", "message": "Training failed at step 3: the loss became NaN.", "param": nil}
	case "cancelled":
		m["finished_at"] = j.cancelled.Unix()
	}
	return m
}

func (f *fakeOpenAI) events(j *fakeFTJob) []any {
	end := f.now.Sub(j.created)
	if j.cancelled != nil {
		end = j.cancelled.Sub(j.created)
	}
	var out []any
	add := func(d time.Duration, typ, level, msg string, data map[string]any) {
		if d > end {
			return
		}
		e := map[string]any{"object": "fine_tuning.job.event", "id": fmt.Sprintf("ftevent-%s-%d", j.id, len(out)),
			"created_at": j.created.Add(d).Unix(), "level": level, "message": msg, "type": typ}
		if data != nil {
			e["data"] = data
		}
		out = append(out, e)
	}
	add(0, "message", "info", "Validating training file: "+j.file, nil)
	add(2*time.Second, "message", "info", "Fine-tuning job started", nil)
	for s := 1; s <= fakeFTSteps; s++ {
		at := time.Duration(2+s) * time.Second
		if j.model == "fail-train" && s == 3 {
			add(at, "message", "error", "Training failed at step 3: the loss became NaN.", nil)
			break
		}
		loss := 2.0 / float64(s+1)
		add(at, "metrics", "info", fmt.Sprintf("Step %d/%d: training loss=%.4f", s, fakeFTSteps, loss),
			map[string]any{"step": s, "train_loss": loss, "total_steps": fakeFTSteps, "train_mean_token_accuracy": 0.5})
	}
	if j.cancelled != nil {
		add(end, "message", "info", "Fine-tuning job cancelled", nil)
	} else if j.model != "fail-train" {
		add((2+fakeFTSteps)*time.Second, "message", "info", "The job has successfully completed", nil)
	}
	return out
}

func (f *fakeOpenAI) checkpoints(j *fakeFTJob) []any {
	var out []any
	for s := 3; s <= fakeFTSteps; s += 3 {
		at := time.Duration(2+s) * time.Second
		if at > f.now.Sub(j.created) || j.model == "fail-train" {
			break
		}
		out = append(out, map[string]any{"object": "fine_tuning.job.checkpoint", "id": fmt.Sprintf("ftckpt-%d", s),
			"created_at": j.created.Add(at).Unix(), "fine_tuned_model_checkpoint": fmt.Sprintf("ft:%s:fake-org::%s:ckpt-step-%d", j.model, j.id[6:], s),
			"step_number": s, "metrics": map[string]any{"step": s, "train_loss": 2.0 / float64(s+1)}, "fine_tuning_job_id": j.id})
	}
	slices.Reverse(out)
	if out == nil {
		out = []any{}
	}
	return out
}

func ftJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("x-request-id", "req-ft-1")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func ftError(w http.ResponseWriter, status int, msg, typ, code string) {
	var c any
	if code != "" {
		c = code
	}
	ftJSON(w, status, map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": c}})
}
