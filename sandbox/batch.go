package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"time"
)

// Batches. The sandbox serves the batch APIs of Anthropic (Message
// Batches, batch_anthropic.go), OpenAI and Together (POST /v1/batches over
// an uploaded JSONL file, batch_openai.go). Every request of a batch is
// answered when the batch is created, through the pipeline online calls
// use (compose and the prompt cache), so a batched request gets the text,
// usage and cache accounting its online call would get; the clock only
// decides which answers are revealed. Like a fine-tuning job's, a batch's
// state is computed from its creation time and the server clock, so every
// process reading it agrees:
//
//	validating (OpenAI, Together)   the first tenth of BatchOptions.ProcessingTime
//	in progress                     requests finish one by one, evenly spaced, until nine tenths
//	finalizing (OpenAI)             the last tenth; then the batch has ended
//
// A cancel stops every request not yet finished (canceled); OpenAI and
// Anthropic pass through cancelling/canceling for a tenth of the
// processing time, Together is CANCELLED at once. Requests drawn to expire
// (BatchOptions.ExpireRate) are never processed: their batch ends expired
// when its processing time is up, keeping the results it has. Requests
// drawn to fail (BatchOptions.ErrorRate) are answered with a 500 in the
// provider's error shape. The draws hash Options.Seed, the batch id and
// the custom id, so a request retried in a new batch draws afresh.
//
// Batches persist as JSON in FineTuneOptions.Dir (batches/<id>.json) when
// it is set, beside the files they read and write, else in memory.

// BatchOptions configures the batch endpoints.
type BatchOptions struct {
	// ProcessingTime is how long a batch takes from creation to its end;
	// zero takes the default, 2s, a negative value ends batches at once.
	ProcessingTime time.Duration
	// ErrorRate is the share of a batch's requests answered with a server
	// error instead of their answer.
	ErrorRate float64
	// ExpireRate is the share of a batch's requests left unprocessed, so
	// that the batch expires.
	ExpireRate float64
}

const defaultBatchProcessing = 2 * time.Second

// The provider limits of a batch.
const (
	anthropicBatchMaxRequests = 100_000
	anthropicBatchMaxBytes    = 256 << 20
	openaiBatchMaxLines       = 50_000
	openaiBatchMaxBytes       = 200 << 20
	togetherBatchMaxLines     = 50_000
	togetherBatchMaxBytes     = 100 << 20
)

// batchWindow is the completion window every provider has: a batch not
// done within it expires.
const batchWindow = 24 * time.Hour

const wireAnthropic = "anthropic"

// batchItem is one request of a batch with the answer it gets once
// processed.
type batchItem struct {
	CustomID string `json:"custom_id"`
	// Status is 200 for an answer, else the HTTP status of the error the
	// online endpoint would have answered with.
	Status    int             `json:"status"`
	RequestID string          `json:"request_id"`
	Body      json.RawMessage `json:"body"` // the wire's answer or error body
	TokensIn  int             `json:"tokens_in,omitempty"`
	TokensOut int             `json:"tokens_out,omitempty"`
	Cached    int             `json:"cached,omitempty"` // input tokens read from the prompt cache
	Expires   bool            `json:"expires,omitempty"`
}

// batchLineError is a problem found in an input file, which fails its
// batch at validation.
type batchLineError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Line    int    `json:"line,omitempty"` // 1-based; 0 for the whole file
}

// batchRecord is a batch as the sandbox keeps it; its state at any
// instant is derived by view.
type batchRecord struct {
	ID               string            `json:"id"`
	Wire             string            `json:"wire"`
	Endpoint         string            `json:"endpoint,omitempty"`
	InputFileID      string            `json:"input_file_id,omitempty"`
	InputBytes       int64             `json:"input_bytes,omitempty"`
	CompletionWindow string            `json:"completion_window,omitempty"`
	Model            string            `json:"model,omitempty"`
	Metadata         map[string]string `json:"metadata,omitempty"`
	Items            []batchItem       `json:"items"`
	Invalid          []batchLineError  `json:"invalid,omitempty"`
	Processing       time.Duration     `json:"processing"`
	CreatedAt        time.Time         `json:"created_at"`
	CancelRequested  *time.Time        `json:"cancel_requested,omitempty"`
}

// Item states.
const (
	itemProcessing = "processing"
	itemSucceeded  = "succeeded"
	itemErrored    = "errored"
	itemCanceled   = "canceled"
	itemExpired    = "expired"
)

// Batch phases, in OpenAI's vocabulary; each wire renders its own.
const (
	batchValidating = "validating"
	batchInProgress = "in_progress"
	batchFinalizing = "finalizing"
	batchCompleted  = "completed"
	batchFailed     = "failed"
	batchExpired    = "expired"
	batchCancelling = "cancelling"
	batchCancelled  = "cancelled"
)

// batchView is a batch's state at one instant.
type batchView struct {
	phase  string
	ended  bool
	endAt  time.Time // when it ended or will end
	counts map[string]int
}

func (b *batchRecord) validated() time.Time {
	if b.Wire == wireAnthropic {
		return b.CreatedAt
	}
	return b.CreatedAt.Add(b.Processing / 10)
}

func (b *batchRecord) processed() time.Time { return b.CreatedAt.Add(b.Processing * 9 / 10) }

// doneAt is when item i finishes, unless cancelled or expiring.
func (b *batchRecord) doneAt(i int) time.Time {
	start, span := b.validated(), b.processed().Sub(b.validated())
	return start.Add(time.Duration(float64(span) * float64(i+1) / float64(len(b.Items))))
}

// end is when the batch ends by itself.
func (b *batchRecord) end() time.Time {
	if len(b.Invalid) > 0 {
		return b.validated()
	}
	return b.CreatedAt.Add(b.Processing)
}

// cancelAt is when a cancel that stops the batch was requested.
func (b *batchRecord) cancelAt() (time.Time, bool) {
	if b.CancelRequested == nil || !b.CancelRequested.Before(b.end()) {
		return time.Time{}, false
	}
	return *b.CancelRequested, true
}

// cancelEnd is when a cancelled batch has ended.
func (b *batchRecord) cancelEnd(c time.Time) time.Time {
	if b.Wire == wireTogether {
		return c
	}
	return c.Add(b.Processing / 10)
}

func (b *batchRecord) expires() bool {
	return slices.ContainsFunc(b.Items, func(it batchItem) bool { return it.Expires })
}

// itemState is what has become of item i by now.
func (b *batchRecord) itemState(i int, now time.Time) string {
	if len(b.Invalid) > 0 {
		return itemProcessing // never run; the batch fails
	}
	done := b.doneAt(i)
	if c, ok := b.cancelAt(); ok && c.Before(done) || ok && b.Items[i].Expires {
		if now.Before(c) {
			return itemProcessing
		}
		return itemCanceled
	}
	if b.Items[i].Expires {
		if now.Before(b.end()) {
			return itemProcessing
		}
		return itemExpired
	}
	switch {
	case now.Before(done):
		return itemProcessing
	case b.Items[i].Status == 200:
		return itemSucceeded
	}
	return itemErrored
}

// view is the batch's state at now.
func (b *batchRecord) view(now time.Time) batchView {
	v := batchView{counts: map[string]int{}}
	if len(b.Invalid) == 0 {
		for i := range b.Items {
			v.counts[b.itemState(i, now)]++
		}
	}
	if c, ok := b.cancelAt(); ok && !now.Before(c) {
		v.endAt = b.cancelEnd(c)
		v.phase, v.ended = batchCancelling, !now.Before(v.endAt)
		if v.ended {
			v.phase = batchCancelled
		}
		return v
	}
	v.endAt = b.end()
	switch {
	case !now.Before(v.endAt):
		v.ended, v.phase = true, batchCompleted
		if len(b.Invalid) > 0 {
			v.phase = batchFailed
		} else if b.expires() {
			v.phase = batchExpired
		}
	case now.Before(b.validated()):
		v.phase = batchValidating
	case now.Before(b.processed()):
		v.phase = batchInProgress
	default:
		v.phase = batchFinalizing
	}
	return v
}

// unixAt formats an optional instant for a wire that uses Unix seconds.
func unixAt(t time.Time, set bool) *int64 {
	if !set {
		return nil
	}
	u := t.Unix()
	return &u
}

// drawBatchFaults marks the items drawn to fail or expire.
func (s *Server) drawBatchFaults(b *batchRecord, errorBody func(*apiError) json.RawMessage) {
	o := s.opts.Batch
	if o.ErrorRate <= 0 && o.ExpireRate <= 0 {
		return
	}
	seed := hashString(fmt.Sprintf("%d|%s", s.opts.Seed, b.ID))
	for i := range b.Items {
		it := &b.Items[i]
		switch u := unitRoll(seed, "batch-fault|"+it.CustomID); {
		case u < o.ErrorRate:
			it.Status, it.Body = 500, errorBody(&apiError{status: 500, msg: statusMessage(500)})
			it.TokensIn, it.TokensOut, it.Cached = 0, 0, 0
		case u < o.ErrorRate+o.ExpireRate:
			it.Expires = true
		}
	}
}

// batchStore keeps batches, in memory or under the fine-tuning directory
// shared with other processes (where the disk is the truth).
type batchStore struct{ recs *records[batchRecord] }

// create records a new batch under a fresh id from newID.
func (st *batchStore) create(b *batchRecord, newID func(attempt int) string) error {
	for attempt := 0; ; attempt++ {
		b.ID = newID(attempt)
		err := st.recs.put(b.ID, b, true)
		if !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
}

func (st *batchStore) update(b *batchRecord) error { return st.recs.put(b.ID, b, false) }

func (st *batchStore) get(id string) (*batchRecord, bool, error) { return st.recs.get(id) }

func (st *batchStore) remove(id string) error { return st.recs.remove(id) }

// list returns the batches of a wire, newest first.
func (st *batchStore) list(wire string) ([]*batchRecord, error) {
	all, err := st.recs.list(func(b *batchRecord) (time.Time, string) { return b.CreatedAt, b.ID })
	return slices.DeleteFunc(all, func(b *batchRecord) bool { return b.Wire != wire }), err
}

// createBatch stores a new batch and counts it in Stats, with the custom
// ids it submits again while an earlier batch of its wire still holds
// them (processing, or answered with a result other than an error).
func (s *Server) createBatch(b *batchRecord, newID func(attempt int) string) error {
	s.batchMu.Lock()
	defer s.batchMu.Unlock()
	earlier, err := s.batches.list(b.Wire)
	if err != nil {
		return err
	}
	now := s.opts.Now()
	held := map[string]bool{}
	for _, e := range earlier {
		if len(e.Invalid) > 0 {
			continue
		}
		for i, it := range e.Items {
			if st := e.itemState(i, now); st == itemProcessing || st == itemSucceeded {
				held[it.CustomID] = true
			}
		}
	}
	again := 0
	for _, it := range b.Items {
		if held[it.CustomID] {
			again++
		}
	}
	if err := s.batches.create(b, newID); err != nil {
		return err
	}
	s.stats.batch(b.Wire, len(b.Items), again)
	return nil
}

// batchOf returns a batch of a wire, or ok false when there is none.
func (s *Server) batchOf(id, wire string) (*batchRecord, bool, error) {
	b, ok, err := s.batches.get(id)
	if err != nil || !ok || b.Wire != wire {
		return nil, false, err
	}
	return b, true, nil
}

// cancelBatch records a cancel request at now; ok is false when the batch
// has already ended.
func (s *Server) cancelBatch(b *batchRecord, now time.Time) (bool, error) {
	s.batchMu.Lock()
	defer s.batchMu.Unlock()
	if b.view(now).ended {
		return false, nil
	}
	if b.CancelRequested == nil {
		b.CancelRequested = &now
		if err := s.batches.update(b); err != nil {
			return false, err
		}
	}
	return true, nil
}

// usage sums the usage of the answers revealed by now.
func (b *batchRecord) usage(now time.Time) (in, out, cached int) {
	for i, it := range b.Items {
		if b.itemState(i, now) == itemSucceeded {
			in, out, cached = in+it.TokensIn, out+it.TokensOut, cached+it.Cached
		}
	}
	return in, out, cached
}

// answerItem answers one batched request as p's online endpoint would:
// the answer with its prompt-cache use, or the error the endpoint would
// refuse the request with. Fault models fail with their status; the
// faults of a connection (cut, broken streams) have none to act on.
func (s *Server) answerItem(p protocol, key, customID string, body []byte, now time.Time,
	render func(call, answer) any, errorBody func(*apiError) json.RawMessage) batchItem {
	it := batchItem{CustomID: customID, RequestID: s.newID("req_")}
	c, a, fault, e := s.compose(p, body, now)
	if e == nil && fault.status != 0 {
		e = &apiError{status: fault.status, msg: statusMessage(fault.status)}
	}
	if e != nil {
		it.Status, it.Body = e.status, errorBody(e)
		return it
	}
	a.cache = s.cacheUse(p, key, c, a.in, now)
	a.id = s.newID("")
	b, err := json.Marshal(render(c, a))
	if err != nil {
		it.Status, it.Body = 500, errorBody(&apiError{status: 500, msg: "encode response"})
		return it
	}
	it.Status, it.Body = 200, b
	it.TokensIn, it.TokensOut, it.Cached = a.in, a.out, a.cache.read
	return it
}

// initBatches sets up the batch endpoints; batches are kept where the
// fine-tuning state is.
func (s *Server) initBatches() {
	s.batches = &batchStore{recs: newRecords[batchRecord](s.opts.FineTune.Dir, "batches")}
	s.registerAnthropicBatches()
	s.registerOpenAIBatches()
}
