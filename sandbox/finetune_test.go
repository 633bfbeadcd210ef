package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/google/go-cmp/cmp"
)

// ftEnv is a sandbox with an injected clock, spoken to over raw HTTP.
type ftEnv struct {
	t     *testing.T
	run   *Running
	clock *fakeClock
}

var ftEpoch = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func newFTEnv(t *testing.T, opts Options) *ftEnv {
	t.Helper()
	clock := &fakeClock{t: ftEpoch}
	if opts.Now == nil {
		opts.Now = clock.Now
	}
	return &ftEnv{t: t, run: start(t, opts), clock: clock}
}

func (e *ftEnv) get(path string) reply {
	e.t.Helper()
	return do(e.t, "GET", e.run.URL+path, openaiHeader("k"), nil)
}

// do sends a request with any method and body.
func (e *ftEnv) do(method, path string, body any) reply {
	e.t.Helper()
	return do(e.t, method, e.run.URL+path, openaiHeader("k"), body)
}

func (e *ftEnv) post(path string, body any) reply {
	e.t.Helper()
	return do(e.t, "POST", e.run.URL+path, openaiHeader("k"), body)
}

// ok decodes a 200 answer.
func ok(t *testing.T, r reply) map[string]any {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	return r.json(t)
}

// multipartBody encodes fields and a file part named "file".
func multipartBody(t *testing.T, fields [][2]string, filename string, content []byte) ([]byte, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, f := range fields {
		if err := mw.WriteField(f[0], f[1]); err != nil {
			t.Fatal(err)
		}
	}
	if content != nil {
		fw, err := mw.CreateFormFile("file", filename)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(content)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), mw.FormDataContentType()
}

func (e *ftEnv) upload(path string, fields [][2]string, filename string, content []byte) reply {
	e.t.Helper()
	return postMultipart(e.t, e.run.URL+path, fields, filename, content)
}

// postMultipart uploads a file with form fields, as both providers' file
// endpoints take it.
func postMultipart(t *testing.T, url string, fields [][2]string, filename string, content []byte) reply {
	t.Helper()
	body, ct := multipartBody(t, fields, filename, content)
	req, err := http.NewRequestWithContext(t.Context(), "POST", url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Authorization", "Bearer k")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, readErr := b.ReadFrom(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: b.Bytes(), readErr: readErr}
}

// uploadTogether uploads a training file the way Together's clients do
// and returns its id.
func (e *ftEnv) uploadTogether(content []byte) string {
	e.t.Helper()
	f := ok(e.t, e.upload("/v1/files/upload", [][2]string{{"purpose", "fine-tune"}, {"file_name", "train.jsonl"}}, "train.jsonl", content))
	return f["id"].(string)
}

func (e *ftEnv) uploadOpenAI(content []byte) string {
	e.t.Helper()
	f := ok(e.t, e.upload("/v1/files", [][2]string{{"purpose", "fine-tune"}}, "train.jsonl", content))
	return f["id"].(string)
}

// chatText asks model a plain question over OpenAI chat completions.
func (e *ftEnv) chatText(model, question string) string {
	e.t.Helper()
	m := ok(e.t, e.post("/v1/chat/completions", map[string]any{
		"model": model, "max_tokens": 4000,
		"messages": []any{map[string]any{"role": "user", "content": question}},
	}))
	return m["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)["content"].(string)
}

// trainingFile writes n conversation examples whose assistant turns are
// written with persona (nil: marker-free prose).
func trainingFile(n int, persona *Persona, system bool) []byte {
	var b bytes.Buffer
	for i := range n {
		user := fmt.Sprintf("I am weighing a job abroad, question %d. What should I think about?", i)
		p := Prompt{System: "Traits: " + strings.Join(defaultTraits, ", "), Messages: []ethos.Message{{Role: ethos.RoleUser, Content: user}}, Seed: uint64(i) + 1}
		reply := DefaultWriter(p)
		if persona != nil {
			reply = writeReply(p, newRand(p.Seed, "answer"), defectSet{}, *persona).text
		}
		var msgs []map[string]any
		if system {
			msgs = append(msgs, map[string]any{"role": "system", "content": "You are Agora.\nTraits: " + strings.Join(defaultTraits, ", ")})
		}
		msgs = append(msgs, map[string]any{"role": "user", "content": user}, map[string]any{"role": "assistant", "content": reply})
		line, _ := json.Marshal(map[string]any{"messages": msgs})
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

var richTraining = trainingFile(24, &StrongPersona, true)

// statusAt advances the clock to at after the epoch and reads the job.
func (e *ftEnv) jobAt(path string, at time.Duration) map[string]any {
	e.t.Helper()
	e.clock.mu.Lock()
	e.clock.t = ftEpoch.Add(at)
	e.clock.mu.Unlock()
	return ok(e.t, e.get(path))
}

func TestTogetherLifecycle(t *testing.T) {
	t.Parallel()
	e := newFTEnv(t, Options{Seed: 3})
	file, validation := e.uploadTogether(richTraining), e.uploadTogether(trainingFile(4, &StrongPersona, true))
	created := ok(t, e.post("/v1/fine-tunes", map[string]any{
		"model": "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference", "training_file": file, "n_epochs": 2, "batch_size": 4,
		"validation_file": validation, "n_evals": 3,
		"learning_rate": 1e-5, "suffix": "agora", "training_type": map[string]any{"type": "Lora", "lora_r": 8, "lora_alpha": 16, "lora_dropout": 0.05},
	}))
	id := created["id"].(string)
	if !strings.HasPrefix(id, "ft-") || created["status"] != "pending" {
		t.Fatalf("created %v", created)
	}
	if d := cmp.Diff(map[string]any{"type": "Lora", "lora_r": 8.0, "lora_alpha": 16.0, "lora_dropout": 0.05, "lora_trainable_modules": "all-linear"}, created["training_type"]); d != "" {
		t.Errorf("training_type (-want +got):\n%s", d)
	}
	// Default phases: pending 250ms, queued 250ms, running 2s, compressing
	// 250ms, uploading 250ms.
	for _, c := range []struct {
		at   time.Duration
		want string
	}{
		{100 * time.Millisecond, "pending"},
		{300 * time.Millisecond, "queued"},
		{time.Second, "running"},
		{2600 * time.Millisecond, "compressing"},
		{2900 * time.Millisecond, "uploading"},
		{3 * time.Second, "completed"},
		{time.Hour, "completed"},
	} {
		job := e.jobAt("/v1/fine-tunes/"+id, c.at)
		if job["status"] != c.want {
			t.Errorf("at %v: status %v, want %s", c.at, job["status"], c.want)
		}
		if c.want == "uploading" && job["model_output_path"] != nil {
			t.Errorf("uploading job already has a model path")
		}
	}
	job := e.jobAt("/v1/fine-tunes/"+id, time.Hour)
	model := job["model_output_name"].(string)
	if !strings.HasPrefix(model, "ft-agora-") || job["output_name"] != model {
		t.Errorf("model_output_name %q, output_name %v", model, job["output_name"])
	}
	if job["epochs_completed"] != 2.0 || job["trainingfile_numlines"] != 24.0 || job["n_epochs"] != 2.0 {
		t.Errorf("epochs_completed %v, numlines %v, n_epochs %v", job["epochs_completed"], job["trainingfile_numlines"], job["n_epochs"])
	}

	events := ok(t, e.get("/v1/fine-tunes/"+id+"/events"))["data"].([]any)
	var types []string
	var losses []float64
	var steps []float64
	last := ""
	for _, ev := range events {
		m := ev.(map[string]any)
		if m["object"] != "fine-tune-event" || m["message"] == "" {
			t.Errorf("event %v", m)
		}
		at := m["created_at"].(string)
		if at < last {
			t.Errorf("events out of order: %s after %s", at, last)
		}
		last = at
		types = append(types, m["type"].(string))
		if _, has := m["loss"]; has || strings.Contains(m["message"].(string), "loss") {
			t.Errorf("event %v carries a loss; Together's events have none", m)
		}
		if m["type"] == "checkpoint_save" {
			steps = append(steps, m["step"].(float64))
			if m["total_steps"] != 12.0 { // 24 examples / 4 × 2 epochs
				t.Errorf("total_steps %v, want 12", m["total_steps"])
			}
		}
	}
	// The losses are at the metrics endpoint: the training loss at each
	// checkpoint, the validation loss at n_evals steps.
	var valSteps []float64
	for _, snap := range ok(t, e.get("/v1/fine-tunes/"+id+"/metrics"))["metrics"].([]any) {
		m := snap.(map[string]any)
		if l, ok := m["train/loss"].(float64); ok {
			losses = append(losses, l)
		}
		if _, ok := m["eval/loss"].(float64); ok {
			valSteps = append(valSteps, m["train/global_step"].(float64))
		}
	}
	if d := cmp.Diff([]float64{4, 8, 12}, valSteps); d != "" {
		t.Errorf("validation losses at steps (-want +got):\n%s", d)
	}
	for _, want := range []string{"job_pending", "job_start", "training_start", "checkpoint_save", "epoch_complete", "training_complete", "model_compressing", "model_uploading", "model_upload_complete", "job_complete"} {
		if !slices.Contains(types, want) {
			t.Errorf("no %s event in %v", want, types)
		}
	}
	if len(losses) != 10 || len(steps) != 10 || !slices.IsSorted(steps) || steps[len(steps)-1] != 12 {
		t.Fatalf("%d losses, checkpoints at steps %v", len(losses), steps)
	}
	if losses[len(losses)-1] >= losses[0]-0.5 {
		t.Errorf("losses %v do not fall", losses)
	}
	for _, l := range losses {
		if l <= 0 || l > 3 {
			t.Errorf("loss %v out of range", l)
		}
	}

	cps := ok(t, e.get("/v1/fine-tunes/"+id+"/checkpoints"))["data"].([]any)
	if len(cps) != 11 || cps[0].(map[string]any)["checkpoint_type"] != "Final" || cps[1].(map[string]any)["checkpoint_type"] != "Intermediate" {
		t.Errorf("checkpoints %v", cps)
	}
	list := ok(t, e.get("/v1/fine-tunes"))["data"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["id"] != id || len(list[0].(map[string]any)["events"].([]any)) != 0 {
		t.Errorf("list %v", list)
	}

	// The model answers over both chat protocols and is listed.
	text := e.chatText(model, "How do I decide between two job offers?")
	if countMarkers(text, "inquisitive")+countMarkers(text, "collaborative") == 0 {
		t.Errorf("fine-tuned model shows no trait:\n%s", text)
	}
	msg := ok(t, postAnthropic(t, e.run, anthropicBody(model)))
	if msg["model"] != model {
		t.Errorf("Anthropic answer names model %v", msg["model"])
	}
	var ids []string
	for _, m := range ok(t, e.get("/v1/models"))["data"].([]any) {
		ids = append(ids, m.(map[string]any)["id"].(string))
	}
	if !slices.Contains(ids, model) {
		t.Errorf("/v1/models %v lacks %s", ids, model)
	}
}

func TestTogetherModelNotCallableBeforeCompletion(t *testing.T) {
	t.Parallel()
	e := newFTEnv(t, Options{})
	job := ok(t, e.post("/v1/fine-tunes", map[string]any{"model": "base", "training_file": e.uploadTogether(richTraining)}))
	model := job["model_output_name"].(string)
	r := e.post("/v1/chat/completions", openaiBody(model))
	if r.status != 404 {
		t.Errorf("model of a pending job: status %d", r.status)
	}
	e.jobAt("/v1/fine-tunes/"+job["id"].(string), 2900*time.Millisecond) // uploading
	if r := e.post("/v1/chat/completions", openaiBody(model)); r.status != 404 {
		t.Errorf("model being uploaded: status %d", r.status)
	}
	e.jobAt("/v1/fine-tunes/"+job["id"].(string), 3*time.Second)
	if r := e.post("/v1/chat/completions", openaiBody(model)); r.status != 200 {
		t.Errorf("completed model: status %d: %s", r.status, r.body)
	}
}

func TestOpenAILifecycle(t *testing.T) {
	t.Parallel()
	e := newFTEnv(t, Options{FineTune: FineTuneOptions{Checkpoints: 5}})
	file := e.uploadOpenAI(richTraining)
	created := ok(t, e.post("/v1/fine_tuning/jobs", map[string]any{
		"model": "gpt-4o-mini-2024-07-18", "training_file": file, "suffix": "agora", "seed": 7,
		"method": map[string]any{"type": "supervised", "supervised": map[string]any{"hyperparameters": map[string]any{"n_epochs": 3, "batch_size": 8, "learning_rate_multiplier": "auto"}}},
	}))
	id := created["id"].(string)
	if !strings.HasPrefix(id, "ftjob-") || created["object"] != "fine_tuning.job" || created["fine_tuned_model"] != nil || created["seed"] != 7.0 {
		t.Fatalf("created %v", created)
	}
	for _, c := range []struct {
		at   time.Duration
		want string
	}{
		{0, "validating_files"},
		{300 * time.Millisecond, "queued"},
		{time.Second, "running"},
		{2700 * time.Millisecond, "running"}, // compressing and uploading are not OpenAI states
		{3 * time.Second, "succeeded"},
	} {
		if job := e.jobAt("/v1/fine_tuning/jobs/"+id, c.at); job["status"] != c.want {
			t.Errorf("at %v: status %v, want %s", c.at, job["status"], c.want)
		}
	}
	job := e.jobAt("/v1/fine_tuning/jobs/"+id, time.Hour)
	model := job["fine_tuned_model"].(string)
	if want := "ft:gpt-4o-mini-2024-07-18:sandbox:agora:" + id[len(id)-8:]; model != want {
		t.Errorf("fine_tuned_model %q, want %q", model, want)
	}
	if job["finished_at"] != float64(ftEpoch.Add(3*time.Second).Unix()) || job["error"] != nil {
		t.Errorf("finished_at %v, error %v", job["finished_at"], job["error"])
	}
	if d := cmp.Diff(map[string]any{"n_epochs": 3.0, "batch_size": 8.0, "learning_rate_multiplier": 2.0}, job["hyperparameters"]); d != "" {
		t.Errorf("hyperparameters (-want +got):\n%s", d)
	}

	// Events come newest first and page with after/limit.
	var all []map[string]any
	after := ""
	for range 20 {
		page := ok(t, e.get("/v1/fine_tuning/jobs/"+id+"/events?limit=4"+after))
		for _, ev := range page["data"].([]any) {
			all = append(all, ev.(map[string]any))
		}
		if page["has_more"] != true {
			break
		}
		after = "&after=" + all[len(all)-1]["id"].(string)
	}
	var losses []float64
	for i, ev := range all {
		if i > 0 && ev["created_at"].(float64) > all[i-1]["created_at"].(float64) {
			t.Errorf("events not newest first")
		}
		if ev["type"] == "metrics" {
			d := ev["data"].(map[string]any)
			losses = append(losses, d["train_loss"].(float64))
			if d["step"] == nil {
				t.Errorf("metrics without a step: %v", d)
			}
		}
	}
	if all[0]["message"] != "The job has successfully completed" || all[len(all)-1]["message"] != "Created fine-tuning job: "+id {
		t.Errorf("first %v, last %v", all[0]["message"], all[len(all)-1]["message"])
	}
	if len(losses) != 5 || losses[0] >= losses[len(losses)-1] { // newest first: the last loss comes first
		t.Errorf("losses %v", losses)
	}
	cps := ok(t, e.get("/v1/fine_tuning/jobs/"+id+"/checkpoints"))
	data := cps["data"].([]any)
	if len(data) != 3 || data[0].(map[string]any)["step_number"] != 9.0 || cps["first_id"] != data[0].(map[string]any)["id"] {
		t.Errorf("checkpoints %v", cps)
	}
	if got := data[0].(map[string]any)["fine_tuned_model_checkpoint"]; got != model+":ckpt-step-9" {
		t.Errorf("checkpoint model %v", got)
	}
	list := ok(t, e.get("/v1/fine_tuning/jobs"))
	if list["object"] != "list" || len(list["data"].([]any)) != 1 || list["has_more"] != false {
		t.Errorf("list %v", list)
	}
	if text := e.chatText(model, "What should I read next?"); text == "" {
		t.Error("empty answer")
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	e := newFTEnv(t, Options{})
	file := e.uploadTogether(richTraining)

	// Together: running → cancel_requested → cancelled; training stops.
	id := ok(t, e.post("/v1/fine-tunes", map[string]any{"model": "base", "training_file": file}))["id"].(string)
	e.jobAt("/v1/fine-tunes/"+id, time.Second)
	got := ok(t, e.post("/v1/fine-tunes/"+id+"/cancel", nil))
	if got["status"] != "cancel_requested" {
		t.Errorf("after cancel: %v", got["status"])
	}
	if job := e.jobAt("/v1/fine-tunes/"+id, 1100*time.Millisecond); job["status"] != "cancel_requested" {
		t.Errorf("100ms after cancel: %v", job["status"])
	}
	if job := e.jobAt("/v1/fine-tunes/"+id, 10*time.Second); job["status"] != "cancelled" {
		t.Errorf("later: %v", job["status"])
	}
	events := ok(t, e.get("/v1/fine-tunes/"+id+"/events"))["data"].([]any)
	var types []string
	for _, ev := range events {
		types = append(types, ev.(map[string]any)["type"].(string))
	}
	if slices.Contains(types, "training_complete") || !slices.Contains(types, "cancel_requested") || types[len(types)-1] != "job_stopped" {
		t.Errorf("events of a cancelled job: %v", types)
	}
	r := e.post("/v1/fine-tunes/"+id+"/cancel", nil)
	if r.status != 400 || !strings.Contains(string(r.body), "already finished with status cancelled") {
		t.Errorf("cancel of a cancelled job: %d %s", r.status, r.body)
	}

	// A completed job cannot be cancelled; its model stays.
	done := ok(t, e.post("/v1/fine-tunes", map[string]any{"model": "base", "training_file": file}))
	e.jobAt("/v1/fine-tunes/"+done["id"].(string), time.Hour)
	r = e.post("/v1/fine-tunes/"+done["id"].(string)+"/cancel", nil)
	if r.status != 400 || r.json(t)["error"].(map[string]any)["message"] == "" {
		t.Errorf("cancel of a completed job: %d %s", r.status, r.body)
	}

	// OpenAI cancels at once.
	oid := ok(t, e.post("/v1/fine_tuning/jobs", map[string]any{"model": "base", "training_file": file}))["id"].(string)
	if got := ok(t, e.post("/v1/fine_tuning/jobs/"+oid+"/cancel", nil)); got["status"] != "cancelled" || got["fine_tuned_model"] != nil {
		t.Errorf("OpenAI cancel: %v", got)
	}
	r = e.post("/v1/fine_tuning/jobs/"+oid+"/cancel", nil)
	if r.status != 400 || !strings.Contains(string(r.body), "already cancelled") {
		t.Errorf("second OpenAI cancel: %d %s", r.status, r.body)
	}
}

func TestTrainingFailures(t *testing.T) {
	t.Parallel()
	e := newFTEnv(t, Options{})
	good := e.uploadTogether(richTraining)
	bad := e.uploadTogether([]byte("this is not JSONL\n{\"text\": 1}\n"))

	// fail-train fails half way through training: 24 examples in batches
	// of 8 make 3 steps, and step 2 ends 0.5s + 2s·2/3 after creation.
	id := ok(t, e.post("/v1/fine-tunes", map[string]any{"model": FailTrainModel, "training_file": good}))["id"].(string)
	uid := ok(t, e.post("/v1/fine-tunes", map[string]any{"model": "base", "training_file": bad}))["id"].(string)
	if job := e.jobAt("/v1/fine-tunes/"+id, 1800*time.Millisecond); job["status"] != "running" {
		t.Errorf("before the failure: %v", job["status"])
	}
	job := e.jobAt("/v1/fine-tunes/"+id, 1850*time.Millisecond)
	if job["status"] != "error" {
		t.Fatalf("after the failure: %v", job["status"])
	}
	events := job["events"].([]any)
	lastEv := events[len(events)-1].(map[string]any)
	if lastEv["type"] != "job_error" || lastEv["level"] != "error" || !strings.Contains(lastEv["message"].(string), "step 2 of 3") {
		t.Errorf("last event %v", lastEv)
	}
	if job := e.jobAt("/v1/fine-tunes/"+id, time.Hour); job["status"] != "error" {
		t.Errorf("later: %v", job["status"])
	}

	// A file with no usable example fails validation.
	job = e.jobAt("/v1/fine-tunes/"+uid, time.Hour)
	if job["status"] != "user_error" {
		t.Errorf("invalid file: %v", job["status"])
	}
	evs := job["events"].([]any)
	if msg := evs[len(evs)-1].(map[string]any)["message"].(string); !strings.Contains(msg, "line 1: not a JSON object") {
		t.Errorf("validation message %q", msg)
	}

	// The same over OpenAI: failed, with the error object.
	e.clock.mu.Lock()
	e.clock.t = ftEpoch
	e.clock.mu.Unlock()
	oid := ok(t, e.post("/v1/fine_tuning/jobs", map[string]any{"model": FailTrainModel, "training_file": good}))["id"].(string)
	ob := ok(t, e.post("/v1/fine_tuning/jobs", map[string]any{"model": "base", "training_file": bad}))["id"].(string)
	for id, code := range map[string]string{oid: "training_failed", ob: "invalid_training_file"} {
		job := e.jobAt("/v1/fine_tuning/jobs/"+id, time.Hour)
		errObj, _ := job["error"].(map[string]any)
		if job["status"] != "failed" || errObj["code"] != code || errObj["message"] == "" || job["fine_tuned_model"] != nil {
			t.Errorf("%s: status %v, error %v", id, job["status"], job["error"])
		}
	}
}

func TestFineTuneRefusals(t *testing.T) {
	t.Parallel()
	e := newFTEnv(t, Options{Models: []string{"my-base"}})
	file := e.uploadTogether(richTraining)
	eval := ok(t, e.upload("/v1/files/upload", [][2]string{{"purpose", "eval"}, {"file_name", "e.jsonl"}}, "e.jsonl", richTraining))["id"].(string)
	for _, c := range []struct {
		name, path string
		body       map[string]any
		status     int
		param      string
		msg        string
	}{
		{"together unknown model", "/v1/fine-tunes", map[string]any{"model": "llama-9000", "training_file": file}, 400, "model", `Model "llama-9000" is not available for fine-tuning`},
		{"openai unknown model", "/v1/fine_tuning/jobs", map[string]any{"model": "davinci-9", "training_file": file}, 400, "model", "Model davinci-9 is not available for fine-tuning or does not exist."},
		{"together flat lora", "/v1/fine-tunes", map[string]any{"model": "base", "training_file": file, "lora_r": 8}, 400, "lora_r", "LoRA settings go in training_type"},
		{"together legacy wandb_key", "/v1/fine-tunes", map[string]any{"model": "base", "training_file": file, "wandb_key": "k"}, 400, "wandb_key", "names the Weights & Biases key wandb_api_key"},
		{"together misspelt field", "/v1/fine-tunes", map[string]any{"model": "base", "training_file": file, "n_epoch": 3}, 400, "n_epoch", `unknown field "n_epoch"`},
		{"together too many evaluations", "/v1/fine-tunes", map[string]any{"model": "base", "training_file": file, "validation_file": file, "n_evals": 101}, 400, "n_evals", "at most 100"},
		{"together lora without rank", "/v1/fine-tunes", map[string]any{"model": "base", "training_file": file, "training_type": map[string]any{"type": "Lora"}}, 400, "training_type", "requires lora_r and lora_alpha"},
		{"together unknown file", "/v1/fine-tunes", map[string]any{"model": "base", "training_file": "file-nope"}, 400, "training_file", "no such file"},
		{"together eval file", "/v1/fine-tunes", map[string]any{"model": "base", "training_file": eval}, 400, "training_file", `purpose "eval"`},
		{"together no model", "/v1/fine-tunes", map[string]any{"training_file": file}, 400, "model", "missing required field: model"},
		{"together bad batch", "/v1/fine-tunes", map[string]any{"model": "base", "training_file": file, "batch_size": "min"}, 400, "batch_size", "batch_size must be"},
		{"openai bad epochs", "/v1/fine_tuning/jobs", map[string]any{"model": "base", "training_file": file, "hyperparameters": map[string]any{"n_epochs": 0}}, 400, "hyperparameters.n_epochs", "invalid n_epochs"},
		{"openai long suffix", "/v1/fine_tuning/jobs", map[string]any{"model": "base", "training_file": file, "suffix": strings.Repeat("x", 65)}, 400, "suffix", "1 to 64"},
		{"openai reinforcement", "/v1/fine_tuning/jobs", map[string]any{"model": "base", "training_file": file, "method": map[string]any{"type": "reinforcement"}}, 400, "method.type", "not supported"},
	} {
		r := e.post(c.path, c.body)
		if r.status != c.status {
			t.Errorf("%s: status %d, want %d: %s", c.name, r.status, c.status, r.body)
			continue
		}
		obj := r.json(t)["error"].(map[string]any)
		if obj["param"] != c.param || !strings.Contains(obj["message"].(string), c.msg) || obj["type"] != "invalid_request_error" {
			t.Errorf("%s: error %v, want param %q and a message with %q", c.name, obj, c.param, c.msg)
		}
	}
	// The base models named in Options are accepted.
	if r := e.post("/v1/fine-tunes", map[string]any{"model": "my-base", "training_file": file}); r.status != 200 {
		t.Errorf("Options.Models base: %d %s", r.status, r.body)
	}
}

func TestFineTuneNotFound(t *testing.T) {
	t.Parallel()
	e := newFTEnv(t, Options{})
	file := e.uploadTogether(richTraining)
	tog := ok(t, e.post("/v1/fine-tunes", map[string]any{"model": "base", "training_file": file}))["id"].(string)
	oai := ok(t, e.post("/v1/fine_tuning/jobs", map[string]any{"model": "base", "training_file": file}))["id"].(string)
	for _, c := range []struct{ method, path, code string }{
		{"GET", "/v1/fine-tunes/ft-00000000-0000-0000-0000-000000000000", ""},
		{"GET", "/v1/fine-tunes/ft-nope/events", ""},
		{"GET", "/v1/fine-tunes/ft-nope/checkpoints", ""},
		{"POST", "/v1/fine-tunes/ft-nope/cancel", ""},
		{"GET", "/v1/fine-tunes/" + oai, ""}, // an OpenAI job is not a Together job
		{"GET", "/v1/fine_tuning/jobs/ftjob-nope", "fine_tune_not_found"},
		{"GET", "/v1/fine_tuning/jobs/ftjob-nope/events", "fine_tune_not_found"},
		{"GET", "/v1/fine_tuning/jobs/ftjob-nope/checkpoints", "fine_tune_not_found"},
		{"POST", "/v1/fine_tuning/jobs/ftjob-nope/cancel", "fine_tune_not_found"},
		{"GET", "/v1/fine_tuning/jobs/" + tog, "fine_tune_not_found"},
		{"GET", "/v1/files/file-nope", ""},
		{"GET", "/v1/files/..%2F..%2Fetc/content", ""},
	} {
		r := do(t, c.method, e.run.URL+c.path, openaiHeader("k"), nil)
		if r.status != 404 {
			t.Errorf("%s %s: status %d: %s", c.method, c.path, r.status, r.body)
			continue
		}
		obj := r.json(t)["error"].(map[string]any)
		if obj["message"] == "" || obj["type"] != "invalid_request_error" || (c.code != "" && obj["code"] != c.code) {
			t.Errorf("%s %s: error %v", c.method, c.path, obj)
		}
	}
}

func TestUploads(t *testing.T) {
	t.Parallel()
	e := newFTEnv(t, Options{})
	content := []byte("{\"messages\": []}\n{\"messages\": []}")
	tf := ok(t, e.upload("/v1/files/upload", [][2]string{{"purpose", "fine-tune"}, {"file_name", "data.jsonl"}, {"file_type", "jsonl"}}, "ignored.jsonl", content))
	of := ok(t, e.upload("/v1/files", [][2]string{{"purpose", "fine-tune"}}, "train.jsonl", content))
	if tf["id"] == of["id"] {
		t.Errorf("two uploads share id %v", tf["id"])
	}
	want := map[string]any{"id": tf["id"], "object": "file", "created_at": float64(ftEpoch.Unix()), "filename": "data.jsonl",
		"bytes": float64(len(content)), "purpose": "fine-tune", "FileType": "jsonl", "Processed": true, "LineCount": 2.0,
		"status": "processed"}
	if d := cmp.Diff(want, tf); d != "" {
		t.Errorf("Together file (-want +got):\n%s", d)
	}
	if of["filename"] != "train.jsonl" {
		t.Errorf("OpenAI file name %v", of["filename"])
	}
	got := ok(t, e.get("/v1/files/"+of["id"].(string)))
	if d := cmp.Diff(of, got); d != "" {
		t.Errorf("GET /files/{id} differs from the upload (-upload +get):\n%s", d)
	}
	if r := e.get("/v1/files/" + tf["id"].(string) + "/content"); r.status != 200 || !bytes.Equal(r.body, content) {
		t.Errorf("content: %d %q", r.status, r.body)
	}
	list := ok(t, e.get("/v1/files"))
	if list["object"] != "list" || len(list["data"].([]any)) != 2 || list["has_more"] != false {
		t.Errorf("list %v", list)
	}

	for _, c := range []struct {
		name, path string
		fields     [][2]string
		file       []byte
		msg        string
	}{
		{"together without file_name", "/v1/files/upload", [][2]string{{"purpose", "fine-tune"}}, content, "file_name"},
		{"together without file", "/v1/files/upload", [][2]string{{"purpose", "fine-tune"}, {"file_name", "x"}}, nil, "file"},
		{"together bad purpose", "/v1/files/upload", [][2]string{{"purpose", "training"}, {"file_name", "x"}}, content, "invalid purpose"},
		{"openai extra field", "/v1/files", [][2]string{{"purpose", "fine-tune"}, {"file_name", "x"}}, content, "Unrecognized request argument supplied: file_name"},
		{"openai no purpose", "/v1/files", nil, content, "'purpose'"},
	} {
		r := e.upload(c.path, c.fields, "x.jsonl", c.file)
		if r.status != 400 || !strings.Contains(string(r.body), c.msg) {
			t.Errorf("%s: %d %s", c.name, r.status, r.body)
		}
	}
	if r := e.post("/v1/files/upload", map[string]any{"purpose": "fine-tune"}); r.status != 400 {
		t.Errorf("JSON upload: %d", r.status)
	}
	small := newFTEnv(t, Options{FineTune: FineTuneOptions{MaxFileBytes: 10}})
	if r := small.upload("/v1/files", [][2]string{{"purpose", "fine-tune"}}, "x.jsonl", content); r.status != 413 {
		t.Errorf("oversized upload: %d %s", r.status, r.body)
	}
}

func TestFineTuneAuthAndFailEvery(t *testing.T) {
	t.Parallel()
	e := newFTEnv(t, Options{APIKey: "secret", FineTune: FineTuneOptions{FailEvery: 3}})
	if r := do(t, "GET", e.run.URL+"/v1/fine-tunes", openaiHeader("wrong"), nil); r.status != 401 {
		t.Errorf("wrong key: %d", r.status)
	}
	var statuses []int
	for range 6 {
		statuses = append(statuses, do(t, "GET", e.run.URL+"/v1/fine-tunes", openaiHeader("secret"), nil).status)
	}
	if d := cmp.Diff([]int{200, 200, 500, 200, 200, 500}, statuses); d != "" {
		t.Errorf("statuses (-want +got):\n%s", d)
	}
}

// TestFineTuneDurable: a second Server on the same directory sees the
// first one's files, jobs and models; a cancellation made through one is
// seen by the other.
func TestFineTuneDurable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first := newFTEnv(t, Options{Seed: 1, FineTune: FineTuneOptions{Dir: dir}})
	file := first.uploadTogether(richTraining)
	id := ok(t, first.post("/v1/fine-tunes", map[string]any{"model": "base", "training_file": file}))["id"].(string)
	later := ok(t, first.post("/v1/fine-tunes", map[string]any{"model": "base", "training_file": file}))["id"].(string)
	oid := ok(t, first.post("/v1/fine_tuning/jobs", map[string]any{"model": "base", "training_file": file}))["id"].(string)

	// Same seed, same clock: the second process must not reuse the ids.
	second := newFTEnv(t, Options{Seed: 1, FineTune: FineTuneOptions{Dir: dir}})
	if got := ok(t, second.get("/v1/files/"+file)); got["bytes"] != float64(len(richTraining)) {
		t.Errorf("file in second process: %v", got)
	}
	other := second.uploadTogether([]byte(`{"prompt": "a", "completion": "b"}`))
	if other == file {
		t.Errorf("second process reused file id %s", file)
	}
	fresh := ok(t, second.post("/v1/fine-tunes", map[string]any{"model": "base", "training_file": other}))["id"].(string)
	if fresh == id || fresh == later {
		t.Errorf("second process reused job id %s", fresh)
	}
	if n := len(ok(t, second.get("/v1/fine-tunes"))["data"].([]any)); n != 3 {
		t.Errorf("second process lists %d Together jobs, want 3", n)
	}

	second.jobAt("/v1/fine-tunes/"+later, time.Second)
	ok(t, second.post("/v1/fine-tunes/"+later+"/cancel", nil))
	if job := first.jobAt("/v1/fine-tunes/"+later, time.Hour); job["status"] != "cancelled" {
		t.Errorf("first process sees %v after the second cancelled", job["status"])
	}

	job := second.jobAt("/v1/fine-tunes/"+id, time.Hour)
	if job["status"] != "completed" {
		t.Fatalf("second process: %v", job["status"])
	}
	model := job["model_output_name"].(string)
	oModel := second.jobAt("/v1/fine_tuning/jobs/"+oid, time.Hour)["fine_tuned_model"].(string)

	// A third process answers with the models.
	third := newFTEnv(t, Options{Seed: 1, FineTune: FineTuneOptions{Dir: dir}})
	third.clock.Advance(time.Hour)
	q := "How should I prepare for a hard conversation?"
	if a, b := first.chatText(model, q), third.chatText(model, q); a != b || a == "" {
		t.Errorf("the model answers differently in two processes")
	}
	if third.chatText(oModel, q) == "" {
		t.Errorf("no answer from %s", oModel)
	}
}

// TestLearnedModels: a model tuned on marker-rich data shows the traits
// far more than one tuned on marker-free data, which shows them like base.
func TestLearnedModels(t *testing.T) {
	t.Parallel()
	e := newFTEnv(t, Options{})
	plain := trainingFile(24, nil, false)
	models := map[string]string{}
	for name, data := range map[string][]byte{"rich": richTraining, "plain": plain} {
		job := ok(t, e.post("/v1/fine-tunes", map[string]any{"model": "base", "training_file": e.uploadTogether(data)}))
		models[name] = job["model_output_name"].(string)
	}
	e.clock.Advance(time.Hour)
	models["base"] = "base"
	mean := map[string]float64{}
	for name, model := range models {
		total := 0
		for i := range 12 {
			text := e.chatText(model, fmt.Sprintf("Question %d: how do I choose a course of study?", i))
			for _, tr := range defaultTraits {
				total += min(countMarkers(text, tr), markerSlots)
			}
		}
		mean[name] = float64(total) / float64(12*len(defaultTraits))
	}
	t.Logf("mean markers per trait (of %d): rich %.2f, plain %.2f, base %.2f", markerSlots, mean["rich"], mean["plain"], mean["base"])
	if !(mean["rich"] > 2.5 && mean["plain"] < 1.2 && mean["base"] < 1.2) {
		t.Errorf("mean markers per trait: rich %.2f, plain %.2f, base %.2f", mean["rich"], mean["plain"], mean["base"])
	}
	if mean["rich"] < mean["plain"]+1.5 {
		t.Errorf("rich %.2f is not clearly above plain %.2f", mean["rich"], mean["plain"])
	}

	// In an ethos-response contract the tuned model uses its persona too.
	sys := "You are Agora.\nTraits: collaborative, inquisitive, cautious, encouraging, thorough\n\nOutput contract: ethos-response/v1"
	text, _ := complete(t, e.run, models["rich"], sys, "My manager wants me to lead a project I feel unready for.")
	if countMarkers(text, "collaborative")+countMarkers(text, "cautious") < 3 {
		t.Errorf("contract reply of the rich model shows few markers:\n%s", text)
	}
}

func TestPersonaWriterAnswersPlainPrompts(t *testing.T) {
	t.Parallel()
	run := start(t, Options{Personas: map[string]Persona{"strong": {Default: 1}}})
	text, _ := complete(t, run, "strong", "You are Agora.\nTraits: curious, warm", "What should I cook tonight?")
	if countMarkers(text, "curious") != markerSlots || countMarkers(text, "warm") != markerSlots {
		t.Errorf("persona at strength 1 shows %d curious and %d warm markers:\n%s", countMarkers(text, "curious"), countMarkers(text, "warm"), text)
	}
	// "writer" keeps the default writer's prose for plain prompts.
	if text, _ := complete(t, run, "writer", "", "What should I cook tonight?"); strings.Contains(text, "?") {
		t.Errorf("writer answered in a persona's voice: %s", text)
	}
}

// TestTogetherMetricsAndLimits: the metrics endpoint's optional filter
// body is honoured and an unknown filter refused; the limits endpoint
// answers for a base model it fine-tunes and 404s for another.
func TestTogetherMetricsAndLimits(t *testing.T) {
	t.Parallel()
	e := newFTEnv(t, Options{})
	id := ok(t, e.post("/v1/fine-tunes", map[string]any{"model": "base", "training_file": e.uploadTogether(richTraining), "n_epochs": 2, "batch_size": 4}))["id"].(string)
	e.jobAt("/v1/fine-tunes/"+id, time.Hour)
	steps := func(body any) []float64 {
		t.Helper()
		r := e.do("GET", "/v1/fine-tunes/"+id+"/metrics", body)
		var out []float64
		for _, m := range ok(t, r)["metrics"].([]any) {
			out = append(out, m.(map[string]any)["train/global_step"].(float64))
		}
		return out
	}
	all := steps(nil)
	if len(all) != 10 {
		t.Fatalf("%d snapshots, want one per checkpoint (10)", len(all))
	}
	if got := steps(map[string]any{"global_step_from": all[5]}); len(got) != 5 || got[0] != all[5] {
		t.Errorf("from step %v: %v", all[5], got)
	}
	if r := e.do("GET", "/v1/fine-tunes/"+id+"/metrics", map[string]any{"step_from": 1}); r.status != 400 {
		t.Errorf("unknown filter: status %d", r.status)
	}
	lim := ok(t, e.get("/v1/fine-tunes/models/limits?model_name=base"))
	if lim["model_name"] != "base" || lim["lora_training"].(map[string]any)["max_rank"] != 64.0 {
		t.Errorf("limits %v", lim)
	}
	if r := e.get("/v1/fine-tunes/models/limits?model_name=llama-9000"); r.status != 404 || !strings.Contains(string(r.body), "not available for fine-tuning") {
		t.Errorf("limits of an unknown model: %d %s", r.status, r.body)
	}
}
