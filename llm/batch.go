package llm

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ethos-toolkit/ethos"
)

// Mode says how a call is sent: online (answered within the call) or by
// batch (queued, submitted with others to the provider's batch API, and
// answered on a later call once the batch has ended).
type Mode string

// Call modes.
const (
	ModeOnline Mode = "online"
	ModeBatch  Mode = "batch"
)

type modeKey struct{}

// WithMode marks the calls made with ctx to be sent in mode m.
func WithMode(ctx context.Context, m Mode) context.Context {
	return context.WithValue(ctx, modeKey{}, m)
}

// ModeOf is the mode WithMode set on ctx; online when none was.
func ModeOf(ctx context.Context) Mode {
	if m, ok := ctx.Value(modeKey{}).(Mode); ok {
		return m
	}
	return ModeOnline
}

// BatchDefaults for Batcher's zero fields.
const (
	DefaultBatchWindow    = 30 * time.Second
	DefaultBatchPoll      = 30 * time.Second
	DefaultMaxSubmissions = 3
	// maxWaitHint bounds how long a caller is told to wait before asking
	// again; a batch may take hours, and a caller that asks every few
	// minutes costs one indexed read.
	maxWaitHint = 5 * time.Minute
)

// Batcher sends the calls marked ModeBatch to their provider's batch API
// and passes every other call to Next. It sits below the ledger and the
// budget (a batch answer is recorded and priced like any other, at the
// batch price) and above the limiter (batches have limits of their own).
//
// A batch call does not wait for its answer. The first call records the
// request as queued in the store and returns a Pending error that says
// when to ask again; the job layer snoozes the task, costing no attempt.
// Meanwhile Run gathers queued requests into batches, records each batch
// before submitting it, follows it, and stores every result by custom ID
// (the request key). A later call for the same request finds its answer:
// a success is returned (with Response.Batch set), an error is returned
// once as the typed error the provider's batch reported, and a request
// whose batch expired or was cancelled is sent again in the next batch,
// and online after MaxSubmissions batches. Every step is a row in the
// store, so a process killed at any moment loses nothing: the next one
// finds the queued requests, re-attaches to the submitted batches, and
// never submits a request twice while a batch holds it.
type Batcher struct {
	Store ethos.BatchStore
	// API returns the batch API of a provider; ok is false when it has
	// none, and its calls go online.
	API  func(provider string) (api ethos.BatchAPI, ok bool, err error)
	Next ethos.Completer
	// Window is how long a queued request may wait for others before a
	// batch is made of what is queued; a full batch goes at once.
	Window time.Duration
	// Poll is how often a batch in flight is asked for its state.
	Poll time.Duration
	// MaxSubmissions is how many batches a request may be sent in (its
	// batches expiring or being cancelled) before it is sent online.
	MaxSubmissions int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Log receives a line for every batch submitted, adopted, ended or
	// failed; nil discards them.
	Log func(format string, args ...any)

	mu       sync.Mutex
	polled   map[int64]time.Time // when each batch in flight was last asked
	inFlight map[int64]bool      // batches this process is submitting now
}

func (b *Batcher) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

func (b *Batcher) window() time.Duration {
	if b.Window > 0 {
		return b.Window
	}
	return DefaultBatchWindow
}

func (b *Batcher) poll() time.Duration {
	if b.Poll > 0 {
		return b.Poll
	}
	return DefaultBatchPoll
}

func (b *Batcher) maxSubmissions() int {
	if b.MaxSubmissions > 0 {
		return b.MaxSubmissions
	}
	return DefaultMaxSubmissions
}

func (b *Batcher) logf(format string, args ...any) {
	if b.Log != nil {
		b.Log(format, args...)
	}
}

// Complete sends req by batch when ctx says so and its provider has a
// batch API, and online otherwise.
func (b *Batcher) Complete(ctx context.Context, req ethos.Request) (ethos.Response, error) {
	if ModeOf(ctx) != ModeBatch {
		return b.Next.Complete(ctx, req)
	}
	ref, err := modelRef(ctx, req)
	if err != nil {
		return ethos.Response{}, err
	}
	if _, ok, err := b.API(ref.Provider); err != nil {
		return ethos.Response{}, err
	} else if !ok {
		return b.Next.Complete(ctx, req)
	}
	key := Key(req)
	it, found, err := b.Store.BatchItem(ctx, key)
	if err != nil {
		return ethos.Response{}, err
	}
	if !found {
		if attemptOf(req) > 1 {
			// A task's later attempt (after a batch answered it with an
			// error) is what the run now waits on: online is faster.
			return b.Next.Complete(ctx, req)
		}
		if it, err = b.Store.QueueBatchItem(ctx, ethos.BatchItem{Key: key, Provider: ref.Provider, Model: req.Model,
			RunID: req.Metadata["run"], Stage: req.Metadata["stage"], Request: req}); err != nil {
			return ethos.Response{}, err
		}
	}
	if it.State != ethos.BatchItemAnswered {
		return ethos.Response{}, b.pending(it)
	}
	switch it.Outcome {
	case ethos.BatchSucceeded:
		if it.Response == nil {
			return ethos.Response{}, ethos.Errorf(ethos.Internal, "batch: request %s answered without a response", key)
		}
		return *it.Response, nil
	case ethos.BatchExpired, ethos.BatchCancelled:
		// Sent MaxSubmissions times without being processed: online now.
		if err := b.Store.ForgetBatchItem(context.WithoutCancel(ctx), key); err != nil {
			return ethos.Response{}, err
		}
		return b.Next.Complete(ctx, req)
	default:
		// The error is returned once: forgotten, a retry queues it anew
		// (or goes online, as a later attempt).
		if err := b.Store.ForgetBatchItem(context.WithoutCancel(ctx), key); err != nil {
			return ethos.Response{}, err
		}
		kind := it.ErrorKind
		if kind == "" {
			kind = ethos.Transient
		}
		return ethos.Response{}, &ethos.Error{Kind: kind, Op: "batch " + fmt.Sprint(it.BatchID), Msg: it.Error}
	}
}

// pending is the error that tells the caller to ask again later: after a
// quarter of the time it has waited so far, between a second and five
// minutes, so a short batch is noticed soon and a long one costs few reads.
func (b *Batcher) pending(it ethos.BatchItem) error {
	wait := min(max(b.now().Sub(it.QueuedAt)/4, time.Second), maxWaitHint)
	where := "queued for the next batch"
	if it.State == ethos.BatchItemSubmitted {
		where = fmt.Sprintf("in batch %d", it.BatchID)
	}
	return &ethos.Error{Kind: ethos.Pending, Op: "batch", Msg: where, RetryAfter: wait}
}

// Run makes, submits and follows batches until ctx ends, checking every
// tick. It returns nil when ctx ends.
func (b *Batcher) Run(ctx context.Context, tick time.Duration) error {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		if err := b.Step(ctx); err != nil && ctx.Err() == nil {
			b.logf("batch: %v", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Step does one round: it finds again the batches a killed process left
// unconfirmed, makes and submits batches of what is queued, and collects
// the results of the batches that have ended.
func (b *Batcher) Step(ctx context.Context) error {
	var errs []error
	if err := b.recover(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := b.flush(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := b.follow(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// flush makes batches of every model whose queue is full or has waited a
// window, and submits them.
func (b *Batcher) flush(ctx context.Context) error {
	queued, err := b.Store.QueuedBatchModels(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, q := range queued {
		api, ok, err := b.API(q.Provider)
		if err != nil || !ok {
			errs = append(errs, fmt.Errorf("provider %s has queued batch requests but no batch API: %v", q.Provider, err))
			continue
		}
		limits := api.BatchLimits()
		waited := b.now().Sub(q.Oldest) >= b.window()
		count, bytes := q.Count, q.Bytes
		// Full batches go at once; what is left waits for more until the
		// oldest has waited a window.
		for count > 0 && (waited || count >= limits.MaxRequests || bytes >= limits.MaxBytes) {
			batch, items, err := b.Store.CreateBatch(ctx, q.Model, limits.MaxRequests, limits.MaxBytes)
			if err != nil {
				errs = append(errs, err)
				break
			}
			if len(items) == 0 {
				break
			}
			count, bytes = count-len(items), bytes-batch.Bytes
			if err := b.submit(ctx, api, batch, items); err != nil {
				errs = append(errs, err)
				break
			}
		}
	}
	return errors.Join(errs...)
}

// submit sends a recorded batch to the provider and records what it says.
// A refusal that another try cannot fix answers every request with it; any
// other failure leaves the batch preparing, for recover to look for it at
// the provider (the request may have created it) before sending it again.
func (b *Batcher) submit(ctx context.Context, api ethos.BatchAPI, batch ethos.Batch, items []ethos.BatchItem) error {
	b.mark(batch.ID, true)
	defer b.mark(batch.ID, false)
	sub := ethos.BatchSubmission{Label: batch.Label, Requests: make([]ethos.BatchRequest, len(items))}
	for i, it := range items {
		req := it.Request
		if ref, err := ethos.ParseModelRef(req.Model); err == nil {
			req.Model = ref.Model
		}
		req.Stream = false
		sub.Requests[i] = ethos.BatchRequest{CustomID: it.Key, Request: req}
	}
	info, err := api.SubmitBatch(ctx, sub)
	if err != nil {
		if retryable(err) {
			return fmt.Errorf("submitting batch %d (%d requests) to %s, to be tried again: %w", batch.ID, len(items), batch.Provider, err)
		}
		return b.refuse(ctx, batch, items, err)
	}
	b.adopt(&batch, info)
	b.logf("batch %d: submitted %d requests to %s as %s", batch.ID, batch.Requests, batch.Provider, batch.ProviderID)
	return b.Store.UpdateBatch(context.WithoutCancel(ctx), batch)
}

// retryable reports whether a failed batch request may succeed later.
func retryable(err error) bool {
	switch ethos.OutcomeOf(ethos.KindOf(err)) {
	case ethos.Retry, ethos.Snooze:
		return true
	}
	return false
}

// refuse ends a batch the provider will not take and answers each of its
// requests with the reason, so the run sees the error its calls would have
// met online.
func (b *Batcher) refuse(ctx context.Context, batch ethos.Batch, items []ethos.BatchItem, cause error) error {
	ctx = context.WithoutCancel(ctx)
	batch.State, batch.Error, batch.EndedAt = ethos.BatchFailed, cause.Error(), b.now()
	results := make([]ethos.BatchItem, len(items))
	for i, it := range items {
		results[i] = ethos.BatchItem{Key: it.Key, Outcome: ethos.BatchErrored, ErrorKind: ethos.KindOf(cause), Error: cause.Error()}
	}
	if err := b.Store.AnswerBatchItems(ctx, batch.ID, results, b.maxSubmissions()); err != nil {
		return err
	}
	b.logf("batch %d: refused by %s: %v", batch.ID, batch.Provider, cause)
	return b.Store.UpdateBatch(ctx, batch)
}

func (b *Batcher) mark(id int64, on bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.inFlight == nil {
		b.inFlight = map[int64]bool{}
	}
	if on {
		b.inFlight[id] = true
	} else {
		delete(b.inFlight, id)
	}
}

func (b *Batcher) submitting(id int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.inFlight[id]
}

// adopt copies what the provider says of a batch into ethos's record.
func (b *Batcher) adopt(batch *ethos.Batch, info ethos.BatchInfo) {
	if batch.ProviderID == "" {
		batch.ProviderID = info.ID
		batch.SubmittedAt = b.now()
	}
	batch.State, batch.Status, batch.Counts, batch.Error = info.State, info.ProviderStatus, info.Counts, info.Error
	if info.State.Done() && batch.EndedAt.IsZero() {
		batch.EndedAt = info.EndedAt
		if batch.EndedAt.IsZero() {
			batch.EndedAt = b.now()
		}
	}
}

// recover handles the batches recorded but never confirmed: a process was
// killed between recording one and learning its ID, or the provider did
// not answer. Each is looked for at the provider — by its label where the
// provider keeps one, else by its size among the batches created since it
// was recorded and not known to the store — and adopted when found;
// otherwise its requests are submitted again.
func (b *Batcher) recover(ctx context.Context) error {
	batches, err := b.Store.Batches(ctx, ethos.BatchFilter{Active: true})
	if err != nil {
		return err
	}
	var errs []error
	for _, batch := range batches {
		if batch.State != ethos.BatchPreparing || b.submitting(batch.ID) {
			continue
		}
		api, ok, err := b.API(batch.Provider)
		if err != nil || !ok {
			errs = append(errs, fmt.Errorf("batch %d: provider %s has no batch API: %v", batch.ID, batch.Provider, err))
			continue
		}
		found, err := b.find(ctx, api, batch)
		if err != nil {
			errs = append(errs, fmt.Errorf("batch %d: looking for it at %s: %w", batch.ID, batch.Provider, err))
			continue
		}
		if found.ID != "" {
			b.adopt(&batch, found)
			b.logf("batch %d: found at %s as %s; not submitted again", batch.ID, batch.Provider, batch.ProviderID)
			if err := b.Store.UpdateBatch(ctx, batch); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		// Never created: its requests go back to the queue, to be sent in
		// the next batch, and this record ends.
		if err := b.Store.RequeueBatch(ctx, batch.ID); err != nil {
			errs = append(errs, err)
			continue
		}
		batch.State, batch.Error, batch.EndedAt = ethos.BatchFailed, "never created at the provider; its requests were queued again", b.now()
		if err := b.Store.UpdateBatch(ctx, batch); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// find looks for an unconfirmed batch among the provider's batches.
func (b *Batcher) find(ctx context.Context, api ethos.BatchAPI, batch ethos.Batch) (ethos.BatchInfo, error) {
	// A minute of slack for clocks that disagree.
	listed, err := api.ListBatches(ctx, batch.CreatedAt.Add(-time.Minute))
	if err != nil {
		return ethos.BatchInfo{}, err
	}
	known, err := b.Store.Batches(ctx, ethos.BatchFilter{Provider: batch.Provider})
	if err != nil {
		return ethos.BatchInfo{}, err
	}
	taken := map[string]bool{}
	for _, k := range known {
		if k.ProviderID != "" {
			taken[k.ProviderID] = true
		}
	}
	var bySize []ethos.BatchInfo
	for _, info := range listed {
		if taken[info.ID] {
			continue
		}
		if info.Label == batch.Label {
			return info, nil
		}
		if info.Label == "" && info.Counts.Total == batch.Requests {
			bySize = append(bySize, info)
		}
	}
	if len(bySize) == 0 {
		return ethos.BatchInfo{}, nil
	}
	// Listed newest first: the oldest unclaimed batch of the same size is
	// the one this record was made for (records are recovered oldest
	// first, newest-first listing reversed).
	return bySize[len(bySize)-1], nil
}

// follow asks each batch in flight for its state, once per Poll, and
// collects the results of those that have ended.
func (b *Batcher) follow(ctx context.Context) error {
	batches, err := b.Store.Batches(ctx, ethos.BatchFilter{Active: true})
	if err != nil {
		return err
	}
	var errs []error
	now := b.now()
	for _, batch := range batches {
		if batch.ProviderID == "" {
			continue
		}
		b.mu.Lock()
		last, seen := b.polled[batch.ID]
		if b.polled == nil {
			b.polled = map[int64]time.Time{}
		}
		due := !seen || now.Sub(last) >= b.poll()
		if due {
			b.polled[batch.ID] = now
		}
		b.mu.Unlock()
		if !due {
			continue
		}
		if err := b.check(ctx, batch); err != nil {
			errs = append(errs, fmt.Errorf("batch %d (%s at %s): %w", batch.ID, batch.ProviderID, batch.Provider, err))
		}
	}
	return errors.Join(errs...)
}

// check updates one batch and collects its results once it has ended.
func (b *Batcher) check(ctx context.Context, batch ethos.Batch) error {
	api, ok, err := b.API(batch.Provider)
	if err != nil || !ok {
		return fmt.Errorf("provider %s has no batch API: %v", batch.Provider, err)
	}
	info, err := api.GetBatch(ctx, batch.ProviderID)
	if ethos.KindOf(err) == ethos.NotFound {
		// The provider no longer knows it (a sandbox restarted without its
		// directory, a deleted batch): its unanswered requests are queued
		// again rather than waited on for ever.
		b.logf("batch %d: %s no longer knows %s; its unanswered requests are queued again", batch.ID, batch.Provider, batch.ProviderID)
		if err := b.Store.RequeueBatch(ctx, batch.ID); err != nil {
			return err
		}
		batch.State, batch.Error, batch.EndedAt = ethos.BatchFailed, "unknown to the provider: "+err.Error(), b.now()
		return b.Store.UpdateBatch(ctx, batch)
	}
	if err != nil {
		return err
	}
	b.adopt(&batch, info)
	switch batch.State {
	case ethos.BatchEnded:
		if err := b.collect(ctx, api, batch); err != nil {
			return err
		}
		batch.CollectedAt = b.now()
		b.logf("batch %d: ended at %s — %d succeeded, %d errored, %d expired, %d cancelled", batch.ID, batch.Provider,
			batch.Counts.Succeeded, batch.Counts.Errored, batch.Counts.Expired, batch.Counts.Cancelled)
	case ethos.BatchFailed:
		// Refused as a whole: every request gets the reason.
		items, err := b.Store.BatchItems(ctx, batch.ID)
		if err != nil {
			return err
		}
		return b.refuse(ctx, batch, items, ethos.Errorf(ethos.Invalid, "%s refused batch %s: %s", batch.Provider, batch.ProviderID, batch.Error))
	}
	b.mu.Lock()
	if batch.State.Done() {
		delete(b.polled, batch.ID)
	}
	b.mu.Unlock()
	return b.Store.UpdateBatch(context.WithoutCancel(ctx), batch)
}

// collect stores every result of an ended batch; a request the provider
// reported nothing for is queued again, and said so.
func (b *Batcher) collect(ctx context.Context, api ethos.BatchAPI, batch ethos.Batch) error {
	var results []ethos.BatchItem
	const chunk = 1000
	flush := func() error {
		if len(results) == 0 {
			return nil
		}
		err := b.Store.AnswerBatchItems(ctx, batch.ID, results, b.maxSubmissions())
		results = results[:0]
		return err
	}
	err := api.BatchResults(ctx, batch.ProviderID, func(r ethos.BatchResult) error {
		it := ethos.BatchItem{Key: r.CustomID, Outcome: r.Outcome}
		switch r.Outcome {
		case ethos.BatchSucceeded:
			if r.Response == nil {
				it.Outcome, it.ErrorKind, it.Error = ethos.BatchErrored, ethos.Internal, "succeeded without a message"
				break
			}
			resp := *r.Response
			resp.Batch = batch.ProviderID
			it.Response = &resp
		case ethos.BatchErrored:
			it.ErrorKind, it.Error = ethos.Transient, "errored without a reason"
			if r.Err != nil {
				it.ErrorKind, it.Error = r.Err.Kind, r.Err.Error()
			}
		}
		results = append(results, it)
		if len(results) >= chunk {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := flush(); err != nil {
		return err
	}
	return b.Store.RequeueBatch(ctx, batch.ID)
}
