package sandbox

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
)

// Fine-tuning. The sandbox serves the files and fine-tuning endpoints of
// Together (POST /v1/files/upload, /v1/fine-tunes…) and OpenAI (POST
// /v1/files, /v1/fine_tuning/jobs…), following their official specs. A
// job's state is not stepped by a timer: it is computed from the job's
// creation time and the server clock (Options.Now), through phases whose
// durations FineTuneOptions sets and the job records when it is created,
// so any process that reads the job agrees on its state:
//
//	Together: pending → queued → running (loss at each checkpoint) → compressing → uploading → completed
//	OpenAI:   validating_files → queued → running → succeeded
//
// Cancelling a running job passes through cancel_requested (Together) to
// cancelled. Failures:
//
//	base model "fail-train"            the job fails half way through training (Together error, OpenAI failed)
//	a training file with no usable     the job fails when its files are validated (Together user_error,
//	example (e.g. not JSONL)           OpenAI failed with code invalid_training_file)
//	an unknown base model              the create request is refused (400)
//	cancelling a finished job          400
//
// Base models accepted: "base", the names of Options.Models and
// Options.Personas, "fail-train", Together's reference models (names
// ending in "-Reference", like meta-llama/Meta-Llama-3.1-8B-Instruct-Reference)
// and OpenAI's ("gpt-…").
//
// A completed job's model answers chat requests on every protocol the
// sandbox speaks and is listed by /v1/models: on Together it is named
// ft-[<suffix>-]<8 hex> (model_output_name), on OpenAI
// ft:<base>:sandbox:<suffix>:<8 hex> (fine_tuned_model). It shows the
// persona learnt from its training file (see LearnPersona).
//
// Training reports its loss at FineTuneOptions.Checkpoints evenly spaced
// steps. On Together each report is a checkpoint_save event (and an entry
// of /checkpoints) carrying step and total_steps and no loss, as the spec
// has them ("Epoch completed, at step 12"); the losses are snapshots of
// GET /fine-tunes/{id}/metrics (train/loss, train/learning_rate,
// train/global_step), with a validation loss (eval/loss) at n_evals evenly
// spaced steps when the job has a validation file. Jobs name their model
// in model_output_name and, as older payloads did, output_name. On OpenAI
// each report is a
// metrics event whose data holds step, total_steps, epoch, train_loss and
// train_mean_token_accuracy; checkpoints are saved at each epoch's end.
// Losses fall from about 2 to about 0.5 with a little noise, drawn from the
// job's id.
//
// With FineTuneOptions.Dir set, files and jobs are kept there as JSON, so a
// sandbox started later by another process on the same directory sees the
// same files, jobs and models.

// FineTuneOptions configures the fine-tuning endpoints. Durations of zero
// take the default; a negative duration makes that phase instant.
type FineTuneOptions struct {
	// Dir keeps uploaded files and jobs; empty keeps them in memory for
	// the Server's lifetime.
	Dir string
	// Pending is the time from creation to queued (Together pending,
	// OpenAI validating_files); default 250ms.
	Pending time.Duration
	// Queued is the time in the queue; default 250ms.
	Queued time.Duration
	// Running is the training time, all steps and epochs; default 2s.
	Running time.Duration
	// Compressing and Uploading follow training (Together compressing
	// and uploading; OpenAI still running); default 250ms each.
	Compressing time.Duration
	Uploading   time.Duration
	// Cancelling is how long a Together job stays cancel_requested;
	// default 250ms. OpenAI cancels at once.
	Cancelling time.Duration
	// Checkpoints is how many evenly spaced training steps report their
	// loss (a checkpoint_save event and checkpoint on Together, a
	// metrics event on OpenAI); default 10, at most the job's steps.
	Checkpoints int
	// FailEvery, if > 0, answers every FailEvery-th request to the
	// fine-tuning and files endpoints with a 500 in the provider's error
	// shape, so clients' retries of polls can be tested.
	FailEvery int
	// MaxFileBytes caps an upload; default 512 MiB.
	MaxFileBytes int64
	// EndpointStep is how long each step of a dedicated endpoint's start
	// (PENDING, STARTING) and stop (STOPPING) lasts; default 250ms.
	EndpointStep time.Duration
}

// Default phase durations: a job completes about 3 s after it is created.
const (
	defaultPending     = 250 * time.Millisecond
	defaultQueued      = 250 * time.Millisecond
	defaultRunning     = 2 * time.Second
	defaultCompressing = 250 * time.Millisecond
	defaultUploading   = 250 * time.Millisecond
	defaultCancelling  = 250 * time.Millisecond
	defaultCheckpoints = 10
	defaultMaxFile     = 512 << 20
)

func phase(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

func (o FineTuneOptions) withDefaults() FineTuneOptions {
	o.Pending = phase(o.Pending, defaultPending)
	o.Queued = phase(o.Queued, defaultQueued)
	o.Running = phase(o.Running, defaultRunning)
	o.Compressing = phase(o.Compressing, defaultCompressing)
	o.Uploading = phase(o.Uploading, defaultUploading)
	o.Cancelling = phase(o.Cancelling, defaultCancelling)
	if o.Checkpoints <= 0 {
		o.Checkpoints = defaultCheckpoints
	}
	if o.MaxFileBytes <= 0 {
		o.MaxFileBytes = defaultMaxFile
	}
	return o
}

// Wires of a job.
const (
	wireTogether = "together"
	wireOpenAI   = "openai"
)

// FailTrainModel is the base model whose jobs fail half way through
// training.
const FailTrainModel = "fail-train"

// ftFile is an uploaded file.
type ftFile struct {
	ID        string `json:"id"`
	Filename  string `json:"filename"`
	Purpose   string `json:"purpose"`
	FileType  string `json:"file_type"`
	Bytes     int64  `json:"bytes"`
	Lines     int    `json:"lines"`
	SHA256    string `json:"sha256"`
	CreatedAt int64  `json:"created_at"` // Unix seconds
}

// ftPhases are a job's phase durations, recorded at creation.
type ftPhases struct {
	Pending     time.Duration `json:"pending"`
	Queued      time.Duration `json:"queued"`
	Running     time.Duration `json:"running"`
	Compressing time.Duration `json:"compressing"`
	Uploading   time.Duration `json:"uploading"`
	Cancelling  time.Duration `json:"cancelling"`
}

// ftLoRA is Together's LoRA training type.
type ftLoRA struct {
	R                int     `json:"lora_r"`
	Alpha            int     `json:"lora_alpha"`
	Dropout          float64 `json:"lora_dropout"`
	TrainableModules string  `json:"lora_trainable_modules"`
}

// ftJob is a fine-tuning job as the sandbox keeps it. Everything that
// changes with time is derived from it by view.
type ftJob struct {
	ID             string  `json:"id"`
	Wire           string  `json:"wire"`
	Model          string  `json:"model"`
	OutputModel    string  `json:"output_model"`
	TrainingFile   string  `json:"training_file"`
	ValidationFile string  `json:"validation_file,omitempty"`
	Suffix         string  `json:"suffix,omitempty"`
	Epochs         int     `json:"epochs"`
	BatchSize      int     `json:"batch_size"`
	LearningRate   float64 `json:"learning_rate"` // OpenAI: the multiplier
	NCheckpoints   int     `json:"n_checkpoints,omitempty"`
	NEvals         int     `json:"n_evals,omitempty"`
	LoRA           *ftLoRA `json:"lora,omitempty"` // Together; nil is full training
	Method         string  `json:"method"`         // sft/dpo (Together), supervised/dpo (OpenAI)
	DPOBeta        float64 `json:"dpo_beta,omitempty"`
	RPOAlpha       float64 `json:"rpo_alpha,omitempty"`
	SimPOGamma     float64 `json:"simpo_gamma,omitempty"`
	// FromCheckpoint is the checkpoint a Together job continues, as the
	// request named it; Parent is the job it names (OpenAI: the job whose
	// fine-tuned model is the job's model). Training starts from the
	// parent's persona.
	FromCheckpoint string            `json:"from_checkpoint,omitempty"`
	Parent         string            `json:"parent,omitempty"`
	TrainOnInputs  bool              `json:"train_on_inputs,omitempty"`
	Seed           int64             `json:"seed"`
	WandbProject   string            `json:"wandb_project,omitempty"`
	Metadata       map[string]string `json:"metadata,omitempty"`

	Lines         int    `json:"lines"`
	Bytes         int64  `json:"bytes"`
	Examples      int    `json:"examples"`
	Tokens        int    `json:"tokens"`
	StepsPerEpoch int    `json:"steps_per_epoch"`
	TotalSteps    int    `json:"total_steps"`
	Checkpoints   int    `json:"checkpoints"`         // steps that report a loss
	FailStep      int    `json:"fail_step,omitempty"` // the step training fails at; 0 never
	Invalid       string `json:"invalid,omitempty"`   // why the training file is refused at validation

	Persona Persona  `json:"persona"`
	Phases  ftPhases `json:"phases"`

	CreatedAt       time.Time  `json:"created_at"`
	CancelRequested *time.Time `json:"cancel_requested,omitempty"`
}

// fineTunes is the Server's fine-tuning state.
type fineTunes struct {
	opts     FineTuneOptions
	store    *ftStore
	requests atomic.Int64 // for FailEvery
}

// initFineTune sets up the fine-tuning endpoints and the persona writers
// of the models that answer plain prompts in a persona's voice.
func (s *Server) initFineTune() {
	s.ft = &fineTunes{opts: s.opts.FineTune.withDefaults(), store: newFTStore(s.opts.FineTune.Dir)}
	for m := range s.writers {
		_, persona := s.opts.Personas[m]
		if (m == "base" || persona) && !s.custom[m] {
			s.writers[m] = s.personaWriter(m)
		}
	}
	s.registerTogether()
	s.registerEndpoints()
	s.registerOpenAIFineTuning()
}

// newJobID returns the hex digits of a job or file id: n bytes hashed
// from the label, the seed, the clock and the attempt, so ids are
// reproducible under an injected clock; processes sharing a directory
// never reuse one, since a taken id makes the caller try the next attempt.
func (s *Server) newJobID(label string, now time.Time, attempt, n int) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s|%d|%d|%d", label, s.opts.Seed, now.UnixNano(), attempt)
	return hex.EncodeToString(h.Sum(nil)[:n])
}

// training reads an uploaded training file and learns from it, for a job
// being created: by DPO's rule (finetune_dpo.go) for a DPO job, else by
// SFT's (finetune_learn.go).
func (s *Server) training(j *ftJob, base Persona) *ftError {
	content, err := s.ft.store.content(j.TrainingFile)
	if err != nil {
		return internalError(err)
	}
	learn := learnPersona
	if j.Method == "dpo" {
		learn = learnPreferences
	}
	persona, st := learn(base, content, nil)
	j.Persona = persona
	j.Lines, j.Bytes, j.Examples, j.Tokens = st.lines, int64(len(content)), st.examples, st.tokens
	if st.examples == 0 {
		why := st.firstProblem
		if why == "" {
			why = "the file is empty"
		}
		j.Invalid = "no usable training example in " + j.TrainingFile + "; " + why
		if j.Method == "dpo" {
			j.Invalid = "no preference pair in " + j.TrainingFile + " for a DPO job; " + why
		}
	}
	if j.BatchSize <= 0 {
		j.BatchSize = 8
	}
	j.StepsPerEpoch = max(1, (j.Examples+j.BatchSize-1)/j.BatchSize)
	j.TotalSteps = j.Epochs * j.StepsPerEpoch
	j.Checkpoints = min(s.ft.opts.Checkpoints, j.TotalSteps)
	if j.Model == FailTrainModel && j.Invalid == "" {
		j.FailStep = max(1, (j.TotalSteps+1)/2)
	}
	o := s.ft.opts
	j.Phases = ftPhases{Pending: o.Pending, Queued: o.Queued, Running: o.Running,
		Compressing: o.Compressing, Uploading: o.Uploading, Cancelling: o.Cancelling}
	return nil
}

// slug keeps the letters, digits and dashes of a suffix for a model name.
func slug(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
			b.WriteRune(r)
		case r == '_' || r == ' ' || r == '.':
			b.WriteByte('-')
		}
	}
	return strings.Trim(b.String(), "-")
}

// shortID is the last 8 hex digits of an id, for model names.
func shortID(id string) string {
	if len(id) <= 8 {
		return id
	}
	return id[len(id)-8:]
}
