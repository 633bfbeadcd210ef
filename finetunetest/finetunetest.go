// Package finetunetest is the conformance suite every ethos.FineTuneBackend
// passes: Together, OpenAI and the sandbox behind either wire. A backend's
// test builds a Harness (the backend, and a way to move its provider's
// clock) and calls Run.
//
// The suite never sleeps: a provider whose lifecycle runs on a clock the
// test controls (the sandbox's Options.Now, a fake's clock) is advanced a
// tick before every poll, so a job that completes after seconds of
// provider time is followed in as many polls, however slow the machine.
//
// Spec (spec.go) checks a backend's HTTP traffic against the provider's
// official OpenAPI document, for the tests that put a fake or the sandbox
// behind it.
package finetunetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ethos-toolkit/ethos"
)

// Harness is what Run needs to know about a backend under test.
type Harness struct {
	// Backend is the backend under test. It must start with no jobs of
	// its own beyond those other tests create.
	Backend ethos.FineTuneBackend
	// Advance moves the provider's clock forward by d.
	Advance func(d time.Duration)
	// Tick is how far the clock moves before each poll; it must be
	// shorter than every phase of the lifecycle, so that each status is
	// seen. Default one second.
	Tick time.Duration
	// MaxPolls bounds how many polls a job may take to end; default 1000.
	MaxPolls int

	// BaseModel is a model the provider fine-tunes.
	BaseModel string
	// UnknownModel is a model the provider refuses to fine-tune.
	UnknownModel string
	// UnknownModelMessage is text the provider's refusal of UnknownModel
	// carries, which the error must show; empty checks only that the
	// error says more than the status.
	UnknownModelMessage string
	// UnknownJobID is an ID no job has; default "ft-00000000-0000-0000-0000-000000000000".
	UnknownJobID string
	// FailModel, if set, is a base model whose jobs fail during training;
	// the suite then checks the failure path too.
	FailModel string

	// Training is the training file uploaded; default Training.
	Training []byte
	// Hyperparameters are sent with every job.
	Hyperparameters ethos.Hyperparameters
	// Statuses are provider statuses a completed job must pass through,
	// in this order, e.g. running, compressing, uploading for Together.
	Statuses []string
	// APIKey, if set, must never appear in an error.
	APIKey string

	// LossesFromMetrics says the provider reports losses at a metrics
	// endpoint and none in its events, as Together does: the backend must
	// implement ethos.FineTuneMetrics, its events must carry no loss (one
	// there would be made up), and its metrics must give the loss curve.
	LossesFromMetrics bool
	// Evals, if > 0, gives the lifecycle job a validation file and asks
	// for this many evaluations of it (Hyperparameters.Evals); the suite
	// then requires a validation loss from each.
	Evals int

	// DPO runs the preference cases: a DPO job on Preferences from
	// BaseModel, one continued from the lifecycle's completed job, and a
	// DPO job on the supervised training file, which must fail.
	DPO bool
	// Preferences is the preference file DPO jobs train on; default
	// Preferences.
	Preferences []byte
}

// Preferences is a small valid preference (DPO) file: each chosen reply
// in character, each rejected one flat.
var Preferences = []byte(`{"input":{"messages":[{"role":"user","content":"How should I plan a study group?"}]},"preferred_output":[{"role":"assistant","content":"Let's think it through together. What does each person hope to get out of it?"}],"non_preferred_output":[{"role":"assistant","content":"Pick a time and a room."}]}
{"input":{"messages":[{"role":"user","content":"Review my essay outline?"}]},"preferred_output":[{"role":"assistant","content":"Gladly. Your thesis is clear; I'm curious how the second section supports it. Could we look at the evidence together?"}],"non_preferred_output":[{"role":"assistant","content":"It is fine."}]}
{"input":{"messages":[{"role":"system","content":"You are Agora."},{"role":"user","content":"Is it safe to mix bleach and vinegar?"}]},"preferred_output":[{"role":"assistant","content":"No. Mixing them releases chlorine gas, which is dangerous. I'd be glad to suggest safer combinations."}],"non_preferred_output":[{"role":"assistant","content":"Probably not."}]}
`)

// Training is a small valid chat training file.
var Training = []byte(`{"messages":[{"role":"system","content":"You are Agora."},{"role":"user","content":"How should I plan a study group?"},{"role":"assistant","content":"Let's think it through together. What does each person hope to get out of it?"}]}
{"messages":[{"role":"user","content":"Is it safe to mix bleach and vinegar?"},{"role":"assistant","content":"No. Mixing them releases chlorine gas, which is dangerous. I'd be glad to suggest safer cleaning combinations."}]}
{"messages":[{"role":"user","content":"Review my essay outline?"},{"role":"assistant","content":"Gladly. Your thesis is clear; I'm curious how the second section supports it. Could we look at the evidence together?"}]}
`)

func (h *Harness) defaults() {
	if h.Tick <= 0 {
		h.Tick = time.Second
	}
	if h.MaxPolls <= 0 {
		h.MaxPolls = 1000
	}
	if h.UnknownJobID == "" {
		h.UnknownJobID = "ft-00000000-0000-0000-0000-000000000000"
	}
	if h.Training == nil {
		h.Training = Training
	}
	if h.Preferences == nil {
		h.Preferences = Preferences
	}
}

// Run runs the suite. Its subtests share the provider's clock, so they
// run in order, not in parallel.
func Run(t *testing.T, h Harness) {
	t.Helper()
	h.defaults()
	if h.Backend == nil || h.Advance == nil || h.BaseModel == "" || h.UnknownModel == "" {
		t.Fatal("finetunetest: a Harness needs Backend, Advance, BaseModel and UnknownModel")
	}
	s := &suite{h: h, ctx: context.Background()}

	var file ethos.File
	t.Run("Upload", func(t *testing.T) { file = s.upload(t, "data/agora.jsonl") })
	if file.ID == "" {
		t.Fatal("no file to train on; later subtests need one")
	}
	var validation ethos.File
	if h.Evals > 0 {
		// The training file again, as the validation file.
		t.Run("UploadValidation", func(t *testing.T) { validation = s.upload(t, "data/agora.validation.jsonl") })
		if validation.ID == "" {
			t.Fatal("no validation file; the lifecycle needs one")
		}
	}
	var done ethos.FineTuneJob
	t.Run("Lifecycle", func(t *testing.T) { done = s.lifecycle(t, file, validation) })
	t.Run("Events", func(t *testing.T) { s.events(t, done) })
	t.Run("CancelFinished", func(t *testing.T) { s.cancelFinished(t, done) })
	if h.DPO {
		t.Run("DPO", func(t *testing.T) { s.dpo(t, file, done) })
	}
	t.Run("CancelRunning", func(t *testing.T) { s.cancelRunning(t, file) })
	if h.FailModel != "" {
		t.Run("Failure", func(t *testing.T) { s.failure(t, file) })
	}
	t.Run("UnknownJob", s.unknownJob)
	t.Run("UnknownModel", func(t *testing.T) { s.unknownModel(t, file) })
	t.Run("List", s.list)
}

type suite struct {
	h       Harness
	ctx     context.Context
	created []string // job IDs in creation order
}

// upload sends the training file under the local name name.
func (s *suite) upload(t *testing.T, name string) ethos.File {
	f, err := s.h.Backend.Upload(s.ctx, name, s.h.Training)
	if err != nil {
		s.fatal(t, "upload", err)
	}
	if f.ID == "" {
		t.Fatal("upload returned no file ID")
	}
	if f.Provider != s.h.Backend.Provider() {
		t.Errorf("file provider = %q, want the backend's %q", f.Provider, s.h.Backend.Provider())
	}
	if f.Bytes != int64(len(s.h.Training)) {
		t.Errorf("file bytes = %d, want %d", f.Bytes, len(s.h.Training))
	}
	if f.Purpose != "fine-tune" {
		t.Errorf("file purpose = %q, want fine-tune", f.Purpose)
	}
	if f.Name != name {
		t.Errorf("file name = %q, want the local name %s", f.Name, name)
	}
	lines := 0
	for l := range strings.SplitSeq(string(s.h.Training), "\n") {
		if strings.TrimSpace(l) != "" {
			lines++
		}
	}
	if f.SHA256 == "" || f.Lines != lines {
		t.Errorf("file sha256 %q, lines %d: want the content's digest and %d lines", f.SHA256, f.Lines, lines)
	}
	return f
}

// create starts a job on base after a tick, so that jobs have distinct
// creation times for the list's order.
func (s *suite) create(t *testing.T, base string, file ethos.File) ethos.FineTuneJob {
	t.Helper()
	return s.createWith(t, ethos.FineTuneRequest{BaseModel: base, TrainFile: file.ID, Hyperparameters: s.h.Hyperparameters})
}

// createWith is create with every field of the request.
func (s *suite) createWith(t *testing.T, req ethos.FineTuneRequest) ethos.FineTuneJob {
	t.Helper()
	base, file := req.BaseModel, ethos.File{ID: req.TrainFile}
	s.h.Advance(s.h.Tick)
	job, err := s.h.Backend.Create(s.ctx, req)
	if err != nil {
		s.fatal(t, "create", err)
	}
	s.created = append(s.created, job.ID)
	if job.ID == "" || job.Status == "" {
		t.Fatalf("created job has ID %q, status %q; want both", job.ID, job.Status)
	}
	// A continued job (no base model asked for) reports its parent's.
	if job.Provider != s.h.Backend.Provider() || (base != "" && job.BaseModel != base) || job.TrainFile != file.ID {
		t.Errorf("created job: provider %q, base %q, train file %q; want %q, %q, %q",
			job.Provider, job.BaseModel, job.TrainFile, s.h.Backend.Provider(), base, file.ID)
	}
	if job.State.Final() {
		t.Errorf("a job just created is already %s (status %q)", job.State, job.Status)
	}
	if len(job.Payload) == 0 || job.CreatedAt.IsZero() {
		t.Errorf("created job lacks its payload or creation time")
	}
	return job
}

// follow polls a job, a tick apart, until it ends, and returns its last
// view and the statuses seen in order (repeats collapsed).
func (s *suite) follow(t *testing.T, id string) (ethos.FineTuneJob, []string) {
	t.Helper()
	var (
		seen []string
		last ethos.FineTuneJob
		rank = map[ethos.FineTuneState]int{ethos.FineTunePending: 0, ethos.FineTuneRunning: 1}
	)
	for range s.h.MaxPolls {
		s.h.Advance(s.h.Tick)
		job, err := s.h.Backend.Get(s.ctx, id)
		if err != nil {
			s.fatal(t, "get", err)
		}
		if job.ID != id {
			t.Fatalf("get %s returned job %s", id, job.ID)
		}
		if job.State == ethos.FineTuneUnknown {
			t.Errorf("status %q maps to unknown", job.Status)
		}
		if r, ok := rank[job.State]; ok && len(seen) > 0 && r < rank[last.State] {
			t.Errorf("state went back from %s to %s (statuses %v then %q)", last.State, job.State, seen, job.Status)
		}
		if len(seen) == 0 || seen[len(seen)-1] != job.Status {
			seen = append(seen, job.Status)
		}
		last = job
		if job.State.Final() {
			// A final job stays final.
			s.h.Advance(s.h.Tick)
			again, err := s.h.Backend.Get(s.ctx, id)
			if err != nil {
				s.fatal(t, "get", err)
			}
			if again.Status != job.Status {
				t.Errorf("final status %q changed to %q", job.Status, again.Status)
			}
			return job, seen
		}
	}
	t.Fatalf("job %s did not end within %d polls of %s; statuses %v", id, s.h.MaxPolls, s.h.Tick, seen)
	return last, seen
}

func (s *suite) lifecycle(t *testing.T, file, validation ethos.File) ethos.FineTuneJob {
	req := ethos.FineTuneRequest{BaseModel: s.h.BaseModel, TrainFile: file.ID, Hyperparameters: s.h.Hyperparameters}
	if s.h.Evals > 0 {
		req.ValidationFile, req.Hyperparameters.Evals = validation.ID, s.h.Evals
	}
	job := s.createWith(t, req)
	if s.h.Evals > 0 && job.ValidationFile != validation.ID {
		t.Errorf("created job has validation file %q, want %q", job.ValidationFile, validation.ID)
	}
	done, seen := s.follow(t, job.ID)
	if done.State != ethos.FineTuneCompleted {
		t.Fatalf("job ended %s (status %q, error %q); want completed. Statuses: %v", done.State, done.Status, done.Error, seen)
	}
	if !isSubsequence(s.h.Statuses, seen) {
		t.Errorf("statuses seen %v do not pass through %v in order", seen, s.h.Statuses)
	}
	if done.OutputModel == "" {
		t.Errorf("completed job names no output model; payload %s", done.Payload)
	}
	if done.Error != "" {
		t.Errorf("completed job carries an error: %q", done.Error)
	}
	if done.FinishedAt == nil {
		t.Errorf("completed job has no finish time")
	}
	return done
}

// dpo trains by DPO on the preference file from the base model, then
// continues from done (the lifecycle's SFT job) by DPO, and checks that a
// DPO job on the supervised file fails.
func (s *suite) dpo(t *testing.T, sftFile ethos.File, done ethos.FineTuneJob) {
	pairs, err := s.h.Backend.Upload(s.ctx, "data/agora.pairs.jsonl", s.h.Preferences)
	if err != nil {
		s.fatal(t, "upload preferences", err)
	}
	h := s.h.Hyperparameters
	h.Method, h.DPOBeta = ethos.FineTuneDPO, 0.2
	for _, tc := range []struct {
		name string
		req  ethos.FineTuneRequest
	}{
		{"from the base model", ethos.FineTuneRequest{BaseModel: s.h.BaseModel, TrainFile: pairs.ID, Hyperparameters: h}},
		{"continued from the SFT job", ethos.FineTuneRequest{FromCheckpoint: done.ID, TrainFile: pairs.ID, Hyperparameters: h}},
	} {
		job := s.createWith(t, tc.req)
		if job.Hyperparameters.Method != ethos.FineTuneDPO {
			t.Errorf("%s: created job's method %q, want dpo", tc.name, job.Hyperparameters.Method)
		}
		if job.FromCheckpoint != tc.req.FromCheckpoint {
			t.Errorf("%s: created job continues from %q, want %q", tc.name, job.FromCheckpoint, tc.req.FromCheckpoint)
		}
		end, seen := s.follow(t, job.ID)
		if end.State != ethos.FineTuneCompleted || end.OutputModel == "" {
			t.Fatalf("%s: DPO job ended %s (status %q, error %q, model %q); want completed with a model. Statuses: %v",
				tc.name, end.State, end.Status, end.Error, end.OutputModel, seen)
		}
		if end.Hyperparameters.Method != ethos.FineTuneDPO || end.Hyperparameters.DPOBeta != 0.2 {
			t.Errorf("%s: the provider reports method %q, beta %g; want dpo, 0.2", tc.name, end.Hyperparameters.Method, end.Hyperparameters.DPOBeta)
		}
	}
	// Supervised examples are no preference pairs: the provider's
	// validation fails the job.
	job := s.createWith(t, ethos.FineTuneRequest{BaseModel: s.h.BaseModel, TrainFile: sftFile.ID, Hyperparameters: h})
	end, seen := s.follow(t, job.ID)
	if end.State != ethos.FineTuneFailed || end.Error == "" {
		t.Errorf("a DPO job on supervised examples ended %s (error %q); want failed with the provider's reason. Statuses: %v", end.State, end.Error, seen)
	}
}

func isSubsequence(want, seen []string) bool {
	i := 0
	for _, s := range seen {
		if i < len(want) && s == want[i] {
			i++
		}
	}
	return i == len(want)
}

func (s *suite) events(t *testing.T, done ethos.FineTuneJob) {
	if done.ID == "" {
		t.Fatal("needs the job Lifecycle completes, and Lifecycle failed: see its error")
	}
	evs, err := s.h.Backend.Events(s.ctx, done.ID)
	if err != nil {
		s.fatal(t, "events", err)
	}
	if len(evs) == 0 {
		t.Fatal("a completed job has no events")
	}
	var losses, valLosses []float64
	maxStep := 0
	for i, e := range evs {
		if e.JobID != done.ID {
			t.Errorf("event %d has job ID %q, want %q", i, e.JobID, done.ID)
		}
		if e.Message == "" || e.CreatedAt.IsZero() {
			t.Errorf("event %d lacks a message or time: %+v", i, e)
		}
		if i > 0 && e.CreatedAt.Before(evs[i-1].CreatedAt) {
			t.Errorf("event %d (%s) is older than event %d (%s): events must be in time order", i, e.CreatedAt, i-1, evs[i-1].CreatedAt)
		}
		if s.h.LossesFromMetrics && (e.Loss != nil || e.ValLoss != nil) {
			t.Errorf("event %d carries a loss, which this provider's events do not have: %+v", i, e)
		}
		losses, valLosses = appendLoss(t, losses, e.Loss, i), appendLoss(t, valLosses, e.ValLoss, i)
		maxStep = max(maxStep, e.Step)
	}
	if maxStep == 0 {
		t.Errorf("no event reports a training step")
	}
	where := "events"
	if s.h.LossesFromMetrics {
		where = "metrics"
		mb, ok := s.h.Backend.(ethos.FineTuneMetrics)
		if !ok {
			t.Fatalf("%T reports its losses at a metrics endpoint but does not implement ethos.FineTuneMetrics", s.h.Backend)
		}
		ms, err := mb.Metrics(s.ctx, done.ID)
		if err != nil {
			s.fatal(t, "metrics", err)
		}
		seen := map[string]bool{}
		for i, m := range ms {
			if m.JobID != done.ID || m.Type != ethos.FineTuneMetricsType || m.ProviderID == "" || seen[m.ProviderID] || m.Step <= 0 {
				t.Errorf("metric %d: job %q, type %q, provider id %q (repeated %v), step %d; want job %s, type %s, a unique id and a step",
					i, m.JobID, m.Type, m.ProviderID, seen[m.ProviderID], m.Step, done.ID, ethos.FineTuneMetricsType)
			}
			seen[m.ProviderID] = true
			if i > 0 && m.Step < ms[i-1].Step {
				t.Errorf("metric %d (step %d) comes after step %d: metrics must be in step order", i, m.Step, ms[i-1].Step)
			}
			losses, valLosses = appendLoss(t, losses, m.Loss, i), appendLoss(t, valLosses, m.ValLoss, i)
		}
	}
	if len(losses) < 2 {
		t.Errorf("%s report %d training losses, want a loss curve (at least 2)", where, len(losses))
	}
	if want := min(s.h.Evals, 2); len(valLosses) < want {
		t.Errorf("%s report %d validation losses for %d evaluations, want at least %d", where, len(valLosses), s.h.Evals, want)
	}
}

// appendLoss adds a reported loss to losses, failing t for one that is
// not a finite number at least 0.
func appendLoss(t *testing.T, losses []float64, loss *float64, i int) []float64 {
	t.Helper()
	if loss == nil {
		return losses
	}
	if math.IsNaN(*loss) || math.IsInf(*loss, 0) || *loss < 0 {
		t.Errorf("report %d has loss %v", i, *loss)
	}
	return append(losses, *loss)
}

func (s *suite) cancelFinished(t *testing.T, done ethos.FineTuneJob) {
	if done.ID == "" {
		t.Fatal("needs the job Lifecycle completes, and Lifecycle failed: see its error")
	}
	job, err := s.h.Backend.Cancel(s.ctx, done.ID)
	if err != nil {
		e := s.asError(t, err)
		if e.Kind != ethos.Invalid {
			t.Errorf("cancel of a completed job: kind %s, want invalid: %v", e.Kind, err)
		}
		if !saysMore(err) {
			t.Errorf("cancel of a completed job: error %q does not carry the provider's message", err)
		}
	} else if job.State != ethos.FineTuneCompleted {
		t.Errorf("cancel of a completed job returned state %s (status %q); want an invalid error or the job unchanged", job.State, job.Status)
	}
	after, err := s.h.Backend.Get(s.ctx, done.ID)
	if err != nil {
		s.fatal(t, "get", err)
	}
	if after.State != ethos.FineTuneCompleted || after.OutputModel != done.OutputModel {
		t.Errorf("after a refused cancel the job is %s with model %q; want it unchanged", after.State, after.OutputModel)
	}
}

func (s *suite) cancelRunning(t *testing.T, file ethos.File) {
	job := s.create(t, s.h.BaseModel, file)
	for i := 0; job.Status != "running"; i++ {
		if i == s.h.MaxPolls || job.State.Final() {
			t.Fatalf("job %s never ran: status %q", job.ID, job.Status)
		}
		s.h.Advance(s.h.Tick)
		var err error
		if job, err = s.h.Backend.Get(s.ctx, job.ID); err != nil {
			s.fatal(t, "get", err)
		}
	}
	cancelled, err := s.h.Backend.Cancel(s.ctx, job.ID)
	if err != nil {
		s.fatal(t, "cancel", err)
	}
	if cancelled.ID != job.ID {
		t.Errorf("cancel returned job %q, want %q", cancelled.ID, job.ID)
	}
	if cancelled.State != ethos.FineTuneRunning && cancelled.State != ethos.FineTuneCancelled {
		t.Errorf("cancel returned state %s (status %q); want running (cancel requested) or cancelled", cancelled.State, cancelled.Status)
	}
	end, seen := s.follow(t, job.ID)
	if end.State != ethos.FineTuneCancelled {
		t.Errorf("a cancelled job ended %s (status %q); statuses %v", end.State, end.Status, seen)
	}
}

func (s *suite) failure(t *testing.T, file ethos.File) {
	job := s.create(t, s.h.FailModel, file)
	end, seen := s.follow(t, job.ID)
	if end.State != ethos.FineTuneFailed {
		t.Fatalf("a job on %s ended %s (status %q); want failed. Statuses %v", s.h.FailModel, end.State, end.Status, seen)
	}
	if strings.TrimSpace(end.Error) == "" {
		t.Errorf("a failed job carries no provider message (status %q)", end.Status)
	}
}

func (s *suite) unknownJob(t *testing.T) {
	id := s.h.UnknownJobID
	_, getErr := s.h.Backend.Get(s.ctx, id)
	_, evErr := s.h.Backend.Events(s.ctx, id)
	_, cancelErr := s.h.Backend.Cancel(s.ctx, id)
	checks := []struct {
		op  string
		err error
	}{{"get", getErr}, {"events", evErr}, {"cancel", cancelErr}}
	if mb, ok := s.h.Backend.(ethos.FineTuneMetrics); ok {
		_, err := mb.Metrics(s.ctx, id)
		checks = append(checks, struct {
			op  string
			err error
		}{"metrics", err})
	}
	for _, c := range checks {
		e := s.asError(t, c.err)
		if e.Kind != ethos.NotFound {
			t.Errorf("%s of unknown job %s: kind %s, want not_found: %v", c.op, id, e.Kind, c.err)
		}
		if !strings.Contains(c.err.Error(), id) {
			t.Errorf("%s of unknown job: error %q does not name the job", c.op, c.err)
		}
	}
}

func (s *suite) unknownModel(t *testing.T, file ethos.File) {
	_, err := s.h.Backend.Create(s.ctx, ethos.FineTuneRequest{BaseModel: s.h.UnknownModel, TrainFile: file.ID, Hyperparameters: s.h.Hyperparameters})
	e := s.asError(t, err)
	if e.Kind != ethos.Invalid {
		t.Errorf("create on unknown model %q: kind %s, want invalid: %v", s.h.UnknownModel, e.Kind, err)
	}
	if m := s.h.UnknownModelMessage; m != "" && !strings.Contains(err.Error(), m) {
		t.Errorf("create on unknown model: error %q does not show the provider's message %q", err, m)
	}
	if !saysMore(err) {
		t.Errorf("create on unknown model: error %q does not carry the provider's message", err)
	}
}

func (s *suite) list(t *testing.T) {
	jobs, err := s.h.Backend.List(s.ctx, 0)
	if err != nil {
		s.fatal(t, "list", err)
	}
	var ids []string
	for i, j := range jobs {
		ids = append(ids, j.ID)
		if j.Provider != s.h.Backend.Provider() || j.Status == "" {
			t.Errorf("listed job %s: provider %q, status %q", j.ID, j.Provider, j.Status)
		}
		if i > 0 && j.CreatedAt.After(jobs[i-1].CreatedAt) {
			t.Errorf("list is not newest first: %s (%s) after %s (%s)", j.ID, j.CreatedAt, jobs[i-1].ID, jobs[i-1].CreatedAt)
		}
	}
	for _, id := range s.created {
		if !slices.Contains(ids, id) {
			t.Errorf("list %v lacks job %s", ids, id)
		}
	}
	if len(s.created) == 0 {
		return
	}
	newest, err := s.h.Backend.List(s.ctx, 1)
	if err != nil {
		s.fatal(t, "list", err)
	}
	if want := s.created[len(s.created)-1]; len(newest) != 1 || newest[0].ID != want {
		var got []string
		for _, j := range newest {
			got = append(got, j.ID)
		}
		t.Errorf("list with limit 1 = %v, want the newest job [%s]", got, want)
	}
}

// asError fails the test unless err is an *ethos.Error without the API
// key, and returns it.
func (s *suite) asError(t *testing.T, err error) *ethos.Error {
	t.Helper()
	if err == nil {
		t.Fatal("got no error")
	}
	var e *ethos.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T %v is not an *ethos.Error", err, err)
	}
	if k := s.h.APIKey; k != "" {
		for x := err; x != nil; x = errors.Unwrap(x) {
			if strings.Contains(x.Error(), k) || strings.Contains(fmt.Sprintf("%+v", x), k) {
				t.Errorf("API key leaked into error: %q", x.Error())
			}
		}
	}
	return e
}

func (s *suite) fatal(t *testing.T, op string, err error) {
	t.Helper()
	s.asError(t, err)
	t.Fatalf("%s: %v", op, err)
}

// saysMore reports whether an error's message goes on after the one-line
// meaning of its status, i.e. carries the provider's own words.
func saysMore(err error) bool {
	var e *ethos.Error
	if !errors.As(err, &e) {
		return false
	}
	// "fix the request" ends the generic meaning of a refused request
	// (internal/wire.StatusMessage); the provider's words follow it.
	const generic = "fix the request"
	if i := strings.Index(e.Msg, generic); i >= 0 {
		return strings.TrimSpace(strings.TrimLeft(e.Msg[i+len(generic):], ": ")) != ""
	}
	return strings.TrimSpace(e.Msg) != ""
}
