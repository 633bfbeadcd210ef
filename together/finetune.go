package together

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/ethos-toolkit/ethos"
)

// State maps a Together job status to ethos's state: pending and queued
// are pending; running, compressing, uploading (the trained model is being
// uploaded, not the training data) and cancel_requested are running;
// completed is completed; cancelled is cancelled; error and user_error are
// failed. Case is ignored. Any other status is unknown, which ethos shows
// as it is and keeps following.
func State(status string) ethos.FineTuneState {
	switch strings.ToLower(strings.TrimSpace(status)) {
	case "pending", "queued":
		return ethos.FineTunePending
	case "running", "compressing", "uploading", "cancel_requested":
		return ethos.FineTuneRunning
	case "completed":
		return ethos.FineTuneCompleted
	case "cancelled":
		return ethos.FineTuneCancelled
	case "error", "user_error":
		return ethos.FineTuneFailed
	}
	return ethos.FineTuneUnknown
}

// LoRA defaults used when Hyperparameters.LoRA is set but the rank or
// alpha is not: the wire requires both. The rank is the together CLI's
// default; alpha twice the rank is the SDK's rule.
const (
	DefaultLoRARank = 8
)

// createRequest is the body of POST /fine-tunes.
type createRequest struct {
	TrainingFile     string            `json:"training_file"`
	ValidationFile   string            `json:"validation_file,omitempty"`
	Model            string            `json:"model,omitempty"` // left out when continuing from_checkpoint
	FromCheckpoint   string            `json:"from_checkpoint,omitempty"`
	NEpochs          int               `json:"n_epochs,omitempty"`
	NEvals           int               `json:"n_evals,omitempty"`    // needs validation_file
	BatchSize        int               `json:"batch_size,omitempty"` // omitted: the provider's "max"
	LearningRate     float64           `json:"learning_rate,omitempty"`
	Suffix           string            `json:"suffix,omitempty"`
	WandbAPIKey      string            `json:"wandb_api_key,omitempty"`
	WandbProjectName string            `json:"wandb_project_name,omitempty"`
	TrainingMethod   trainingMethod    `json:"training_method"`
	TrainingType     *wireTrainingType `json:"training_type"`
}

// trainingMethod is TrainingMethodSFT or TrainingMethodDPO. SFT's
// train_on_inputs "auto" is what the official SDKs send (see
// testdata/README.md for the spec's contradictory declaration of it); DPO
// has no train_on_inputs, and its settings are left out when zero, so
// that Together's defaults apply (dpo_beta 0.1).
type trainingMethod struct {
	Method        string   `json:"method"`
	TrainOnInputs any      `json:"train_on_inputs,omitempty"`
	DPOBeta       *float64 `json:"dpo_beta,omitempty"`
	RPOAlpha      *float64 `json:"rpo_alpha,omitempty"`
	SimPOGamma    *float64 `json:"simpo_gamma,omitempty"`
}

// methodOf is the training method of h on the wire.
func methodOf(h ethos.Hyperparameters) trainingMethod {
	if !h.DPO() {
		return trainingMethod{Method: ethos.FineTuneSFT, TrainOnInputs: "auto"}
	}
	set := func(v float64) *float64 {
		if v == 0 {
			return nil
		}
		return &v
	}
	return trainingMethod{Method: ethos.FineTuneDPO, DPOBeta: set(h.DPOBeta), RPOAlpha: set(h.RPOAlpha), SimPOGamma: set(h.SimPOGamma)}
}

// createBody checks req and builds the wire body. Hyperparameters with
// zero values are left out, so the provider's defaults apply; LoRA
// settings travel nested in training_type, and are ignored for a full
// fine-tune. A job continued from a checkpoint sends from_checkpoint and
// no model: Together's SDK refuses both together (the spec requires model
// all the same; see testdata/README.md).
func (c *Client) createBody(req ethos.FineTuneRequest) (createRequest, ethos.Hyperparameters, *ethos.Error) {
	h := req.Hyperparameters
	bad := func(format string, args ...any) (createRequest, ethos.Hyperparameters, *ethos.Error) {
		return createRequest{}, h, &ethos.Error{Kind: ethos.Invalid, Msg: fmt.Sprintf(format, args...)}
	}
	switch {
	case strings.TrimSpace(req.BaseModel) == "" && strings.TrimSpace(req.FromCheckpoint) == "":
		return bad("no base model: name the model to fine-tune, or a checkpoint to continue from")
	case strings.TrimSpace(req.TrainFile) == "":
		return bad("no training file: upload the training file first and pass its ID")
	}
	if err := h.Validate(); err != nil {
		return bad("%v", err)
	}
	model := req.BaseModel
	if req.FromCheckpoint != "" {
		model = ""
	}
	if h.Evals > 0 && req.ValidationFile == "" {
		return bad("%d evaluations (n_evals) asked for without a validation file: give one, or ask for none", h.Evals)
	}
	body := createRequest{
		TrainingFile:     req.TrainFile,
		ValidationFile:   req.ValidationFile,
		Model:            model,
		FromCheckpoint:   req.FromCheckpoint,
		NEpochs:          h.Epochs,
		NEvals:           h.Evals,
		BatchSize:        h.BatchSize,
		LearningRate:     h.LearningRate,
		Suffix:           h.Suffix,
		WandbProjectName: h.WandbProject,
		TrainingMethod:   methodOf(h),
	}
	if h.WandbProject != "" {
		body.WandbAPIKey = c.wandbKey
	}
	if !h.LoRA {
		body.TrainingType = &wireTrainingType{Type: "Full"}
		h.LoRARank, h.LoRAAlpha, h.LoRADropout = 0, 0, 0
		return body, h, nil
	}
	if h.LoRARank == 0 {
		h.LoRARank = DefaultLoRARank
	}
	if h.LoRAAlpha == 0 {
		h.LoRAAlpha = float64(2 * h.LoRARank)
	}
	if h.LoRAAlpha != math.Trunc(h.LoRAAlpha) || h.LoRAAlpha > math.MaxInt32 {
		return bad("LoRA alpha %g is not a positive whole number, which Together requires", h.LoRAAlpha)
	}
	tt := &wireTrainingType{Type: "Lora", LoraR: h.LoRARank, LoraAlpha: int(h.LoRAAlpha)}
	if h.LoRADropout > 0 {
		d := h.LoRADropout
		tt.LoraDropout = &d
	}
	body.TrainingType = tt
	return body, h, nil
}

// Create starts a job with POST /fine-tunes. The returned job carries the
// provider's ID and status, and the hyperparameters as sent (with the LoRA
// defaults filled in).
func (c *Client) Create(ctx context.Context, req ethos.FineTuneRequest) (ethos.FineTuneJob, error) {
	body, h, perr := c.createBody(req)
	if perr != nil {
		perr.Op = c.provider + ": fine-tunes.create"
		return ethos.FineTuneJob{}, perr
	}
	b, err := json.Marshal(body)
	if err != nil {
		return ethos.FineTuneJob{}, &ethos.Error{Kind: ethos.Internal, Op: c.provider + ": fine-tunes.create", Msg: err.Error(), Err: err}
	}
	var w wireJob
	raw, err := c.do(ctx, call{
		op: "fine-tunes.create", method: http.MethodPost, path: "/fine-tunes",
		body: bytes.NewReader(b), ctype: "application/json", model: req.BaseModel,
	}, &w)
	if err != nil {
		return ethos.FineTuneJob{}, err
	}
	job, err := c.job("fine-tunes.create", raw, w)
	if err != nil {
		return ethos.FineTuneJob{}, err
	}
	job.Hyperparameters = h
	if job.BaseModel == "" {
		job.BaseModel = req.BaseModel
	}
	if job.TrainFile == "" {
		job.TrainFile = req.TrainFile
	}
	if job.ValidationFile == "" {
		job.ValidationFile = req.ValidationFile
	}
	if job.FromCheckpoint == "" {
		job.FromCheckpoint = req.FromCheckpoint
	}
	return job, nil
}

// Get returns a job with GET /fine-tunes/{id}; its progress comes from the
// events the payload embeds.
func (c *Client) Get(ctx context.Context, id string) (ethos.FineTuneJob, error) {
	var w wireJob
	raw, err := c.do(ctx, call{
		op: "fine-tunes.get", method: http.MethodGet, path: "/fine-tunes/" + pathID(id),
		subject: fmt.Sprintf("fine-tune job %q", id),
	}, &w)
	if err != nil {
		return ethos.FineTuneJob{}, err
	}
	return c.job("fine-tunes.get", raw, w)
}

// List returns the jobs of GET /fine-tunes, newest first; limit > 0 keeps
// the first limit. The endpoint has no paging, so every job is fetched.
func (c *Client) List(ctx context.Context, limit int) ([]ethos.FineTuneJob, error) {
	var page struct {
		Data []json.RawMessage `json:"data"`
	}
	if _, err := c.do(ctx, call{op: "fine-tunes.list", method: http.MethodGet, path: "/fine-tunes"}, &page); err != nil {
		return nil, err
	}
	jobs := make([]ethos.FineTuneJob, 0, len(page.Data))
	for _, raw := range page.Data {
		var w wireJob
		if err := json.Unmarshal(raw, &w); err != nil {
			return nil, &ethos.Error{Kind: ethos.Transient, Op: c.provider + ": fine-tunes.list",
				Msg: "unreadable job in the list: " + c.clean(err.Error()), Err: c.redacted(err)}
		}
		job, err := c.job("fine-tunes.list", raw, w)
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, job)
	}
	slices.SortStableFunc(jobs, func(a, b ethos.FineTuneJob) int { return b.CreatedAt.Compare(a.CreatedAt) })
	if limit > 0 && len(jobs) > limit {
		jobs = jobs[:limit]
	}
	return jobs, nil
}

// Events returns a job's events (GET /fine-tunes/{id}/events) in time
// order, with the step, epoch and losses each states.
func (c *Client) Events(ctx context.Context, id string) ([]ethos.FineTuneEvent, error) {
	var page struct {
		Data []wireEvent `json:"data"`
	}
	if _, err := c.do(ctx, call{
		op: "fine-tunes.events", method: http.MethodGet, path: "/fine-tunes/" + pathID(id) + "/events",
		subject: fmt.Sprintf("fine-tune job %q", id),
	}, &page); err != nil {
		return nil, err
	}
	return events(id, page.Data), nil
}

// Cancel asks the provider to stop a job (POST /fine-tunes/{id}/cancel).
// Together answers cancel_requested, then cancelled; a job that already
// ended is refused with the provider's message.
func (c *Client) Cancel(ctx context.Context, id string) (ethos.FineTuneJob, error) {
	var w wireJob
	raw, err := c.do(ctx, call{
		op: "fine-tunes.cancel", method: http.MethodPost, path: "/fine-tunes/" + pathID(id) + "/cancel",
		subject: fmt.Sprintf("fine-tune job %q", id),
	}, &w)
	if err != nil {
		return ethos.FineTuneJob{}, err
	}
	return c.job("fine-tunes.cancel", raw, w)
}

// Checkpoint is a saved model state of a job.
type Checkpoint struct {
	Step      int       `json:"step"`
	Path      string    `json:"path"`
	Type      string    `json:"type"` // the provider's checkpoint_type
	CreatedAt time.Time `json:"created_at"`
	// Name is how the provider's tools refer to it: "jobID:step" for an
	// intermediate checkpoint, the job ID for the final one.
	Name string `json:"name"`
}

// Checkpoints lists a job's checkpoints (GET /fine-tunes/{id}/checkpoints)
// in step order, then time order (the final model after an intermediate
// checkpoint of the same step).
func (c *Client) Checkpoints(ctx context.Context, id string) ([]Checkpoint, error) {
	var page struct {
		Data []wireCheckpoint `json:"data"`
	}
	if _, err := c.do(ctx, call{
		op: "fine-tunes.checkpoints", method: http.MethodGet, path: "/fine-tunes/" + pathID(id) + "/checkpoints",
		subject: fmt.Sprintf("fine-tune job %q", id),
	}, &page); err != nil {
		return nil, err
	}
	out := make([]Checkpoint, 0, len(page.Data))
	for _, w := range page.Data {
		cp := Checkpoint{Step: w.Step.int(), Path: w.Path, Type: w.CheckpointType, CreatedAt: w.CreatedAt.time(), Name: id}
		if strings.Contains(strings.ToLower(w.CheckpointType), "intermediate") {
			cp.Name = fmt.Sprintf("%s:%d", id, cp.Step)
		}
		out = append(out, cp)
	}
	slices.SortStableFunc(out, func(a, b Checkpoint) int {
		if a.Step != b.Step {
			return a.Step - b.Step
		}
		return a.CreatedAt.Compare(b.CreatedAt)
	})
	return out, nil
}

// OutputModel is the trained model's name in a job payload:
// model_output_name, else output_name (older payloads and the Python
// SDK's field), else "".
func OutputModel(payload []byte) string {
	var w struct {
		ModelOutputName string `json:"model_output_name"`
		OutputName      string `json:"output_name"`
	}
	if json.Unmarshal(payload, &w) != nil {
		return ""
	}
	return outputName(w.ModelOutputName, w.OutputName)
}

func outputName(modelOutputName, outputName string) string {
	if s := strings.TrimSpace(modelOutputName); s != "" {
		return s
	}
	return strings.TrimSpace(outputName)
}

// job converts a wire job; raw is kept as the job's payload.
func (c *Client) job(op string, raw []byte, w wireJob) (ethos.FineTuneJob, error) {
	if w.ID == "" {
		return ethos.FineTuneJob{}, &ethos.Error{Kind: ethos.Transient, Op: c.provider + ": " + op,
			Msg: "the provider answered with a job that has no id"}
	}
	evs := events(w.ID, w.Events)
	job := ethos.FineTuneJob{
		ID:              w.ID,
		Provider:        c.provider,
		BaseModel:       w.Model,
		Status:          w.Status,
		State:           State(w.Status),
		TrainFile:       w.TrainingFile,
		ValidationFile:  w.ValidationFile,
		FromCheckpoint:  w.FromCheckpoint,
		Hyperparameters: hyperparameters(w),
		Progress:        progress(w.Events, evs),
		OutputModel:     outputName(w.ModelOutputName, w.OutputName),
		Error:           c.clean(errorText(w.Error)),
		CostUSD:         float64(w.TotalPrice) / 1e9,
		Payload:         json.RawMessage(slices.Clone(raw)),
		CreatedAt:       w.CreatedAt.time(),
		UpdatedAt:       w.UpdatedAt.time(),
	}
	if n := w.NEpochs.int(); n > 0 {
		job.Progress.Epochs = n
	}
	if n := w.EpochsCompleted.int(); n > job.Progress.Epoch {
		job.Progress.Epoch = n
	}
	if job.State == ethos.FineTuneFailed && job.Error == "" {
		// The provider's last error event says why.
		for _, e := range slices.Backward(evs) {
			if e.Level == "error" || e.Type == "job_error" {
				job.Error = c.clean(e.Message)
				break
			}
		}
	}
	if job.State.Final() && !job.UpdatedAt.IsZero() {
		t := job.UpdatedAt
		job.FinishedAt = &t
	}
	return job, nil
}

// hyperparameters reads the training settings a job payload reports.
func hyperparameters(w wireJob) ethos.Hyperparameters {
	h := ethos.Hyperparameters{
		Epochs:       w.NEpochs.int(),
		Evals:        w.NEvals.int(),
		LearningRate: float64(w.LearningRate),
		BatchSize:    w.BatchSize.int(),
		Suffix:       w.Suffix,
		WandbProject: w.WandbProjectName,
	}
	if tm := w.TrainingMethod; tm != nil && strings.EqualFold(tm.Method, ethos.FineTuneDPO) {
		h.Method, h.DPOBeta, h.RPOAlpha, h.SimPOGamma = ethos.FineTuneDPO, float64(tm.DPOBeta), float64(tm.RPOAlpha), float64(tm.SimPOGamma)
	}
	switch tt := w.TrainingType; {
	case tt != nil && strings.EqualFold(tt.Type, "lora"):
		h.LoRA, h.LoRARank, h.LoRAAlpha = true, tt.LoraR, float64(tt.LoraAlpha)
		if tt.LoraDropout != nil {
			h.LoRADropout = *tt.LoraDropout
		}
	case tt == nil && w.Lora != nil:
		h.LoRA, h.LoRARank, h.LoRAAlpha, h.LoRADropout = *w.Lora, w.LoraR.int(), float64(w.LoraAlpha), float64(w.LoraDropout)
	}
	return h
}
