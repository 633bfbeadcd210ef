package anthropic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	sdk "github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/anthropics/anthropic-sdk-go/v2/packages/jsonl"
	"github.com/anthropics/anthropic-sdk-go/v2/packages/param"

	"github.com/ethos-toolkit/ethos"
)

// Client implements ethos.BatchAPI over Message Batches, through the SDK:
// POST /v1/messages/batches, GET /v1/messages/batches[/{id}[/results]],
// POST /v1/messages/batches/{id}/cancel. Each request's params are the
// JSON of exactly the body Complete would send for it (see params), so a
// batched call and an online one cannot drift apart; a batch never
// streams. Message Batches keep no metadata, so BatchInfo.Label is always
// empty: a batch is recognised when listed by its size and creation time.
var _ ethos.BatchAPI = (*Client)(nil)

// Message Batches limits, as Anthropic's documentation and the API
// reference state them: 100,000 requests or 256 MB of request body per batch
// (MB read as 10^6 bytes, the smaller reading).
const (
	MaxBatchRequests = 100_000
	MaxBatchBytes    = 256_000_000
)

// customIDPattern is what the API accepts as a custom_id (the spec's
// pattern); the ledger's request keys, 64 hex digits, always match.
var customIDPattern = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// BatchLimits reports Message Batches' limits.
func (c *Client) BatchLimits() ethos.BatchLimits {
	return c.batchLimits
}

// batchCall runs fn with the request options every batch call shares and
// maps its error as Complete maps a failed call. subject names what a
// 404 means (`batch "msgbatch_1"`).
func (c *Client) batchCall(ctx context.Context, op, subject string, timeout time.Duration, fn func(opts ...option.RequestOption) error) error {
	if timeout <= 0 {
		timeout = c.timeout
	}
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	var x exchange
	err := fn(option.WithMiddleware(x.middleware()), option.WithRequestTimeout(timeout))
	if err == nil {
		return nil
	}
	e := c.classify(ctx, c.provider+": "+op, "", timeout, x.header, err)
	if e.Kind == ethos.NotFound && subject != "" {
		e.Msg = fmt.Sprintf("%s not found (404) at provider %s: check the ID", subject, c.provider)
	}
	return e
}

// batchParams is the body of one batched request: the JSON of params, the
// online body. SetJSON keeps the SDK from re-encoding it field by field.
func (c *Client) batchParams(req ethos.Request) (sdk.MessageBatchNewParamsRequestParams, *ethos.Error) {
	p, perr := c.params(req)
	if perr != nil {
		return sdk.MessageBatchNewParamsRequestParams{}, perr
	}
	raw, err := json.Marshal(p)
	if err != nil {
		return sdk.MessageBatchNewParamsRequestParams{}, &ethos.Error{Kind: ethos.Internal, Msg: "encode the request: " + err.Error(), Err: err}
	}
	var bp sdk.MessageBatchNewParamsRequestParams
	param.SetJSON(raw, &bp)
	return bp, nil
}

// batchBody checks b against the API's rules and limits and builds the
// create body, returning it with its encoded size.
func (c *Client) batchBody(b ethos.BatchSubmission) (sdk.MessageBatchNewParams, int, *ethos.Error) {
	invalid := func(format string, args ...any) (sdk.MessageBatchNewParams, int, *ethos.Error) {
		return sdk.MessageBatchNewParams{}, 0, &ethos.Error{Kind: ethos.Invalid, Msg: fmt.Sprintf(format, args...)}
	}
	switch {
	case len(b.Requests) == 0:
		return invalid("batch %s has no requests", b.Label)
	case len(b.Requests) > c.batchLimits.MaxRequests:
		return invalid("batch %s has %d requests, more than the %d a message batch may hold: split it", b.Label, len(b.Requests), c.batchLimits.MaxRequests)
	}
	seen := make(map[string]bool, len(b.Requests))
	var body sdk.MessageBatchNewParams
	for i, r := range b.Requests {
		if !customIDPattern.MatchString(r.CustomID) {
			return invalid("request %d: custom ID %q is not 1 to 64 letters, digits, _ or -", i, r.CustomID)
		}
		if seen[r.CustomID] {
			return invalid("request %d: custom ID %s appears twice in batch %s", i, r.CustomID, b.Label)
		}
		seen[r.CustomID] = true
		params, perr := c.batchParams(r.Request)
		if perr != nil {
			perr.Msg = fmt.Sprintf("request %s: %s", r.CustomID, perr.Msg)
			return sdk.MessageBatchNewParams{}, 0, perr
		}
		body.Requests = append(body.Requests, sdk.MessageBatchNewParamsRequest{CustomID: r.CustomID, Params: params})
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return sdk.MessageBatchNewParams{}, 0, &ethos.Error{Kind: ethos.Internal, Msg: "encode the batch: " + err.Error(), Err: err}
	}
	if int64(len(raw)) > c.batchLimits.MaxBytes {
		return invalid("batch %s is %d bytes, more than the %d a message batch may hold: split it", b.Label, len(raw), c.batchLimits.MaxBytes)
	}
	return body, len(raw), nil
}

// SubmitBatch creates a message batch of b's requests.
func (c *Client) SubmitBatch(ctx context.Context, b ethos.BatchSubmission) (ethos.BatchInfo, error) {
	const op = "messages.batches.create"
	body, size, perr := c.batchBody(b)
	if perr != nil {
		perr.Op = c.provider + ": " + op
		return ethos.BatchInfo{}, perr
	}
	var mb *sdk.MessageBatch
	// A large body gets a second more per 100 KB, as uploads do.
	timeout := c.timeout + time.Duration(size/100_000)*time.Second
	if c.timeout <= 0 {
		timeout += 2 * time.Minute
	}
	err := c.batchCall(ctx, op, "", timeout, func(opts ...option.RequestOption) error {
		var err error
		mb, err = c.sdk.Messages.Batches.New(ctx, body, opts...)
		return err
	})
	if err != nil {
		return ethos.BatchInfo{}, err
	}
	return c.batchInfo(op, mb)
}

// GetBatch reports a message batch.
func (c *Client) GetBatch(ctx context.Context, id string) (ethos.BatchInfo, error) {
	return c.batchByID(ctx, "messages.batches.retrieve", id, func(opts []option.RequestOption) (*sdk.MessageBatch, error) {
		return c.sdk.Messages.Batches.Get(ctx, id, sdk.MessageBatchGetParams{}, opts...)
	})
}

// CancelBatch asks Anthropic to stop a message batch; it goes to canceling.
func (c *Client) CancelBatch(ctx context.Context, id string) (ethos.BatchInfo, error) {
	return c.batchByID(ctx, "messages.batches.cancel", id, func(opts []option.RequestOption) (*sdk.MessageBatch, error) {
		return c.sdk.Messages.Batches.Cancel(ctx, id, sdk.MessageBatchCancelParams{}, opts...)
	})
}

// batchByID runs a call on one batch that answers with the batch.
func (c *Client) batchByID(ctx context.Context, op, id string, fn func(opts []option.RequestOption) (*sdk.MessageBatch, error)) (ethos.BatchInfo, error) {
	if err := c.checkBatchID(op, id); err != nil {
		return ethos.BatchInfo{}, err
	}
	var mb *sdk.MessageBatch
	err := c.batchCall(ctx, op, fmt.Sprintf("batch %q", id), 0, func(opts ...option.RequestOption) error {
		var err error
		mb, err = fn(opts)
		return err
	})
	if err != nil {
		return ethos.BatchInfo{}, err
	}
	return c.batchInfo(op, mb)
}

// ListBatches pages through the message batches, newest first as the API
// lists them, and stops at the first created before since.
func (c *Client) ListBatches(ctx context.Context, since time.Time) ([]ethos.BatchInfo, error) {
	const op = "messages.batches.list"
	var found []sdk.MessageBatch
	err := c.batchCall(ctx, op, "", 0, func(opts ...option.RequestOption) error {
		found = found[:0]
		pages := c.sdk.Messages.Batches.ListAutoPaging(ctx, sdk.MessageBatchListParams{Limit: sdk.Int(100)}, opts...)
		for pages.Next() {
			mb := pages.Current()
			if mb.CreatedAt.Before(since) {
				return nil
			}
			found = append(found, mb)
		}
		return pages.Err()
	})
	if err != nil {
		return nil, err
	}
	out := make([]ethos.BatchInfo, 0, len(found))
	for i := range found {
		info, err := c.batchInfo(op, &found[i])
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	return out, nil
}

// BatchResults streams an ended batch's results (GET …/results, JSONL).
func (c *Client) BatchResults(ctx context.Context, id string, each func(ethos.BatchResult) error) error {
	const op = "messages.batches.results"
	if err := c.checkBatchID(op, id); err != nil {
		return err
	}
	var eachErr error
	err := c.batchCall(ctx, op, fmt.Sprintf("batch %q", id), 0, func(opts ...option.RequestOption) error {
		s := c.sdk.Messages.Batches.ResultsStreaming(ctx, id, sdk.MessageBatchResultsParams{}, opts...)
		defer s.Close()
		var err error
		eachErr, err = c.readResults(op, s, each)
		return err
	})
	if eachErr != nil {
		return eachErr
	}
	return err
}

// readResults reads the results stream line by line and hands each result
// to each, returning the first error each returns as eachErr. A line that
// does not read (a download cut short), has no custom_id, repeats one or
// has a result type ethos does not know fails the read with a Transient
// error naming the line: a result is never dropped silently. An error
// answer to the request itself comes back as err, for the caller to
// classify.
func (c *Client) readResults(op string, s *jsonl.Stream[sdk.MessageBatchIndividualResponse], each func(ethos.BatchResult) error) (eachErr, err error) {
	fail := func(line int, format string, args ...any) *ethos.Error {
		return &ethos.Error{Kind: ethos.Transient, Op: c.provider + ": " + op,
			Msg: fmt.Sprintf("results line %d: ", line) + fmt.Sprintf(format, args...)}
	}
	seen := map[string]bool{}
	line := 0
	for s.Next() {
		line++
		r, perr := c.batchResult(s.Current())
		if perr != nil {
			perr.Op = c.provider + ": " + op
			perr.Msg = fmt.Sprintf("results line %d: %s", line, perr.Msg)
			return perr, nil
		}
		if seen[r.CustomID] {
			return fail(line, "custom ID %s has a second result", r.CustomID), nil
		}
		seen[r.CustomID] = true
		if err := each(r); err != nil {
			return err, nil
		}
	}
	err = s.Err()
	var apiErr *sdk.Error
	if err == nil || errors.As(err, &apiErr) {
		return nil, err
	}
	e := fail(line+1, "unreadable (a download cut short?): %v", err)
	e.Err = err
	return e, nil
}

// batchResult maps one results line onto an ethos result.
func (c *Client) batchResult(r sdk.MessageBatchIndividualResponse) (ethos.BatchResult, *ethos.Error) {
	if r.CustomID == "" {
		return ethos.BatchResult{}, &ethos.Error{Kind: ethos.Transient, Msg: "a result without a custom_id"}
	}
	out := ethos.BatchResult{CustomID: r.CustomID}
	switch r.Result.Type {
	case "succeeded":
		msg := r.Result.AsSucceeded().Message
		resp := response(&msg, "")
		out.Outcome, out.Response = ethos.BatchSucceeded, &resp
	case "errored":
		apiErr := r.Result.AsErrored().Error
		typ := apiErr.Error.Type
		out.Outcome = ethos.BatchErrored
		out.Err = &ethos.Error{Kind: kindOfType(typ), Op: c.provider + ": messages", RequestID: apiErr.RequestID,
			Msg: "errored in the batch" + c.typeDetail(typ, apiErr.Error.Message)}
	case "canceled":
		out.Outcome = ethos.BatchCancelled
	case "expired":
		out.Outcome = ethos.BatchExpired
	default:
		return ethos.BatchResult{}, &ethos.Error{Kind: ethos.Transient,
			Msg: fmt.Sprintf("custom ID %s has result type %q, which ethos does not know", r.CustomID, r.Result.Type)}
	}
	return out, nil
}

// checkBatchID refuses an empty ID before the SDK does, with a typed error.
func (c *Client) checkBatchID(op, id string) error {
	if id == "" {
		return &ethos.Error{Kind: ethos.Invalid, Op: c.provider + ": " + op, Msg: "no batch ID given"}
	}
	return nil
}

// BatchState maps a message batch's processing_status: in_progress is in
// progress, canceling is cancelling, ended is ended. A status ethos does
// not know reads as in progress, so the batch is still followed.
func BatchState(status string) ethos.BatchState {
	switch status {
	case "canceling":
		return ethos.BatchCancelling
	case "ended":
		return ethos.BatchEnded
	}
	return ethos.BatchInProgress
}

// batchInfo maps a message batch onto ethos's record of it.
func (c *Client) batchInfo(op string, mb *sdk.MessageBatch) (ethos.BatchInfo, error) {
	if mb == nil || mb.ID == "" {
		return ethos.BatchInfo{}, &ethos.Error{Kind: ethos.Transient, Op: c.provider + ": " + op, Msg: "the provider answered without a batch id"}
	}
	n := mb.RequestCounts
	status := string(mb.ProcessingStatus)
	return ethos.BatchInfo{
		ID:             mb.ID,
		State:          BatchState(status),
		ProviderStatus: status,
		Counts: ethos.BatchCounts{
			Total:      int(n.Processing + n.Succeeded + n.Errored + n.Canceled + n.Expired),
			Processing: int(n.Processing),
			Succeeded:  int(n.Succeeded),
			Errored:    int(n.Errored),
			Expired:    int(n.Expired),
			Cancelled:  int(n.Canceled),
		},
		CreatedAt: mb.CreatedAt.UTC(),
		EndedAt:   utcOrZero(mb.EndedAt),
		ExpiresAt: utcOrZero(mb.ExpiresAt),
	}, nil
}

func utcOrZero(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}
