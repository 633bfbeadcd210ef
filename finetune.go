package ethos

import (
	"cmp"
	"context"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"time"
)

// FineTuneState is ethos's coarse view of a provider's job status. The
// provider's own status string is always kept as it is (FineTuneJob.Status);
// the state only says what ethos may do next.
type FineTuneState string

// Fine-tune states. Pending, running and unknown jobs are still followed;
// completed, failed and cancelled jobs are final and never polled again.
const (
	FineTunePending   FineTuneState = "pending"   // created, queued, validating files
	FineTuneRunning   FineTuneState = "running"   // training, compressing, uploading the model, cancel requested
	FineTuneCompleted FineTuneState = "completed" // the model exists
	FineTuneFailed    FineTuneState = "failed"    // error, user_error, failed
	FineTuneCancelled FineTuneState = "cancelled"
	FineTuneUnknown   FineTuneState = "unknown" // a status ethos does not know: shown as it is, not final
)

// Final reports whether a job in state s will not change any more.
func (s FineTuneState) Final() bool {
	return s == FineTuneCompleted || s == FineTuneFailed || s == FineTuneCancelled
}

// File is a training or validation file uploaded to a provider. A file
// with the same provider, purpose and content hash is uploaded once and
// reused.
type File struct {
	ID        string    `json:"id"`       // the provider's file ID
	Provider  string    `json:"provider"` // "together", "openai", "sandbox"
	Purpose   string    `json:"purpose"`  // "fine-tune"
	Name      string    `json:"name"`     // the local file name it was uploaded from
	SHA256    string    `json:"sha256"`   // hex digest of the content
	Bytes     int64     `json:"bytes"`
	Lines     int       `json:"lines"` // examples in the file
	CreatedAt time.Time `json:"created_at"`
}

// Hyperparameters are the training settings of a fine-tune job. Zero
// values mean the provider's default.
type Hyperparameters struct {
	Epochs       int     `json:"epochs,omitempty"`
	LearningRate float64 `json:"learning_rate,omitempty"`
	BatchSize    int     `json:"batch_size,omitempty"`
	// LoRA selects adapter training; false is full fine-tuning.
	LoRA        bool    `json:"lora"`
	LoRARank    int     `json:"lora_r,omitempty"`
	LoRAAlpha   float64 `json:"lora_alpha,omitempty"`
	LoRADropout float64 `json:"lora_dropout,omitempty"`
	Suffix      string  `json:"suffix,omitempty"`
	// WandbProject names a Weights & Biases project (Together only); the
	// key itself is never stored.
	WandbProject string `json:"wandb_project,omitempty"`
	// Evals is how many times training evaluates the validation file
	// (Together n_evals), for a validation loss; it needs a validation
	// file. Zero is the provider's default, which on Together is none.
	Evals int `json:"n_evals,omitempty"`

	// Method is the training method: FineTuneSFT (also meant by "") or
	// FineTuneDPO. It decides which files the job takes: conversations for
	// SFT, preference pairs for DPO.
	Method string `json:"method,omitempty"`
	// DPOBeta is DPO's beta, how strongly training is held to the model
	// it starts from (Together dpo_beta, OpenAI beta); zero is the
	// provider's default (Together 0.1, OpenAI "auto"). DPO only.
	DPOBeta float64 `json:"dpo_beta,omitempty"`
	// RPOAlpha weights a supervised loss on the preferred output added to
	// DPO's (Together rpo_alpha; OpenAI has none). DPO only.
	RPOAlpha float64 `json:"rpo_alpha,omitempty"`
	// SimPOGamma is SimPO's target reward margin (Together simpo_gamma;
	// OpenAI has none). DPO only.
	SimPOGamma float64 `json:"simpo_gamma,omitempty"`
}

// Training methods of a fine-tune job (Hyperparameters.Method).
const (
	FineTuneSFT = "sft" // supervised fine-tuning on conversations, the default
	FineTuneDPO = "dpo" // direct preference optimisation on preference pairs
)

// DPO reports whether the settings train by DPO.
func (h Hyperparameters) DPO() bool { return h.Method == FineTuneDPO }

// FineTuneProviders are the providers ethos fine-tunes on, by the names
// ethos.yaml and the command line use.
var FineTuneProviders = []string{"together", "openai", "sandbox"}

// CheckFineTuneProvider returns nil for one of FineTuneProviders and a
// Config error that lists them for any other name.
func CheckFineTuneProvider(name string) error {
	if slices.Contains(FineTuneProviders, name) {
		return nil
	}
	n := len(FineTuneProviders)
	return Errorf(Config, "unknown fine-tuning provider %q; want %s or %s", name,
		strings.Join(FineTuneProviders[:n-1], ", "), FineTuneProviders[n-1])
}

// Validate checks the ranges every provider agrees on, so that a setting
// no provider accepts is refused before a file is uploaded: a known
// training method, DPO settings not negative and only for DPO, counts and
// the learning rate not negative (zero is the provider's default),
// numbers finite, and, for LoRA, a rank and alpha not negative and a
// dropout in [0, 1). A provider may narrow a range further (Together takes
// only a whole alpha); its adapter checks that. The error is a Config
// error naming the setting.
func (h Hyperparameters) Validate() error {
	bad := func(format string, args ...any) error { return Errorf(Config, format, args...) }
	switch h.Method {
	case "", FineTuneSFT, FineTuneDPO:
	default:
		return bad("training method %q is not one ethos trains with; want %s or %s", h.Method, FineTuneSFT, FineTuneDPO)
	}
	for _, v := range []struct {
		name  string
		value float64
	}{{"dpo_beta", h.DPOBeta}, {"rpo_alpha", h.RPOAlpha}, {"simpo_gamma", h.SimPOGamma}} {
		switch {
		case !(v.value >= 0) || math.IsInf(v.value, 0):
			return bad("%s %g is not a positive number", v.name, v.value)
		case v.value != 0 && !h.DPO():
			return bad("%s is a DPO setting, but the job trains with %s; set the method to %s or leave %s out", v.name, cmp.Or(h.Method, FineTuneSFT), FineTuneDPO, v.name)
		}
	}
	switch {
	case h.Epochs < 0:
		return bad("epochs %d is negative", h.Epochs)
	case h.BatchSize < 0:
		return bad("batch size %d is negative", h.BatchSize)
	case h.Evals < 0:
		return bad("evaluations (n_evals) %d is negative", h.Evals)
	case !(h.LearningRate >= 0) || math.IsInf(h.LearningRate, 0):
		return bad("learning rate %g is not a positive number", h.LearningRate)
	case !h.LoRA:
		return nil // the LoRA settings are not sent
	case h.LoRARank < 0:
		return bad("LoRA rank %d is negative", h.LoRARank)
	case !(h.LoRAAlpha >= 0) || math.IsInf(h.LoRAAlpha, 0):
		return bad("LoRA alpha %g is not a positive number", h.LoRAAlpha)
	case !(h.LoRADropout >= 0 && h.LoRADropout < 1):
		return bad("LoRA dropout %g is outside [0, 1): it is the share of activations dropped, such as 0.05", h.LoRADropout)
	}
	return nil
}

// FineTuneProgress is how far training has come, as the provider's events
// and step counters report it — never a guess.
type FineTuneProgress struct {
	Epoch      int      `json:"epoch,omitempty"`
	Epochs     int      `json:"epochs,omitempty"`
	Step       int      `json:"step,omitempty"`
	TotalSteps int      `json:"total_steps,omitempty"`
	Loss       *float64 `json:"loss,omitempty"` // most recent training loss
}

// FineTuneJob is a fine-tuning job on a provider, recorded before the
// create call returns to the user so that any later process re-attaches.
type FineTuneJob struct {
	ID        string        `json:"id"`       // the provider's job ID ("ft-…", "ftjob-…")
	Provider  string        `json:"provider"` // "together", "openai", "sandbox"
	BaseModel string        `json:"base_model"`
	Status    string        `json:"status"` // the provider's status, verbatim
	State     FineTuneState `json:"state"`

	TrainFile      string `json:"train_file"`                // provider file ID
	ValidationFile string `json:"validation_file,omitempty"` // provider file ID
	// FromCheckpoint is what training continued from, as the request
	// named it (FineTuneRequest.FromCheckpoint), or as the provider's job
	// object names it; empty for a job that started from its base model.
	FromCheckpoint string `json:"from_checkpoint,omitempty"`
	// Recipe is the training recipe the job is a step of ("sft+dpo",
	// "dpo+introspection"…), when ethos run made it; empty for a job
	// made on its own.
	Recipe          string           `json:"recipe,omitempty"`
	DatasetPath     string           `json:"dataset_path"` // the local training file
	DatasetSHA256   string           `json:"dataset_sha256"`
	RunID           string           `json:"run_id,omitempty"` // the generation run that made the dataset, if known
	Hyperparameters Hyperparameters  `json:"hyperparameters"`
	Progress        FineTuneProgress `json:"progress"`

	// OutputModel is the provider's name of the trained model, from the
	// job payload (Together model_output_name/output_name, OpenAI
	// fine_tuned_model); empty until the provider names it.
	OutputModel string  `json:"output_model,omitempty"`
	Error       string  `json:"error,omitempty"` // the provider's message for a failed job
	CostUSD     float64 `json:"cost_usd,omitempty"`
	// Payload is the provider's most recent job object, as received.
	Payload json.RawMessage `json:"payload,omitempty"`

	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

// WandbURL is the Weights & Biases run of the job as the provider's job
// object names it (Together's wandb_url, set when the job logs to a W&B
// project), or "" when it names none or the value is not an http(s) URL.
func (j FineTuneJob) WandbURL() string {
	var p struct {
		WandbURL string `json:"wandb_url"`
	}
	if len(j.Payload) == 0 || json.Unmarshal(j.Payload, &p) != nil {
		return ""
	}
	u, ok := HTTPURL(strings.TrimSpace(p.WandbURL))
	if !ok {
		return ""
	}
	return u.String()
}

// FineTuneEvent is one event of a job as the provider reports it.
type FineTuneEvent struct {
	JobID      string    `json:"job_id"`
	Seq        int64     `json:"seq"`                   // order within the job, assigned by the store
	ProviderID string    `json:"provider_id,omitempty"` // the provider's event ID, if it has one; used to skip repeats
	CreatedAt  time.Time `json:"created_at"`
	Level      string    `json:"level,omitempty"` // info, warning, error
	Type       string    `json:"type,omitempty"`  // the provider's event type
	Message    string    `json:"message"`
	Step       int       `json:"step,omitempty"`
	Epoch      int       `json:"epoch,omitempty"`
	Loss       *float64  `json:"loss,omitempty"`
	ValLoss    *float64  `json:"val_loss,omitempty"`
}

// Model is a trained model in the registry.
type Model struct {
	// Name is the reference ethos calls the model by, "provider/model"
	// (e.g. "together/acme/Llama-3-8B-agora-ab12", "sandbox/ft-7f3a").
	Name            string          `json:"name"`
	Provider        string          `json:"provider"`
	ProviderModel   string          `json:"provider_model"` // the provider's own name
	BaseModel       string          `json:"base_model"`
	JobID           string          `json:"job_id"`
	DatasetPath     string          `json:"dataset_path"`
	DatasetSHA256   string          `json:"dataset_sha256"`
	Hyperparameters Hyperparameters `json:"hyperparameters"`
	CostUSD         float64         `json:"cost_usd,omitempty"`
	CreatedAt       time.Time       `json:"created_at"`
	// Serving is how the provider serves the model (ServingServerless,
	// ServingDedicated), or "" until ethos has found out.
	Serving string `json:"serving,omitempty"`
	// CallAs is the reference to call the model by when it differs from
	// Name: the adapter's name when that is what the provider serves
	// serverless, or the dedicated endpoint's name.
	CallAs string `json:"call_as,omitempty"`
	// EndpointID is the dedicated endpoint that serves the model.
	EndpointID string `json:"endpoint_id,omitempty"`
	// Parent is the registry entry the model was trained from when its
	// job continued an earlier one (a DPO model from its SFT model);
	// empty for a model trained from its base.
	Parent string `json:"parent,omitempty"`
	// Recipe is the training recipe whose step trained the model (its
	// job's Recipe); empty for a model of a job made on its own.
	Recipe string `json:"recipe,omitempty"`
	// Evals lists the IDs of evaluations that included the model, filled
	// in by the store from the evals table.
	Evals []string `json:"evals,omitempty"`
}

// Ref is the reference to call the model by: CallAs, else Name.
func (m Model) Ref() string {
	if m.CallAs != "" {
		return m.CallAs
	}
	return m.Name
}

// FineTuneFilter selects jobs. Zero fields match everything.
type FineTuneFilter struct {
	Provider string
	// Active selects jobs whose state is not final.
	Active bool
	Limit  int // 0 means no limit; newest first
}

// FineTuneStore keeps uploaded files, fine-tune jobs, their events and the
// model registry.
type FineTuneStore interface {
	// PutFile records an upload. It replaces the record of the same
	// provider, purpose and SHA256, if any: that is content sent again
	// because the provider no longer had the earlier upload.
	PutFile(ctx context.Context, f *File) error
	// FileByHash returns the recorded upload of content sha256 to
	// provider for purpose, or a NotFound error.
	FileByHash(ctx context.Context, provider, purpose, sha256 string) (File, error)

	// PutJob inserts or replaces a job by ID (the provider's state is the
	// truth; the store mirrors it). It sets UpdatedAt.
	PutJob(ctx context.Context, j *FineTuneJob) error
	// Job returns a job by ID, or a NotFound error.
	Job(ctx context.Context, id string) (FineTuneJob, error)
	// Jobs lists jobs matching f, newest first.
	Jobs(ctx context.Context, f FineTuneFilter) ([]FineTuneJob, error)

	// AddEvents appends the events not already recorded (same job and
	// ProviderID, or same job, time and message when there is no ID) and
	// returns how many were new.
	AddEvents(ctx context.Context, jobID string, events []FineTuneEvent) (int, error)
	// Events lists a job's events in order.
	Events(ctx context.Context, jobID string) ([]FineTuneEvent, error)

	// PutModel inserts or replaces a registry entry by Name.
	PutModel(ctx context.Context, m *Model) error
	// Model returns a registry entry by Name, or a NotFound error.
	Model(ctx context.Context, name string) (Model, error)
	// Models lists the registry, newest first.
	Models(ctx context.Context) ([]Model, error)
}

// FineTuneMetricsType is the Type of the events FineTuneMetrics returns.
const FineTuneMetricsType = "metrics"

// FineTuneMetrics is implemented by a FineTuneBackend whose losses are not
// in its events but at a metrics endpoint (Together's GET
// /fine-tunes/{id}/metrics). Metrics returns them as events of type
// FineTuneMetricsType, one for each step's training loss and one for each
// step's validation loss, in step order, each with a ProviderID that names
// its step and kind, so that the store keeps them with the job's other
// events and records each once.
type FineTuneMetrics interface {
	Metrics(ctx context.Context, id string) ([]FineTuneEvent, error)
}

// FineTuneRequest is what a backend needs to create a job: files already
// uploaded and the training settings.
type FineTuneRequest struct {
	BaseModel       string
	TrainFile       string // provider file ID
	ValidationFile  string // provider file ID, optional
	Hyperparameters Hyperparameters
	// FromCheckpoint continues training from an earlier job of the same
	// provider instead of from BaseModel: its ID (Together also takes its
	// output model's name, and either with ":step" for an intermediate
	// checkpoint). Together sends it as from_checkpoint; OpenAI fine-tunes
	// the job's fine-tuned model, or a fine-tuned model named here.
	FromCheckpoint string
}

// FineTuneBackend is a provider's fine-tuning API. Together, OpenAI and the
// sandbox implement it and pass the same conformance suite. Every method
// returns typed errors (*Error): NotFound for an unknown job or model,
// Invalid for a request the provider refused (with its message), Auth for
// a missing or bad key, Transient/RateLimited for failures worth a retry.
type FineTuneBackend interface {
	// Provider is the provider's name as ethos records it.
	Provider() string
	// Upload sends a training file's content; name is the local file name.
	Upload(ctx context.Context, name string, content []byte) (File, error)
	// Create starts a job. The returned job carries the provider's ID and
	// status; nothing is recorded by the backend itself.
	Create(ctx context.Context, req FineTuneRequest) (FineTuneJob, error)
	// Get returns the provider's current view of a job.
	Get(ctx context.Context, id string) (FineTuneJob, error)
	// List returns the provider's jobs, newest first.
	List(ctx context.Context, limit int) ([]FineTuneJob, error)
	// Events returns a job's events in time order.
	Events(ctx context.Context, id string) ([]FineTuneEvent, error)
	// Cancel asks the provider to stop a job and returns its new view.
	// Cancelling a finished job is an Invalid error with the provider's
	// message, or the job unchanged where the provider allows it.
	Cancel(ctx context.Context, id string) (FineTuneJob, error)
}
