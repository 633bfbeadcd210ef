package openai

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	sdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"github.com/ethos-toolkit/ethos"
)

// Client implements ethos.BatchAPI for the batch API its endpoint speaks,
// chosen by Config.BatchDialect.
//
// DialectOpenAI is OpenAI's Batch API, through the SDK: the requests are
// uploaded as a JSONL file of purpose "batch" (POST /files), one line
// {custom_id, method: "POST", url: "/v1/chat/completions", body} each,
// then POST /batches (endpoint /v1/chat/completions, completion_window
// 24h, metadata {"ethos_label": label}); GET /batches[/{id}], POST
// /batches/{id}/cancel; results are the lines of the output and error
// files (GET /files/{id}/content), matched by custom_id.
//
// DialectTogether is Together's Batch API (see batch_together.go). It
// lives here, not in the together package, because what a batch carries
// is chat completions, and Together's are OpenAI's: this adapter serves
// Together's online calls (a provider of type openai at
// https://api.together.xyz/v1), so its batched bodies come from the same
// builder (params) as its online ones, and adapters never import each
// other. Only the batch routes differ; they go through the SDK's generic
// request methods, so errors, retries and base URL are the client's own.
//
// In both, a line's body is exactly the body Complete sends for the same
// request, never streaming, with the same output-limit field.
var _ ethos.BatchAPI = (*Client)(nil)

// Batch dialects (Config.BatchDialect).
const (
	DialectOpenAI   = "openai"
	DialectTogether = "together"
)

// OpenAI's Batch API limits, as its Batch guide states them: an input
// file holds up to 50,000 requests and 200 MB. MB is read as 10^6 bytes,
// the smaller reading.
const (
	MaxBatchRequests = 50_000
	MaxBatchBytes    = 200_000_000
)

// Together's Batch API limits, as its batch documentation states them:
// 50,000 requests and 100 MB per input file. Its OpenAPI spec states no
// limit.
const (
	TogetherMaxBatchRequests = 50_000
	TogetherMaxBatchBytes    = 100_000_000
)

// batchDialect is how a client speaks its endpoint's batch API.
type batchDialect struct {
	name   string
	limits ethos.BatchLimits // tests lower them
}

var batchDialects = map[string]batchDialect{
	"":              {DialectOpenAI, ethos.BatchLimits{MaxRequests: MaxBatchRequests, MaxBytes: MaxBatchBytes}},
	DialectOpenAI:   {DialectOpenAI, ethos.BatchLimits{MaxRequests: MaxBatchRequests, MaxBytes: MaxBatchBytes}},
	DialectTogether: {DialectTogether, ethos.BatchLimits{MaxRequests: TogetherMaxBatchRequests, MaxBytes: TogetherMaxBatchBytes}},
}

// labelKey is the metadata key an OpenAI batch keeps ethos's label under.
const labelKey = "ethos_label"

// chatURL is the endpoint every line of a batch calls.
const chatURL = "/v1/chat/completions"

// BatchLimits reports the dialect's limits.
func (c *Client) BatchLimits() ethos.BatchLimits { return c.batch.limits }

// inputLine is one line of a batch input file.
type inputLine struct {
	CustomID string                      `json:"custom_id"`
	Method   string                      `json:"method"`
	URL      string                      `json:"url"`
	Body     sdk.ChatCompletionNewParams `json:"body"`
}

// batchFile checks b against the limits and writes its input file. model
// is the model every request names, or "" when they differ.
func (c *Client) batchFile(b ethos.BatchSubmission) (file []byte, model string, perr *ethos.Error) {
	invalid := func(format string, args ...any) ([]byte, string, *ethos.Error) {
		return nil, "", &ethos.Error{Kind: ethos.Invalid, Msg: fmt.Sprintf(format, args...)}
	}
	limits := c.batch.limits
	switch {
	case len(b.Requests) == 0:
		return invalid("batch %s has no requests", b.Label)
	case len(b.Requests) > limits.MaxRequests:
		return invalid("batch %s has %d requests, more than the %d a %s batch may hold: split it", b.Label, len(b.Requests), limits.MaxRequests, c.batch.name)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	seen := make(map[string]bool, len(b.Requests))
	model = b.Requests[0].Request.Model
	for i, r := range b.Requests {
		if r.CustomID == "" || seen[r.CustomID] {
			return invalid("request %d: custom ID %q is empty or appears twice in batch %s", i, r.CustomID, b.Label)
		}
		seen[r.CustomID] = true
		if r.Request.Model != model {
			model = ""
		}
		body, perr := c.params(r.Request)
		if perr != nil {
			perr.Msg = fmt.Sprintf("request %s: %s", r.CustomID, perr.Msg)
			return nil, "", perr
		}
		if err := enc.Encode(inputLine{CustomID: r.CustomID, Method: "POST", URL: chatURL, Body: body}); err != nil {
			return nil, "", &ethos.Error{Kind: ethos.Internal, Msg: "encode the batch: " + err.Error(), Err: err}
		}
	}
	if int64(buf.Len()) > limits.MaxBytes {
		return invalid("batch %s is %d bytes, more than the %d a %s batch may hold: split it", b.Label, buf.Len(), limits.MaxBytes, c.batch.name)
	}
	return buf.Bytes(), model, nil
}

// fileName is the input file's name: the label, which Together reports
// back as the file's name (its batches keep no metadata).
func fileName(label string) string {
	if label == "" {
		label = "ethos-batch"
	}
	return label + ".jsonl"
}

// labelOf reads a label back from an input file's name.
func labelOf(filename string) string { return strings.TrimSuffix(filename, ".jsonl") }

// uploadTimeout gives an upload a second more per 100 KB, as fine-tuning
// uploads get.
func (c *Client) uploadTimeout(size int) time.Duration {
	base := c.timeout
	if base <= 0 {
		base = 2 * time.Minute
	}
	return base + time.Duration(size/100_000)*time.Second
}

// SubmitBatch uploads b's input file and creates the batch.
func (c *Client) SubmitBatch(ctx context.Context, b ethos.BatchSubmission) (ethos.BatchInfo, error) {
	file, model, perr := c.batchFile(b)
	if perr != nil {
		perr.Op = c.provider + ": batches.create"
		return ethos.BatchInfo{}, perr
	}
	if c.batch.name == DialectTogether {
		return c.togetherSubmit(ctx, b.Label, file, model)
	}
	var obj *sdk.FileObject
	err := c.call(ctx, "files.create", "", "", c.uploadTimeout(len(file)), func(opts ...option.RequestOption) error {
		var err error
		obj, err = c.files.New(ctx, sdk.FileNewParams{
			File:    sdk.File(bytes.NewReader(file), fileName(b.Label), "application/jsonl"),
			Purpose: sdk.FilePurposeBatch,
		}, opts...)
		return err
	})
	if err != nil {
		return ethos.BatchInfo{}, err
	}
	var batch *sdk.Batch
	err = c.call(ctx, "batches.create", "", model, 0, func(opts ...option.RequestOption) error {
		var err error
		batch, err = c.batches.New(ctx, sdk.BatchNewParams{
			InputFileID:      obj.ID,
			Endpoint:         sdk.BatchNewParamsEndpointV1ChatCompletions,
			CompletionWindow: sdk.BatchNewParamsCompletionWindow24h,
			Metadata:         shared.Metadata{labelKey: b.Label},
		}, opts...)
		return err
	})
	if err != nil {
		return ethos.BatchInfo{}, err
	}
	return c.batchInfo("batches.create", batch)
}

// GetBatch reports a batch.
func (c *Client) GetBatch(ctx context.Context, id string) (ethos.BatchInfo, error) {
	const op = "batches.retrieve"
	if err := c.checkBatchID(op, id); err != nil {
		return ethos.BatchInfo{}, err
	}
	if c.batch.name == DialectTogether {
		job, err := c.togetherJob(ctx, op, id, "GET", "batches/"+id)
		if err != nil {
			return ethos.BatchInfo{}, err
		}
		return c.togetherInfo(ctx, op, job)
	}
	batch, err := c.openAIBatch(ctx, id)
	if err != nil {
		return ethos.BatchInfo{}, err
	}
	return c.batchInfo(op, batch)
}

// openAIBatch reads a batch with GET /batches/{id}.
func (c *Client) openAIBatch(ctx context.Context, id string) (*sdk.Batch, error) {
	var batch *sdk.Batch
	err := c.call(ctx, "batches.retrieve", fmt.Sprintf("batch %q", id), "", 0, func(opts ...option.RequestOption) error {
		var err error
		batch, err = c.batches.Get(ctx, id, opts...)
		return err
	})
	return batch, err
}

// CancelBatch asks the provider to stop a batch.
func (c *Client) CancelBatch(ctx context.Context, id string) (ethos.BatchInfo, error) {
	const op = "batches.cancel"
	if err := c.checkBatchID(op, id); err != nil {
		return ethos.BatchInfo{}, err
	}
	if c.batch.name == DialectTogether {
		job, err := c.togetherJob(ctx, op, id, "POST", "batches/"+id+"/cancel")
		if err != nil {
			return ethos.BatchInfo{}, err
		}
		return c.togetherInfo(ctx, op, job)
	}
	var batch *sdk.Batch
	err := c.call(ctx, op, fmt.Sprintf("batch %q", id), "", 0, func(opts ...option.RequestOption) error {
		var err error
		batch, err = c.batches.Cancel(ctx, id, opts...)
		return err
	})
	if err != nil {
		return ethos.BatchInfo{}, err
	}
	return c.batchInfo(op, batch)
}

// ListBatches lists the batches created at or after since, newest first.
// OpenAI's list is paged newest first; paging stops at the first batch
// older than since.
func (c *Client) ListBatches(ctx context.Context, since time.Time) ([]ethos.BatchInfo, error) {
	const op = "batches.list"
	if c.batch.name == DialectTogether {
		return c.togetherList(ctx, since)
	}
	var found []sdk.Batch
	err := c.call(ctx, op, "", "", 0, func(opts ...option.RequestOption) error {
		found = found[:0]
		pages := c.batches.ListAutoPaging(ctx, sdk.BatchListParams{Limit: sdk.Int(100)}, opts...)
		for pages.Next() {
			b := pages.Current()
			if time.Unix(b.CreatedAt, 0).Before(since) {
				return nil
			}
			found = append(found, b)
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

// BatchResults reads an ended batch's output file, then its error file,
// and hands on each line's result.
func (c *Client) BatchResults(ctx context.Context, id string, each func(ethos.BatchResult) error) error {
	const op = "batches.results"
	if err := c.checkBatchID(op, id); err != nil {
		return err
	}
	var state ethos.BatchState
	var status string
	var files []string
	if c.batch.name == DialectTogether {
		job, err := c.togetherJob(ctx, op, id, "GET", "batches/"+id)
		if err != nil {
			return err
		}
		status, files = job.Status, []string{job.OutputFileID, job.ErrorFileID}
	} else {
		batch, err := c.openAIBatch(ctx, id)
		if err != nil {
			return err
		}
		status, files = string(batch.Status), []string{batch.OutputFileID, batch.ErrorFileID}
	}
	if state = BatchState(status); !state.Done() {
		return &ethos.Error{Kind: ethos.Invalid, Op: c.provider + ": " + op,
			Msg: fmt.Sprintf("batch %s is %s: its results are read once it has ended", id, status)}
	}
	seen := map[string]bool{}
	for _, file := range files {
		if file == "" {
			continue
		}
		if err := c.fileResults(ctx, op, file, seen, each); err != nil {
			return err
		}
	}
	return nil
}

// fileResults reads one output or error file (GET /files/{id}/content).
func (c *Client) fileResults(ctx context.Context, op, file string, seen map[string]bool, each func(ethos.BatchResult) error) error {
	var body io.ReadCloser
	err := c.call(ctx, "files.content", fmt.Sprintf("file %q", file), "", 0, func(opts ...option.RequestOption) error {
		resp, err := c.files.Content(ctx, file, opts...)
		if err == nil {
			body = resp.Body
		}
		return err
	})
	if err != nil {
		return err
	}
	defer body.Close()
	return c.readResults(op, file, body, seen, each)
}

// outputLine is one line of an output or error file.
type outputLine struct {
	CustomID string `json:"custom_id"`
	Response *struct {
		StatusCode int             `json:"status_code"`
		RequestID  string          `json:"request_id"`
		Body       json.RawMessage `json:"body"`
	} `json:"response"`
	Error *struct {
		Code    json.RawMessage `json:"code"`
		Message string          `json:"message"`
	} `json:"error"`
}

// maxResultLine bounds one results line: a whole chat completion.
const maxResultLine = 32 << 20

// readResults reads a results file line by line. A line that does not
// read (a download cut short), has no custom_id, repeats one (seen spans
// the output and error files), or has neither a response nor an error
// fails the read with a Transient error naming the file and line: a
// result is never dropped silently. each's error comes back unchanged.
func (c *Client) readResults(op, file string, r io.Reader, seen map[string]bool, each func(ethos.BatchResult) error) error {
	fail := func(line int, err error, format string, args ...any) *ethos.Error {
		return &ethos.Error{Kind: ethos.Transient, Op: c.provider + ": " + op, Err: err,
			Msg: fmt.Sprintf("file %s line %d: ", file, line) + fmt.Sprintf(format, args...)}
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, maxResultLine)
	line := 0
	for sc.Scan() {
		line++
		raw := bytes.TrimSpace(sc.Bytes())
		if len(raw) == 0 {
			continue
		}
		var l outputLine
		if err := json.Unmarshal(raw, &l); err != nil {
			return fail(line, err, "unreadable (a download cut short?): %v", err)
		}
		res, msg := c.batchResult(l)
		switch {
		case msg != "":
			return fail(line, nil, "%s", msg)
		case seen[res.CustomID]:
			return fail(line, nil, "custom ID %s has a second result", res.CustomID)
		}
		seen[res.CustomID] = true
		if err := each(res); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fail(line+1, err, "unreadable: %v", err)
	}
	return nil
}

// batchResult maps one results line onto an ethos result; problem says
// why the line cannot be read as one.
func (c *Client) batchResult(l outputLine) (res ethos.BatchResult, problem string) {
	if l.CustomID == "" {
		return res, "a result without a custom_id"
	}
	res.CustomID = l.CustomID
	resp := l.Response
	switch {
	case resp != nil && resp.StatusCode == 200:
		var cc sdk.ChatCompletion
		out, err := result{}, json.Unmarshal(resp.Body, &cc)
		if err == nil {
			out, err = fromCompletion(&cc)
		}
		if err != nil {
			res.Outcome = ethos.BatchErrored
			res.Err = &ethos.Error{Kind: ethos.Transient, Op: c.provider + ": chat.completions", RequestID: resp.RequestID,
				Msg: "unreadable answer in the batch: " + err.Error()}
			return res, ""
		}
		res.Outcome = ethos.BatchSucceeded
		res.Response = &ethos.Response{Text: out.text, StopReason: stopReason(out.finish, out.refusal),
			Usage: out.usage, Model: out.model, RequestID: resp.RequestID}
	case resp != nil && resp.StatusCode != 0:
		var body errorBody
		_ = json.Unmarshal(resp.Body, &body)
		e := &ethos.Error{Op: c.provider + ": chat.completions", RequestID: resp.RequestID}
		c.statusError(e, resp.StatusCode, "", body.Error.Type, rawCode(body.Error.Code), body.Error.Message)
		res.Outcome, res.Err = ethos.BatchErrored, e
	case l.Error != nil:
		code := rawCode(l.Error.Code)
		switch code {
		case "batch_expired":
			res.Outcome = ethos.BatchExpired
		case "batch_cancelled":
			res.Outcome = ethos.BatchCancelled
		default:
			res.Outcome = ethos.BatchErrored
			res.Err = &ethos.Error{Kind: kindOfStreamError("", code), Op: c.provider + ": chat.completions",
				Msg: "errored in the batch" + c.detail("", code, l.Error.Message)}
		}
	default:
		return res, fmt.Sprintf("custom ID %s has neither a response nor an error", l.CustomID)
	}
	return res, ""
}

// checkBatchID refuses an empty ID before any request, with a typed error.
func (c *Client) checkBatchID(op, id string) error {
	if strings.TrimSpace(id) == "" {
		return &ethos.Error{Kind: ethos.Invalid, Op: c.provider + ": " + op, Msg: "no batch ID given"}
	}
	return nil
}

// BatchState maps a batch status, OpenAI's or Together's (upper case):
// validating, in_progress and finalizing are in progress; cancelling is
// cancelling; completed, expired and cancelled are ended (the results say
// what became of each request); failed is failed. A status ethos does not
// know reads as in progress, so the batch is still followed.
func BatchState(status string) ethos.BatchState {
	switch strings.ToLower(strings.TrimSpace(status)) {
	case "cancelling":
		return ethos.BatchCancelling
	case "completed", "expired", "cancelled":
		return ethos.BatchEnded
	case "failed":
		return ethos.BatchFailed
	}
	return ethos.BatchInProgress
}

// batchInfo maps an OpenAI batch onto ethos's record of it. Requests not
// counted as completed or failed are processing, or expired or cancelled
// when the batch ended so.
func (c *Client) batchInfo(op string, b *sdk.Batch) (ethos.BatchInfo, error) {
	if b == nil || b.ID == "" {
		return ethos.BatchInfo{}, &ethos.Error{Kind: ethos.Transient, Op: c.provider + ": " + op, Msg: "the provider answered without a batch id"}
	}
	n := b.RequestCounts
	counts := ethos.BatchCounts{Total: int(n.Total), Succeeded: int(n.Completed), Errored: int(n.Failed)}
	rest := max(counts.Total-counts.Succeeded-counts.Errored, 0)
	switch b.Status {
	case "expired":
		counts.Expired = rest
	case "cancelled":
		counts.Cancelled = rest
	case "failed":
	default:
		counts.Processing = rest
	}
	info := ethos.BatchInfo{
		ID:             b.ID,
		Label:          b.Metadata[labelKey],
		State:          BatchState(string(b.Status)),
		ProviderStatus: string(b.Status),
		Counts:         counts,
		CreatedAt:      unixTime(b.CreatedAt),
		ExpiresAt:      unixTime(b.ExpiresAt),
	}
	for _, t := range []int64{b.CompletedAt, b.FailedAt, b.ExpiredAt, b.CancelledAt} {
		if t > 0 {
			info.EndedAt = unixTime(t)
		}
	}
	if b.Status == "failed" {
		var msgs []string
		for _, e := range b.Errors.Data {
			msg := e.Message
			if e.Code != "" {
				msg = e.Code + ": " + msg
			}
			if e.Line > 0 {
				msg = fmt.Sprintf("line %d: %s", e.Line, msg)
			}
			msgs = append(msgs, msg)
		}
		info.Error = strings.Join(msgs, "; ")
		if info.Error == "" {
			info.Error = "the provider refused the batch and gave no reason"
		}
	}
	return info, nil
}
