package ethos

import (
	"context"
	"strings"
	"time"
)

// A provider's batch API takes many requests at once and answers them
// within hours at about half the online price. ethos sends a stage's calls
// there when its mode says so (see llm.Batcher): each request is recorded
// in the store before it is submitted, and its custom ID is the ledger's
// request key, so a killed run re-attaches to the batches it submitted
// instead of paying for them again.

// BatchAPI is a provider's batch interface. The Anthropic adapter
// implements it over Message Batches, the OpenAI adapter over the Batch
// API (a JSONL file of purpose "batch") and, in its Together dialect, over
// Together's Batch API (purpose "batch-api"), whose chat calls it makes too. Every method returns an *Error with
// its Kind set, as Completer does.
type BatchAPI interface {
	// BatchLimits is the most one batch may hold.
	BatchLimits() BatchLimits
	// SubmitBatch creates a batch of the given requests and returns it as
	// the provider first reports it.
	SubmitBatch(ctx context.Context, b BatchSubmission) (BatchInfo, error)
	// GetBatch reports a batch's state and counts.
	GetBatch(ctx context.Context, id string) (BatchInfo, error)
	// BatchResults calls each once per request of an ended batch, in the
	// provider's order, until each returns an error (which it returns).
	// A request the provider reports nothing for is not passed to each.
	BatchResults(ctx context.Context, id string, each func(BatchResult) error) error
	// CancelBatch asks the provider to stop a batch; requests not yet
	// processed end as BatchCancelled.
	CancelBatch(ctx context.Context, id string) (BatchInfo, error)
	// ListBatches lists the batches created at or after since, newest
	// first, so that a batch whose creation answer was lost (the process
	// was killed) can be found again by its Label or its size and time.
	ListBatches(ctx context.Context, since time.Time) ([]BatchInfo, error)
}

// BatchLimits bounds one batch; ethos splits larger stages into several.
type BatchLimits struct {
	MaxRequests int   // requests per batch
	MaxBytes    int64 // bytes of the encoded requests (the upload, or the create body)
}

// BatchSubmission is one batch to create.
type BatchSubmission struct {
	// Label is ethos's own name for the batch (e.g. "ethos-batch-17"). It
	// is sent where the provider keeps metadata (OpenAI's metadata, a
	// file name), so the batch can be recognised when listed.
	Label    string
	Requests []BatchRequest
}

// BatchRequest is one request of a batch. Request.Model is the name the
// provider knows (the router's "provider/" prefix is removed).
type BatchRequest struct {
	CustomID string // the ledger's request key: 64 hex digits
	Request  Request
}

// BatchState is where a batch stands, normalised across providers.
type BatchState string

// Batch states. A provider's own status is kept beside it
// (BatchInfo.ProviderStatus).
const (
	// BatchPreparing: recorded by ethos, not yet known to be created at
	// the provider (only ever in the store).
	BatchPreparing BatchState = "preparing"
	// BatchInProgress: created and working (validating, in progress,
	// finalizing).
	BatchInProgress BatchState = "in_progress"
	// BatchCancelling: asked to stop, not stopped yet.
	BatchCancelling BatchState = "cancelling"
	// BatchEnded: done working — completed, expired or cancelled. Its
	// results say what became of each request.
	BatchEnded BatchState = "ended"
	// BatchFailed: refused as a whole (an invalid input file); no request
	// of it was answered.
	BatchFailed BatchState = "failed"
)

// Done reports whether a batch in state s will change no more.
func (s BatchState) Done() bool { return s == BatchEnded || s == BatchFailed }

// BatchCounts counts a batch's requests by outcome.
type BatchCounts struct {
	Total      int `json:"total"`
	Processing int `json:"processing"`
	Succeeded  int `json:"succeeded"`
	Errored    int `json:"errored"`
	Expired    int `json:"expired"`
	Cancelled  int `json:"cancelled"`
}

// BatchInfo is a batch as the provider reports it.
type BatchInfo struct {
	ID             string      `json:"id"`
	Label          string      `json:"label,omitempty"`
	State          BatchState  `json:"state"`
	ProviderStatus string      `json:"provider_status"` // e.g. "in_progress", "finalizing", "COMPLETED"
	Counts         BatchCounts `json:"counts"`
	CreatedAt      time.Time   `json:"created_at"`
	EndedAt        time.Time   `json:"ended_at,omitzero"`
	ExpiresAt      time.Time   `json:"expires_at,omitzero"`
	// Error says why a failed batch was refused.
	Error string `json:"error,omitempty"`
}

// BatchOutcome is what became of one request of a batch.
type BatchOutcome string

// Batch request outcomes.
const (
	BatchSucceeded BatchOutcome = "succeeded"
	BatchErrored   BatchOutcome = "errored"
	BatchExpired   BatchOutcome = "expired"   // the batch ended before the request was processed
	BatchCancelled BatchOutcome = "cancelled" // the batch was cancelled before the request was processed
)

// BatchResult is one request's result. Response is set when Outcome is
// BatchSucceeded, Err when it is BatchErrored (with its Kind mapped from
// the provider's error as an online call's would be).
type BatchResult struct {
	CustomID string
	Outcome  BatchOutcome
	Response *Response
	Err      *Error
}

// Batch is ethos's durable record of one provider batch. It is written
// before the batch is submitted, so a process killed while submitting finds
// it on the next run (as BatchPreparing) and looks for it at the provider
// before submitting its requests again.
type Batch struct {
	ID         int64       `json:"id"`
	Provider   string      `json:"provider"`
	Model      string      `json:"model"` // full reference, e.g. "anthropic/claude-sonnet-4-5"
	Label      string      `json:"label"` // "ethos-batch-<ID>"
	ProviderID string      `json:"provider_id,omitempty"`
	State      BatchState  `json:"state"`
	Status     string      `json:"provider_status,omitempty"`
	Counts     BatchCounts `json:"counts"`
	Requests   int         `json:"requests"`
	Bytes      int64       `json:"bytes"`
	RunIDs     []string    `json:"run_ids,omitempty"` // runs whose requests it holds
	Stages     []string    `json:"stages,omitempty"`
	Error      string      `json:"error,omitempty"`
	CreatedAt  time.Time   `json:"created_at"`
	// SubmittedAt is when the provider confirmed it; zero while preparing.
	SubmittedAt time.Time `json:"submitted_at,omitzero"`
	EndedAt     time.Time `json:"ended_at,omitzero"`
	// CollectedAt is when its results were written to the store.
	CollectedAt time.Time `json:"collected_at,omitzero"`
}

// StateText is the batch's state, with the provider's own status when it
// says more: "in_progress (finalizing)".
func (b Batch) StateText() string {
	if b.Status == "" || strings.EqualFold(b.Status, string(b.State)) {
		return string(b.State)
	}
	return string(b.State) + " (" + b.Status + ")"
}

// BatchItemState is where one request sent by batch stands.
type BatchItemState string

// Batch item states.
const (
	BatchItemQueued    BatchItemState = "queued"    // waiting for the next batch
	BatchItemSubmitted BatchItemState = "submitted" // in a batch (preparing or in flight)
	BatchItemAnswered  BatchItemState = "answered"  // a result is stored
)

// BatchItem is one request waiting for, or answered by, a batch. Key is
// the ledger's request key and the batch's custom ID.
type BatchItem struct {
	Key      string         `json:"key"`
	Provider string         `json:"provider"`
	Model    string         `json:"model"` // full reference
	RunID    string         `json:"run_id,omitempty"`
	Stage    string         `json:"stage,omitempty"`
	Request  Request        `json:"request"`
	State    BatchItemState `json:"state"`
	BatchID  int64          `json:"batch_id,omitempty"` // the batch holding it now, or that answered it
	// Submissions counts the batches the request was sent in (a request
	// whose batch expired is sent again).
	Submissions int          `json:"submissions"`
	Outcome     BatchOutcome `json:"outcome,omitempty"`
	Response    *Response    `json:"response,omitempty"`
	ErrorKind   Kind         `json:"error_kind,omitempty"`
	Error       string       `json:"error,omitempty"`
	QueuedAt    time.Time    `json:"queued_at"`
	AnsweredAt  time.Time    `json:"answered_at,omitzero"`
}

// BatchFilter selects batches; zero fields match everything.
type BatchFilter struct {
	Provider string
	RunID    string
	Active   bool // only batches not done (preparing, in progress, cancelling)
	Limit    int
}

// BatchStore is the part of the store that keeps batches and their
// requests.
type BatchStore interface {
	// QueueBatchItem records it as queued unless a request with its key is
	// already queued, submitted or answered; it returns the item as stored.
	QueueBatchItem(ctx context.Context, it BatchItem) (BatchItem, error)
	// BatchItem returns the item with key; ok is false when there is none.
	BatchItem(ctx context.Context, key string) (it BatchItem, ok bool, err error)
	// ForgetBatchItem removes an answered item whose answer has been
	// handed to its caller and recorded in the ledger, so that asking again
	// (after an error) queues it afresh.
	ForgetBatchItem(ctx context.Context, key string) error
	// QueuedBatchModels lists the provider/model pairs that have queued
	// items, with their count, total estimated bytes and oldest QueuedAt.
	QueuedBatchModels(ctx context.Context) ([]QueuedBatchModel, error)
	// CreateBatch records a new batch in state BatchPreparing holding up to
	// maxRequests of the oldest queued items of model (and at most maxBytes
	// of their requests), marks them submitted, and returns the batch and
	// its items. It returns no batch when none are queued.
	CreateBatch(ctx context.Context, model string, maxRequests int, maxBytes int64) (Batch, []BatchItem, error)
	// UpdateBatch stores b's provider ID, state, provider status, counts,
	// error and times.
	UpdateBatch(ctx context.Context, b Batch) error
	// AnswerBatchItems stores the results of batch, each as its item's
	// answer. A result whose outcome is expired or cancelled puts its item
	// back in the queue instead (to be sent in the next batch), unless it
	// has been submitted maxSubmissions times, when it is answered with
	// that outcome.
	AnswerBatchItems(ctx context.Context, batch int64, results []BatchItem, maxSubmissions int) error
	// BatchItems lists the items batch holds or answered, by key.
	BatchItems(ctx context.Context, batch int64) ([]BatchItem, error)
	// RequeueBatch puts every item still submitted in batch back in the
	// queue (a batch that failed as a whole, or was never created).
	RequeueBatch(ctx context.Context, batch int64) error
	// Batches lists batches matching f, newest first.
	Batches(ctx context.Context, f BatchFilter) ([]Batch, error)
	// GetBatch returns one batch by ethos's ID.
	GetBatch(ctx context.Context, id int64) (Batch, error)
}

// QueuedBatchModel summarises the queued items of one model.
type QueuedBatchModel struct {
	Provider string
	Model    string
	Count    int
	Bytes    int64
	Oldest   time.Time
}
