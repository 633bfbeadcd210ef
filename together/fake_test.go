package together

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeTogether is a hand-written Together API for tests: files and
// fine-tunes with a lifecycle driven by a clock the test advances. It is
// served behind a spec check, so every request it receives and every 2xx
// answer it gives is checked against the spec (strictly: no undeclared
// field either way), and a test that passes through it proves the
// client's wire shapes, not just its round trips.
//
// Lifecycle from creation: pending 1s, queued 1s, running 6s (one step a
// second, two epochs of three steps), compressing 1s, uploading 1s, then
// completed. A cancelled job is cancel_requested for a second, then
// cancelled. Base model "fail-train" fails at step 3. As on Together,
// events carry no loss: GET /fine-tunes/{id}/metrics has a training loss
// at every step, and with a validation file and n_evals a validation loss
// at n_evals evenly spaced steps.
//
// Dedicated endpoints (GET /hardware, GET and POST /endpoints, GET and
// PATCH /endpoints/{id}) follow the spec too, on the same clock: PENDING
// 1s, STARTING 1s, then STARTED; once stopped, STOPPING 1s, then
// STOPPED. They deploy fakeDedicatedModel, which POST /chat/completions
// refuses as Together refuses a model it does not serve serverless (400
// model_not_available), and the base models; a started endpoint answers
// chat requests under its name. The chat path is not among the spec
// paths the tests keep, so it is served unchecked.
type fakeTogether struct {
	t   *testing.T
	key string

	mu    sync.Mutex
	now   time.Time
	seq   int
	files map[string]map[string]any
	jobs  map[string]*fakeJob
	eps   []*fakeEndpoint
}

// fakeEndpoint is a dedicated endpoint as the fake keeps it.
type fakeEndpoint struct {
	id, name, display, model, hardware string
	inactiveTimeout                    *int
	created, started                   time.Time
	stopAt                             *time.Time
}

// fakeDedicatedModel is a fine-tuned model the fake serves only on a
// dedicated endpoint.
const fakeDedicatedModel = "acme/Meta-Llama-3.1-8B-Instruct-Reference-agora-dedicated"

// fakeHardware is what GET /hardware lists, with its price in cents per
// minute.
var fakeHardware = map[string]float64{"1x_nvidia_h100_80gb_sxm": 5.42, "2x_nvidia_h100_80gb_sxm": 10.84}

type fakeJob struct {
	id, model, trainingFile, suffix string
	validationFile                  string
	epochs, evals                   int
	created                         time.Time
	cancelAt                        *time.Time
	trainingType                    map[string]any
}

// fakeModels are the base models the fake accepts.
var fakeModels = []string{"meta-llama/Meta-Llama-3.1-8B-Instruct-Reference", "fail-train"}

const fakeSteps = 6

func newFakeTogether(t *testing.T) (*fakeTogether, *httptest.Server) {
	f := &fakeTogether{
		t: t, key: "tk-test-SECRET",
		now:   time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC),
		files: map[string]map[string]any{},
		jobs:  map[string]*fakeJob{},
	}
	checked := thePatchedSpec(t).Handler(t, f, true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/chat/completions" {
			f.ServeHTTP(w, r) // not among the spec paths kept
			return
		}
		checked.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return f, srv
}

// advance moves the fake's clock.
func (f *fakeTogether) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

func (f *fakeTogether) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeTogether) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+f.key {
		writeFakeError(w, 401, "Invalid API key provided: "+strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), "invalid_api_key")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.route(w, r, body)
}

func (f *fakeTogether) route(w http.ResponseWriter, r *http.Request, body []byte) {
	path := strings.TrimPrefix(r.URL.Path, "/v1")
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case r.Method == "POST" && path == "/files/upload":
		f.upload(w, r, body)
	case r.Method == "GET" && len(parts) == 2 && parts[0] == "files":
		file, ok := f.files[parts[1]]
		if !ok {
			writeFakeError(w, 404, "File not found: "+parts[1], "not_found")
			break
		}
		writeFakeJSON(w, 200, file)
	case r.Method == "POST" && path == "/fine-tunes":
		f.create(w, body)
	case r.Method == "GET" && path == "/hardware":
		f.hardware(w, r)
	case r.Method == "GET" && path == "/endpoints":
		data := []any{}
		for _, e := range f.eps {
			data = append(data, f.renderEndpoint(e, false))
		}
		writeFakeJSON(w, 200, map[string]any{"object": "list", "data": data})
	case r.Method == "POST" && path == "/endpoints":
		f.createEndpoint(w, body)
	case len(parts) == 2 && parts[0] == "endpoints":
		f.endpoint(w, r, parts[1], body)
	case r.Method == "POST" && path == "/chat/completions":
		f.chat(w, body)
	case r.Method == "GET" && path == "/fine-tunes/models/limits":
		model := r.URL.Query().Get("model_name")
		if !slices.Contains(fakeModels, model) {
			writeFakeJSON(w, 404, map[string]any{"message": "Model " + model + " is not supported for fine-tuning"})
			break
		}
		writeFakeJSON(w, 200, map[string]any{"model_name": model,
			"full_training":  map[string]any{"max_batch_size": 96, "max_batch_size_dpo": 48, "min_batch_size": 8},
			"lora_training":  map[string]any{"max_batch_size": 128, "max_batch_size_dpo": 64, "min_batch_size": 8, "max_rank": 64, "target_modules": []string{"q_proj", "v_proj"}},
			"max_num_epochs": 20, "max_num_evals": 100, "max_learning_rate": 1, "min_learning_rate": 1e-8,
			"supports_vision": false, "supports_tools": true, "supports_reasoning": false, "merge_output_lora": false})
	case r.Method == "GET" && path == "/fine-tunes":
		var data []any
		for _, j := range f.sortedJobs() {
			data = append(data, f.render(j, false))
		}
		writeFakeJSON(w, 200, map[string]any{"data": data})
	case len(parts) >= 2 && parts[0] == "fine-tunes":
		j, ok := f.jobs[parts[1]]
		if !ok {
			writeFakeError(w, 404, "Fine-tune job not found: "+parts[1], "not_found")
			break
		}
		switch {
		case r.Method == "GET" && len(parts) == 2:
			writeFakeJSON(w, 200, f.render(j, true))
		case r.Method == "GET" && len(parts) == 3 && parts[2] == "events":
			writeFakeJSON(w, 200, map[string]any{"data": f.events(j)})
		case r.Method == "GET" && len(parts) == 3 && parts[2] == "checkpoints":
			writeFakeJSON(w, 200, map[string]any{"data": f.checkpoints(j)})
		case r.Method == "GET" && len(parts) == 3 && parts[2] == "metrics":
			writeFakeJSON(w, 200, map[string]any{"metrics": f.metrics(j)})
		case r.Method == "POST" && len(parts) == 3 && parts[2] == "cancel":
			status := f.status(j)
			if State(status).Final() {
				writeFakeError(w, 400, fmt.Sprintf("Job %s cannot be cancelled: it has already finished with status %s", j.id, status), "invalid_request_error")
				break
			}
			if j.cancelAt == nil {
				at := f.now
				j.cancelAt = &at
			}
			writeFakeJSON(w, 200, f.render(j, false))
		default:
			writeFakeError(w, 404, "no such endpoint", "not_found")
		}
	default:
		writeFakeError(w, 404, "no such endpoint", "not_found")
	}
}

func (f *fakeTogether) deployable(model string) bool {
	return model == fakeDedicatedModel || (slices.Contains(fakeModels, model) && model != "fail-train")
}

func (f *fakeTogether) hardware(w http.ResponseWriter, r *http.Request) {
	model := r.URL.Query().Get("model")
	if model != "" && !f.deployable(model) {
		writeFakeError(w, 404, "Model "+model+" cannot be deployed on a dedicated endpoint", "not_found")
		return
	}
	var ids []string
	for id := range fakeHardware {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	data := []any{}
	for _, id := range ids {
		hw := map[string]any{"object": "hardware", "id": id, "updated_at": f.now.Format(time.RFC3339),
			"pricing": map[string]any{"cents_per_minute": fakeHardware[id]},
			"specs":   map[string]any{"gpu_type": "h100-80gb", "gpu_link": "sxm", "gpu_memory": 80, "gpu_count": 1}}
		if model != "" {
			hw["availability"] = map[string]any{"status": "available"}
		}
		data = append(data, hw)
	}
	writeFakeJSON(w, 200, map[string]any{"object": "list", "data": data})
}

func (f *fakeTogether) createEndpoint(w http.ResponseWriter, body []byte) {
	var req struct {
		DisplayName     string `json:"display_name"`
		Model           string `json:"model"`
		Hardware        string `json:"hardware"`
		State           string `json:"state"`
		InactiveTimeout *int   `json:"inactive_timeout"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeFakeError(w, 400, err.Error(), "invalid_request_error")
		return
	}
	switch {
	case !f.deployable(req.Model):
		writeFakeError(w, 400, "Model "+req.Model+" cannot be deployed on a dedicated endpoint", "invalid_request_error")
		return
	case fakeHardware[req.Hardware] == 0:
		writeFakeError(w, 400, "Hardware "+req.Hardware+" is not available; GET /hardware lists the configurations", "invalid_request_error")
		return
	case req.State == "STOPPED":
		writeFakeError(w, 400, "the fake starts every endpoint it creates", "invalid_request_error")
		return
	}
	f.seq++
	e := &fakeEndpoint{id: fmt.Sprintf("endpoint-%08d-0000-4000-8000-000000000000", f.seq),
		name: fmt.Sprintf("acme/%s-%08x", req.Model, f.seq), display: req.DisplayName, model: req.Model,
		hardware: req.Hardware, inactiveTimeout: req.InactiveTimeout, created: f.now, started: f.now}
	if e.display == "" {
		e.display = e.name
	}
	f.eps = append(f.eps, e)
	writeFakeJSON(w, 200, f.renderEndpoint(e, true))
}

func (f *fakeTogether) endpoint(w http.ResponseWriter, r *http.Request, id string, body []byte) {
	i := slices.IndexFunc(f.eps, func(e *fakeEndpoint) bool { return e.id == id })
	if i < 0 {
		writeFakeError(w, 404, "Endpoint not found: "+id, "not_found")
		return
	}
	e := f.eps[i]
	switch r.Method {
	case "GET":
	case "PATCH":
		var req struct {
			DisplayName     string `json:"display_name"`
			State           string `json:"state"`
			InactiveTimeout *int   `json:"inactive_timeout"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			writeFakeError(w, 400, err.Error(), "invalid_request_error")
			return
		}
		if req.DisplayName != "" {
			e.display = req.DisplayName
		}
		if req.InactiveTimeout != nil {
			e.inactiveTimeout = req.InactiveTimeout
		}
		switch {
		case req.State == "STOPPED" && e.stopAt == nil:
			at := f.now
			e.stopAt = &at
		case req.State == "STARTED" && e.stopAt != nil:
			e.stopAt, e.started = nil, f.now
		}
	default:
		writeFakeError(w, 404, "no such endpoint", "not_found")
		return
	}
	writeFakeJSON(w, 200, f.renderEndpoint(e, true))
}

// endpointState is the endpoint's state by the fake's clock.
func (f *fakeTogether) endpointState(e *fakeEndpoint) string {
	if e.stopAt != nil {
		if f.now.Sub(*e.stopAt) < time.Second {
			return "STOPPING"
		}
		return "STOPPED"
	}
	switch since := f.now.Sub(e.started); {
	case since < time.Second:
		return "PENDING"
	case since < 2*time.Second:
		return "STARTING"
	}
	return "STARTED"
}

// renderEndpoint is the spec's DedicatedEndpoint (full) or ListEndpoint,
// which has no display name, hardware or autoscaling.
func (f *fakeTogether) renderEndpoint(e *fakeEndpoint, full bool) map[string]any {
	m := map[string]any{"object": "endpoint", "id": e.id, "name": e.name, "model": e.model, "type": "dedicated",
		"owner": "acme", "state": f.endpointState(e), "created_at": e.created.Format("2006-01-02T15:04:05.000Z")}
	if full {
		m["display_name"], m["hardware"] = e.display, e.hardware
		m["autoscaling"] = map[string]any{"min_replicas": 1, "max_replicas": 1}
	}
	return m
}

// chat answers a chat request: a started endpoint under its name,
// Together's refusal for a model served only on an endpoint.
func (f *fakeTogether) chat(w http.ResponseWriter, body []byte) {
	var req struct {
		Model string `json:"model"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeFakeError(w, 400, err.Error(), "invalid_request_error")
		return
	}
	for _, e := range f.eps {
		if e.name == req.Model && f.endpointState(e) == "STARTED" {
			writeFakeJSON(w, 200, map[string]any{"id": "chat-1", "object": "chat.completion", "model": req.Model,
				"choices": []any{map[string]any{"index": 0, "finish_reason": "length", "message": map[string]any{"role": "assistant", "content": "Hi"}}},
				"usage":   map[string]any{"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})
			return
		}
	}
	if req.Model == fakeDedicatedModel {
		writeFakeJSON(w, 400, map[string]any{"error": map[string]any{"type": "invalid_request_error", "param": nil, "code": "model_not_available",
			"message": "Unable to access non-serverless model " + req.Model + ". Please visit https://api.together.ai/models/" + req.Model + " to create and start a new dedicated endpoint for the model."}})
		return
	}
	writeFakeError(w, 404, "Unable to access model "+req.Model+". Please visit https://api.together.ai/models to view the list of supported models.", "invalid_request_error")
}

func (f *fakeTogether) upload(w http.ResponseWriter, r *http.Request, body []byte) {
	_, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		writeFakeError(w, 400, "not multipart", "invalid_request_error")
		return
	}
	mr := multipart.NewReader(strings.NewReader(string(body)), params["boundary"])
	form, err := mr.ReadForm(1 << 20)
	if err != nil || len(form.File["file"]) != 1 {
		writeFakeError(w, 400, "missing file", "invalid_request_error")
		return
	}
	fh := form.File["file"][0]
	f.seq++
	id := fmt.Sprintf("file-%04d", f.seq)
	file := map[string]any{
		"id": id, "object": "file", "created_at": f.now.Unix(), "filename": form.Value["file_name"][0],
		"bytes": fh.Size, "purpose": form.Value["purpose"][0], "FileType": form.Value["file_type"][0], "Processed": true,
	}
	f.files[id] = file
	writeFakeJSON(w, 200, file)
}

func (f *fakeTogether) create(w http.ResponseWriter, body []byte) {
	var req struct {
		Model          string         `json:"model"`
		TrainingFile   string         `json:"training_file"`
		ValidationFile string         `json:"validation_file"`
		NEpochs        int            `json:"n_epochs"`
		NEvals         int            `json:"n_evals"`
		Suffix         string         `json:"suffix"`
		TrainingType   map[string]any `json:"training_type"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeFakeError(w, 400, err.Error(), "invalid_request_error")
		return
	}
	if !slices.Contains(fakeModels, req.Model) {
		writeFakeError(w, 400, fmt.Sprintf("Model %s is not supported for fine-tuning", req.Model), "invalid_request_error")
		return
	}
	for _, id := range []string{req.TrainingFile, req.ValidationFile} {
		if _, ok := f.files[id]; !ok && id != "" {
			writeFakeError(w, 400, "file "+id+" does not exist", "invalid_request_error")
			return
		}
	}
	if req.NEvals > 0 && req.ValidationFile == "" {
		writeFakeError(w, 400, "n_evals requires a validation_file", "invalid_request_error")
		return
	}
	f.seq++
	j := &fakeJob{id: fmt.Sprintf("ft-%08d-0000-4000-8000-000000000000", f.seq), model: req.Model,
		trainingFile: req.TrainingFile, validationFile: req.ValidationFile, suffix: req.Suffix, epochs: max(req.NEpochs, 1),
		evals: req.NEvals, created: f.now, trainingType: req.TrainingType}
	f.jobs[j.id] = j
	writeFakeJSON(w, 200, f.render(j, false))
}

func (f *fakeTogether) sortedJobs() []*fakeJob {
	var out []*fakeJob
	for _, j := range f.jobs {
		out = append(out, j)
	}
	// Oldest first, as an API that does not promise an order might.
	slices.SortFunc(out, func(a, b *fakeJob) int { return a.created.Compare(b.created) })
	return out
}

// elapsed is how long the job has existed.
func (f *fakeTogether) elapsed(j *fakeJob) time.Duration { return f.now.Sub(j.created) }

func (f *fakeTogether) status(j *fakeJob) string {
	if j.cancelAt != nil {
		if f.now.Sub(*j.cancelAt) < time.Second {
			return "cancel_requested"
		}
		return "cancelled"
	}
	e := f.elapsed(j)
	switch {
	case e < time.Second:
		return "pending"
	case e < 2*time.Second:
		return "queued"
	case j.model == "fail-train" && e >= 5*time.Second:
		return "error"
	case e < (2+fakeSteps)*time.Second:
		return "running"
	case e < (3+fakeSteps)*time.Second:
		return "compressing"
	case e < (4+fakeSteps)*time.Second:
		return "uploading"
	}
	return "completed"
}

func (f *fakeTogether) stamp(d time.Duration, j *fakeJob) string {
	return j.created.Add(d).Format("2006-01-02T15:04:05.000Z")
}

func (f *fakeTogether) render(j *fakeJob, full bool) map[string]any {
	m := map[string]any{
		"id": j.id, "status": f.status(j), "model": j.model, "training_file": j.trainingFile,
		"created_at": f.stamp(0, j), "updated_at": f.now.Format(time.RFC3339Nano),
		"n_epochs": j.epochs, "total_price": 2_500_000_000, "events": []any{},
	}
	if j.validationFile != "" {
		m["validation_file"], m["n_evals"] = j.validationFile, j.evals
	}
	if j.suffix != "" && !full {
		// Only the truncated object declares suffix.
		m["suffix"] = j.suffix
	}
	if j.trainingType != nil {
		m["training_type"] = j.trainingType
	}
	if f.status(j) == "completed" {
		m["model_output_name"] = "acme/" + j.model + "-" + j.suffix + "-" + j.id[3:11]
	}
	if full {
		m["events"] = f.events(j)
	}
	return m
}

// event builds a spec FineTuneEvent at offset d from the job's creation.
func (f *fakeTogether) event(j *fakeJob, d time.Duration, typ, level, msg string, step int) map[string]any {
	return map[string]any{
		"object": "fine-tune-event", "created_at": f.stamp(d, j), "level": level, "message": msg, "type": typ,
		"param_count": 8_000_000_000, "token_count": 1200, "total_steps": fakeSteps, "wandb_url": "",
		"step": step, "checkpoint_path": "", "model_path": "", "training_offset": 0,
		"hash": fmt.Sprintf("%s-%d-%s", j.id, step, typ),
	}
}

// fakeLoss is the loss the fake reports at a step.
func fakeLoss(step int) float64 { return 2.0 / float64(step+1) }

func (f *fakeTogether) events(j *fakeJob) []any {
	end := f.elapsed(j)
	if j.cancelAt != nil {
		end = j.cancelAt.Sub(j.created)
	}
	all := []any{f.event(j, 0, "job_pending", "info", "Fine tune request created", 0)}
	add := func(d time.Duration, typ, level, msg string, step int) {
		if d <= end {
			all = append(all, f.event(j, d, typ, level, msg, step))
		}
	}
	add(2*time.Second, "training_start", "info", "Training started for model "+j.model, 0)
	for s := 1; s <= fakeSteps; s++ {
		at := time.Duration(2+s) * time.Second
		if j.model == "fail-train" && s >= 3 {
			add(at, "job_error", "error", fmt.Sprintf("Training failed at step %d: CUDA out of memory", s), s)
			break
		}
		// No loss, as the spec's event has none; old-style levels are
		// mixed in.
		level := "info"
		if s%2 == 0 {
			level = "legacy_info"
		}
		add(at, "checkpoint_save", level, fmt.Sprintf("Checkpoint saved at step %d/%d (epoch %d/2)", s, fakeSteps, (s-1)/3+1), 0)
		if s%3 == 0 {
			add(at, "epoch_complete", "info", fmt.Sprintf("Epoch completed, at step %d", s), s)
		}
	}
	if j.model != "fail-train" {
		add((2+fakeSteps)*time.Second, "model_compressing", "info", "Compressing output model", 0)
		add((3+fakeSteps)*time.Second, "model_uploading", "info", "Uploading output model", 0)
		add((4+fakeSteps)*time.Second, "job_complete", "info", "Job finished", 0)
	}
	if j.cancelAt != nil {
		all = append(all, f.event(j, end, "cancel_requested", "info", "Cancel requested", 0))
	}
	return all
}

// metrics are the job's metrics snapshots so far, in the order they were
// logged: the training loss at each step done, and the validation loss
// after the steps that end each of its evaluations.
func (f *fakeTogether) metrics(j *fakeJob) []any {
	out := []any{}
	for s := 1; s <= fakeSteps; s++ {
		at := time.Duration(2+s) * time.Second
		if at > f.elapsed(j) || (j.cancelAt != nil && at > j.cancelAt.Sub(j.created)) || (j.model == "fail-train" && s >= 3) {
			break
		}
		out = append(out, map[string]any{"train/loss": fakeLoss(s), "train/learning_rate": 1e-5, "train/global_step": s})
		if j.evals > 0 && s%max(fakeSteps/j.evals, 1) == 0 {
			out = append(out, map[string]any{"eval/loss": fakeLoss(s) * 1.1, "train/global_step": s})
		}
	}
	return out
}

func (f *fakeTogether) checkpoints(j *fakeJob) []any {
	var out []any
	for s := 1; s <= fakeSteps; s++ {
		if time.Duration(2+s)*time.Second > f.elapsed(j) {
			break
		}
		out = append(out, map[string]any{"step": s, "path": fmt.Sprintf("s3://ckpt/%s/%d", j.id, s),
			"created_at": f.stamp(time.Duration(2+s)*time.Second, j), "checkpoint_type": "Intermediate"})
	}
	if f.status(j) == "completed" {
		out = append(out, map[string]any{"step": fakeSteps, "path": "s3://final/" + j.id,
			"created_at": f.stamp((4+fakeSteps)*time.Second, j), "checkpoint_type": "Final"})
	}
	// Newest first.
	slices.Reverse(out)
	return out
}

func writeFakeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("x-request-id", "req-fake-1")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeFakeError(w http.ResponseWriter, status int, msg, typ string) {
	writeFakeJSON(w, status, map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": nil}})
}
