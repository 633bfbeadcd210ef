package sandbox

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// The batch APIs of OpenAI and Together, which share POST /v1/batches and
// the JSONL input line {custom_id, method: "POST", url, body}. The purpose
// of the input file tells them apart: "batch" (uploaded with POST
// /v1/files) is OpenAI's, "batch-api" (POST /v1/files/upload) Together's;
// a batch answers every later request in its own wire's shape. Where
// nothing names a batch (listing, an unknown id), a client whose
// User-Agent is the OpenAI SDK's, or that pages with after or limit, gets
// OpenAI's shape and the OpenAI batches, any other client Together's.
//
// The wires differ:
//
//	                  OpenAI                                Together
//	create body       input_file_id, endpoint,              input_file_id, endpoint, completion_window?,
//	                  completion_window "24h", metadata,    priority, model_id
//	                  output_expires_after
//	create answer     200, the Batch                        201, {job: BatchJob, warning?}
//	list              {object: "list", data, first_id,      a bare array of BatchJob
//	                  last_id, has_more}, after and limit
//	ids               batch_…                               a UUID
//	times             Unix seconds, one per state           RFC 3339: created_at, job_deadline, completed_at
//	states            validating, in_progress, finalizing,  VALIDATING, IN_PROGRESS, COMPLETED, FAILED,
//	                  completed, failed, expired,           EXPIRED, CANCELLED
//	                  cancelling, cancelled
//	progress          request_counts {total, completed,     progress, a percentage
//	                  failed}, usage
//	a bad input file  failed, errors.data [{code,           FAILED, error (a string)
//	                  message, line}]
//	error body        {error: {message, type, param, code}} {error: "message"}
//	limits            50,000 lines, 200 MB                  50,000 lines, 100 MB
//
// Output and error files are the same on both (Together's are OpenAI's
// lines): {id: "batch_req_…", custom_id, response: {status_code,
// request_id, body} | null, error: {code, message} | null}; answered
// requests go to the output file, refused and failed ones to the error
// file with their status and error body, expired and cancelled ones with
// error batch_expired or batch_cancelled. The files are written when the
// batch ends, with purpose batch_output (OpenAI) or batch-generated
// (Together), and read with GET /v1/files/{id}/content.

func (s *Server) registerOpenAIBatches() {
	s.mux.HandleFunc("POST /v1/batches", s.batchHandle(s.batchCreate))
	s.mux.HandleFunc("GET /v1/batches", s.batchHandle(s.batchList))
	s.mux.HandleFunc("GET /v1/batches/{id}", s.batchHandle(s.batchGet))
	s.mux.HandleFunc("POST /v1/batches/{id}/cancel", s.batchHandle(s.batchCancel))
}

// batchHandle wraps a /v1/batches handler: it authenticates and writes
// the handler's error in the shape of the wire it names ("" leaves the
// choice to the request, see togetherClient).
func (s *Server) batchHandle(h func(w http.ResponseWriter, r *http.Request) (string, *ftError)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("x-request-id", s.newID("req_"))
		wire, e := "", (*ftError)(nil)
		if _, ok := s.authenticate(r); !ok {
			e = &ftError{status: http.StatusUnauthorized, msg: "invalid API key", code: "invalid_api_key"}
		} else {
			wire, e = h(w, r)
		}
		if e == nil {
			return
		}
		if wire == wireTogether || wire == "" && togetherClient(r) {
			writeJSON(w, e.status, map[string]string{"error": e.msg})
			return
		}
		e.write(w)
	}
}

// togetherClient says whether a request that names no batch comes from a
// Together client rather than an OpenAI one.
func togetherClient(r *http.Request) bool {
	q := r.URL.Query()
	return !strings.HasPrefix(r.Header.Get("User-Agent"), "OpenAI/") && !q.Has("after") && !q.Has("limit")
}

func storeError(err error) *ftError {
	return &ftError{status: 500, msg: "sandbox: batch store: " + err.Error(), typ: "server_error"}
}

// batchLine is a request of an input file.
type batchLine struct {
	CustomID string
	Body     json.RawMessage
	Line     int // 1-based
}

// parseBatchInput reads an OpenAI or Together batch input file: one JSON
// object a line, {custom_id, method: "POST", url: endpoint, body: {…}},
// custom ids unique, at most maxLines requests. Blank lines are skipped.
// It returns the requests and every problem found, each with its line.
func parseBatchInput(content []byte, endpoint string, maxLines int) ([]batchLine, []batchLineError) {
	var lines []batchLine
	var problems []batchLineError
	seen := map[string]bool{}
	for n, raw := range bytes.Split(content, []byte("\n")) {
		n++
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 {
			continue
		}
		var req struct {
			CustomID *string        `json:"custom_id"`
			Method   *string        `json:"method"`
			URL      *string        `json:"url"`
			Body     map[string]any `json:"body"`
		}
		problem := func(code, format string, args ...any) {
			problems = append(problems, batchLineError{Code: code, Message: fmt.Sprintf(format, args...), Line: n})
		}
		if raw[0] != '{' || json.Unmarshal(raw, &req) != nil {
			problem("invalid_json_line", "This line is not parseable as valid JSON.")
			continue
		}
		switch {
		case req.CustomID == nil || *req.CustomID == "":
			problem("missing_required_parameter", "Missing required parameter: 'custom_id'.")
		case req.Method == nil:
			problem("missing_required_parameter", "Missing required parameter: 'method'.")
		case *req.Method != "POST":
			problem("invalid_request", "Invalid value for 'method': %q; only POST is supported.", *req.Method)
		case req.URL == nil:
			problem("missing_required_parameter", "Missing required parameter: 'url'.")
		case *req.URL != endpoint:
			problem("invalid_url", "The URL provided for this request (%q) does not match the batch endpoint %q.", *req.URL, endpoint)
		case req.Body == nil:
			problem("missing_required_parameter", "Missing required parameter: 'body' (a JSON object).")
		case seen[*req.CustomID]:
			problem("duplicate_custom_id", "The custom_id %q is used by more than one request; each custom_id must be unique.", *req.CustomID)
		default:
			seen[*req.CustomID] = true
			var body struct {
				Body json.RawMessage `json:"body"`
			}
			_ = json.Unmarshal(raw, &body) // it parsed above
			lines = append(lines, batchLine{CustomID: *req.CustomID, Body: body.Body, Line: n})
		}
	}
	switch {
	case len(lines) == 0 && len(problems) == 0:
		problems = append(problems, batchLineError{Code: "empty_file", Message: "The input file is empty."})
	case len(lines) > maxLines:
		problems = append(problems, batchLineError{Code: "too_many_tasks",
			Message: fmt.Sprintf("The input file has %d requests; a batch holds at most %d.", len(lines), maxLines)})
	}
	return lines, problems
}

// openaiBatchFields and togetherBatchFields are the properties of each
// spec's CreateBatchRequest.
var (
	openaiBatchFields   = []string{"completion_window", "endpoint", "input_file_id", "metadata", "output_expires_after"}
	togetherBatchFields = []string{"completion_window", "endpoint", "input_file_id", "model_id", "priority"}
)

type batchCreateRequest struct {
	InputFileID        string            `json:"input_file_id"`
	Endpoint           string            `json:"endpoint"`
	CompletionWindow   string            `json:"completion_window"`
	Metadata           map[string]string `json:"metadata"`
	OutputExpiresAfter *struct {
		Anchor  string `json:"anchor"`
		Seconds int64  `json:"seconds"`
	} `json:"output_expires_after"`
	Priority *int   `json:"priority"`
	ModelID  string `json:"model_id"`
}

func (s *Server) batchCreate(w http.ResponseWriter, r *http.Request) (string, *ftError) {
	body, ae := readBody(w, r)
	if ae != nil {
		return "", &ftError{status: ae.status, msg: ae.msg}
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return "", &ftError{status: 400, msg: "We could not parse the JSON body of your request: " + err.Error()}
	}
	var req batchCreateRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return "", &ftError{status: 400, msg: "invalid request body: " + err.Error()}
	}
	if req.InputFileID == "" {
		return "", &ftError{status: 400, param: "input_file_id", msg: "Missing required parameter: 'input_file_id'."}
	}
	f, e := s.fileOr404(req.InputFileID)
	if e != nil {
		return "", e
	}
	var wire string
	switch f.Purpose {
	case "batch":
		wire, e = wireOpenAI, checkOpenAIBatch(raw, req)
	case "batch-api":
		wire, e = wireTogether, checkTogetherBatch(raw, req)
	default:
		return "", &ftError{status: 400, param: "input_file_id", msg: fmt.Sprintf("File %s has purpose %q; a batch's input file has purpose \"batch\" (OpenAI) or \"batch-api\" (Together).", f.ID, f.Purpose)}
	}
	if e != nil {
		return wire, e
	}
	maxBytes, maxLines := int64(openaiBatchMaxBytes), openaiBatchMaxLines
	if wire == wireTogether {
		maxBytes, maxLines = togetherBatchMaxBytes, togetherBatchMaxLines
	}
	if f.Bytes > maxBytes {
		return wire, &ftError{status: 400, param: "input_file_id", msg: fmt.Sprintf("File %s is %d bytes; a batch's input file may be at most %d bytes.", f.ID, f.Bytes, maxBytes)}
	}
	content, err := s.ft.store.content(f.ID)
	if err != nil {
		return wire, internalError(err)
	}
	key, _ := s.authenticate(r)
	now := s.opts.Now()
	b := &batchRecord{Wire: wire, Endpoint: req.Endpoint, InputFileID: f.ID, InputBytes: f.Bytes,
		CompletionWindow: req.CompletionWindow, Model: req.ModelID, Metadata: req.Metadata,
		CreatedAt: now, Processing: s.opts.Batch.ProcessingTime}
	lines, problems := parseBatchInput(content, req.Endpoint, maxLines)
	b.Invalid = problems
	var p openaiProtocol
	for _, l := range lines {
		it := batchItem{CustomID: l.CustomID}
		if len(problems) == 0 {
			it = s.answerItem(p, key, l.CustomID, l.Body, now,
				func(c call, a answer) any { return p.completion(c, a) }, openaiErrorJSON)
		}
		b.Items = append(b.Items, it)
		if b.Model == "" {
			var m struct {
				Model string `json:"model"`
			}
			_ = json.Unmarshal(l.Body, &m)
			b.Model = m.Model
		}
	}
	s.drawBatchFaults(b, openaiErrorJSON)
	err = s.createBatch(b, func(attempt int) string {
		if wire == wireTogether {
			return uuidOf(s.newJobID("together-batch", now, attempt, 16))
		}
		return "batch_" + s.newJobID("batch", now, attempt, 12)
	})
	if err != nil {
		return wire, storeError(err)
	}
	if wire == wireTogether {
		writeJSON(w, http.StatusCreated, map[string]any{"job": togetherBatchOf(b, now, batchFiles{})})
		return wire, nil
	}
	writeJSON(w, http.StatusOK, openaiBatchOf(b, now, batchFiles{}))
	return wire, nil
}

// uuidOf formats 32 hex digits as a UUID.
func uuidOf(h string) string {
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// checkOpenAIBatch validates an OpenAI create body against the spec's
// CreateBatchRequest. The sandbox serves chat completions only.
func checkOpenAIBatch(raw map[string]json.RawMessage, req batchCreateRequest) *ftError {
	if f := extraField(raw, openaiBatchFields); f != "" {
		return &ftError{status: 400, param: f, msg: "Unrecognized request argument supplied: " + f}
	}
	switch {
	case req.Endpoint == "":
		return &ftError{status: 400, param: "endpoint", msg: "Missing required parameter: 'endpoint'."}
	case req.Endpoint != "/v1/chat/completions":
		return &ftError{status: 400, param: "endpoint", msg: fmt.Sprintf("Invalid value for 'endpoint': %q; the sandbox batches /v1/chat/completions only.", req.Endpoint)}
	case req.CompletionWindow == "":
		return &ftError{status: 400, param: "completion_window", msg: "Missing required parameter: 'completion_window'."}
	case req.CompletionWindow != "24h":
		return &ftError{status: 400, param: "completion_window", msg: fmt.Sprintf("Invalid value for 'completion_window': %q; supported values are: '24h'.", req.CompletionWindow)}
	case len(req.Metadata) > 16:
		return &ftError{status: 400, param: "metadata", msg: "Invalid 'metadata': too many keys; at most 16 are allowed."}
	}
	for k, v := range req.Metadata {
		if len(k) > 64 || len(v) > 512 {
			return &ftError{status: 400, param: "metadata", msg: "Invalid 'metadata': keys are at most 64 characters and values at most 512."}
		}
	}
	if x := req.OutputExpiresAfter; x != nil && (x.Anchor != "created_at" || x.Seconds < 3600 || x.Seconds > 2592000) {
		return &ftError{status: 400, param: "output_expires_after", msg: "Invalid 'output_expires_after': anchor must be 'created_at' and seconds between 3600 and 2592000."}
	}
	return nil
}

// checkTogetherBatch validates a Together create body against the spec's
// CreateBatchRequest.
func checkTogetherBatch(raw map[string]json.RawMessage, req batchCreateRequest) *ftError {
	if f := extraField(raw, togetherBatchFields); f != "" {
		return &ftError{status: 400, param: f, msg: fmt.Sprintf("unknown field %q: the fields of POST /batches are %s", f, strings.Join(togetherBatchFields, ", "))}
	}
	switch {
	case req.Endpoint == "":
		return &ftError{status: 400, param: "endpoint", msg: "missing required field: endpoint"}
	case req.Endpoint != "/v1/chat/completions":
		return &ftError{status: 400, param: "endpoint", msg: fmt.Sprintf("invalid endpoint %q: the sandbox batches /v1/chat/completions only", req.Endpoint)}
	}
	if req.CompletionWindow != "" {
		if d, err := time.ParseDuration(req.CompletionWindow); err != nil || d <= 0 {
			return &ftError{status: 400, param: "completion_window", msg: fmt.Sprintf("invalid completion_window %q: want a duration such as 24h", req.CompletionWindow)}
		}
	}
	return nil
}

// openaiErrorJSON is the error body of a refused or failed request.
func openaiErrorJSON(e *apiError) json.RawMessage {
	typ, code := openaiErrorKind(e.status)
	b, _ := json.Marshal(openaiErrorBody{Error: openaiErrorObj{Message: e.msg, Type: typ, Code: optional(cmpOrString(e.code, code))}})
	return b
}

// batchFiles are the ids of an ended batch's output and error files.
type batchFiles struct{ output, errors string }

// batchFilesOf writes the output and error files of a batch that has
// ended, once: their ids are drawn from the batch's, so processes sharing
// a directory write the same files.
func (s *Server) batchFilesOf(b *batchRecord, now time.Time) (batchFiles, error) {
	v := b.view(now)
	if !v.ended || v.phase == batchFailed {
		return batchFiles{}, nil
	}
	var out, errs bytes.Buffer
	for i, it := range b.Items {
		line := map[string]any{"id": "batch_req_" + hashHex(b.ID+"|"+it.CustomID, 12), "custom_id": it.CustomID,
			"response": nil, "error": nil}
		dst := &errs
		switch b.itemState(i, now) {
		case itemSucceeded:
			dst = &out
			fallthrough
		case itemErrored:
			line["response"] = map[string]any{"status_code": it.Status, "request_id": it.RequestID, "body": it.Body}
		case itemExpired:
			line["error"] = map[string]string{"code": "batch_expired", "message": "This request could not be executed before the completion window expired."}
		default:
			line["error"] = map[string]string{"code": "batch_cancelled", "message": "This request was not executed because the batch was cancelled."}
		}
		data, _ := json.Marshal(line)
		dst.Write(data)
		dst.WriteByte('\n')
	}
	purpose := "batch_output"
	if b.Wire == wireTogether {
		purpose = "batch-generated"
	}
	var files batchFiles
	for _, f := range []struct {
		id      *string
		kind    string
		content []byte
	}{{&files.output, "output", out.Bytes()}, {&files.errors, "error", errs.Bytes()}} {
		if len(f.content) == 0 {
			continue
		}
		*f.id = "file-" + hashHex(b.ID+"|"+f.kind, 12)
		meta := &ftFile{ID: *f.id, Filename: b.ID + "_" + f.kind + ".jsonl", Purpose: purpose, FileType: "jsonl",
			Bytes: int64(len(f.content)), Lines: bytes.Count(f.content, []byte("\n")), SHA256: hashHex(string(f.content), 32),
			CreatedAt: v.endAt.Unix()}
		if err := s.ft.store.putFileAs(meta, f.content); err != nil {
			return batchFiles{}, err
		}
	}
	return files, nil
}

func hashHex(s string, n int) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:n])
}

// putFileAs records a file under the id it carries, unless it exists.
func (st *ftStore) putFileAs(f *ftFile, content []byte) error {
	if _, ok, err := st.file(f.ID); ok || err != nil {
		return err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.dir == "" {
		st.files[f.ID], st.contents[f.ID] = f, content
		return nil
	}
	return st.saveFile(f, content, false)
}

type openaiBatchCounts struct {
	Total     int `json:"total"`
	Completed int `json:"completed"`
	Failed    int `json:"failed"`
}

type openaiBatchErrors struct {
	Object string                 `json:"object"`
	Data   []openaiBatchLineError `json:"data"`
}

type openaiBatchLineError struct {
	Code    string  `json:"code"`
	Message string  `json:"message"`
	Param   *string `json:"param"`
	Line    *int    `json:"line"`
}

type openaiBatchUsage struct {
	InputTokens        int `json:"input_tokens"`
	InputTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"input_tokens_details"`
	OutputTokens        int `json:"output_tokens"`
	OutputTokensDetails struct {
		ReasoningTokens int `json:"reasoning_tokens"`
	} `json:"output_tokens_details"`
	TotalTokens int `json:"total_tokens"`
}

// openaiBatch is the spec's Batch.
type openaiBatch struct {
	ID               string             `json:"id"`
	Object           string             `json:"object"`
	Endpoint         string             `json:"endpoint"`
	Model            string             `json:"model,omitempty"`
	Errors           *openaiBatchErrors `json:"errors"`
	InputFileID      string             `json:"input_file_id"`
	CompletionWindow string             `json:"completion_window"`
	Status           string             `json:"status"`
	OutputFileID     *string            `json:"output_file_id"`
	ErrorFileID      *string            `json:"error_file_id"`
	CreatedAt        int64              `json:"created_at"`
	InProgressAt     *int64             `json:"in_progress_at"`
	ExpiresAt        int64              `json:"expires_at"`
	FinalizingAt     *int64             `json:"finalizing_at"`
	CompletedAt      *int64             `json:"completed_at"`
	FailedAt         *int64             `json:"failed_at"`
	ExpiredAt        *int64             `json:"expired_at"`
	CancellingAt     *int64             `json:"cancelling_at"`
	CancelledAt      *int64             `json:"cancelled_at"`
	RequestCounts    openaiBatchCounts  `json:"request_counts"`
	Usage            openaiBatchUsage   `json:"usage"`
	Metadata         map[string]string  `json:"metadata"`
}

func openaiBatchOf(b *batchRecord, now time.Time, files batchFiles) openaiBatch {
	v := b.view(now)
	out := openaiBatch{ID: b.ID, Object: "batch", Endpoint: b.Endpoint, Model: b.Model, InputFileID: b.InputFileID,
		CompletionWindow: b.CompletionWindow, Status: v.phase, CreatedAt: b.CreatedAt.Unix(),
		ExpiresAt: b.CreatedAt.Add(batchWindow).Unix(), Metadata: b.Metadata,
		OutputFileID: optional(files.output), ErrorFileID: optional(files.errors)}
	if len(b.Invalid) > 0 {
		out.Errors = &openaiBatchErrors{Object: "list"}
		for _, p := range b.Invalid {
			e := openaiBatchLineError{Code: p.Code, Message: p.Message}
			if p.Line > 0 {
				e.Line = &p.Line
			}
			out.Errors.Data = append(out.Errors.Data, e)
		}
		out.FailedAt = unixAt(v.endAt, v.ended)
		return out
	}
	c, cancelled := b.cancelAt()
	cancelled = cancelled && !now.Before(c)
	stopped := now
	if cancelled {
		stopped = c
	}
	out.InProgressAt = unixAt(b.validated(), !stopped.Before(b.validated()))
	out.FinalizingAt = unixAt(b.processed(), !stopped.Before(b.processed()))
	out.CancellingAt = unixAt(c, cancelled)
	switch v.phase {
	case batchCompleted:
		out.CompletedAt = unixAt(v.endAt, true)
	case batchExpired:
		out.ExpiredAt = unixAt(v.endAt, true)
	case batchCancelled:
		out.CancelledAt = unixAt(v.endAt, true)
	}
	out.RequestCounts = openaiBatchCounts{Total: len(b.Items), Completed: v.counts[itemSucceeded], Failed: v.counts[itemErrored]}
	if v.ended {
		out.RequestCounts.Failed += v.counts[itemExpired] + v.counts[itemCanceled]
	}
	in, outTokens, cached := b.usage(now)
	out.Usage.InputTokens, out.Usage.OutputTokens, out.Usage.TotalTokens = in, outTokens, in+outTokens
	out.Usage.InputTokensDetails.CachedTokens = cached
	return out
}

// togetherBatch is the spec's BatchJob.
type togetherBatch struct {
	ID            string  `json:"id"`
	InputFileID   string  `json:"input_file_id"`
	FileSizeBytes int64   `json:"file_size_bytes"`
	Status        string  `json:"status"`
	JobDeadline   string  `json:"job_deadline"`
	CreatedAt     string  `json:"created_at"`
	Endpoint      string  `json:"endpoint"`
	Progress      float64 `json:"progress"`
	ModelID       string  `json:"model_id,omitempty"`
	OutputFileID  string  `json:"output_file_id,omitempty"`
	ErrorFileID   string  `json:"error_file_id,omitempty"`
	Error         string  `json:"error,omitempty"`
	CompletedAt   string  `json:"completed_at,omitempty"`
}

var togetherBatchStatus = map[string]string{batchValidating: "VALIDATING", batchInProgress: "IN_PROGRESS",
	batchFinalizing: "IN_PROGRESS", batchCompleted: "COMPLETED", batchFailed: "FAILED", batchExpired: "EXPIRED",
	batchCancelling: "CANCELLED", batchCancelled: "CANCELLED"}

func togetherBatchOf(b *batchRecord, now time.Time, files batchFiles) togetherBatch {
	v := b.view(now)
	window := batchWindow
	if d, err := time.ParseDuration(b.CompletionWindow); err == nil && d > 0 {
		window = d
	}
	out := togetherBatch{ID: b.ID, InputFileID: b.InputFileID, FileSizeBytes: b.InputBytes, Status: togetherBatchStatus[v.phase],
		JobDeadline: rfc3339(b.CreatedAt.Add(window)), CreatedAt: rfc3339(b.CreatedAt), Endpoint: b.Endpoint,
		ModelID: b.Model, OutputFileID: files.output, ErrorFileID: files.errors}
	if n := len(b.Items); n > 0 && len(b.Invalid) == 0 {
		out.Progress = 100 * float64(n-v.counts[itemProcessing]) / float64(n)
	}
	if len(b.Invalid) > 0 {
		msgs := make([]string, len(b.Invalid))
		for i, p := range b.Invalid {
			msgs[i] = p.Message
			if p.Line > 0 {
				msgs[i] = fmt.Sprintf("line %d: %s", p.Line, p.Message)
			}
		}
		out.Error = strings.Join(msgs, "; ")
	}
	if v.ended {
		out.CompletedAt = rfc3339(v.endAt)
	}
	return out
}

// batchOr404 finds a batch of OpenAI or Together.
func (s *Server) batchOr404(id string) (*batchRecord, *ftError) {
	b, ok, err := s.batches.get(id)
	if err != nil {
		return nil, storeError(err)
	}
	if !ok || b.Wire == wireAnthropic {
		return nil, &ftError{status: 404, param: "batch_id", msg: "No batch found with id '" + id + "'."}
	}
	return b, nil
}

// writeBatch answers with a batch in its wire's shape.
func (s *Server) writeBatch(w http.ResponseWriter, b *batchRecord, now time.Time) *ftError {
	files, err := s.batchFilesOf(b, now)
	if err != nil {
		return storeError(err)
	}
	if b.Wire == wireTogether {
		writeJSON(w, http.StatusOK, togetherBatchOf(b, now, files))
		return nil
	}
	writeJSON(w, http.StatusOK, openaiBatchOf(b, now, files))
	return nil
}

func (s *Server) batchGet(w http.ResponseWriter, r *http.Request) (string, *ftError) {
	b, e := s.batchOr404(r.PathValue("id"))
	if e != nil {
		return "", e
	}
	return b.Wire, s.writeBatch(w, b, s.opts.Now())
}

func (s *Server) batchCancel(w http.ResponseWriter, r *http.Request) (string, *ftError) {
	b, e := s.batchOr404(r.PathValue("id"))
	if e != nil {
		return "", e
	}
	now := s.opts.Now()
	ok, err := s.cancelBatch(b, now)
	if err != nil {
		return b.Wire, storeError(err)
	}
	if !ok {
		status := b.view(now).phase
		if b.Wire == wireTogether {
			status = togetherBatchStatus[status]
		}
		return b.Wire, &ftError{status: 400, msg: fmt.Sprintf("Cannot cancel a batch with status '%s'.", status)}
	}
	return b.Wire, s.writeBatch(w, b, now)
}

// batchList lists OpenAI's batches (newest first, after and limit) or
// Together's (all of them, as a bare array), as togetherClient decides.
func (s *Server) batchList(w http.ResponseWriter, r *http.Request) (string, *ftError) {
	wire := wireOpenAI
	if togetherClient(r) {
		wire = wireTogether
	}
	all, err := s.batches.list(wire)
	if err != nil {
		return wire, storeError(err)
	}
	now := s.opts.Now()
	if wire == wireTogether {
		data := make([]togetherBatch, len(all))
		for i, b := range all {
			files, err := s.batchFilesOf(b, now)
			if err != nil {
				return wire, storeError(err)
			}
			data[i] = togetherBatchOf(b, now, files)
		}
		writeJSON(w, http.StatusOK, data)
		return wire, nil
	}
	q := r.URL.Query()
	limit, e := queryLimit(q.Get("limit"), 20, 100)
	if e != nil {
		return wire, e
	}
	if after := q.Get("after"); after != "" {
		if i := slices.IndexFunc(all, func(b *batchRecord) bool { return b.ID == after }); i >= 0 {
			all = all[i+1:]
		}
	}
	more := len(all) > limit
	all = all[:min(limit, len(all))]
	data := make([]openaiBatch, len(all))
	for i, b := range all {
		files, err := s.batchFilesOf(b, now)
		if err != nil {
			return wire, storeError(err)
		}
		data[i] = openaiBatchOf(b, now, files)
	}
	body := map[string]any{"object": "list", "data": data, "has_more": more}
	if len(data) > 0 {
		body["first_id"], body["last_id"] = data[0].ID, data[len(data)-1].ID
	}
	writeJSON(w, http.StatusOK, body)
	return wire, nil
}
