package sandbox

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"time"
)

// Anthropic's Message Batches: POST /v1/messages/batches with
// {requests: [{custom_id, params}]}, where params is a Messages request.
// As on the API, the batch itself is refused (400) when its shape is
// wrong: no requests or more than 100,000, a custom_id that is malformed
// or repeated, a body over 256 MB. Each params is validated as POST
// /v1/messages validates a request, but asynchronously, as Anthropic
// does: a request it refuses comes back errored in the results with the
// error the online endpoint would have answered.

func (s *Server) registerAnthropicBatches() {
	s.mux.HandleFunc("POST /v1/messages/batches", s.anthropicHandle(s.anthropicBatchCreate))
	s.mux.HandleFunc("GET /v1/messages/batches", s.anthropicHandle(s.anthropicBatchList))
	s.mux.HandleFunc("GET /v1/messages/batches/{id}", s.anthropicHandle(s.anthropicBatchGet))
	s.mux.HandleFunc("DELETE /v1/messages/batches/{id}", s.anthropicHandle(s.anthropicBatchDelete))
	s.mux.HandleFunc("POST /v1/messages/batches/{id}/cancel", s.anthropicHandle(s.anthropicBatchCancel))
	s.mux.HandleFunc("GET /v1/messages/batches/{id}/results", s.anthropicHandle(s.anthropicBatchResults))
}

// anthropicHandle wraps a Message Batches handler: it authenticates,
// checks the headers the API requires and writes the handler's error in
// Anthropic's shape.
func (s *Server) anthropicHandle(h func(w http.ResponseWriter, r *http.Request) *apiError) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var p anthropicProtocol
		reqID := s.newID("req_")
		w.Header().Set(p.requestIDHeader(), reqID)
		e := p.check(r)
		if _, ok := s.authenticate(r); !ok {
			e = &apiError{status: http.StatusUnauthorized, msg: "invalid x-api-key"}
		}
		if e == nil {
			e = h(w, r)
		}
		if e != nil {
			p.writeError(w, e, reqID)
		}
	}
}

// customIDRE is what Anthropic accepts as a custom_id.
var customIDRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

type anthropicBatchCounts struct {
	Processing int `json:"processing"`
	Succeeded  int `json:"succeeded"`
	Errored    int `json:"errored"`
	Canceled   int `json:"canceled"`
	Expired    int `json:"expired"`
}

// anthropicBatch is the spec's MessageBatch.
type anthropicBatch struct {
	ID                string               `json:"id"`
	Type              string               `json:"type"`
	ProcessingStatus  string               `json:"processing_status"`
	RequestCounts     anthropicBatchCounts `json:"request_counts"`
	EndedAt           *string              `json:"ended_at"`
	CreatedAt         string               `json:"created_at"`
	ExpiresAt         string               `json:"expires_at"`
	ArchivedAt        *string              `json:"archived_at"`
	CancelInitiatedAt *string              `json:"cancel_initiated_at"`
	ResultsURL        *string              `json:"results_url"`
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func rfc3339If(t time.Time, set bool) *string {
	if !set {
		return nil
	}
	s := rfc3339(t)
	return &s
}

func anthropicBatchOf(b *batchRecord, now time.Time, r *http.Request) anthropicBatch {
	v := b.view(now)
	out := anthropicBatch{ID: b.ID, Type: "message_batch", CreatedAt: rfc3339(b.CreatedAt),
		ExpiresAt: rfc3339(b.CreatedAt.Add(batchWindow)),
		RequestCounts: anthropicBatchCounts{Processing: v.counts[itemProcessing], Succeeded: v.counts[itemSucceeded],
			Errored: v.counts[itemErrored], Canceled: v.counts[itemCanceled], Expired: v.counts[itemExpired]}}
	c, cancelled := b.cancelAt()
	out.CancelInitiatedAt = rfc3339If(c, cancelled && !now.Before(c))
	switch {
	case v.ended:
		out.ProcessingStatus = "ended"
		out.EndedAt = rfc3339If(v.endAt, true)
		url := "http://" + r.Host + "/v1/messages/batches/" + b.ID + "/results"
		out.ResultsURL = &url
	case v.phase == batchCancelling:
		out.ProcessingStatus = "canceling"
	default:
		out.ProcessingStatus = "in_progress"
	}
	return out
}

// anthropicBatchRequestFields are the properties of the spec's
// CreateMessageBatchParams and MessageBatchIndividualRequestParams, both
// additionalProperties false.
var (
	anthropicBatchFields        = []string{"requests"}
	anthropicBatchRequestFields = []string{"custom_id", "params"}
)

func (s *Server) anthropicBatchCreate(w http.ResponseWriter, r *http.Request) *apiError {
	body, e := readBodyUpTo(w, r, anthropicBatchMaxBytes)
	if e != nil {
		return e
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return invalid("invalid JSON body: %v", err)
	}
	if f := extraField(top, anthropicBatchFields); f != "" {
		return invalid("%s: Extra inputs are not permitted", f)
	}
	var requests []map[string]json.RawMessage
	if err := json.Unmarshal(top["requests"], &requests); err != nil || top["requests"] == nil {
		return invalid("requests: Input should be a valid list")
	}
	switch {
	case len(requests) == 0:
		return invalid("requests: List should have at least 1 item after validation, not 0")
	case len(requests) > anthropicBatchMaxRequests:
		return invalid("requests: List should have at most %d items after validation, not %d", anthropicBatchMaxRequests, len(requests))
	}
	key, _ := s.authenticate(r)
	now := s.opts.Now()
	var p anthropicProtocol
	b := &batchRecord{Wire: wireAnthropic, CreatedAt: now, Processing: s.opts.Batch.ProcessingTime}
	seen := make(map[string]bool, len(requests))
	for i, req := range requests {
		if f := extraField(req, anthropicBatchRequestFields); f != "" {
			return invalid("requests.%d.%s: Extra inputs are not permitted", i, f)
		}
		var id string
		if err := json.Unmarshal(req["custom_id"], &id); err != nil {
			return invalid("requests.%d.custom_id: Input should be a valid string", i)
		}
		if !customIDRE.MatchString(id) {
			return invalid("requests.%d.custom_id: String should match pattern '%s'", i, customIDRE)
		}
		if seen[id] {
			return invalid("requests.%d.custom_id: Duplicate custom_id %q: custom_id must be unique within the batch", i, id)
		}
		seen[id] = true
		params, ok := req["params"]
		if !ok {
			return invalid("requests.%d.params: Field required", i)
		}
		b.Items = append(b.Items, s.answerAnthropicParams(p, key, id, params, now))
	}
	s.drawBatchFaults(b, anthropicErrorJSON)
	err := s.createBatch(b, func(attempt int) string {
		return "msgbatch_" + s.newJobID("msgbatch", now, attempt, 12)
	})
	if err != nil {
		return &apiError{status: 500, msg: "sandbox: batch store: " + err.Error()}
	}
	writeJSON(w, http.StatusOK, anthropicBatchOf(b, now, r))
	return nil
}

// answerAnthropicParams answers one request of a batch; a request that
// asks to stream is refused, as batches never stream.
func (s *Server) answerAnthropicParams(p anthropicProtocol, key, id string, params []byte, now time.Time) batchItem {
	var stream struct {
		Stream bool `json:"stream"`
	}
	if json.Unmarshal(params, &stream) == nil && stream.Stream {
		return batchItem{CustomID: id, RequestID: s.newID("req_"), Status: 400,
			Body: anthropicErrorJSON(invalid("stream: Message Batches do not support streaming"))}
	}
	return s.answerItem(p, key, id, params, now,
		func(c call, a answer) any { return p.message(c, a) }, anthropicErrorJSON)
}

// anthropicErrorJSON is the error object of an errored result.
func anthropicErrorJSON(e *apiError) json.RawMessage {
	b, _ := json.Marshal(anthropicErrorObj{Type: anthropicErrorType(e.status), Message: e.msg})
	return b
}

func (s *Server) anthropicBatchOr404(id string) (*batchRecord, *apiError) {
	b, ok, err := s.batchOf(id, wireAnthropic)
	if err != nil {
		return nil, &apiError{status: 500, msg: "sandbox: batch store: " + err.Error()}
	}
	if !ok {
		return nil, &apiError{status: 404, msg: "Message batch " + strconv.Quote(id) + " not found"}
	}
	return b, nil
}

func (s *Server) anthropicBatchGet(w http.ResponseWriter, r *http.Request) *apiError {
	b, e := s.anthropicBatchOr404(r.PathValue("id"))
	if e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, anthropicBatchOf(b, s.opts.Now(), r))
	return nil
}

// anthropicBatchList pages through the batches, newest first: after_id
// gives the page after that batch, before_id the page before it.
func (s *Server) anthropicBatchList(w http.ResponseWriter, r *http.Request) *apiError {
	q := r.URL.Query()
	limit, fe := queryLimit(q.Get("limit"), 20, 1000)
	if fe != nil {
		return invalid("%s", fe.msg)
	}
	before, after := q.Get("before_id"), q.Get("after_id")
	if before != "" && after != "" {
		return invalid("before_id and after_id cannot both be set")
	}
	all, err := s.batches.list(wireAnthropic)
	if err != nil {
		return &apiError{status: 500, msg: "sandbox: batch store: " + err.Error()}
	}
	index := func(id string) int { return slices.IndexFunc(all, func(b *batchRecord) bool { return b.ID == id }) }
	var page []*batchRecord
	more := false
	switch {
	case after != "":
		rest := all[index(after)+1:]
		page, more = rest[:min(limit, len(rest))], len(rest) > limit
	case before != "":
		rest := all[:max(index(before), 0)]
		page, more = rest[max(len(rest)-limit, 0):], len(rest) > limit
	default:
		page, more = all[:min(limit, len(all))], len(all) > limit
	}
	now := s.opts.Now()
	data := make([]anthropicBatch, len(page))
	for i, b := range page {
		data[i] = anthropicBatchOf(b, now, r)
	}
	body := map[string]any{"data": data, "has_more": more, "first_id": nil, "last_id": nil}
	if len(data) > 0 {
		body["first_id"], body["last_id"] = data[0].ID, data[len(data)-1].ID
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

func (s *Server) anthropicBatchCancel(w http.ResponseWriter, r *http.Request) *apiError {
	b, e := s.anthropicBatchOr404(r.PathValue("id"))
	if e != nil {
		return e
	}
	now := s.opts.Now()
	if _, err := s.cancelBatch(b, now); err != nil {
		return &apiError{status: 500, msg: "sandbox: batch store: " + err.Error()}
	}
	writeJSON(w, http.StatusOK, anthropicBatchOf(b, now, r))
	return nil
}

func (s *Server) anthropicBatchDelete(w http.ResponseWriter, r *http.Request) *apiError {
	b, e := s.anthropicBatchOr404(r.PathValue("id"))
	if e != nil {
		return e
	}
	if !b.view(s.opts.Now()).ended {
		return invalid("Message batch %s cannot be deleted while it is processing; cancel it first", b.ID)
	}
	if err := s.batches.remove(b.ID); err != nil {
		return &apiError{status: 500, msg: "sandbox: batch store: " + err.Error()}
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": b.ID, "type": "message_batch_deleted"})
	return nil
}

// anthropicBatchResults streams the results of an ended batch as JSONL,
// in the order of its requests.
func (s *Server) anthropicBatchResults(w http.ResponseWriter, r *http.Request) *apiError {
	b, e := s.anthropicBatchOr404(r.PathValue("id"))
	if e != nil {
		return e
	}
	now := s.opts.Now()
	if !b.view(now).ended {
		return invalid("Message batch %s has not ended yet: its results are available once processing_status is ended", b.ID)
	}
	var out bytes.Buffer
	for i, it := range b.Items {
		var result any
		switch st := b.itemState(i, now); st {
		case itemSucceeded:
			result = map[string]any{"type": st, "message": it.Body}
		case itemErrored:
			result = map[string]any{"type": st, "error": map[string]any{"type": "error", "error": it.Body, "request_id": it.RequestID}}
		default:
			result = map[string]any{"type": st}
		}
		line, _ := json.Marshal(map[string]any{"custom_id": it.CustomID, "result": result})
		out.Write(line)
		out.WriteByte('\n')
	}
	w.Header().Set("Content-Type", "application/x-jsonl")
	w.Header().Set("Content-Length", strconv.Itoa(out.Len()))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out.Bytes())
	return nil
}
