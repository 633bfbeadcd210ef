package sandbox

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"time"
)

// A job's timeline: its phase, steps, losses, events and checkpoints at any
// instant, computed from what the job recorded when it was created and the
// clock, never stepped by a timer.

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
