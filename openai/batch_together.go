package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"time"

	sdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/ethos-toolkit/ethos"
)

// Together's Batch API, as its OpenAPI spec (togethercomputer/openapi)
// describes it, relative to https://api.together.xyz/v1:
//
//   - POST /files/upload, multipart: purpose "batch-api", file_name,
//     file_type "jsonl", file. The input lines are OpenAI's.
//   - POST /batches {endpoint, input_file_id, completion_window,
//     model_id} answers 201 BatchJobWithWarning {job, warning}.
//   - GET /batches/{id} and POST /batches/{id}/cancel answer a BatchJob;
//     GET /batches answers an array of them, unpaged.
//   - A BatchJob's status is upper case: VALIDATING, IN_PROGRESS,
//     COMPLETED, FAILED, EXPIRED, CANCELLED. It has progress (0–100) but
//     no request counts, and no metadata: the label travels as the input
//     file's name, read back with GET /files/{input_file_id}.
//   - Results: GET /files/{output_file_id}/content and the error file's,
//     in OpenAI's line format.

// togetherPurpose is the purpose of a batch input file.
const togetherPurpose = "batch-api"

// togetherJob is the spec's BatchJob.
type togetherJob struct {
	ID           string  `json:"id"`
	InputFileID  string  `json:"input_file_id"`
	Status       string  `json:"status"`
	JobDeadline  string  `json:"job_deadline"`
	CreatedAt    string  `json:"created_at"`
	CompletedAt  string  `json:"completed_at"`
	Progress     float64 `json:"progress"`
	ModelID      string  `json:"model_id"`
	OutputFileID string  `json:"output_file_id"`
	ErrorFileID  string  `json:"error_file_id"`
	Error        string  `json:"error"`
}

// togetherFile is the part of the spec's FileResponse the client reads.
type togetherFile struct {
	ID       string `json:"id"`
	Filename string `json:"filename"`
	Bytes    int64  `json:"bytes"`
}

// togetherUserAgent names the client on Together's batch routes, as
// Together's own SDKs name theirs: the routes are Together's, not
// OpenAI's, and a server that serves both (the sandbox) answers each in
// its own format by it.
const togetherUserAgent = "ethos-together"

// raw is the SDK's generic request path over the client's options, with
// the client named as a Together client.
func (c *Client) raw() *sdk.Client {
	opts := append(slices.Clip(c.opts), option.WithHeader("User-Agent", togetherUserAgent), option.WithMiddleware(togetherErrors))
	return &sdk.Client{Options: opts}
}

// togetherErrors rewrites the error body of Together's batch routes — the
// spec's BatchErrorResponse, {"error": "message"} — into the shape the
// SDK reads ({"error": {"message": …}}), so that a failure keeps its
// status and message and is classified as any other.
func togetherErrors(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
	resp, err := next(req)
	if err != nil || resp == nil || resp.StatusCode < 400 || resp.Body == nil {
		return resp, err
	}
	body, rerr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if rerr != nil {
		return nil, rerr
	}
	var flat struct {
		Error *string `json:"error"`
	}
	if json.Unmarshal(body, &flat) == nil && flat.Error != nil {
		if nested, merr := json.Marshal(map[string]any{"error": map[string]string{"message": *flat.Error, "type": ""}}); merr == nil {
			body = nested
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	return resp, nil
}

// togetherSubmit uploads the input file and creates the batch.
func (c *Client) togetherSubmit(ctx context.Context, label string, file []byte, model string) (ethos.BatchInfo, error) {
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	for _, f := range [][2]string{{"purpose", togetherPurpose}, {"file_name", fileName(label)}, {"file_type", "jsonl"}} {
		if err := mw.WriteField(f[0], f[1]); err != nil {
			return ethos.BatchInfo{}, &ethos.Error{Kind: ethos.Internal, Op: c.provider + ": files.upload", Msg: "build the upload: " + err.Error(), Err: err}
		}
	}
	fw, err := mw.CreateFormFile("file", fileName(label))
	if err == nil {
		_, err = fw.Write(file)
	}
	if err == nil {
		err = mw.Close()
	}
	if err != nil {
		return ethos.BatchInfo{}, &ethos.Error{Kind: ethos.Internal, Op: c.provider + ": files.upload", Msg: "build the upload: " + err.Error(), Err: err}
	}
	var uploaded togetherFile
	err = c.call(ctx, "files.upload", "", "", c.uploadTimeout(len(file)), func(opts ...option.RequestOption) error {
		opts = append(opts, option.WithRequestBody(mw.FormDataContentType(), &form))
		return c.raw().Post(ctx, "files/upload", nil, &uploaded, opts...)
	})
	if err != nil {
		return ethos.BatchInfo{}, err
	}
	if uploaded.ID == "" {
		return ethos.BatchInfo{}, &ethos.Error{Kind: ethos.Transient, Op: c.provider + ": files.upload", Msg: "the provider answered the upload without a file id"}
	}
	body := map[string]any{"endpoint": chatURL, "input_file_id": uploaded.ID, "completion_window": "24h"}
	if model != "" {
		body["model_id"] = model
	}
	var created struct {
		Job     togetherJob `json:"job"`
		Warning string      `json:"warning"`
	}
	err = c.call(ctx, "batches.create", "", model, 0, func(opts ...option.RequestOption) error {
		return c.raw().Post(ctx, "batches", body, &created, opts...)
	})
	if err != nil {
		return ethos.BatchInfo{}, err
	}
	info, err := c.togetherJobInfo("batches.create", created.Job)
	info.Label = label
	return info, err
}

// togetherJob calls a route that answers one BatchJob.
func (c *Client) togetherJob(ctx context.Context, op, id, method, path string) (togetherJob, error) {
	var job togetherJob
	err := c.call(ctx, op, fmt.Sprintf("batch %q", id), "", 0, func(opts ...option.RequestOption) error {
		return c.raw().Execute(ctx, method, pathOf(path), nil, &job, opts...)
	})
	return job, err
}

// pathOf escapes each segment of a path whose IDs came from elsewhere.
func pathOf(path string) string {
	u := url.URL{Path: path}
	return u.EscapedPath()
}

// togetherInfo maps a job and reads its label back from its input file's
// name. An input file that is gone leaves the label empty.
func (c *Client) togetherInfo(ctx context.Context, op string, job togetherJob) (ethos.BatchInfo, error) {
	info, err := c.togetherJobInfo(op, job)
	if err != nil || job.InputFileID == "" {
		return info, err
	}
	var f togetherFile
	err = c.call(ctx, "files.retrieve", fmt.Sprintf("file %q", job.InputFileID), "", 0, func(opts ...option.RequestOption) error {
		return c.raw().Get(ctx, pathOf("files/"+job.InputFileID), nil, &f, opts...)
	})
	switch {
	case ethos.KindOf(err) == ethos.NotFound:
	case err != nil:
		return ethos.BatchInfo{}, err
	default:
		info.Label = labelOf(f.Filename)
	}
	return info, nil
}

// togetherJobInfo maps a BatchJob onto ethos's record of it. Together
// reports no request counts, so Counts stays zero.
func (c *Client) togetherJobInfo(op string, job togetherJob) (ethos.BatchInfo, error) {
	if job.ID == "" {
		return ethos.BatchInfo{}, &ethos.Error{Kind: ethos.Transient, Op: c.provider + ": " + op, Msg: "the provider answered without a batch id"}
	}
	info := ethos.BatchInfo{
		ID:             job.ID,
		State:          BatchState(job.Status),
		ProviderStatus: job.Status,
		CreatedAt:      parseTime(job.CreatedAt),
		EndedAt:        parseTime(job.CompletedAt),
		ExpiresAt:      parseTime(job.JobDeadline),
	}
	if info.State == ethos.BatchFailed {
		info.Error = job.Error
		if info.Error == "" {
			info.Error = "the provider refused the batch and gave no reason"
		}
	}
	return info, nil
}

// parseTime reads an RFC 3339 time; anything else is zero.
func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

// togetherList lists every batch (GET /batches is not paged), keeps those
// created at or after since, newest first, and reads their labels.
func (c *Client) togetherList(ctx context.Context, since time.Time) ([]ethos.BatchInfo, error) {
	const op = "batches.list"
	var jobs []togetherJob
	err := c.call(ctx, op, "", "", 0, func(opts ...option.RequestOption) error {
		return c.raw().Execute(ctx, http.MethodGet, "batches", nil, &jobs, opts...)
	})
	if err != nil {
		return nil, err
	}
	var out []ethos.BatchInfo
	for _, job := range jobs {
		if parseTime(job.CreatedAt).Before(since) {
			continue
		}
		info, err := c.togetherInfo(ctx, op, job)
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	slices.SortStableFunc(out, func(a, b ethos.BatchInfo) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return out, nil
}
