package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// OpenAI's files and fine_tuning.jobs endpoints, per openai-openapi.yaml.
// Lists are newest first and paged with after and limit, as OpenAI's are.

func (s *Server) registerOpenAIFineTuning() {
	s.mux.HandleFunc("POST /v1/fine_tuning/jobs", s.handle(s.openaiCreate))
	s.mux.HandleFunc("GET /v1/fine_tuning/jobs", s.handle(s.openaiList))
	s.mux.HandleFunc("GET /v1/fine_tuning/jobs/{id}", s.handle(s.openaiGet))
	s.mux.HandleFunc("GET /v1/fine_tuning/jobs/{id}/events", s.handle(s.openaiEvents))
	s.mux.HandleFunc("GET /v1/fine_tuning/jobs/{id}/checkpoints", s.handle(s.openaiCheckpoints))
	s.mux.HandleFunc("POST /v1/fine_tuning/jobs/{id}/cancel", s.handle(s.openaiCancel))
}

var openaiPurposes = []string{"assistants", "batch", "fine-tune", "vision", "user_data", "evals"}

// openaiUpload is POST /v1/files: multipart with file and purpose (and
// expires_after, accepted and ignored); the spec allows no other field.
func (s *Server) openaiUpload(w http.ResponseWriter, r *http.Request) *ftError {
	u, e := readUpload(r, s.ft.opts.MaxFileBytes)
	if e != nil {
		return e
	}
	for name := range u.fields {
		if name != "purpose" && !strings.HasPrefix(name, "expires_after") {
			return &ftError{status: 400, param: name, msg: "Unrecognized request argument supplied: " + name}
		}
	}
	purpose := u.fields["purpose"]
	if purpose == "" {
		return &ftError{status: 400, param: "purpose", msg: "Missing required parameter: 'purpose'."}
	}
	if !slices.Contains(openaiPurposes, purpose) {
		return &ftError{status: 400, param: "purpose", msg: fmt.Sprintf("'%s' is not one of %s - 'purpose'", purpose, strings.Join(openaiPurposes, ", "))}
	}
	name := u.filename
	if name == "" {
		name = "upload.jsonl"
	}
	f, e := s.storeUpload(name, purpose, "jsonl", u.content)
	if e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, fileObjectOf(f))
	return nil
}

// openaiHyper is a hyperparameter that is "auto" or a number.
type openaiHyper = json.RawMessage

type openaiHyperparameters struct {
	BatchSize              openaiHyper `json:"batch_size"`
	LearningRateMultiplier openaiHyper `json:"learning_rate_multiplier"`
	NEpochs                openaiHyper `json:"n_epochs"`
	Beta                   openaiHyper `json:"beta"` // DPO only
}

type openaiCreateRequest struct {
	Model           string                 `json:"model"`
	TrainingFile    string                 `json:"training_file"`
	ValidationFile  *string                `json:"validation_file"`
	Suffix          *string                `json:"suffix"`
	Seed            *int64                 `json:"seed"`
	Hyperparameters *openaiHyperparameters `json:"hyperparameters"`
	Method          *struct {
		Type       string `json:"type"`
		Supervised *struct {
			Hyperparameters *openaiHyperparameters `json:"hyperparameters"`
		} `json:"supervised"`
		DPO *struct {
			Hyperparameters *openaiHyperparameters `json:"hyperparameters"`
		} `json:"dpo"`
	} `json:"method"`
	Integrations []struct {
		Type  string `json:"type"`
		Wandb struct {
			Project string `json:"project"`
		} `json:"wandb"`
	} `json:"integrations"`
	Metadata map[string]string `json:"metadata"`
}

// readHyper reads an "auto"-or-number hyperparameter within [lo, hi];
// absent, null and "auto" leave *dst as it is.
func readHyper(raw json.RawMessage, name string, lo, hi float64, integer bool, dst *float64) *ftError {
	if len(raw) == 0 || string(raw) == "null" || string(raw) == `"auto"` {
		return nil
	}
	var v float64
	bad := json.Unmarshal(raw, &v) != nil || v < lo || v > hi || (integer && v != float64(int(v))) || (!integer && v <= 0)
	if bad {
		what := "a number"
		if integer {
			what = "an integer"
		}
		return &ftError{status: 400, param: "hyperparameters." + name,
			msg: fmt.Sprintf(`invalid %s: %s; want "auto" or %s from %g to %g`, name, raw, what, lo, hi)}
	}
	*dst = v
	return nil
}

func (s *Server) openaiCreate(w http.ResponseWriter, r *http.Request) *ftError {
	body, ae := readBody(w, r)
	if ae != nil {
		return &ftError{status: ae.status, msg: ae.msg}
	}
	var req openaiCreateRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return &ftError{status: 400, msg: "We could not parse the JSON body of your request: " + err.Error()}
	}
	switch {
	case req.Model == "":
		return &ftError{status: 400, param: "model", msg: "Missing required parameter: 'model'."}
	case req.TrainingFile == "":
		return &ftError{status: 400, param: "training_file", msg: "Missing required parameter: 'training_file'."}
	case !strings.HasPrefix(req.Model, "ft:") && !s.baseModelOK(req.Model):
		return &ftError{status: 400, param: "model", code: "model_not_available",
			msg: fmt.Sprintf("Model %s is not available for fine-tuning or does not exist.", req.Model)}
	case req.Suffix != nil && (len(*req.Suffix) < 1 || len(*req.Suffix) > 64):
		return &ftError{status: 400, param: "suffix", msg: "suffix must be 1 to 64 characters long"}
	case req.Seed != nil && (*req.Seed < 0 || *req.Seed > 2147483647):
		return &ftError{status: 400, param: "seed", msg: "seed must be between 0 and 2147483647"}
	}
	j := &ftJob{Wire: wireOpenAI, Model: req.Model, TrainingFile: req.TrainingFile, Method: "supervised", Metadata: req.Metadata}
	if strings.HasPrefix(req.Model, "ft:") {
		// Fine-tuning a fine-tuned model continues its job.
		parent, e := s.parentJob(req.Model, "model")
		if e != nil {
			e.code = "model_not_available"
			return e
		}
		if parent.Wire != wireOpenAI {
			return &ftError{status: 400, param: "model", code: "model_not_available", msg: fmt.Sprintf("Model %s is not available for fine-tuning or does not exist.", req.Model)}
		}
		j.Parent = parent.ID
	}
	if req.ValidationFile != nil {
		j.ValidationFile = *req.ValidationFile
	}
	if req.Suffix != nil {
		j.Suffix = *req.Suffix
	}
	hyper := req.Hyperparameters
	if m := req.Method; m != nil {
		switch m.Type {
		case "supervised":
			if m.Supervised != nil && m.Supervised.Hyperparameters != nil {
				hyper = m.Supervised.Hyperparameters
			}
		case "dpo":
			j.Method = "dpo"
			if m.DPO != nil && m.DPO.Hyperparameters != nil {
				hyper = m.DPO.Hyperparameters
			}
		default:
			return &ftError{status: 400, param: "method.type", msg: fmt.Sprintf("method type %q is not supported by the sandbox; use supervised or dpo", m.Type)}
		}
	}
	epochs, batch, lrm, beta := 3.0, 0.0, 2.0, 0.1 // "auto"; batch auto is set by the file's size
	if hyper != nil {
		for _, e := range []*ftError{
			readHyper(hyper.NEpochs, "n_epochs", 1, 50, true, &epochs),
			readHyper(hyper.BatchSize, "batch_size", 1, 256, true, &batch),
			readHyper(hyper.LearningRateMultiplier, "learning_rate_multiplier", 0, 100, false, &lrm),
			readHyper(hyper.Beta, "beta", 0, 2, false, &beta),
		} {
			if e != nil {
				return e
			}
		}
		if len(hyper.Beta) > 0 && j.Method != "dpo" {
			return &ftError{status: 400, param: "hyperparameters.beta", msg: "beta is a hyperparameter of the dpo method, not of supervised"}
		}
	}
	j.Epochs, j.BatchSize, j.LearningRate = int(epochs), int(batch), lrm
	if j.Method == "dpo" {
		j.DPOBeta = beta
	}
	for _, in := range req.Integrations {
		if in.Type == "wandb" {
			j.WandbProject = in.Wandb.Project
		}
	}
	if req.Seed != nil {
		j.Seed = *req.Seed
	} else {
		j.Seed = int64(hashString(fmt.Sprint(s.opts.Seed, s.opts.Now().UnixNano())) >> 33)
	}
	if batch == 0 {
		// OpenAI picks about 0.2% of the examples, at least 1.
		if content, err := s.ft.store.content(j.TrainingFile); err == nil {
			_, st := learnPersona(WeakPersona, content, nil)
			j.BatchSize = max(1, st.examples/500)
		}
	}
	e := s.createJob(j, "ftjob-", func(j *ftJob) {
		sfx := ""
		if j.Suffix != "" {
			sfx = slug(j.Suffix)
		}
		// A continued job is named after the base model at the root,
		// as OpenAI names it.
		base := j.Model
		if b, ok := strings.CutPrefix(base, "ft:"); ok {
			base, _, _ = strings.Cut(b, ":")
		}
		j.OutputModel = fmt.Sprintf("ft:%s:sandbox:%s:%s", base, sfx, shortID(j.ID))
	})
	if e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, s.openaiJob(j))
	return nil
}

// openaiStatus maps a phase onto OpenAI's job statuses.
func openaiStatus(phase string) string {
	switch phase {
	case phasePending:
		return "validating_files"
	case phaseQueued:
		return "queued"
	case phaseRunning, phaseCompressing, phaseUploading, phaseCancelRequested:
		return "running"
	case phaseCompleted:
		return "succeeded"
	case phaseCancelled:
		return "cancelled"
	}
	return "failed" // error, user_error
}

func (s *Server) openaiJob(j *ftJob) map[string]any {
	now := s.opts.Now()
	v := j.view(now)
	hyper := map[string]any{"n_epochs": j.Epochs, "batch_size": j.BatchSize, "learning_rate_multiplier": j.LearningRate}
	methodHyper := hyper
	if j.Method == "dpo" {
		methodHyper = map[string]any{"n_epochs": j.Epochs, "batch_size": j.BatchSize, "learning_rate_multiplier": j.LearningRate, "beta": j.DPOBeta}
	}
	m := map[string]any{
		"object":           "fine_tuning.job",
		"id":               j.ID,
		"model":            j.Model,
		"created_at":       j.CreatedAt.Unix(),
		"finished_at":      nil,
		"fine_tuned_model": nil,
		"organization_id":  "org-sandbox",
		"result_files":     []string{},
		"status":           openaiStatus(v.phase),
		"validation_file":  nil,
		"training_file":    j.TrainingFile,
		"hyperparameters":  hyper,
		"trained_tokens":   nil,
		"error":            nil,
		"integrations":     []any{},
		"seed":             j.Seed,
		"estimated_finish": nil,
		"method":           map[string]any{"type": j.Method, j.Method: map[string]any{"hyperparameters": methodHyper}},
		"metadata":         j.Metadata,
		"user_provided_suffix": func() any {
			if j.Suffix == "" {
				return nil
			}
			return j.Suffix
		}(),
	}
	if j.ValidationFile != "" {
		m["validation_file"] = j.ValidationFile
	}
	if j.WandbProject != "" {
		m["integrations"] = []any{map[string]any{"type": "wandb", "wandb": map[string]any{"project": j.WandbProject}}}
	}
	if v.final {
		m["finished_at"] = v.end.Unix()
		m["trained_tokens"] = j.Tokens * j.epochOf(v.step)
	} else if !v.end.IsZero() {
		m["estimated_finish"] = v.end.Unix()
	}
	switch v.phase {
	case phaseCompleted:
		m["fine_tuned_model"] = j.OutputModel
		m["trained_tokens"] = j.Tokens * j.Epochs
	case phaseError:
		m["error"] = map[string]any{"code": "training_failed", "message": v.errorMsg, "param": nil}
	case phaseUserError:
		m["error"] = map[string]any{"code": "invalid_training_file", "message": v.errorMsg, "param": "training_file"}
	}
	return m
}

func (s *Server) openaiJobOr404(id string) (*ftJob, *ftError) {
	j, ok, err := s.ft.store.job(id)
	if err != nil {
		return nil, internalError(err)
	}
	if !ok || j.Wire != wireOpenAI {
		return nil, &ftError{status: 404, param: "fine_tune_id", code: "fine_tune_not_found", msg: "Could not find fine-tune: " + id}
	}
	return j, nil
}

// page applies after and limit to a newest-first list of ids.
func page(ids []string, r *http.Request) (from, to int, more bool, e *ftError) {
	q := r.URL.Query()
	limit, e := queryLimit(q.Get("limit"), 20, 100)
	if e != nil {
		return 0, 0, false, e
	}
	if after := q.Get("after"); after != "" {
		if i := slices.Index(ids, after); i >= 0 {
			from = i + 1
		}
	}
	to = min(from+limit, len(ids))
	return from, to, to < len(ids), nil
}

func (s *Server) openaiList(w http.ResponseWriter, r *http.Request) *ftError {
	jobs, err := s.ft.store.listJobs()
	if err != nil {
		return internalError(err)
	}
	jobs = slices.DeleteFunc(jobs, func(j *ftJob) bool { return j.Wire != wireOpenAI })
	ids := make([]string, len(jobs))
	for i, j := range jobs {
		ids[i] = j.ID
	}
	from, to, more, e := page(ids, r)
	if e != nil {
		return e
	}
	data := []map[string]any{}
	for _, j := range jobs[from:to] {
		data = append(data, s.openaiJob(j))
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data, "has_more": more})
	return nil
}

func (s *Server) openaiGet(w http.ResponseWriter, r *http.Request) *ftError {
	j, e := s.openaiJobOr404(r.PathValue("id"))
	if e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, s.openaiJob(j))
	return nil
}

type openaiEvent struct {
	Object    string         `json:"object"`
	ID        string         `json:"id"`
	CreatedAt int64          `json:"created_at"`
	Level     string         `json:"level"`
	Message   string         `json:"message"`
	Type      string         `json:"type"`
	Data      map[string]any `json:"data"`
}

func (s *Server) openaiEvents(w http.ResponseWriter, r *http.Request) *ftError {
	j, e := s.openaiJobOr404(r.PathValue("id"))
	if e != nil {
		return e
	}
	var evs []openaiEvent
	for i, ev := range j.events(s.opts.Now()) {
		if ev.openai == "" {
			continue
		}
		oe := openaiEvent{Object: "fine_tuning.job.event", CreatedAt: ev.at.Unix(), Level: ev.level, Message: ev.openai,
			Type: "message", Data: map[string]any{},
			ID: "ftevent-" + s.newJobID(j.ID+"|"+fmt.Sprint(i), j.CreatedAt, 0, 12)}
		if oe.Level == "warning" {
			oe.Level = "warn"
		}
		if ev.metrics {
			oe.Type = "metrics"
			oe.Data = map[string]any{"step": ev.step, "train_loss": *ev.loss, "total_steps": j.TotalSteps, "epoch": ev.epoch,
				"train_mean_token_accuracy": accuracy(*ev.loss)}
		}
		evs = append(evs, oe)
	}
	slices.Reverse(evs) // newest first
	ids := make([]string, len(evs))
	for i, ev := range evs {
		ids[i] = ev.ID
	}
	from, to, more, e := page(ids, r)
	if e != nil {
		return e
	}
	data := evs[from:to]
	if data == nil {
		data = []openaiEvent{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data, "has_more": more})
	return nil
}

// accuracy is the mean token accuracy reported beside a loss.
func accuracy(loss float64) float64 {
	return float64(int((1/(1+loss))*1e4)) / 1e4
}

func (s *Server) openaiCheckpoints(w http.ResponseWriter, r *http.Request) *ftError {
	j, e := s.openaiJobOr404(r.PathValue("id"))
	if e != nil {
		return e
	}
	cps := j.checkpoints(s.opts.Now())
	slices.Reverse(cps) // newest first
	type checkpoint struct {
		Object                   string         `json:"object"`
		ID                       string         `json:"id"`
		CreatedAt                int64          `json:"created_at"`
		FineTunedModelCheckpoint string         `json:"fine_tuned_model_checkpoint"`
		StepNumber               int            `json:"step_number"`
		Metrics                  map[string]any `json:"metrics"`
		FineTuningJobID          string         `json:"fine_tuning_job_id"`
	}
	all := make([]checkpoint, len(cps))
	ids := make([]string, len(cps))
	for i, c := range cps {
		all[i] = checkpoint{Object: "fine_tuning.job.checkpoint", ID: "ftckpt_" + s.newJobID(j.ID+"|"+fmt.Sprint(c.step), j.CreatedAt, 0, 12),
			CreatedAt: c.at.Unix(), FineTunedModelCheckpoint: fmt.Sprintf("%s:ckpt-step-%d", j.OutputModel, c.step), StepNumber: c.step,
			Metrics:         map[string]any{"step": c.step, "train_loss": c.loss, "train_mean_token_accuracy": accuracy(c.loss)},
			FineTuningJobID: j.ID}
		ids[i] = all[i].ID
	}
	from, to, more, e := page(ids, r)
	if e != nil {
		return e
	}
	data := all[from:to]
	body := map[string]any{"object": "list", "data": data, "has_more": more, "first_id": nil, "last_id": nil}
	if len(data) > 0 {
		body["first_id"], body["last_id"] = data[0].ID, data[len(data)-1].ID
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

func (s *Server) openaiCancel(w http.ResponseWriter, r *http.Request) *ftError {
	j, e := s.openaiJobOr404(r.PathValue("id"))
	if e != nil {
		return e
	}
	ok, e := s.cancel(j)
	if e != nil {
		return e
	}
	if !ok {
		return &ftError{status: 400, param: "fine_tune_id", code: "invalid_request_error",
			msg: fmt.Sprintf("Job %s has already %s and cannot be cancelled.", j.ID, openaiStatus(j.view(s.opts.Now()).phase))}
	}
	writeJSON(w, http.StatusOK, s.openaiJob(j))
	return nil
}
