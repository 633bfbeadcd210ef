package sandbox

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
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

// Phases of a job, in Together's vocabulary.
const (
	phasePending         = "pending"
	phaseQueued          = "queued"
	phaseRunning         = "running"
	phaseCompressing     = "compressing"
	phaseUploading       = "uploading"
	phaseCancelRequested = "cancel_requested"
	phaseCancelled       = "cancelled"
	phaseError           = "error"
	phaseUserError       = "user_error"
	phaseCompleted       = "completed"
)

// ftView is a job's state at one instant.
type ftView struct {
	phase string
	since time.Time // when the current phase began
	step  int       // training steps done
	// end is when the job finished or will finish.
	end      time.Time
	final    bool
	errorMsg string
}

// times are the job's milestones without cancellation.
type ftTimes struct {
	created, queued, started, trained, compressed, uploaded time.Time
	// end is when the job ends by itself: uploaded, or the failure.
	end time.Time
}

func (j *ftJob) times() ftTimes {
	var t ftTimes
	t.created = j.CreatedAt
	t.queued = t.created.Add(j.Phases.Pending)
	t.started = t.queued.Add(j.Phases.Queued)
	t.trained = t.started.Add(j.Phases.Running)
	t.compressed = t.trained.Add(j.Phases.Compressing)
	t.uploaded = t.compressed.Add(j.Phases.Uploading)
	switch {
	case j.Invalid != "":
		t.end = t.queued
	case j.FailStep > 0:
		t.end = j.stepTime(j.FailStep)
	default:
		t.end = t.uploaded
	}
	return t
}

// stepTime is when training step n (1-based) finishes.
func (j *ftJob) stepTime(n int) time.Time {
	started := j.CreatedAt.Add(j.Phases.Pending + j.Phases.Queued)
	return started.Add(time.Duration(float64(j.Phases.Running) * float64(n) / float64(max(j.TotalSteps, 1))))
}

// stepsAt is how many steps are done at t.
func (j *ftJob) stepsAt(t time.Time) int {
	started := j.CreatedAt.Add(j.Phases.Pending + j.Phases.Queued)
	if !t.After(started) || j.TotalSteps == 0 {
		return 0
	}
	if j.Phases.Running <= 0 {
		return j.TotalSteps
	}
	n := int(float64(j.TotalSteps) * float64(t.Sub(started)) / float64(j.Phases.Running))
	// Rounding may leave a step a hair short of its own stepTime.
	for n < j.TotalSteps && !j.stepTime(n+1).After(t) {
		n++
	}
	return min(n, j.TotalSteps)
}

// cancelled reports whether a cancellation stops the job, and when it was
// requested.
func (j *ftJob) cancelled(t ftTimes) (time.Time, bool) {
	if j.CancelRequested == nil || !j.CancelRequested.Before(t.end) {
		return time.Time{}, false
	}
	return *j.CancelRequested, true
}

// view is the job's state at now.
func (j *ftJob) view(now time.Time) ftView {
	t := j.times()
	stop := t.end
	if c, ok := j.cancelled(t); ok && !now.Before(c) {
		done := c.Add(j.Phases.Cancelling)
		v := ftView{step: j.stepsAt(c), end: done}
		if now.Before(done) {
			v.phase, v.since = phaseCancelRequested, c
		} else {
			v.phase, v.since, v.final = phaseCancelled, done, true
		}
		return v
	}
	if !now.Before(stop) {
		v := ftView{since: stop, end: stop, final: true, step: j.stepsAt(stop)}
		switch {
		case j.Invalid != "":
			v.phase, v.errorMsg = phaseUserError, j.Invalid
		case j.FailStep > 0:
			v.phase, v.errorMsg = phaseError, j.failMessage()
		default:
			v.phase, v.step = phaseCompleted, j.TotalSteps
		}
		return v
	}
	return j.running(now, t)
}

// running is the view of a job that has not ended by now.
func (j *ftJob) running(now time.Time, t ftTimes) ftView {
	v := ftView{step: j.stepsAt(now), end: t.end}
	switch {
	case now.Before(t.queued):
		v.phase, v.since = phasePending, t.created
	case now.Before(t.started):
		v.phase, v.since = phaseQueued, t.queued
	case now.Before(t.trained):
		v.phase, v.since = phaseRunning, t.started
	case now.Before(t.compressed):
		v.phase, v.since = phaseCompressing, t.trained
	default:
		v.phase, v.since = phaseUploading, t.compressed
	}
	return v
}

func (j *ftJob) failMessage() string {
	return fmt.Sprintf("Training failed at step %d of %d: the loss became NaN. (The sandbox's base model %q always fails half way through training.)", j.FailStep, j.TotalSteps, FailTrainModel)
}

// epochOf is the epoch (1-based) step n belongs to.
func (j *ftJob) epochOf(n int) int {
	if n <= 0 {
		return 0
	}
	return (n-1)/max(j.StepsPerEpoch, 1) + 1
}

// loss is the training loss reported at step n: an exponential decay
// from about 2 to about 0.5 with a little noise, drawn from the job's id.
func (j *ftJob) loss(n int) float64 {
	seed := hashString(j.ID)
	start := 1.8 + 0.6*unitRoll(seed, "loss-start")
	floor := 0.35 + 0.3*unitRoll(seed, "loss-floor")
	p := float64(n) / float64(max(j.TotalSteps, 1))
	base := floor + (start-floor)*math.Exp(-3.5*p)
	noise := (unitRoll(seed, "loss-noise-"+fmt.Sprint(n)) - 0.5) * 0.06 * base
	return math.Round((base+noise)*1e4) / 1e4
}

// lossSteps are the steps that report a loss: Checkpoints of them evenly
// spaced, the last one the final step.
func (j *ftJob) lossSteps() []int { return evenSteps(j.Checkpoints, j.TotalSteps) }

// evenSteps are k evenly spaced steps of total (fewer when k > total),
// the last one the final step.
func evenSteps(k, total int) []int {
	k = min(k, total)
	out := make([]int, 0, max(k, 0))
	for i := 1; i <= k; i++ {
		s := (i*total + k - 1) / k
		if len(out) == 0 || out[len(out)-1] != s {
			out = append(out, s)
		}
	}
	return out
}

// epochEnds are the last steps of each epoch.
func (j *ftJob) epochEnds() []int {
	out := make([]int, 0, j.Epochs)
	for e := 1; e <= j.Epochs; e++ {
		out = append(out, min(e*j.StepsPerEpoch, j.TotalSteps))
	}
	return out
}

func hashString(s string) uint64 {
	sum := sha256.Sum256([]byte(s))
	return binary.BigEndian.Uint64(sum[:8])
}

// ftEvent is one event of a job's history, before a wire renders it.
type ftEvent struct {
	at    time.Time
	kind  string // Together's event type
	level string // info, warning, error
	msg   string // Together's message
	// openai is the OpenAI message; "" leaves the event out of OpenAI's
	// list.
	openai string
	step   int
	epoch  int
	loss   *float64
	// metrics marks a loss report, a metrics event on OpenAI.
	metrics bool
}

// events is the job's history up to now, oldest first.
func (j *ftJob) events(now time.Time) []ftEvent {
	t := j.times()
	stop := t.end
	cancelAt, cancelled := j.cancelled(t)
	if cancelled {
		stop = cancelAt
	}
	var evs []ftEvent
	add := func(e ftEvent) {
		if !e.at.After(stop) || e.kind == "cancel_requested" || e.kind == "job_stopped" {
			evs = append(evs, e)
		}
	}
	add(ftEvent{at: t.created, kind: "job_pending", level: "info", msg: "Fine tune request created",
		openai: "Created fine-tuning job: " + j.ID})
	if j.Wire == wireOpenAI {
		add(ftEvent{at: t.created, kind: "job_pending", level: "info", openai: "Validating training file: " + j.TrainingFile})
	}
	if j.Invalid != "" {
		add(ftEvent{at: t.end, kind: "job_error", level: "error", msg: "Training file validation failed: " + j.Invalid,
			openai: "Training file validation failed: " + j.Invalid})
	} else {
		add(ftEvent{at: t.queued, kind: "job_pending", level: "info", msg: "Job queued, position in queue: 1",
			openai: "Files validated, moving job to queued state"})
		add(ftEvent{at: t.started, kind: "job_start", level: "info", msg: "Job started at " + t.started.UTC().Format(time.UnixDate),
			openai: "Fine-tuning job started"})
		add(ftEvent{at: t.started, kind: "model_downloading", level: "info", msg: "Downloading model data for " + j.Model})
		add(ftEvent{at: t.started, kind: "model_download_complete", level: "info", msg: "Model data downloaded for " + j.Model})
		add(ftEvent{at: t.started, kind: "training_data_downloading", level: "info", msg: "Downloading training data " + j.TrainingFile})
		add(ftEvent{at: t.started, kind: "training_data_download_complete", level: "info", msg: "Training data downloaded: " + j.TrainingFile})
		add(ftEvent{at: t.started, kind: "training_start", level: "info", msg: "Training started for model " + j.Model})
		ends := j.epochEnds()
		for _, s := range mergeSteps(j.lossSteps(), ends) {
			if j.FailStep > 0 && s >= j.FailStep {
				break
			}
			l := j.loss(s)
			at, ep := j.stepTime(s), j.epochOf(s)
			if slices.Contains(j.lossSteps(), s) {
				add(ftEvent{at: at, kind: "checkpoint_save", level: "info", step: s, epoch: ep, loss: &l, metrics: true,
					msg:    fmt.Sprintf("Checkpoint saved at step %d of %d (epoch %d/%d)", s, j.TotalSteps, ep, j.Epochs),
					openai: fmt.Sprintf("Step %d/%d: training loss=%.4f", s, j.TotalSteps, l)})
			}
			if slices.Contains(ends, s) {
				add(ftEvent{at: at, kind: "epoch_complete", level: "info", step: s, epoch: ep, loss: &l,
					msg: fmt.Sprintf("Epoch completed, at step %d", s)})
				if j.Wire == wireOpenAI {
					add(ftEvent{at: at, kind: "checkpoint_save", level: "info", step: s, epoch: ep,
						openai: fmt.Sprintf("Checkpoint created at step %d", s)})
				}
			}
		}
		if j.FailStep > 0 {
			add(ftEvent{at: t.end, kind: "job_error", level: "error", step: j.FailStep, epoch: j.epochOf(j.FailStep),
				msg: j.failMessage(), openai: "Fine-tuning job failed: " + j.failMessage()})
		} else {
			add(ftEvent{at: t.trained, kind: "training_complete", level: "info", step: j.TotalSteps, epoch: j.Epochs,
				msg: fmt.Sprintf("Training completed for %s at step %d", j.Model, j.TotalSteps)})
			add(ftEvent{at: t.trained, kind: "model_compressing", level: "info", msg: "Compressing output model"})
			add(ftEvent{at: t.compressed, kind: "model_compression_complete", level: "info", msg: "Model compression complete"})
			add(ftEvent{at: t.compressed, kind: "model_uploading", level: "info", msg: "Uploading output model"})
			add(ftEvent{at: t.uploaded, kind: "model_upload_complete", level: "info", msg: "Model upload complete"})
			add(ftEvent{at: t.uploaded, kind: "job_complete", level: "info", msg: "Job finished at " + t.uploaded.UTC().Format(time.UnixDate) + ". Model output: " + j.OutputModel,
				openai: "New fine-tuned model created"})
			if j.Wire == wireOpenAI {
				add(ftEvent{at: t.uploaded, kind: "job_complete", level: "info", openai: "The job has successfully completed"})
			}
		}
	}
	if cancelled {
		add(ftEvent{at: cancelAt, kind: "cancel_requested", level: "info", msg: "Cancel requested"})
		done := cancelAt.Add(j.Phases.Cancelling)
		add(ftEvent{at: done, kind: "job_stopped", level: "info", msg: "Job cancelled at step " + fmt.Sprint(j.stepsAt(cancelAt)),
			openai: "Fine-tuning job cancelled"})
	}
	out := evs[:0]
	for _, e := range evs {
		if !e.at.After(now) {
			out = append(out, e)
		}
	}
	slices.SortStableFunc(out, func(a, b ftEvent) int { return a.at.Compare(b.at) })
	return out
}

// mergeSteps is the sorted union of two sorted step lists.
func mergeSteps(a, b []int) []int {
	out := slices.Concat(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}

// ftCheckpoint is a saved checkpoint.
type ftCheckpoint struct {
	at    time.Time
	step  int
	loss  float64
	final bool
}

// checkpoints are the job's checkpoints saved by now, oldest first: on
// Together one per loss report plus the final model, on OpenAI one per
// epoch.
func (j *ftJob) checkpoints(now time.Time) []ftCheckpoint {
	v := j.view(now)
	steps := j.lossSteps()
	if j.Wire == wireOpenAI {
		steps = j.epochEnds()
	}
	var out []ftCheckpoint
	for _, s := range steps {
		if s > v.step || (j.FailStep > 0 && s >= j.FailStep) || j.stepTime(s).After(now) {
			break
		}
		out = append(out, ftCheckpoint{at: j.stepTime(s), step: s, loss: j.loss(s)})
	}
	if v.phase == phaseCompleted && j.Wire == wireTogether {
		out = append(out, ftCheckpoint{at: v.end, step: j.TotalSteps, loss: j.loss(j.TotalSteps), final: true})
	}
	return out
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

// tunedJob finds the completed job whose model a chat request calls by
// this name: the fine-tuned model's own name when its base model is
// served serverless (Options.Serving), or the name of a started endpoint
// that serves it (see endpoints.go).
func (s *Server) tunedJob(model string) (*ftJob, bool) {
	if m := s.endpointModel(model); m != "" {
		return s.completedJob(m)
	}
	j, ok := s.completedJob(model)
	if !ok || s.opts.Serving[j.Model] == ServingDedicated {
		return nil, false
	}
	return j, true
}

// completedJob finds the job whose completed model is named model.
func (s *Server) completedJob(model string) (*ftJob, bool) {
	if !strings.HasPrefix(model, "ft-") && !strings.HasPrefix(model, "ft:") {
		return nil, false
	}
	jobs, err := s.ft.store.listJobs()
	if err != nil {
		return nil, false
	}
	now := s.opts.Now()
	for _, j := range jobs {
		if j.OutputModel == model {
			return j, j.view(now).phase == phaseCompleted
		}
	}
	return nil, false
}

// tunedPersona is the persona of a completed fine-tuned model.
func (s *Server) tunedPersona(model string) (Persona, bool) {
	j, ok := s.tunedJob(model)
	if !ok {
		return Persona{}, false
	}
	return j.Persona, true
}

// tunedWriter is the writer of a completed fine-tuned model.
func (s *Server) tunedWriter(model string) (Writer, bool) {
	j, ok := s.tunedJob(model)
	if !ok {
		return nil, false
	}
	p := j.Persona
	return func(pr Prompt) string { return plainReply(pr, p) }, true
}

// listModels is what /v1/models lists: the server's models, then the
// completed fine-tuned models, oldest first.
func (s *Server) listModels() []string {
	out := slices.Clone(s.models)
	jobs, err := s.ft.store.listJobs()
	if err != nil {
		return out
	}
	now := s.opts.Now()
	for i := len(jobs) - 1; i >= 0; i-- {
		if jobs[i].view(now).phase == phaseCompleted {
			out = append(out, jobs[i].OutputModel)
		}
	}
	return out
}

// baseModelOK says whether a base model can be fine-tuned.
func (s *Server) baseModelOK(model string) bool {
	if model == "base" || model == FailTrainModel || slices.Contains(s.opts.Models, model) {
		return true
	}
	if _, ok := s.opts.Personas[model]; ok {
		return true
	}
	return strings.HasSuffix(model, "-Reference") || strings.HasPrefix(model, "gpt-")
}

// parentJob finds the completed job a continued job starts from: by its
// ID or its output model's name, either followed by ":step" (the sandbox
// keeps one persona a job, so every checkpoint of a job is its final
// model). The error is the answer to give.
func (s *Server) parentJob(ref, param string) (*ftJob, *ftError) {
	name := ref
	if i := strings.LastIndex(ref, ":"); i > 0 && !strings.HasPrefix(ref, "ft:") {
		if _, err := strconv.Atoi(ref[i+1:]); err == nil {
			name = ref[:i]
		}
	}
	jobs, err := s.ft.store.listJobs()
	if err != nil {
		return nil, internalError(err)
	}
	now := s.opts.Now()
	for _, j := range jobs {
		if j.ID != name && j.OutputModel != name {
			continue
		}
		if v := j.view(now); v.phase != phaseCompleted {
			return nil, &ftError{status: 400, param: param, msg: fmt.Sprintf("%s: job %s has not completed (it is %s), so there is no checkpoint to continue from", ref, j.ID, v.phase)}
		}
		return j, nil
	}
	return nil, &ftError{status: 400, param: param, msg: fmt.Sprintf("%s names no fine-tuning job or fine-tuned model", ref)}
}

// basePersona is the persona a fine-tuned model starts from.
func (s *Server) basePersona(model string) Persona {
	if p, ok := s.opts.Personas[model]; ok {
		return p
	}
	return WeakPersona
}

// ftError is an error answer of the fine-tuning endpoints; both providers
// use OpenAI's error body.
type ftError struct {
	status int
	msg    string
	typ    string
	param  string
	code   string
}

func (e *ftError) write(w http.ResponseWriter) {
	typ := e.typ
	if typ == "" {
		typ, _ = openaiErrorKind(e.status)
		if typ == "" || typ == "requests" {
			typ = "invalid_request_error"
		}
	}
	writeJSON(w, e.status, openaiErrorBody{Error: openaiErrorObj{Message: e.msg, Type: typ, Param: optional(e.param), Code: optional(e.code)}})
}

func internalError(err error) *ftError {
	return &ftError{status: http.StatusInternalServerError, msg: "sandbox: fine-tuning store: " + err.Error(), typ: "server_error"}
}

// handle wraps a fine-tuning handler: it authenticates, injects
// FailEvery's errors and writes the handler's error, if any.
func (s *Server) handle(h func(w http.ResponseWriter, r *http.Request) *ftError) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("x-request-id", s.newID("req_"))
		if _, ok := s.authenticate(r); !ok {
			(&ftError{status: http.StatusUnauthorized, msg: "invalid API key", code: "invalid_api_key"}).write(w)
			return
		}
		if n := s.ft.opts.FailEvery; n > 0 && s.ft.requests.Add(1)%int64(n) == 0 {
			(&ftError{status: http.StatusInternalServerError, msg: statusMessage(500), typ: "server_error"}).write(w)
			return
		}
		if e := h(w, r); e != nil {
			e.write(w)
		}
	}
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
