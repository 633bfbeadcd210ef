package sandbox

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Together's files and fine-tunes endpoints, per together-openapi.yaml.
// GET /v1/files and GET /v1/files/{id} are shared with OpenAI's wire: their
// objects carry the fields of both providers' file objects.

func (s *Server) registerTogether() {
	s.mux.HandleFunc("POST /v1/files/upload", s.handle(s.togetherUpload))
	s.mux.HandleFunc("POST /v1/files", s.handle(s.openaiUpload))
	s.mux.HandleFunc("GET /v1/files", s.handle(s.serveFiles))
	s.mux.HandleFunc("GET /v1/files/{id}", s.handle(s.serveFile))
	s.mux.HandleFunc("GET /v1/files/{id}/content", s.handle(s.serveFileContent))
	s.mux.HandleFunc("POST /v1/fine-tunes", s.handle(s.togetherCreate))
	s.mux.HandleFunc("GET /v1/fine-tunes", s.handle(s.togetherList))
	s.mux.HandleFunc("GET /v1/fine-tunes/{id}", s.handle(s.togetherGet))
	s.mux.HandleFunc("GET /v1/fine-tunes/{id}/events", s.handle(s.togetherEvents))
	s.mux.HandleFunc("GET /v1/fine-tunes/{id}/checkpoints", s.handle(s.togetherCheckpoints))
	s.mux.HandleFunc("GET /v1/fine-tunes/{id}/metrics", s.handle(s.togetherMetrics))
	s.mux.HandleFunc("GET /v1/fine-tunes/models/limits", s.handle(s.togetherModelLimits))
	s.mux.HandleFunc("POST /v1/fine-tunes/{id}/cancel", s.handle(s.togetherCancel))
}

// fileObject is a file as both providers describe it: Together's
// FileResponse (with its capitalised FileType and Processed) and OpenAI's
// OpenAIFile.
type fileObject struct {
	ID        string `json:"id"`
	Object    string `json:"object"`
	CreatedAt int64  `json:"created_at"`
	Filename  string `json:"filename"`
	Bytes     int64  `json:"bytes"`
	Purpose   string `json:"purpose"`
	FileType  string `json:"FileType"`
	Processed bool   `json:"Processed"`
	LineCount int    `json:"LineCount"`
	Status    string `json:"status"`
}

func fileObjectOf(f *ftFile) fileObject {
	return fileObject{ID: f.ID, Object: "file", CreatedAt: f.CreatedAt, Filename: f.Filename, Bytes: f.Bytes,
		Purpose: f.Purpose, FileType: f.FileType, Processed: true, LineCount: f.Lines, Status: "processed"}
}

var togetherPurposes = []string{"fine-tune", "eval", "eval-sample", "eval-output", "eval-summary", "batch-generated", "batch-api"}

// upload is a parsed multipart upload.
type upload struct {
	fields   map[string]string
	content  []byte
	filename string // the file part's own file name
	hasFile  bool
}

// readUpload reads a multipart/form-data upload, holding the file part in
// memory up to limit bytes.
func readUpload(r *http.Request, limit int64) (upload, *ftError) {
	u := upload{fields: map[string]string{}}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return u, &ftError{status: 400, msg: "the request must be multipart/form-data with a file part"}
	}
	mr := multipart.NewReader(http.MaxBytesReader(nil, r.Body, limit+1<<20), params["boundary"])
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return u, uploadError(err, limit)
		}
		name := part.FormName()
		if name == "file" {
			b, err := io.ReadAll(io.LimitReader(part, limit+1))
			if err != nil {
				return u, uploadError(err, limit)
			}
			if int64(len(b)) > limit {
				return u, &ftError{status: 413, msg: fmt.Sprintf("file exceeds the maximum size of %d bytes", limit)}
			}
			u.content, u.filename, u.hasFile = b, part.FileName(), true
			continue
		}
		b, err := io.ReadAll(io.LimitReader(part, 64<<10))
		if err != nil {
			return u, uploadError(err, limit)
		}
		u.fields[name] = string(b)
	}
	if !u.hasFile {
		return u, &ftError{status: 400, msg: "missing required field: file", param: "file"}
	}
	return u, nil
}

func uploadError(err error, limit int64) *ftError {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return &ftError{status: 413, msg: fmt.Sprintf("request exceeds the maximum size of %d bytes", limit)}
	}
	return &ftError{status: 400, msg: "could not read the multipart body: " + err.Error()}
}

// storeUpload records an upload.
func (s *Server) storeUpload(name, purpose, fileType string, content []byte) (*ftFile, *ftError) {
	sum := sha256.Sum256(content)
	now := s.opts.Now()
	f := &ftFile{Filename: name, Purpose: purpose, FileType: fileType, Bytes: int64(len(content)),
		Lines: bytes.Count(content, []byte("\n")), SHA256: hex.EncodeToString(sum[:]), CreatedAt: now.Unix()}
	if len(content) > 0 && content[len(content)-1] != '\n' {
		f.Lines++
	}
	err := s.ft.store.putFile(f, content, func(attempt int) string {
		return "file-" + s.newJobID(f.SHA256, now, attempt, 12)
	})
	if err != nil {
		return nil, internalError(err)
	}
	return f, nil
}

func (s *Server) togetherUpload(w http.ResponseWriter, r *http.Request) *ftError {
	u, e := readUpload(r, s.ft.opts.MaxFileBytes)
	if e != nil {
		return e
	}
	for _, field := range []string{"purpose", "file_name"} {
		if u.fields[field] == "" {
			return &ftError{status: 400, msg: "missing required field: " + field, param: field}
		}
	}
	if !slices.Contains(togetherPurposes, u.fields["purpose"]) {
		return &ftError{status: 400, param: "purpose", msg: fmt.Sprintf("invalid purpose %q; want one of %s", u.fields["purpose"], strings.Join(togetherPurposes, ", "))}
	}
	ft := cmpOrString(u.fields["file_type"], "jsonl")
	if !slices.Contains([]string{"jsonl", "csv", "parquet"}, ft) {
		return &ftError{status: 400, param: "file_type", msg: fmt.Sprintf("invalid file_type %q; want jsonl, csv or parquet", ft)}
	}
	f, e := s.storeUpload(u.fields["file_name"], u.fields["purpose"], ft, u.content)
	if e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, fileObjectOf(f))
	return nil
}

func cmpOrString(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// serveFiles lists files: Together's FileList, which OpenAI's
// ListFilesResponse extends. The OpenAI query parameters purpose, limit,
// order and after are honoured.
func (s *Server) serveFiles(w http.ResponseWriter, r *http.Request) *ftError {
	files, err := s.ft.store.listFiles()
	if err != nil {
		return internalError(err)
	}
	q := r.URL.Query()
	if p := q.Get("purpose"); p != "" {
		files = slices.DeleteFunc(files, func(f *ftFile) bool { return f.Purpose != p })
	}
	if q.Get("order") == "asc" {
		slices.Reverse(files)
	}
	if after := q.Get("after"); after != "" {
		if i := slices.IndexFunc(files, func(f *ftFile) bool { return f.ID == after }); i >= 0 {
			files = files[i+1:]
		}
	}
	limit, e := queryLimit(q.Get("limit"), 10000, 10000)
	if e != nil {
		return e
	}
	more := len(files) > limit
	files = files[:min(limit, len(files))]
	data := make([]fileObject, len(files))
	for i, f := range files {
		data[i] = fileObjectOf(f)
	}
	body := map[string]any{"object": "list", "data": data, "has_more": more}
	if len(data) > 0 {
		body["first_id"], body["last_id"] = data[0].ID, data[len(data)-1].ID
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

// queryLimit reads a limit query parameter.
func queryLimit(v string, def, most int) (int, *ftError) {
	if v == "" {
		return def, nil
	}
	var n int
	if _, err := fmt.Sscan(v, &n); err != nil || n < 1 || n > most || fmt.Sprint(n) != v {
		return 0, &ftError{status: 400, param: "limit", msg: fmt.Sprintf("invalid limit %q; want an integer from 1 to %d", v, most)}
	}
	return n, nil
}

func (s *Server) fileOr404(id string) (*ftFile, *ftError) {
	f, ok, err := s.ft.store.file(id)
	if err != nil {
		return nil, internalError(err)
	}
	if !ok {
		return nil, &ftError{status: 404, msg: "No such File object: " + id, param: "id"}
	}
	return f, nil
}

func (s *Server) serveFile(w http.ResponseWriter, r *http.Request) *ftError {
	f, e := s.fileOr404(r.PathValue("id"))
	if e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, fileObjectOf(f))
	return nil
}

func (s *Server) serveFileContent(w http.ResponseWriter, r *http.Request) *ftError {
	f, e := s.fileOr404(r.PathValue("id"))
	if e != nil {
		return e
	}
	b, err := s.ft.store.content(f.ID)
	if err != nil {
		return internalError(err)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	return nil
}

// togetherCreateRequest is the body of POST /fine-tunes. Fields the
// sandbox does not use are read so that their types are checked.
type togetherCreateRequest struct {
	TrainingFile     string          `json:"training_file"`
	ValidationFile   string          `json:"validation_file"`
	Model            string          `json:"model"`
	NEpochs          *int            `json:"n_epochs"`
	NCheckpoints     *int            `json:"n_checkpoints"`
	NEvals           *int            `json:"n_evals"`
	BatchSize        json.RawMessage `json:"batch_size"`
	LearningRate     *float64        `json:"learning_rate"`
	Suffix           string          `json:"suffix"`
	WandbAPIKey      string          `json:"wandb_api_key"` // never kept
	WandbProjectName string          `json:"wandb_project_name"`
	RandomSeed       *int64          `json:"random_seed"`
	TrainingType     *struct {
		Type                 string   `json:"type"`
		LoraR                *int     `json:"lora_r"`
		LoraAlpha            *int     `json:"lora_alpha"`
		LoraDropout          *float64 `json:"lora_dropout"`
		LoraTrainableModules string   `json:"lora_trainable_modules"`
	} `json:"training_type"`
	TrainingMethod *struct {
		Method        string          `json:"method"`
		TrainOnInputs json.RawMessage `json:"train_on_inputs"`
		// TrainingMethodDPO's settings.
		DPOBeta        *float64 `json:"dpo_beta"`
		RPOAlpha       *float64 `json:"rpo_alpha"`
		SimPOGamma     *float64 `json:"simpo_gamma"`
		NormalizeByLen *bool    `json:"dpo_normalize_logratios_by_length"`
		ReferenceFree  *bool    `json:"dpo_reference_free"`
	} `json:"training_method"`
	FromCheckpoint string `json:"from_checkpoint"`
}

// flatLoRAFields are CLI and SDK arguments that the wire nests in
// training_type; a client that sends them flat has a bug, and the sandbox
// says so rather than silently training with defaults.
var flatLoRAFields = []string{"lora", "lora_r", "lora_alpha", "lora_dropout", "lora_trainable_modules"}

// togetherCreateFields are the properties the spec declares for the body
// of POST /fine-tunes. The spec does not forbid others, but a field it
// does not declare is a misspelt or misplaced setting that would train
// with a default instead, so the sandbox refuses it, as the spec checks
// of the tests do in strict mode.
var togetherCreateFields = []string{"batch_size", "from_checkpoint", "from_hf_model", "hf_api_token", "hf_model_revision",
	"hf_output_repo_name", "learning_rate", "lr_scheduler", "max_grad_norm", "max_seq_length", "model", "multimodal_params",
	"n_checkpoints", "n_epochs", "n_evals", "packing", "random_seed", "suffix", "train_on_inputs", "training_file",
	"training_method", "training_type", "validation_file", "wandb_api_key", "wandb_base_url", "wandb_entity", "wandb_name",
	"wandb_project_name", "warmup_ratio", "weight_decay"}

func (s *Server) togetherCreate(w http.ResponseWriter, r *http.Request) *ftError {
	body, ae := readBody(w, r)
	if ae != nil {
		return &ftError{status: ae.status, msg: ae.msg}
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return &ftError{status: 400, msg: "invalid JSON body: " + err.Error()}
	}
	for _, f := range flatLoRAFields {
		if _, ok := raw[f]; ok {
			return &ftError{status: 400, param: f, msg: fmt.Sprintf(`unknown field %q: LoRA settings go in training_type, e.g. {"type": "Lora", "lora_r": 8, "lora_alpha": 16}`, f)}
		}
	}
	if f := extraField(raw, togetherCreateFields); f != "" {
		hint := ""
		if f == "wandb_key" {
			hint = " (the spec names the Weights & Biases key wandb_api_key)"
		}
		return &ftError{status: 400, param: f, msg: fmt.Sprintf("unknown field %q%s: the fields of POST /fine-tunes are %s", f, hint, strings.Join(togetherCreateFields, ", "))}
	}
	var req togetherCreateRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return &ftError{status: 400, msg: "invalid request body: " + err.Error()}
	}
	switch {
	case req.TrainingFile == "":
		return &ftError{status: 400, param: "training_file", msg: "missing required field: training_file"}
	case req.Model == "" && req.FromCheckpoint == "":
		return &ftError{status: 400, param: "model", msg: "missing required field: model"}
	case req.Model != "" && req.FromCheckpoint != "":
		return &ftError{status: 400, param: "from_checkpoint", msg: "give either a model or a checkpoint to continue from (from_checkpoint), not both"}
	case req.FromCheckpoint == "" && !s.baseModelOK(req.Model):
		return &ftError{status: 400, param: "model", msg: fmt.Sprintf("Model %q is not available for fine-tuning. The sandbox fine-tunes base, %s, the models it was given, and Together reference models (names ending in -Reference).", req.Model, FailTrainModel)}
	}
	j := &ftJob{Wire: wireTogether, Model: req.Model, TrainingFile: req.TrainingFile, ValidationFile: req.ValidationFile,
		Suffix: req.Suffix, Epochs: 1, NCheckpoints: 1, LearningRate: 1e-5, Method: "sft", WandbProject: req.WandbProjectName,
		Seed: 42, LoRA: &ftLoRA{R: 8, Alpha: 16, TrainableModules: "all-linear"}}
	if req.FromCheckpoint != "" {
		parent, e := s.parentJob(req.FromCheckpoint, "from_checkpoint")
		if e != nil {
			return e
		}
		if parent.Wire != wireTogether {
			return &ftError{status: 400, param: "from_checkpoint", msg: fmt.Sprintf("%s is not a Together fine-tuning job", req.FromCheckpoint)}
		}
		j.Model, j.Parent, j.FromCheckpoint = parent.Model, parent.ID, req.FromCheckpoint
	}
	if req.NEpochs != nil {
		if *req.NEpochs < 1 || *req.NEpochs > togetherLimits.maxEpochs {
			return &ftError{status: 400, param: "n_epochs", msg: fmt.Sprintf("n_epochs must be between 1 and %d, got %d", togetherLimits.maxEpochs, *req.NEpochs)}
		}
		j.Epochs = *req.NEpochs
	}
	if req.NCheckpoints != nil {
		if *req.NCheckpoints < 1 {
			return &ftError{status: 400, param: "n_checkpoints", msg: "n_checkpoints must be at least 1"}
		}
		j.NCheckpoints = *req.NCheckpoints
	}
	if req.NEvals != nil {
		if *req.NEvals < 0 {
			return &ftError{status: 400, param: "n_evals", msg: "n_evals must not be negative"}
		}
		if *req.NEvals > togetherLimits.maxEvals {
			return &ftError{status: 400, param: "n_evals", msg: fmt.Sprintf("n_evals must be at most %d, got %d", togetherLimits.maxEvals, *req.NEvals)}
		}
		if *req.NEvals > 0 && req.ValidationFile == "" {
			return &ftError{status: 400, param: "n_evals", msg: "n_evals needs a validation_file"}
		}
		j.NEvals = *req.NEvals
	}
	if len(req.BatchSize) > 0 && string(req.BatchSize) != "null" && string(req.BatchSize) != `"max"` {
		var n int
		if err := json.Unmarshal(req.BatchSize, &n); err != nil || n < togetherLimits.minBatch || n > togetherLimits.maxBatch {
			return &ftError{status: 400, param: "batch_size", msg: fmt.Sprintf(`batch_size must be an integer from %d to %d or "max", got %s`, togetherLimits.minBatch, togetherLimits.maxBatch, req.BatchSize)}
		}
		j.BatchSize = n
	}
	if req.LearningRate != nil {
		if !(*req.LearningRate >= togetherLimits.minLR && *req.LearningRate <= togetherLimits.maxLR) {
			return &ftError{status: 400, param: "learning_rate", msg: fmt.Sprintf("learning_rate must be in [%g, %g], got %g", togetherLimits.minLR, togetherLimits.maxLR, *req.LearningRate)}
		}
		j.LearningRate = *req.LearningRate
	}
	if req.RandomSeed != nil {
		j.Seed = *req.RandomSeed
	}
	if tt := req.TrainingType; tt != nil {
		switch tt.Type {
		case "Full":
			j.LoRA = nil
		case "Lora":
			if tt.LoraR == nil || tt.LoraAlpha == nil {
				return &ftError{status: 400, param: "training_type", msg: "training_type Lora requires lora_r and lora_alpha"}
			}
			if *tt.LoraR < 1 || *tt.LoraR > togetherLimits.maxRank {
				return &ftError{status: 400, param: "training_type.lora_r", msg: fmt.Sprintf("lora_r must be between 1 and %d, got %d", togetherLimits.maxRank, *tt.LoraR)}
			}
			if *tt.LoraAlpha < 1 {
				return &ftError{status: 400, param: "training_type.lora_alpha", msg: fmt.Sprintf("lora_alpha must be at least 1, got %d", *tt.LoraAlpha)}
			}
			j.LoRA = &ftLoRA{R: *tt.LoraR, Alpha: *tt.LoraAlpha, TrainableModules: cmpOrString(tt.LoraTrainableModules, "all-linear")}
			if tt.LoraDropout != nil {
				if *tt.LoraDropout < 0 || *tt.LoraDropout >= 1 {
					return &ftError{status: 400, param: "training_type.lora_dropout", msg: fmt.Sprintf("lora_dropout must be in [0, 1), got %g", *tt.LoraDropout)}
				}
				j.LoRA.Dropout = *tt.LoraDropout
			}
		default:
			return &ftError{status: 400, param: "training_type.type", msg: fmt.Sprintf(`training_type.type must be "Lora" or "Full", got %q`, tt.Type)}
		}
	}
	if tm := req.TrainingMethod; tm != nil {
		if tm.Method != "sft" && tm.Method != "dpo" {
			return &ftError{status: 400, param: "training_method.method", msg: fmt.Sprintf(`training_method.method must be "sft" or "dpo", got %q`, tm.Method)}
		}
		j.Method = tm.Method
		if e := j.dpoSettings(tm.DPOBeta, tm.RPOAlpha, tm.SimPOGamma); e != nil {
			return e
		}
		// "auto" masks the prompts of conversation data, which is
		// training on the assistant turns only.
		switch string(tm.TrainOnInputs) {
		case "", "null", `"auto"`, "false":
		case "true":
			j.TrainOnInputs = true
		default:
			return &ftError{status: 400, param: "training_method.train_on_inputs", msg: fmt.Sprintf(`train_on_inputs must be true, false or "auto", got %s`, tm.TrainOnInputs)}
		}
		if j.Method == "dpo" && len(tm.TrainOnInputs) > 0 && string(tm.TrainOnInputs) != "null" {
			return &ftError{status: 400, param: "training_method.train_on_inputs", msg: "train_on_inputs is a setting of sft, not of dpo"}
		}
	}
	if e := s.createJob(j, "ft-", func(j *ftJob) {
		id := strings.TrimPrefix(j.ID, "ft-")
		name := "ft-" + shortID(id)
		if sl := slug(j.Suffix); sl != "" {
			name = "ft-" + sl + "-" + shortID(id)
		}
		j.OutputModel = name
	}); e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, s.togetherJob(j, false))
	return nil
}

// createJob checks the job's files, learns from the training file and
// records the job.
func (s *Server) createJob(j *ftJob, prefix string, named func(*ftJob)) *ftError {
	for _, f := range []struct{ param, id string }{{"training_file", j.TrainingFile}, {"validation_file", j.ValidationFile}} {
		if f.id == "" {
			continue
		}
		file, ok, err := s.ft.store.file(f.id)
		if err != nil {
			return internalError(err)
		}
		if !ok {
			return &ftError{status: 400, param: f.param, msg: fmt.Sprintf("invalid %s %s: no such file; upload it first", f.param, f.id)}
		}
		if file.Purpose != "fine-tune" {
			return &ftError{status: 400, param: f.param, msg: fmt.Sprintf("file %s has purpose %q; fine-tuning needs purpose fine-tune", f.id, file.Purpose)}
		}
	}
	start := s.basePersona(j.Model)
	if j.Parent != "" {
		parent, ok, err := s.ft.store.job(j.Parent)
		if err != nil || !ok {
			return internalError(fmt.Errorf("the parent job %s is gone: %v", j.Parent, err))
		}
		start = parent.Persona
	}
	if e := s.training(j, start); e != nil {
		return e
	}
	if j.Wire == wireOpenAI {
		// OpenAI cancels at once: there is no cancel_requested state.
		j.Phases.Cancelling = 0
	}
	now := s.opts.Now().UTC()
	j.CreatedAt = now
	err := s.ft.store.createJob(j, func(attempt int) string {
		if prefix == "ft-" {
			// Together's job ids are UUIDs after "ft-".
			id := s.newJobID(prefix, now, attempt, 16)
			return "ft-" + id[:8] + "-" + id[8:12] + "-" + id[12:16] + "-" + id[16:20] + "-" + id[20:]
		}
		return prefix + s.newJobID(prefix, now, attempt, 12)
	}, named)
	if err != nil {
		return internalError(err)
	}
	return nil
}

func (s *Server) togetherJobOr404(id string) (*ftJob, *ftError) {
	j, ok, err := s.ft.store.job(id)
	if err != nil {
		return nil, internalError(err)
	}
	if !ok || j.Wire != wireTogether {
		return nil, &ftError{status: 404, msg: "Fine-tune job not found: " + id, param: "id"}
	}
	return j, nil
}

// togetherEvent is Together's FineTuneEvent. It has step and total_steps
// and no loss: losses are at GET /fine-tunes/{id}/metrics.
type togetherEvent struct {
	Object         string `json:"object"`
	CreatedAt      string `json:"created_at"`
	Level          string `json:"level"`
	Message        string `json:"message"`
	Type           string `json:"type"`
	ParamCount     int64  `json:"param_count"`
	TokenCount     int64  `json:"token_count"`
	TotalSteps     int    `json:"total_steps"`
	WandbURL       string `json:"wandb_url"`
	Step           int    `json:"step"`
	CheckpointPath string `json:"checkpoint_path"`
	ModelPath      string `json:"model_path"`
	TrainingOffset int    `json:"training_offset"`
	Hash           string `json:"hash"`
}

const sandboxParams = 8_000_000_000

// togetherTime is how Together writes times ("2023-05-17T17:35:45.123Z"):
// fixed width, so the strings sort as the times do.
const togetherTime = "2006-01-02T15:04:05.000Z07:00"

func (s *Server) togetherEventsOf(j *ftJob, now time.Time) []togetherEvent {
	evs := j.events(now)
	out := make([]togetherEvent, 0, len(evs))
	for i, e := range evs {
		if e.msg == "" {
			continue
		}
		te := togetherEvent{Object: "fine-tune-event", CreatedAt: e.at.UTC().Format(togetherTime), Level: e.level,
			Message: e.msg, Type: e.kind, ParamCount: sandboxParams, TokenCount: int64(j.Tokens * j.Epochs),
			TotalSteps: j.TotalSteps, Step: e.step,
			Hash: fmt.Sprintf("%x", hashString(fmt.Sprint(j.ID, i, e.kind)))}
		if e.kind == "checkpoint_save" {
			te.CheckpointPath = checkpointPath(j, e.step)
		}
		if e.kind == "job_complete" {
			te.ModelPath = modelPath(j)
		}
		out = append(out, te)
	}
	return out
}

func checkpointPath(j *ftJob, step int) string {
	return fmt.Sprintf("sandbox://fine-tunes/%s/checkpoint-%d", j.ID, step)
}

func modelPath(j *ftJob) string { return "sandbox://fine-tunes/" + j.ID + "/" + j.OutputModel }

// togetherJob renders a job as Together's FinetuneResponse; truncated
// leaves out its events, as create, list and cancel do.
func (s *Server) togetherJob(j *ftJob, full bool) map[string]any {
	now := s.opts.Now()
	v := j.view(now)
	m := map[string]any{
		"id":                    j.ID,
		"status":                v.phase,
		"model":                 j.Model,
		"model_output_name":     j.OutputModel,
		"output_name":           j.OutputModel,
		"training_file":         j.TrainingFile,
		"created_at":            j.CreatedAt.Format(togetherTime),
		"updated_at":            maxTime(v.since, j.CreatedAt).UTC().Format(togetherTime),
		"started_at":            v.since.UTC().Format(togetherTime),
		"n_epochs":              j.Epochs,
		"n_checkpoints":         j.NCheckpoints,
		"n_evals":               j.NEvals,
		"batch_size":            j.BatchSize,
		"learning_rate":         j.LearningRate,
		"lr_scheduler":          map[string]any{"lr_scheduler_type": "linear", "lr_scheduler_args": map[string]any{"min_lr_ratio": 0.0}},
		"warmup_ratio":          0.0,
		"max_grad_norm":         1.0,
		"weight_decay":          0.0,
		"random_seed":           j.Seed,
		"training_method":       trainingMethod(j),
		"trainingfile_numlines": j.Lines,
		"trainingfile_size":     j.Bytes,
		"token_count":           j.Tokens * j.Epochs,
		"param_count":           sandboxParams,
		"epochs_completed":      min(v.step/max(j.StepsPerEpoch, 1), j.Epochs),
		"queue_depth":           boolInt(v.phase == phaseQueued),
		"user_id":               "sandbox-user",
		"owner_address":         "sandbox@localhost",
		"events":                []togetherEvent{},
	}
	if v.phase == phaseCompleted {
		m["model_output_path"] = modelPath(j)
	}
	if j.ValidationFile != "" {
		m["validation_file"] = j.ValidationFile
	}
	if j.Suffix != "" {
		m["suffix"] = j.Suffix
	}
	if j.FromCheckpoint != "" {
		m["from_checkpoint"] = j.FromCheckpoint
	}
	if j.WandbProject != "" {
		// Where the run would log: the sandbox logs nowhere, and the URL
		// is there so that clients show it as they would Together's.
		m["wandb_project_name"] = j.WandbProject
		m["wandb_url"] = "https://wandb.ai/sandbox/" + url.PathEscape(j.WandbProject) + "/runs/" + j.ID
	}
	if j.LoRA != nil {
		m["training_type"] = map[string]any{"type": "Lora", "lora_r": j.LoRA.R, "lora_alpha": j.LoRA.Alpha,
			"lora_dropout": j.LoRA.Dropout, "lora_trainable_modules": j.LoRA.TrainableModules}
	} else {
		m["training_type"] = map[string]any{"type": "Full"}
	}
	if !v.final {
		left := max(0, v.end.Sub(now))
		m["progress"] = map[string]any{"estimate_available": true, "seconds_remaining": int(left.Round(time.Second) / time.Second)}
	}
	if full {
		m["events"] = s.togetherEventsOf(j, now)
	}
	return m
}

// dpoSettings checks and records a job's DPO settings (nil: the
// default), which only a DPO job takes: Together's SDK refuses dpo_beta,
// rpo_alpha and simpo_gamma with sft.
func (j *ftJob) dpoSettings(beta, rpoAlpha, simpoGamma *float64) *ftError {
	if j.Method == "dpo" {
		j.DPOBeta = 0.1
	}
	for _, v := range []struct {
		name string
		val  *float64
		dst  *float64
	}{{"dpo_beta", beta, &j.DPOBeta}, {"rpo_alpha", rpoAlpha, &j.RPOAlpha}, {"simpo_gamma", simpoGamma, &j.SimPOGamma}} {
		switch {
		case v.val == nil:
		case j.Method != "dpo":
			return &ftError{status: 400, param: "training_method." + v.name, msg: fmt.Sprintf("%s is a setting of dpo, not of %s", v.name, j.Method)}
		case !(*v.val >= 0) || math.IsInf(*v.val, 0):
			return &ftError{status: 400, param: "training_method." + v.name, msg: fmt.Sprintf("%s must be a number not below 0, got %g", v.name, *v.val)}
		default:
			*v.dst = *v.val
		}
	}
	return nil
}

// trainingMethod is the job's TrainingMethodSFT or TrainingMethodDPO.
func trainingMethod(j *ftJob) map[string]any {
	if j.Method == "dpo" {
		return map[string]any{"method": "dpo", "dpo_beta": j.DPOBeta, "rpo_alpha": j.RPOAlpha, "simpo_gamma": j.SimPOGamma}
	}
	return map[string]any{"method": "sft", "train_on_inputs": j.TrainOnInputs}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (s *Server) togetherList(w http.ResponseWriter, r *http.Request) *ftError {
	jobs, err := s.ft.store.listJobs()
	if err != nil {
		return internalError(err)
	}
	data := []map[string]any{}
	for _, j := range jobs {
		if j.Wire == wireTogether {
			data = append(data, s.togetherJob(j, false))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data})
	return nil
}

func (s *Server) togetherGet(w http.ResponseWriter, r *http.Request) *ftError {
	j, e := s.togetherJobOr404(r.PathValue("id"))
	if e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, s.togetherJob(j, true))
	return nil
}

func (s *Server) togetherEvents(w http.ResponseWriter, r *http.Request) *ftError {
	j, e := s.togetherJobOr404(r.PathValue("id"))
	if e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": s.togetherEventsOf(j, s.opts.Now())})
	return nil
}

func (s *Server) togetherCheckpoints(w http.ResponseWriter, r *http.Request) *ftError {
	j, e := s.togetherJobOr404(r.PathValue("id"))
	if e != nil {
		return e
	}
	type checkpoint struct {
		Step           int    `json:"step"`
		Path           string `json:"path"`
		CreatedAt      string `json:"created_at"`
		CheckpointType string `json:"checkpoint_type"`
	}
	data := []checkpoint{}
	cps := j.checkpoints(s.opts.Now())
	// Newest first, as Together lists them.
	for i := len(cps) - 1; i >= 0; i-- {
		c := cps[i]
		cp := checkpoint{Step: c.step, Path: checkpointPath(j, c.step), CreatedAt: c.at.UTC().Format(togetherTime), CheckpointType: "Intermediate"}
		if c.final {
			cp.Path, cp.CheckpointType = modelPath(j), "Final"
		}
		data = append(data, cp)
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data})
	return nil
}

// cancel records a cancellation request, or says why the job cannot be
// cancelled.
func (s *Server) cancel(j *ftJob) (bool, *ftError) {
	now := s.opts.Now().UTC()
	v := j.view(now)
	if v.final {
		return false, nil
	}
	if j.CancelRequested == nil {
		j.CancelRequested = &now
		if err := s.ft.store.updateJob(j); err != nil {
			return false, internalError(err)
		}
	}
	return true, nil
}

func (s *Server) togetherCancel(w http.ResponseWriter, r *http.Request) *ftError {
	j, e := s.togetherJobOr404(r.PathValue("id"))
	if e != nil {
		return e
	}
	ok, e := s.cancel(j)
	if e != nil {
		return e
	}
	if !ok {
		return &ftError{status: 400, param: "id", msg: fmt.Sprintf("Fine-tune job %s cannot be cancelled: it has already finished with status %s", j.ID, j.view(s.opts.Now()).phase)}
	}
	writeJSON(w, http.StatusOK, s.togetherJob(j, false))
	return nil
}

// metricsFilter is the optional body of GET /fine-tunes/{id}/metrics.
type metricsFilter struct {
	GlobalStepFrom *int64     `json:"global_step_from"`
	GlobalStepTo   *int64     `json:"global_step_to"`
	LoggedAtFrom   *time.Time `json:"logged_at_from"`
	LoggedAtTo     *time.Time `json:"logged_at_to"`
}

// togetherMetrics serves GET /fine-tunes/{id}/metrics: a snapshot per
// loss report trained by now, and per evaluation of the validation file,
// in the order they were logged, filtered by the optional body.
func (s *Server) togetherMetrics(w http.ResponseWriter, r *http.Request) *ftError {
	body, ae := readBody(w, r)
	if ae != nil {
		return &ftError{status: ae.status, msg: ae.msg}
	}
	var f metricsFilter
	if len(bytes.TrimSpace(body)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			return &ftError{status: 400, msg: "invalid JSON body: " + err.Error() + "; the filters are global_step_from, global_step_to, logged_at_from and logged_at_to"}
		}
	}
	j, e := s.togetherJobOr404(r.PathValue("id"))
	if e != nil {
		return e
	}
	keep := func(step int, at time.Time) bool {
		return (f.GlobalStepFrom == nil || int64(step) >= *f.GlobalStepFrom) &&
			(f.GlobalStepTo == nil || int64(step) <= *f.GlobalStepTo) &&
			(f.LoggedAtFrom == nil || !at.Before(*f.LoggedAtFrom)) &&
			(f.LoggedAtTo == nil || !at.After(*f.LoggedAtTo))
	}
	metrics := []map[string]float64{}
	for _, m := range j.metrics(s.opts.Now()) {
		if keep(m.step, m.at) {
			metrics = append(metrics, m.values)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"metrics": metrics})
	return nil
}

// ftMetric is one snapshot of a job's training metrics.
type ftMetric struct {
	at     time.Time
	step   int
	values map[string]float64
}

// metrics are the snapshots logged by now, oldest first: the training
// loss at each loss report, and the validation loss at NEvals evenly
// spaced steps of a job with a validation file.
func (j *ftJob) metrics(now time.Time) []ftMetric {
	v := j.view(now)
	evals := []int{}
	if j.ValidationFile != "" && j.NEvals > 0 {
		evals = evenSteps(j.NEvals, j.TotalSteps)
	}
	var out []ftMetric
	for _, st := range mergeSteps(j.lossSteps(), evals) {
		at := j.stepTime(st)
		if st > v.step || (j.FailStep > 0 && st >= j.FailStep) || at.After(now) {
			break
		}
		if slices.Contains(j.lossSteps(), st) {
			lr := j.LearningRate * (1 - float64(st-1)/float64(max(j.TotalSteps, 1)))
			out = append(out, ftMetric{at: at, step: st, values: map[string]float64{
				"train/loss": j.loss(st), "train/learning_rate": lr, "train/global_step": float64(st),
				"train/epoch": float64(j.epochOf(st))}})
		}
		if slices.Contains(evals, st) {
			out = append(out, ftMetric{at: at, step: st, values: map[string]float64{
				"eval/loss": j.validationLoss(st), "train/global_step": float64(st)}})
		}
	}
	return out
}

// validationLoss is the loss on the validation file at step n: the
// training loss's curve, a little higher, with noise of its own.
func (j *ftJob) validationLoss(n int) float64 {
	seed := hashString(j.ID)
	noise := (unitRoll(seed, "val-loss-noise-"+fmt.Sprint(n)) - 0.5) * 0.04
	return math.Round(j.loss(n)*(1.08+noise)*1e4) / 1e4
}

// togetherLimits are the sandbox's FineTuneModelLimits, the same for
// every base model it fine-tunes; POST /fine-tunes refuses what they do
// not allow.
var togetherLimits = struct {
	maxEpochs, maxEvals, minBatch, maxBatch, maxRank int
	minLR, maxLR                                     float64
}{maxEpochs: 20, maxEvals: 100, minBatch: 1, maxBatch: 256, maxRank: 64, minLR: 1e-8, maxLR: 1}

// togetherModelLimits serves GET /fine-tunes/models/limits?model_name=…;
// a model the sandbox does not fine-tune is a 404 with the spec's
// {"message"} body.
func (s *Server) togetherModelLimits(w http.ResponseWriter, r *http.Request) *ftError {
	q := r.URL.Query()
	model := q.Get("model_name")
	for k := range q {
		if k != "model_name" {
			return &ftError{status: 400, param: k, msg: fmt.Sprintf("unknown query parameter %q; the one parameter is model_name", k)}
		}
	}
	if model == "" {
		return &ftError{status: 400, param: "model_name", msg: "missing required query parameter: model_name"}
	}
	if !s.baseModelOK(model) {
		writeJSON(w, http.StatusNotFound, map[string]any{"message": fmt.Sprintf("Model %q is not available for fine-tuning", model)})
		return nil
	}
	l := togetherLimits
	training := func(lora bool) map[string]any {
		m := map[string]any{"max_batch_size": l.maxBatch, "max_batch_size_dpo": l.maxBatch / 2, "min_batch_size": l.minBatch}
		if lora {
			m["max_rank"], m["target_modules"] = l.maxRank, []string{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
		}
		return m
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"model_name": model, "full_training": training(false), "lora_training": training(true),
		"max_num_epochs": l.maxEpochs, "max_num_evals": l.maxEvals, "max_learning_rate": l.maxLR, "min_learning_rate": l.minLR,
		"supports_vision": false, "supports_tools": false, "supports_reasoning": false, "merge_output_lora": false,
	})
	return nil
}
