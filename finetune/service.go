// Package finetune turns a checked dataset into a trained model on a
// hosted provider and keeps track of it until it can be evaluated.
//
// Service creates jobs — the file checked first, uploaded once per content
// hash, the job recorded in the store before Create returns — and follows
// them: each refresh mirrors the provider's status verbatim, appends new
// events, derives progress from events and steps (never from guesses), and
// registers the trained model once the job completes. A process killed
// anywhere in between leaves an intent that the next attempt resolves by
// attaching to the job the provider already has, so nothing is created
// twice. Monitor runs the same refresh for every active job as a durable
// periodic job and notifies on each change.
package finetune

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/dataset"
)

// Purpose is the File.Purpose of training and validation files.
const Purpose = "fine-tune"

// Store is what the service keeps: files, jobs, events and models, the
// endpoints that serve models, plus the runs and items that record create
// intents.
type Store interface {
	ethos.FineTuneStore
	ethos.EndpointStore
	ethos.RunStore
}

// Default polling settings.
const (
	// DefaultAttempts is how many times one poll of the provider is tried
	// when it fails transiently.
	DefaultAttempts = 3
	// retryWait is the wait before the second try of a poll, doubled for
	// each further try, unless the provider says how long to wait.
	retryWait = 2 * time.Second
)

// Service creates and follows fine-tune jobs. Its fields are its
// dependencies; Store and Backend are required.
type Service struct {
	Store Store
	// Backend returns the fine-tuning API of a provider ("together",
	// "openai", "sandbox"). A missing key is its Config error.
	Backend func(provider string) (ethos.FineTuneBackend, error)
	// Check checks a training or validation file the way opts.Provider
	// will, for the job's training method (opts.Method); the default is
	// dataset.CheckFileWith. A report with errors refuses the file.
	Check func(ctx context.Context, path string, opts dataset.Options) (*dataset.Report, error)
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Sleep waits between polls and retries and returns early with the
	// context's error; default a real timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// Attempts is how many times a poll is tried when the provider fails
	// transiently; default DefaultAttempts.
	Attempts int
	// ProjectDir is the project's directory: a dataset inside it is
	// recorded by its path relative to it (see RecordedPath).
	ProjectDir string
}

// CreateOptions is what to train.
type CreateOptions struct {
	Provider string
	// BaseModel is the provider's base model; a "provider/" prefix naming
	// the same provider is dropped ("sandbox/base" → "base").
	BaseModel       string
	TrainPath       string
	ValidationPath  string // optional
	Hyperparameters ethos.Hyperparameters
	// RunID is the generation run that made the dataset, if known.
	RunID string
	// FromCheckpoint continues training from an earlier job instead of
	// from BaseModel (see ethos.FineTuneRequest.FromCheckpoint); BaseModel
	// may then be empty.
	FromCheckpoint string
	// Recipe names the training recipe the job is a step of, for the
	// registry (ethos.FineTuneJob.Recipe). It is a label, not part of the
	// request: the same request under another recipe finds the same job.
	Recipe string
}

// How a Create found its job.
const (
	HowCreated  = "created"  // the provider created a new job
	HowAttached = "attached" // an interrupted earlier attempt had created it; this one attached to it
	HowExisting = "existing" // the same request already has a job that is active or completed
)

// Created is the result of Create.
type Created struct {
	Job ethos.FineTuneJob
	How string // HowCreated, HowAttached or HowExisting
	// Report is the check of the training file; it may carry warnings.
	Report         *dataset.Report
	TrainFile      ethos.File
	ValidationFile *ethos.File
	// Uploaded says the training file was sent now; false means an upload
	// of the same content was reused.
	Uploaded bool
	// Intent is the ID of the run that records the request and its
	// attempts (Run.Kind RunKind).
	Intent string
}

// Update is what one refresh of a job found.
type Update struct {
	Job       ethos.FineTuneJob
	OldStatus string              // the provider's status before the refresh
	OldState  ethos.FineTuneState // ethos's state before the refresh
	NewEvents []ethos.FineTuneEvent
	// Model is the registry entry of a completed job's model.
	Model *ethos.Model
	// Stale is set by Status and List when the provider could not be
	// reached: Job is then the stored view, and the error says why.
	Stale error
}

// Changed reports whether the provider's status changed.
func (u Update) Changed() bool { return u.Job.Status != u.OldStatus }

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) sleep(ctx context.Context, d time.Duration) error {
	if s.Sleep != nil {
		return s.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (s *Service) backend(provider string) (ethos.FineTuneBackend, error) {
	if s.Backend == nil {
		return nil, ethos.Errorf(ethos.Config, "finetune: no backends configured")
	}
	b, err := s.Backend(provider)
	if err != nil {
		return nil, err
	}
	if b == nil {
		if err := ethos.CheckFineTuneProvider(provider); err != nil {
			return nil, fmt.Errorf("finetune: %w", err)
		}
		return nil, ethos.Errorf(ethos.Config, "finetune: no fine-tuning backend for provider %q", provider)
	}
	return b, nil
}

// DatasetError is the cause of the Invalid error Create returns for a
// training file that fails its check; Report lists every problem by line.
type DatasetError struct {
	Report *dataset.Report
}

// maxListedProblems bounds the problems an error message lists.
const maxListedProblems = 20

func (e *DatasetError) Error() string {
	r := e.Report
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d error(s) for %s", r.Path, r.Errors(), r.Provider)
	listed := 0
	for _, p := range r.Problems {
		if p.Severity != "error" {
			continue
		}
		if listed == maxListedProblems {
			fmt.Fprintf(&b, "\n  … and %d more", r.Errors()-listed)
			break
		}
		if p.Line > 0 {
			fmt.Fprintf(&b, "\n  line %d: %s: %s", p.Line, p.Rule, p.Message)
		} else {
			fmt.Fprintf(&b, "\n  %s: %s", p.Rule, p.Message)
		}
		listed++
	}
	return b.String()
}

// checkFile checks path for provider and the job's training method and
// refuses a file with errors: a preference file for an SFT job, and any
// other for a DPO job, among them.
func (s *Service) checkFile(ctx context.Context, path, provider string, h ethos.Hyperparameters, validation bool) (*dataset.Report, error) {
	check := s.Check
	if check == nil {
		check = dataset.CheckFileWith
	}
	method := dataset.MethodSFT
	if h.DPO() {
		method = dataset.MethodPreference
	}
	r, err := check(ctx, path, dataset.Options{Provider: provider, Method: method, Validation: validation})
	if err != nil {
		return nil, err
	}
	if r.Errors() > 0 {
		derr := &DatasetError{Report: r}
		return r, &ethos.Error{Kind: ethos.Invalid, Op: "finetune: check",
			Msg: derr.Error() + fmt.Sprintf("\nnothing was uploaded; fix the file (ethos dataset check %s) and try again", path),
			Err: derr}
	}
	return r, nil
}

// localFile is a dataset read from disk.
type localFile struct {
	path    string
	content []byte
	sha256  string
	lines   int
}

func readLocal(path string, report *dataset.Report) (localFile, error) {
	content, err := os.ReadFile(path)
	if err != nil {
		return localFile{}, ethos.Errorf(ethos.Config, "finetune: read %s: %w", path, err)
	}
	sum := sha256.Sum256(content)
	lines := 0
	if report != nil {
		lines = report.Examples
	}
	if lines == 0 {
		for _, l := range strings.Split(string(content), "\n") {
			if strings.TrimSpace(l) != "" {
				lines++
			}
		}
	}
	return localFile{path: path, content: content, sha256: hex.EncodeToString(sum[:]), lines: lines}, nil
}

// FileChecker is implemented by backends that can look up an uploaded
// file (Together's GET /files/{id}). With it, an upload recorded in the
// store but gone from the provider (deleted, or another sandbox) is sent
// again instead of failing the create.
type FileChecker interface {
	File(ctx context.Context, id string) (ethos.File, error)
}

// HyperparameterChecker is implemented by backends that can say, before
// anything is uploaded, whether a base model takes the hyperparameters
// (Together's GET /fine-tunes/models/limits). It returns nil, the
// provider's refusal of the model, or a Config error naming each setting
// out of bounds.
type HyperparameterChecker interface {
	CheckHyperparameters(ctx context.Context, baseModel string, h ethos.Hyperparameters) error
}

// upload returns the provider's file for f: a recorded upload of the same
// content, else a new one, recorded. uploaded says which.
func (s *Service) upload(ctx context.Context, b ethos.FineTuneBackend, provider string, f localFile) (ethos.File, bool, error) {
	got, err := s.Store.FileByHash(ctx, provider, Purpose, f.sha256)
	switch {
	case err == nil:
		fc, ok := b.(FileChecker)
		if !ok {
			return got, false, nil
		}
		if _, err := fc.File(ctx, got.ID); ethos.KindOf(err) != ethos.NotFound {
			// There, or the provider could not say: the create will tell.
			return got, false, nil
		}
	case ethos.KindOf(err) != ethos.NotFound:
		return ethos.File{}, false, err
	}
	up, err := b.Upload(ctx, filepath.Base(f.path), f.content)
	if err != nil {
		return ethos.File{}, false, fmt.Errorf("finetune: upload %s to %s: %w", f.path, provider, err)
	}
	up.Provider, up.Purpose, up.SHA256 = provider, Purpose, f.sha256
	if up.Name == "" {
		up.Name = filepath.Base(f.path)
	}
	if up.Bytes == 0 {
		up.Bytes = int64(len(f.content))
	}
	if up.Lines == 0 {
		up.Lines = f.lines
	}
	if up.CreatedAt.IsZero() {
		up.CreatedAt = s.now()
	}
	// This replaces a stale record of an upload the provider no longer
	// has, so the next create reuses this one.
	if err := s.Store.PutFile(ctx, &up); err != nil {
		return ethos.File{}, false, err
	}
	return up, true, nil
}

// BaseModel drops a "provider/" prefix naming the job's own provider from
// a base model, so "sandbox/base" and "base" name the same model.
func BaseModel(provider, model string) string {
	return strings.TrimPrefix(strings.TrimSpace(model), provider+"/")
}

// Create checks the training file (and the validation file) for the
// provider and refuses an invalid one, uploads it unless the same content
// was uploaded before, creates the job and records it in the store before
// returning, so any later process can follow it.
//
// Create is idempotent: the request (provider, base model, file hashes,
// hyperparameters) is recorded as an intent before the provider is asked.
// If a job for the same request is active or completed, it is returned
// (HowExisting). If an earlier attempt stopped after asking, the provider's
// job is found by its training file and base model and attached to
// (HowAttached). A new job is created only when the last attempt's job
// failed or was cancelled, or when no job was made.
func (s *Service) Create(ctx context.Context, o CreateOptions) (Created, error) {
	const op = "finetune: create"
	o.BaseModel = BaseModel(o.Provider, o.BaseModel)
	switch {
	case o.Provider == "":
		return Created{}, ethos.Errorf(ethos.Config, "%s: no provider; want together, openai or sandbox", op)
	case o.BaseModel == "" && o.FromCheckpoint == "":
		return Created{}, ethos.Errorf(ethos.Config, "%s: no base model, and no checkpoint to continue from", op)
	case o.TrainPath == "":
		return Created{}, ethos.Errorf(ethos.Config, "%s: no training file", op)
	}
	if err := o.Hyperparameters.Validate(); err != nil {
		return Created{}, fmt.Errorf("%s: %w; nothing was uploaded", op, err)
	}

	var c Created
	var err error
	if c.Report, err = s.checkFile(ctx, o.TrainPath, o.Provider, o.Hyperparameters, false); err != nil {
		return c, err
	}
	var valReport *dataset.Report
	if o.ValidationPath != "" {
		if valReport, err = s.checkFile(ctx, o.ValidationPath, o.Provider, o.Hyperparameters, true); err != nil {
			return c, err
		}
	}
	b, err := s.backend(o.Provider)
	if err != nil {
		return c, err
	}
	if hc, ok := b.(HyperparameterChecker); ok && o.BaseModel != "" {
		// A continued job with no base model named takes its parent's,
		// which only the provider knows.
		_, err := retry(ctx, s, func() (struct{}, error) {
			return struct{}{}, hc.CheckHyperparameters(ctx, o.BaseModel, o.Hyperparameters)
		})
		if err != nil {
			return c, fmt.Errorf("%s: %s job on %s: %w", op, o.Provider, o.BaseModel, err)
		}
	}
	train, err := readLocal(o.TrainPath, c.Report)
	if err != nil {
		return c, err
	}
	if c.TrainFile, c.Uploaded, err = s.upload(ctx, b, o.Provider, train); err != nil {
		return c, err
	}
	var valSHA string
	if o.ValidationPath != "" {
		val, err := readLocal(o.ValidationPath, valReport)
		if err != nil {
			return c, err
		}
		vf, _, err := s.upload(ctx, b, o.Provider, val)
		if err != nil {
			return c, err
		}
		c.ValidationFile, valSHA = &vf, val.sha256
	}

	in := intent{Provider: o.Provider, BaseModel: o.BaseModel, TrainSHA256: train.sha256,
		ValidationSHA256: valSHA, Hyperparameters: o.Hyperparameters, FromCheckpoint: o.FromCheckpoint}
	if in.Hyperparameters.Method == ethos.FineTuneSFT {
		// "" and "sft" are the same request.
		in.Hyperparameters.Method = ""
	}
	attempt, existing, err := s.beginAttempt(ctx, in, o)
	if err != nil {
		return c, err
	}
	c.Intent = attempt.RunID
	if existing != nil {
		c.Job, c.How = *existing, HowExisting
		return c, nil
	}

	local := localFields{train: train, trainFile: c.TrainFile, validationFile: c.ValidationFile, o: o}
	if attempt.createdBefore {
		// An earlier process recorded this attempt and may have created
		// the job before it stopped: look for it before creating another.
		// A continued job may report its parent's name as its model,
		// so only its training file and time identify it.
		base := o.BaseModel
		if o.FromCheckpoint != "" {
			base = ""
		}
		remote, found, err := s.findCreated(ctx, b, attempt.Item, base, c.TrainFile.ID)
		if err != nil {
			return c, err
		}
		if found {
			job, err := s.recordCreated(ctx, attempt.Item, remote, local)
			if err != nil {
				return c, err
			}
			c.Job, c.How = job, HowAttached
			return c, nil
		}
	}

	req := ethos.FineTuneRequest{BaseModel: o.BaseModel, TrainFile: c.TrainFile.ID, Hyperparameters: o.Hyperparameters,
		FromCheckpoint: o.FromCheckpoint}
	if c.ValidationFile != nil {
		req.ValidationFile = c.ValidationFile.ID
	}
	if err := s.recordSending(ctx, attempt.Item, req.TrainFile); err != nil {
		return c, err
	}
	remote, err := b.Create(ctx, req)
	if err != nil {
		err = fmt.Errorf("%s: %s job on %s: %w", op, o.Provider, o.BaseModel, err)
		if refused(err) {
			// The provider said no: nothing exists, and the next attempt
			// starts afresh. Any other failure may have created the job,
			// so the attempt stays open for the next one to look for it.
			s.rejectAttempt(context.WithoutCancel(ctx), attempt.Item, err)
		}
		return c, err
	}
	job, err := s.recordCreated(ctx, attempt.Item, remote, local)
	if err != nil {
		return c, err
	}
	c.Job, c.How = job, HowCreated
	return c, nil
}

// refused reports whether err is a provider's definite refusal, after
// which no job can exist.
func refused(err error) bool {
	switch ethos.KindOf(err) {
	case ethos.Invalid, ethos.Auth, ethos.NotFound, ethos.Config, ethos.Budget, ethos.Quota:
		return true
	}
	return false
}

// localFields are what only ethos knows about a job it creates.
type localFields struct {
	train          localFile
	trainFile      ethos.File
	validationFile *ethos.File
	o              CreateOptions
}

// recordCreated stores a job the provider created for the request and
// closes the attempt that asked for it.
func (s *Service) recordCreated(ctx context.Context, attempt *ethos.Item, remote ethos.FineTuneJob, l localFields) (ethos.FineTuneJob, error) {
	if remote.ID == "" {
		return ethos.FineTuneJob{}, ethos.Errorf(ethos.Internal, "finetune: %s returned a job without an ID", l.o.Provider)
	}
	job := remote
	job.Provider = l.o.Provider
	if job.BaseModel == "" {
		job.BaseModel = l.o.BaseModel
	}
	if job.TrainFile == "" {
		job.TrainFile = l.trainFile.ID
	}
	if job.ValidationFile == "" && l.validationFile != nil {
		job.ValidationFile = l.validationFile.ID
	}
	if job.FromCheckpoint == "" {
		job.FromCheckpoint = l.o.FromCheckpoint
	}
	job.DatasetPath, job.DatasetSHA256, job.RunID = RecordedPath(s.ProjectDir, l.o.TrainPath), l.train.sha256, l.o.RunID
	job.Recipe = l.o.Recipe
	job.Hyperparameters = mergeHyperparameters(l.o.Hyperparameters, remote.Hyperparameters)
	if job.State == "" {
		job.State = StateOf(job.Status)
	}
	job.OutputModel = OutputModelOf(job)
	job.Progress = progressOf(job.Progress, nil, job.Hyperparameters)
	if job.CreatedAt.IsZero() {
		job.CreatedAt = s.now()
	}
	// Recorded before anything else, even if ctx ends now: this row is
	// what lets any later process follow the job.
	ctx = context.WithoutCancel(ctx)
	if err := s.Store.PutJob(ctx, &job); err != nil {
		return ethos.FineTuneJob{}, fmt.Errorf("finetune: record job %s (created on %s; the next create attaches to it): %w", job.ID, job.Provider, err)
	}
	if err := s.acceptAttempt(ctx, attempt, job.ID); err != nil {
		return job, err
	}
	return job, nil
}

// mergeHyperparameters is what was asked, with the provider's values where
// the request left the provider's default.
func mergeHyperparameters(asked, remote ethos.Hyperparameters) ethos.Hyperparameters {
	h := asked
	if h.Epochs == 0 {
		h.Epochs = remote.Epochs
	}
	if h.LearningRate == 0 {
		h.LearningRate = remote.LearningRate
	}
	if h.BatchSize == 0 {
		h.BatchSize = remote.BatchSize
	}
	if h.LoRA {
		if h.LoRARank == 0 {
			h.LoRARank = remote.LoRARank
		}
		if h.LoRAAlpha == 0 {
			h.LoRAAlpha = remote.LoRAAlpha
		}
		if h.LoRADropout == 0 {
			h.LoRADropout = remote.LoRADropout
		}
	}
	if h.Suffix == "" {
		h.Suffix = remote.Suffix
	}
	if h.WandbProject == "" {
		h.WandbProject = remote.WandbProject
	}
	if h.DPO() && h.DPOBeta == 0 {
		h.DPOBeta = remote.DPOBeta
	}
	return h
}

// retryable reports whether a failed poll is worth trying again later.
func retryable(err error) bool {
	switch ethos.KindOf(err) {
	case ethos.Transient, ethos.RateLimited, ethos.Overloaded:
		return true
	}
	return false
}

// retry calls f until it succeeds, fails for good, or has been tried
// s.Attempts times, waiting between tries as the provider asks or with
// doubling waits.
func retry[T any](ctx context.Context, s *Service, f func() (T, error)) (T, error) {
	attempts := s.Attempts
	if attempts <= 0 {
		attempts = DefaultAttempts
	}
	wait := retryWait
	for i := 1; ; i++ {
		v, err := f()
		if err == nil || !retryable(err) || i >= attempts || ctx.Err() != nil {
			return v, err
		}
		d := ethos.RetryAfterOf(err)
		if d <= 0 {
			d = wait
			wait *= 2
		}
		if serr := s.sleep(ctx, d); serr != nil {
			return v, err
		}
	}
}

// Refresh asks the provider for the job's current state and events,
// records them, and registers the model of a job that completed. A job
// already final is not polled. Transient provider failures are retried a
// few times and then returned (kind Transient, RateLimited or
// Overloaded); they never change the recorded job.
func (s *Service) Refresh(ctx context.Context, id string) (Update, error) {
	return s.refresh(ctx, id, nil)
}

// refresh is Refresh with a hook that runs after the new state is known
// and before it is saved: the monitor enqueues its notifications there, so
// that a crash in between repeats the detection rather than losing it.
func (s *Service) refresh(ctx context.Context, id string, beforeSave func(Update) error) (Update, error) {
	stored, err := s.Store.Job(ctx, id)
	if err != nil {
		return Update{}, jobNotFound(err, id)
	}
	u := Update{Job: stored, OldStatus: stored.Status, OldState: stored.State}
	if stored.State.Final() {
		if stored.State == ethos.FineTuneCompleted {
			if u.Model, err = s.register(ctx, stored); err != nil {
				return u, err
			}
		}
		return u, nil
	}
	b, err := s.backend(stored.Provider)
	if err != nil {
		return u, err
	}
	remote, err := retry(ctx, s, func() (ethos.FineTuneJob, error) { return b.Get(ctx, id) })
	if err != nil {
		return u, fmt.Errorf("finetune: poll %s job %s: %w", stored.Provider, id, err)
	}
	events, err := retry(ctx, s, func() ([]ethos.FineTuneEvent, error) { return b.Events(ctx, id) })
	if err != nil {
		return u, fmt.Errorf("finetune: events of %s job %s: %w", stored.Provider, id, err)
	}
	if mb, ok := b.(ethos.FineTuneMetrics); ok {
		// The losses are not in this provider's events: they are recorded
		// with them, so that progress and charts read them alike.
		metrics, err := retry(ctx, s, func() ([]ethos.FineTuneEvent, error) { return mb.Metrics(ctx, id) })
		if err != nil {
			return u, fmt.Errorf("finetune: metrics of %s job %s: %w", stored.Provider, id, err)
		}
		events = append(events, metrics...)
	}
	n, err := s.Store.AddEvents(ctx, id, events)
	if err != nil {
		return u, err
	}
	all, err := s.Store.Events(ctx, id)
	if err != nil {
		return u, err
	}
	if n > 0 && n <= len(all) {
		u.NewEvents = all[len(all)-n:]
	}
	next := s.merge(stored, remote)
	next.Progress = progressOf(remote.Progress, all, next.Hyperparameters)
	u.Job = next
	if beforeSave != nil {
		if err := beforeSave(u); err != nil {
			return u, err
		}
	}
	if err := s.Store.PutJob(ctx, &next); err != nil {
		return u, err
	}
	u.Job = next
	if next.State == ethos.FineTuneCompleted {
		if u.Model, err = s.register(ctx, next); err != nil {
			return u, err
		}
	}
	return u, nil
}

// merge is the stored job updated with the provider's view of it. What
// only ethos knows (the dataset, its hash, the run, the hyperparameters
// asked for) is kept.
func (s *Service) merge(stored, remote ethos.FineTuneJob) ethos.FineTuneJob {
	next := stored
	if remote.Status != "" {
		next.Status = remote.Status
		next.State = remote.State
		if next.State == "" {
			next.State = StateOf(remote.Status)
		}
	}
	if remote.BaseModel != "" {
		next.BaseModel = remote.BaseModel
	}
	if remote.TrainFile != "" {
		next.TrainFile = remote.TrainFile
	}
	if remote.ValidationFile != "" {
		next.ValidationFile = remote.ValidationFile
	}
	next.Hyperparameters = mergeHyperparameters(stored.Hyperparameters, remote.Hyperparameters)
	if out := OutputModelOf(remote); out != "" {
		next.OutputModel = out
	}
	next.Error = remote.Error
	if remote.CostUSD > 0 {
		next.CostUSD = remote.CostUSD
	}
	if len(remote.Payload) > 0 {
		next.Payload = remote.Payload
	}
	switch {
	case remote.FinishedAt != nil:
		next.FinishedAt = remote.FinishedAt
	case next.State.Final() && next.FinishedAt == nil:
		t := s.now()
		next.FinishedAt = &t
	case !next.State.Final():
		next.FinishedAt = nil
	}
	return next
}

// jobNotFound says how to find the jobs ethos knows when id is not one.
func jobNotFound(err error, id string) error {
	if ethos.KindOf(err) != ethos.NotFound {
		return err
	}
	return &ethos.Error{Kind: ethos.NotFound, Op: "finetune",
		Msg: fmt.Sprintf("no fine-tune job %s in the store; \"ethos finetune list\" shows the jobs ethos created", id), Err: err}
}

// register adds a completed job's model to the registry, once.
func (s *Service) register(ctx context.Context, j ethos.FineTuneJob) (*ethos.Model, error) {
	name := ModelName(j)
	if name == "" {
		return nil, ethos.Errorf(ethos.Internal, "finetune: %s job %s completed but its payload names no model (model_output_name, output_name or fine_tuned_model); the registry cannot list it", j.Provider, j.ID)
	}
	if m, err := s.Store.Model(ctx, name); err == nil {
		return &m, nil
	} else if ethos.KindOf(err) != ethos.NotFound {
		return nil, err
	}
	created := s.now()
	if j.FinishedAt != nil {
		created = *j.FinishedAt
	}
	m := ethos.Model{Name: name, Provider: j.Provider, ProviderModel: OutputModelOf(j), BaseModel: j.BaseModel,
		JobID: j.ID, DatasetPath: j.DatasetPath, DatasetSHA256: j.DatasetSHA256,
		Hyperparameters: j.Hyperparameters, CostUSD: j.CostUSD, CreatedAt: created, Parent: s.parentModel(ctx, j), Recipe: j.Recipe}
	if err := s.Store.PutModel(context.WithoutCancel(ctx), &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// parentModel is the registry name of the model a continued job started
// from: the model of the job its checkpoint names (an ID, with or without
// ":step"), or the checkpoint itself when it names a registered model.
// Empty when the job started from its base model or the parent is unknown
// to the store.
func (s *Service) parentModel(ctx context.Context, j ethos.FineTuneJob) string {
	from, _, _ := strings.Cut(j.FromCheckpoint, ":")
	if from == "" {
		return ""
	}
	if parent, err := s.Store.Job(ctx, from); err == nil {
		return ModelName(parent)
	}
	for _, name := range []string{j.FromCheckpoint, j.Provider + "/" + j.FromCheckpoint} {
		if m, err := s.Store.Model(ctx, name); err == nil {
			return m.Name
		}
	}
	return ""
}

// Status is Refresh for showing: when the provider cannot be reached it
// returns the stored job with the reason in Update.Stale instead of an
// error.
func (s *Service) Status(ctx context.Context, id string) (Update, error) {
	u, err := s.Refresh(ctx, id)
	if err != nil && u.Job.ID != "" && retryable(err) {
		u.Stale = err
		return u, nil
	}
	return u, err
}

// List returns the jobs matching f, newest first, each active one
// refreshed (Status); finished jobs come from the store.
func (s *Service) List(ctx context.Context, f ethos.FineTuneFilter) ([]Update, error) {
	if f.Provider != "" {
		// A misspelt provider would otherwise list nothing, as if it had
		// no jobs.
		if err := ethos.CheckFineTuneProvider(f.Provider); err != nil {
			return nil, fmt.Errorf("finetune: list: %w", err)
		}
	}
	jobs, err := s.Store.Jobs(ctx, f)
	if err != nil {
		return nil, err
	}
	updates := make([]Update, len(jobs))
	for i, j := range jobs {
		updates[i] = Update{Job: j, OldStatus: j.Status, OldState: j.State}
		if j.State.Final() {
			continue
		}
		u, err := s.Status(ctx, j.ID)
		if err != nil {
			// A provider that refuses (a missing key, a job it does not
			// know) does not hide the other jobs.
			updates[i].Stale = err
			continue
		}
		updates[i] = u
	}
	return updates, nil
}

// Events refreshes the job (see Status) and returns all its recorded
// events.
func (s *Service) Events(ctx context.Context, id string) (Update, []ethos.FineTuneEvent, error) {
	u, err := s.Status(ctx, id)
	if err != nil {
		return u, nil, err
	}
	events, err := s.Store.Events(ctx, id)
	return u, events, err
}

// Wait refreshes the job every interval (zero: the PollInterval of the
// job's provider) until it is final and returns it. progress, if not nil,
// sees every refresh, and every transient failure (which is retried at
// the next interval, never taken for the job failing).
func (s *Service) Wait(ctx context.Context, id string, interval time.Duration, progress func(Update, error)) (ethos.FineTuneJob, error) {
	if progress == nil {
		progress = func(Update, error) {}
	}
	for {
		u, err := s.Refresh(ctx, id)
		switch {
		case err != nil && (!retryable(err) || ctx.Err() != nil):
			return u.Job, err
		case err != nil:
			progress(u, err)
		default:
			progress(u, nil)
			if u.Job.State.Final() {
				return u.Job, nil
			}
		}
		wait := interval
		if wait == 0 {
			wait = PollInterval(u.Job.Provider)
		}
		if err := s.sleep(ctx, wait); err != nil {
			return u.Job, ethos.Errorf(ethos.Transient, "finetune: waiting for job %s: %w", id, err)
		}
	}
}

// WaitModel waits for the job (see Wait) and returns its registered model,
// or an error saying how the job ended if it did not complete: what ethos
// run calls after Create.
func (s *Service) WaitModel(ctx context.Context, id string, interval time.Duration, progress func(Update, error)) (ethos.Model, error) {
	j, err := s.Wait(ctx, id, interval, progress)
	if err != nil {
		return ethos.Model{}, err
	}
	if err := JobError(j); err != nil {
		return ethos.Model{}, err
	}
	m, err := s.register(ctx, j)
	if err != nil {
		return ethos.Model{}, err
	}
	return *m, nil
}

// Finished is a job followed to its end and the model it registered, if
// it completed: what ethos finetune wait prints as JSON.
type Finished struct {
	Job   ethos.FineTuneJob `json:"job"`
	Model *ethos.Model      `json:"model,omitempty"`
}

// WaitFinished waits for the job (see Wait) and returns it with its
// registered model. A job that failed or was cancelled comes with the
// error that says how it ended (JobError), a completed one whose model is
// not registered with the store's error; an error of Wait leaves the
// result zero.
func (s *Service) WaitFinished(ctx context.Context, id string, interval time.Duration, progress func(Update, error)) (Finished, error) {
	j, err := s.Wait(ctx, id, interval, progress)
	if err != nil {
		return Finished{}, err
	}
	f := Finished{Job: j}
	m, merr := s.Store.Model(ctx, ModelName(j))
	if merr == nil {
		f.Model = &m
	}
	if err := JobError(j); err != nil {
		return f, err
	}
	return f, merr
}

// JobError is nil for a job that completed or is still going, and
// otherwise says how it ended: Invalid for a provider's user_error (the
// data or settings), Internal for any other failure or a cancellation.
func JobError(j ethos.FineTuneJob) error {
	msg := j.Error
	if msg == "" {
		msg = "no message from the provider"
	}
	switch j.State {
	case ethos.FineTuneFailed:
		kind := ethos.Internal
		if j.Status == "user_error" {
			kind = ethos.Invalid
		}
		return &ethos.Error{Kind: kind, Op: "finetune", Msg: fmt.Sprintf("%s job %s failed (status %s): %s", j.Provider, j.ID, j.Status, msg)}
	case ethos.FineTuneCancelled:
		return &ethos.Error{Kind: ethos.Internal, Op: "finetune", Msg: fmt.Sprintf("%s job %s was cancelled", j.Provider, j.ID)}
	}
	return nil
}

// Cancel asks the provider to stop an active job and records its answer.
// A job already finished is an Invalid error that says how it ended.
func (s *Service) Cancel(ctx context.Context, id string) (Update, error) {
	stored, err := s.Store.Job(ctx, id)
	if err != nil {
		return Update{}, jobNotFound(err, id)
	}
	u := Update{Job: stored, OldStatus: stored.Status, OldState: stored.State}
	if stored.State.Final() {
		return u, &ethos.Error{Kind: ethos.Invalid, Op: "finetune: cancel",
			Msg: fmt.Sprintf("job %s has already finished (status %s); only a pending or running job can be cancelled", id, stored.Status)}
	}
	b, err := s.backend(stored.Provider)
	if err != nil {
		return u, err
	}
	remote, err := b.Cancel(ctx, id)
	if err != nil {
		err = fmt.Errorf("finetune: cancel %s job %s: %w", stored.Provider, id, err)
		if ethos.KindOf(err) == ethos.Invalid {
			// It may have finished meanwhile: record how, so the next
			// command shows it.
			if r, rerr := s.Refresh(ctx, id); rerr == nil {
				u = r
			}
		}
		return u, err
	}
	next := s.merge(stored, remote)
	if err := s.Store.PutJob(ctx, &next); err != nil {
		return u, err
	}
	u.Job = next
	return u, nil
}

// marshal is json.Marshal for values that always marshal.
func marshal(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
