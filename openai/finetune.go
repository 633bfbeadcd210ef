package openai

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	sdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/param"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/internal/wire"
)

// FineTune is an ethos.FineTuneBackend over OpenAI's files and
// fine_tuning.jobs endpoints, through the official SDK: POST /files
// (purpose fine-tune), POST and GET /fine_tuning/jobs, GET
// /fine_tuning/jobs/{id} and its events and checkpoints, POST
// /fine_tuning/jobs/{id}/cancel. The sandbox serves the same endpoints.
//
// A job's settings go in method.supervised.hyperparameters (the top-level
// hyperparameters field is deprecated): Epochs as n_epochs, BatchSize as
// batch_size, and LearningRate as learning_rate_multiplier, the only
// learning-rate setting OpenAI takes. LoRA settings have no OpenAI
// counterpart and are ignored. A DPO job's settings go in
// method.dpo.hyperparameters, its DPOBeta as beta; OpenAI has no
// rpo_alpha or simpo_gamma, so a job that sets them is refused.
//
// A job continued from an earlier one fine-tunes that job's fine-tuned
// model: FromCheckpoint names the job ("ftjob-…", whose model is looked
// up) or the fine-tuned model itself ("ft:…"), and is sent as model.
type FineTune struct {
	c       *Client // its provider name, key and clock, and its error mapping
	files   sdk.FileService
	jobs    sdk.FineTuningJobService
	timeout time.Duration
}

var _ ethos.FineTuneBackend = (*FineTune)(nil)

// NewFineTune returns a fine-tuning backend for cfg, which is read as by
// New (MaxCompletionTokens does not apply). Timeout bounds one request;
// zero means two minutes, uploads getting a second more per 100 KB.
func NewFineTune(cfg Config) (*FineTune, error) {
	c, err := New(cfg)
	if err != nil {
		return nil, err
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	// The services are built from New's options, so that no OPENAI_*
	// environment setting slips in.
	return &FineTune{
		c:       c,
		files:   sdk.NewFileService(c.opts...),
		jobs:    sdk.NewFineTuningJobService(c.opts...),
		timeout: timeout,
	}, nil
}

// FineTuneState maps an OpenAI job status to ethos's state:
// validating_files and queued are pending, running is running, succeeded
// is completed, failed is failed, cancelled is cancelled. Any other status
// is unknown, shown as it is and still followed.
func FineTuneState(status string) ethos.FineTuneState {
	switch strings.ToLower(strings.TrimSpace(status)) {
	case "validating_files", "queued":
		return ethos.FineTunePending
	case "running":
		return ethos.FineTuneRunning
	case "succeeded":
		return ethos.FineTuneCompleted
	case "failed":
		return ethos.FineTuneFailed
	case "cancelled":
		return ethos.FineTuneCancelled
	}
	return ethos.FineTuneUnknown
}

// Provider is the name the backend records: Config.Provider, "openai" by
// default.
func (f *FineTune) Provider() string { return f.c.provider }

// call runs fn as Client.call does, with the backend's timeout unless
// timeout is positive.
func (f *FineTune) call(ctx context.Context, op, subject, model string, timeout time.Duration, fn func(opts ...option.RequestOption) error) error {
	if timeout <= 0 {
		timeout = f.timeout
	}
	return f.c.call(ctx, op, subject, model, timeout, fn)
}

// checkID refuses an empty ID before the SDK does, with a typed error.
func (f *FineTune) checkID(op, id string) error {
	if strings.TrimSpace(id) == "" {
		return &ethos.Error{Kind: ethos.Invalid, Op: f.c.provider + ": " + op, Msg: "no job ID given"}
	}
	return nil
}

// Upload sends a training file with POST /files, purpose fine-tune. Only
// the base of name is sent, as the file's name.
func (f *FineTune) Upload(ctx context.Context, name string, content []byte) (ethos.File, error) {
	if len(content) == 0 {
		return ethos.File{}, &ethos.Error{Kind: ethos.Invalid, Op: f.c.provider + ": files.create",
			Msg: fmt.Sprintf("%s is empty: a training file needs at least one example", name)}
	}
	var obj *sdk.FileObject
	timeout := f.timeout + time.Duration(len(content)/100_000)*time.Second
	err := f.call(ctx, "files.create", "", "", timeout, func(opts ...option.RequestOption) error {
		var err error
		obj, err = f.files.New(ctx, sdk.FileNewParams{
			File:    sdk.File(bytes.NewReader(content), filepath.Base(name), "application/jsonl"),
			Purpose: sdk.FilePurposeFineTune,
		}, opts...)
		return err
	})
	if err != nil {
		return ethos.File{}, err
	}
	if obj.ID == "" {
		return ethos.File{}, &ethos.Error{Kind: ethos.Transient, Op: f.c.provider + ": files.create", Msg: "the provider answered the upload without a file id"}
	}
	if obj.Bytes != 0 && obj.Bytes != int64(len(content)) {
		return ethos.File{}, &ethos.Error{Kind: ethos.Transient, Op: f.c.provider + ": files.create",
			Msg: fmt.Sprintf("the provider stored %d bytes of %s, which has %d: upload it again", obj.Bytes, name, len(content))}
	}
	return fileOf(f.c.provider, name, content, obj, f.c.now()), nil
}

// Create starts a supervised or DPO job with POST /fine_tuning/jobs.
func (f *FineTune) Create(ctx context.Context, req ethos.FineTuneRequest) (ethos.FineTuneJob, error) {
	asked := req
	if req.FromCheckpoint != "" {
		parent, err := f.parentModel(ctx, req.FromCheckpoint)
		if err != nil {
			return ethos.FineTuneJob{}, err
		}
		req.BaseModel = parent
	}
	params, perr := createParams(req)
	if perr != nil {
		perr.Op = f.c.provider + ": fine_tuning.jobs.create"
		return ethos.FineTuneJob{}, perr
	}
	var j *sdk.FineTuningJob
	err := f.call(ctx, "fine_tuning.jobs.create", "", req.BaseModel, 0, func(opts ...option.RequestOption) error {
		var err error
		j, err = f.jobs.New(ctx, params, opts...)
		return err
	})
	if err != nil {
		return ethos.FineTuneJob{}, err
	}
	job := f.job(j)
	if job.BaseModel == "" {
		job.BaseModel = req.BaseModel
	}
	if job.TrainFile == "" {
		job.TrainFile = req.TrainFile
	}
	job.Hyperparameters.Suffix = req.Hyperparameters.Suffix
	job.FromCheckpoint = asked.FromCheckpoint
	return job, nil
}

// parentModel is the fine-tuned model a continued job trains: the model
// named, or the fine-tuned model of the job named, which must have one.
func (f *FineTune) parentModel(ctx context.Context, from string) (string, error) {
	from = strings.TrimSpace(from)
	if !strings.HasPrefix(from, "ftjob-") {
		return from, nil
	}
	parent, err := f.Get(ctx, from)
	if err != nil {
		return "", fmt.Errorf("the job to continue from: %w", err)
	}
	if parent.OutputModel == "" {
		return "", &ethos.Error{Kind: ethos.Invalid, Op: f.c.provider + ": fine_tuning.jobs.create",
			Msg: fmt.Sprintf("job %s, to continue from, has no fine-tuned model (status %s); wait until it succeeds", from, parent.Status)}
	}
	return parent.OutputModel, nil
}

// createParams checks req and builds the SDK's request. Zero settings are
// left out, so OpenAI's "auto" applies.
func createParams(req ethos.FineTuneRequest) (sdk.FineTuningJobNewParams, *ethos.Error) {
	h := req.Hyperparameters
	bad := func(format string, args ...any) (sdk.FineTuningJobNewParams, *ethos.Error) {
		return sdk.FineTuningJobNewParams{}, &ethos.Error{Kind: ethos.Invalid, Msg: fmt.Sprintf(format, args...)}
	}
	switch {
	case strings.TrimSpace(req.BaseModel) == "":
		return bad("no base model: name the model to fine-tune")
	case strings.TrimSpace(req.TrainFile) == "":
		return bad("no training file: upload the training file first and pass its ID")
	case len(h.Suffix) > 64:
		return bad("suffix %q is longer than OpenAI's 64 characters", h.Suffix)
	case h.RPOAlpha != 0 || h.SimPOGamma != 0:
		return bad("OpenAI's DPO takes beta but no rpo_alpha or simpo_gamma (Together's); leave them out")
	}
	if err := h.Validate(); err != nil {
		return bad("%v", err)
	}
	p := sdk.FineTuningJobNewParams{
		Model:        sdk.FineTuningJobNewParamsModel(req.BaseModel),
		TrainingFile: req.TrainFile,
	}
	if req.ValidationFile != "" {
		p.ValidationFile = sdk.String(req.ValidationFile)
	}
	if h.Suffix != "" {
		p.Suffix = sdk.String(h.Suffix)
	}
	// Zero settings stay unset, so OpenAI's "auto" applies.
	opt := func(v int) param.Opt[int64] {
		if v > 0 {
			return sdk.Int(int64(v))
		}
		return param.Opt[int64]{}
	}
	optFloat := func(v float64) param.Opt[float64] {
		if v > 0 {
			return sdk.Float(v)
		}
		return param.Opt[float64]{}
	}
	if h.DPO() {
		var hp sdk.DpoHyperparameters
		hp.NEpochs.OfInt, hp.BatchSize.OfInt = opt(h.Epochs), opt(h.BatchSize)
		hp.LearningRateMultiplier.OfFloat, hp.Beta.OfFloat = optFloat(h.LearningRate), optFloat(h.DPOBeta)
		p.Method = sdk.FineTuningJobNewParamsMethod{Type: "dpo", Dpo: sdk.DpoMethodParam{Hyperparameters: hp}}
	} else {
		var hp sdk.SupervisedHyperparameters
		hp.NEpochs.OfInt, hp.BatchSize.OfInt = opt(h.Epochs), opt(h.BatchSize)
		hp.LearningRateMultiplier.OfFloat = optFloat(h.LearningRate)
		p.Method = sdk.FineTuningJobNewParamsMethod{Type: "supervised", Supervised: sdk.SupervisedMethodParam{Hyperparameters: hp}}
	}
	if h.WandbProject != "" {
		p.Integrations = []sdk.FineTuningJobNewParamsIntegration{{Wandb: sdk.FineTuningJobNewParamsIntegrationWandb{Project: h.WandbProject}}}
	}
	return p, nil
}

// Get returns a job with GET /fine_tuning/jobs/{id}.
func (f *FineTune) Get(ctx context.Context, id string) (ethos.FineTuneJob, error) {
	if err := f.checkID("fine_tuning.jobs.get", id); err != nil {
		return ethos.FineTuneJob{}, err
	}
	var j *sdk.FineTuningJob
	err := f.call(ctx, "fine_tuning.jobs.get", fmt.Sprintf("fine-tune job %q", id), "", 0, func(opts ...option.RequestOption) error {
		var err error
		j, err = f.jobs.Get(ctx, id, opts...)
		return err
	})
	if err != nil {
		return ethos.FineTuneJob{}, err
	}
	return f.job(j), nil
}

// List returns jobs newest first, as OpenAI lists them: the first limit
// when limit > 0, else every page.
func (f *FineTune) List(ctx context.Context, limit int) ([]ethos.FineTuneJob, error) {
	var out []ethos.FineTuneJob
	err := f.call(ctx, "fine_tuning.jobs.list", "", "", 0, func(opts ...option.RequestOption) error {
		pageSize := int64(100)
		if limit > 0 {
			pageSize = int64(min(limit, 100))
		}
		pager := f.jobs.ListAutoPaging(ctx, sdk.FineTuningJobListParams{Limit: sdk.Int(pageSize)}, opts...)
		for pager.Next() {
			j := pager.Current()
			out = append(out, f.job(&j))
			if limit > 0 && len(out) == limit {
				break
			}
		}
		return pager.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Events returns a job's events (GET /fine_tuning/jobs/{id}/events, every
// page) in time order; a metrics event's step and losses are read from its
// data.
func (f *FineTune) Events(ctx context.Context, id string) ([]ethos.FineTuneEvent, error) {
	if err := f.checkID("fine_tuning.jobs.events", id); err != nil {
		return nil, err
	}
	var out []ethos.FineTuneEvent
	err := f.call(ctx, "fine_tuning.jobs.events", fmt.Sprintf("fine-tune job %q", id), "", 0, func(opts ...option.RequestOption) error {
		pager := f.jobs.ListEventsAutoPaging(ctx, id, sdk.FineTuningJobListEventsParams{Limit: sdk.Int(100)}, opts...)
		for pager.Next() {
			out = append(out, event(id, pager.Current()))
		}
		return pager.Err()
	})
	if err != nil {
		return nil, err
	}
	// OpenAI lists newest first; events of the same second keep their
	// order relative to each other.
	slices.Reverse(out)
	slices.SortStableFunc(out, func(a, b ethos.FineTuneEvent) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, nil
}

// Cancel asks OpenAI to stop a job (POST /fine_tuning/jobs/{id}/cancel); a
// job that already ended is refused with the provider's message.
func (f *FineTune) Cancel(ctx context.Context, id string) (ethos.FineTuneJob, error) {
	if err := f.checkID("fine_tuning.jobs.cancel", id); err != nil {
		return ethos.FineTuneJob{}, err
	}
	var j *sdk.FineTuningJob
	err := f.call(ctx, "fine_tuning.jobs.cancel", fmt.Sprintf("fine-tune job %q", id), "", 0, func(opts ...option.RequestOption) error {
		var err error
		j, err = f.jobs.Cancel(ctx, id, opts...)
		return err
	})
	if err != nil {
		return ethos.FineTuneJob{}, err
	}
	return f.job(j), nil
}

// Checkpoint is a model checkpoint OpenAI saved during a job, usable as a
// model itself.
type Checkpoint struct {
	ID        string    `json:"id"`
	Step      int       `json:"step"`
	Model     string    `json:"model"` // fine_tuned_model_checkpoint
	CreatedAt time.Time `json:"created_at"`
	TrainLoss *float64  `json:"train_loss,omitempty"`
	ValidLoss *float64  `json:"valid_loss,omitempty"`
}

// Checkpoints lists a job's checkpoints (GET
// /fine_tuning/jobs/{id}/checkpoints, every page) in step order.
func (f *FineTune) Checkpoints(ctx context.Context, id string) ([]Checkpoint, error) {
	if err := f.checkID("fine_tuning.jobs.checkpoints", id); err != nil {
		return nil, err
	}
	var out []Checkpoint
	err := f.call(ctx, "fine_tuning.jobs.checkpoints", fmt.Sprintf("fine-tune job %q", id), "", 0, func(opts ...option.RequestOption) error {
		pager := f.jobs.Checkpoints.ListAutoPaging(ctx, id, sdk.FineTuningJobCheckpointListParams{Limit: sdk.Int(100)}, opts...)
		for pager.Next() {
			cp := pager.Current()
			c := Checkpoint{ID: cp.ID, Step: int(cp.StepNumber), Model: cp.FineTunedModelCheckpoint, CreatedAt: unixTime(cp.CreatedAt)}
			if cp.Metrics.JSON.TrainLoss.Valid() {
				c.TrainLoss = finite(cp.Metrics.TrainLoss)
			}
			if cp.Metrics.JSON.ValidLoss.Valid() {
				c.ValidLoss = finite(cp.Metrics.ValidLoss)
			}
			out = append(out, c)
		}
		return pager.Err()
	})
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(out, func(a, b Checkpoint) int { return a.Step - b.Step })
	return out, nil
}

// job converts an SDK job; its raw JSON is kept as the payload.
func (f *FineTune) job(j *sdk.FineTuningJob) ethos.FineTuneJob {
	raw := j.RawJSON()
	job := ethos.FineTuneJob{
		ID:              j.ID,
		Provider:        f.c.provider,
		BaseModel:       j.Model,
		Status:          string(j.Status),
		State:           FineTuneState(string(j.Status)),
		TrainFile:       j.TrainingFile,
		ValidationFile:  j.ValidationFile,
		Hyperparameters: hyperparameters(raw),
		OutputModel:     strings.TrimSpace(j.FineTunedModel),
		Payload:         json.RawMessage(raw),
		CreatedAt:       unixTime(j.CreatedAt),
	}
	job.Progress.Epochs = job.Hyperparameters.Epochs
	if j.FinishedAt > 0 {
		t := unixTime(j.FinishedAt)
		job.FinishedAt, job.UpdatedAt = &t, t
	}
	if msg := strings.TrimSpace(j.Error.Message); msg != "" {
		if j.Error.Code != "" {
			msg = j.Error.Code + ": " + msg
		}
		job.Error = wire.Clean(msg, f.c.key)
	}
	return job
}

// autoNumber is a hyperparameter that is a number or "auto" (read as 0).
type autoNumber float64

// UnmarshalJSON reads a number, or anything else as 0.
func (n *autoNumber) UnmarshalJSON(b []byte) error {
	v, err := strconv.ParseFloat(strings.Trim(string(b), `"`), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		v = 0
	}
	*n = autoNumber(v)
	return nil
}

// hyperparameters reads a job payload's settings: the method's, else the
// deprecated top-level ones; a W&B integration's project.
func hyperparameters(raw string) ethos.Hyperparameters {
	type hp struct {
		BatchSize              autoNumber `json:"batch_size"`
		LearningRateMultiplier autoNumber `json:"learning_rate_multiplier"`
		NEpochs                autoNumber `json:"n_epochs"`
		Beta                   autoNumber `json:"beta"`
	}
	var p struct {
		Hyperparameters *hp `json:"hyperparameters"`
		Method          struct {
			Type       string `json:"type"`
			Supervised struct {
				Hyperparameters *hp `json:"hyperparameters"`
			} `json:"supervised"`
			DPO struct {
				Hyperparameters *hp `json:"hyperparameters"`
			} `json:"dpo"`
		} `json:"method"`
		Integrations []struct {
			Type  string `json:"type"`
			Wandb struct {
				Project string `json:"project"`
			} `json:"wandb"`
		} `json:"integrations"`
	}
	var h ethos.Hyperparameters
	if json.Unmarshal([]byte(raw), &p) != nil {
		return h
	}
	for _, x := range []*hp{p.Method.Supervised.Hyperparameters, p.Method.DPO.Hyperparameters, p.Hyperparameters} {
		if x != nil {
			h.Epochs, h.BatchSize, h.LearningRate = int(x.NEpochs), int(x.BatchSize), float64(x.LearningRateMultiplier)
			break
		}
	}
	if p.Method.Type == "dpo" {
		h.Method = ethos.FineTuneDPO
		if x := p.Method.DPO.Hyperparameters; x != nil {
			h.DPOBeta = float64(x.Beta)
		}
	}
	for _, in := range p.Integrations {
		if in.Type == "wandb" && in.Wandb.Project != "" {
			h.WandbProject = in.Wandb.Project
		}
	}
	return h
}

// event converts an OpenAI job event; a metrics event's data carries the
// step and losses.
func event(jobID string, e sdk.FineTuningJobEvent) ethos.FineTuneEvent {
	ev := ethos.FineTuneEvent{
		JobID:      jobID,
		ProviderID: e.ID,
		CreatedAt:  unixTime(e.CreatedAt),
		Level:      string(e.Level),
		Type:       string(e.Type),
		Message:    e.Message,
	}
	if ev.Level == "warn" {
		ev.Level = "warning"
	}
	data, _ := e.Data.(map[string]any)
	if v, ok := data["step"].(float64); ok && v > 0 && v < math.MaxInt32 {
		ev.Step = int(v)
	}
	if v, ok := data["epoch"].(float64); ok && v > 0 && v < math.MaxInt32 {
		ev.Epoch = int(v)
	}
	for _, k := range []string{"train_loss", "loss"} {
		if v, ok := data[k].(float64); ok {
			ev.Loss = finite(v)
			break
		}
	}
	for _, k := range []string{"valid_loss", "full_valid_loss"} {
		if v, ok := data[k].(float64); ok {
			ev.ValLoss = finite(v)
			break
		}
	}
	return ev
}

// fileOf is the ethos record of an uploaded file.
func fileOf(provider, name string, content []byte, obj *sdk.FileObject, now time.Time) ethos.File {
	lines := 0
	for line := range bytes.SplitSeq(content, []byte("\n")) {
		if len(bytes.TrimSpace(line)) > 0 {
			lines++
		}
	}
	f := ethos.File{
		ID:        obj.ID,
		Provider:  provider,
		Purpose:   string(obj.Purpose),
		Name:      name,
		SHA256:    sha256Hex(content),
		Bytes:     int64(len(content)),
		Lines:     lines,
		CreatedAt: unixTime(obj.CreatedAt),
	}
	if f.Purpose == "" {
		f.Purpose = string(sdk.FilePurposeFineTune)
	}
	if f.CreatedAt.IsZero() {
		f.CreatedAt = now.UTC()
	}
	return f
}

func unixTime(s int64) time.Time {
	if s <= 0 {
		return time.Time{}
	}
	return time.Unix(s, 0).UTC()
}

func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
