package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/ethos-toolkit/ethos"
)

// anthropicProtocol renders the Anthropic Messages API.
type anthropicProtocol struct{}

func (anthropicProtocol) requestIDHeader() string { return "request-id" }

func (anthropicProtocol) check(r *http.Request) *apiError {
	if r.Header.Get("anthropic-version") == "" {
		return &apiError{status: http.StatusBadRequest, msg: "anthropic-version: header is required"}
	}
	return nil
}

// anthropicRequest is the part of CreateMessageParams the sandbox reads;
// the other fields the spec declares (tools, metadata, thinking, …) are
// accepted and ignored, and any field it does not declare is refused, as
// the API does.
type anthropicRequest struct {
	Model         string          `json:"model"`
	Messages      []anthropicTurn `json:"messages"`
	System        content         `json:"system"`
	MaxTokens     *int            `json:"max_tokens"`
	CacheControl  *cacheControl   `json:"cache_control"`
	StopSequences []string        `json:"stop_sequences"`
	Stream        bool            `json:"stream"`
}

// anthropicFields are the properties of the spec's CreateMessageParams
// (anthropic-sdk-go's bundled spec, which sets additionalProperties
// false). The current API has no temperature: the sandbox refuses it like
// any field the spec lacks.
var anthropicFields = []string{"cache_control", "container", "diagnostics", "inference_geo", "max_tokens", "messages",
	"metadata", "model", "output_config", "service_tier", "speed", "stop_sequences", "stream", "system", "thinking",
	"tool_choice", "tools"}

// anthropicTurnFields are the properties of the spec's input messages
// (UserInputMessage, AssistantInputMessage, SystemInputMessage).
var anthropicTurnFields = []string{"content", "role"}

// extraField names the first key of obj (in sorted order) that allowed
// lacks, or "".
func extraField(obj map[string]json.RawMessage, allowed []string) string {
	var extra []string
	for k := range obj {
		if !slices.Contains(allowed, k) {
			extra = append(extra, k)
		}
	}
	if len(extra) == 0 {
		return ""
	}
	slices.Sort(extra)
	return extra[0]
}

// extraFields refuses a field the spec lacks, at the top level or in a
// message. The fields are listed in one pass over the text when it is
// plain; otherwise the body is decoded into maps to find them.
func extraFields(body []byte) *apiError {
	if top, turns, ok := requestKeys(body); ok {
		if f := firstExtra(top, anthropicFields); f != "" {
			return invalid("%s: Extra inputs are not permitted", f)
		}
		for i, keys := range turns {
			if f := firstExtra(keys, anthropicTurnFields); f != "" {
				return invalid("messages.%d.%s: Extra inputs are not permitted", i, f)
			}
		}
		return nil
	}
	var top struct {
		Fields   map[string]json.RawMessage
		Messages []map[string]json.RawMessage `json:"messages"`
	}
	if err := json.Unmarshal(body, &top.Fields); err != nil {
		return invalid("invalid JSON body: %v", err)
	}
	if f := extraField(top.Fields, anthropicFields); f != "" {
		return invalid("%s: Extra inputs are not permitted", f)
	}
	if json.Unmarshal(body, &top) == nil {
		for i, m := range top.Messages {
			if f := extraField(m, anthropicTurnFields); f != "" {
				return invalid("messages.%d.%s: Extra inputs are not permitted", i, f)
			}
		}
	}
	return nil
}

// firstExtra names the first key (in sorted order) that allowed lacks, or "".
func firstExtra(keys, allowed []string) string {
	obj := make(map[string]json.RawMessage, len(keys))
	for _, k := range keys {
		obj[k] = nil
	}
	return extraField(obj, allowed)
}

type anthropicTurn struct {
	Role    string  `json:"role"`
	Content content `json:"content"`
}

type contentBlock struct {
	Type         string        `json:"type"`
	Text         *string       `json:"text"`
	CacheControl *cacheControl `json:"cache_control"`
}

func invalid(format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

func (anthropicProtocol) parse(body []byte) (call, *apiError) {
	var req anthropicRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return call{}, invalid("invalid JSON body: %v", err)
	}
	if err := extraFields(body); err != nil {
		return call{}, err
	}
	switch {
	case req.Model == "":
		return call{}, invalid("model: Field required")
	case req.MaxTokens == nil:
		return call{}, invalid("max_tokens: Field required")
	case *req.MaxTokens < 1:
		return call{}, invalid("max_tokens: must be greater than or equal to 1")
	case len(req.Messages) == 0:
		return call{}, invalid("messages: at least one message is required")
	}
	systemParts, err := contentParts(req.System, true)
	if err != nil {
		return call{}, invalid("system: %v", err)
	}
	system := joinText(systemParts)
	c := call{
		prompt: Prompt{Model: req.Model, System: system, MaxTokens: *req.MaxTokens},
		stop:   req.StopSequences,
		stream: req.Stream,
		parts:  roleParts("system", systemParts),
	}
	for i, m := range req.Messages {
		if m.Role != "user" && m.Role != "assistant" && m.Role != "system" {
			return call{}, invalid("messages.%d.role: Input should be 'user', 'assistant' or 'system'", i)
		}
		parts, err := contentParts(m.Content, false)
		if err != nil {
			return call{}, invalid("messages.%d.content: %v", i, err)
		}
		c.parts = append(c.parts, roleParts(m.Role, parts)...)
		text := joinText(parts)
		if m.Role == "system" {
			// The spec's SystemInputMessage: system text among the turns.
			c.prompt.System = strings.TrimPrefix(c.prompt.System+"\n"+text, "\n")
			continue
		}
		c.prompt.Messages = append(c.prompt.Messages, ethos.Message{Role: ethos.Role(m.Role), Content: text})
	}
	if len(c.prompt.Messages) == 0 {
		return call{}, invalid("messages: at least one user or assistant message is required")
	}
	if err := markAutomatic(c.parts, req.CacheControl); err != nil {
		return call{}, err
	}
	return c, nil
}

// content is a message's or the system prompt's content as the request
// decoder found it. A plain string, the common case, is decoded there and
// then (see decodeString); a list is decoded into blocks there too, from
// the decoder's bytes, which are not kept. Neither fails the request's
// decoding: contentParts checks what was found and words its errors, so
// that a bad content is refused with the field's own message, not as
// invalid JSON.
type content struct {
	set    bool // a value other than null was given
	isText bool
	text   string
	blocks []contentBlock
	bad    bool // the value is neither a string nor a list of blocks
}

// UnmarshalJSON reads data, which the decoder has already checked is one
// JSON value; it never fails.
func (c *content) UnmarshalJSON(data []byte) error {
	*c = content{}
	if s, ok := decodeString(data); ok {
		c.set, c.isText, c.text = true, true, s
		return nil
	}
	if len(data) == 0 || string(data) == "null" {
		return nil
	}
	c.set = true
	if i := bytes.IndexFunc(data, func(r rune) bool { return !unicode.IsSpace(r) }); i >= 0 && data[i] == '"' {
		if err := json.Unmarshal(data, &c.text); err == nil {
			c.isText = true
			return nil
		}
		c.text = ""
	}
	if err := json.Unmarshal(data, &c.blocks); err != nil {
		c.blocks, c.bad = nil, true
	}
	return nil
}

// textContent reads content that is a string or a list of blocks, joining
// the text blocks with newlines; other block types (images, tool results)
// are accepted and carry no text. An absent value is allowed only where
// optional is set.
func textContent(c content, optional bool) (string, error) {
	parts, err := contentParts(c, optional)
	return joinText(parts), err
}

// joinText joins the parts' text with newlines.
func joinText(parts []cachePart) string {
	if len(parts) == 1 {
		return parts[0].text
	}
	texts := make([]string, len(parts))
	for i, p := range parts {
		texts[i] = p.text
	}
	return strings.Join(texts, "\n")
}

// contentParts reads content as textContent does, keeping each text block
// apart with its cache_control mark.
func contentParts(c content, optional bool) ([]cachePart, error) {
	switch {
	case c.isText:
		return []cachePart{{text: c.text}}, nil
	case !c.set && optional:
		return nil, nil
	case !c.set:
		return nil, fmt.Errorf("Field required")
	case c.bad:
		return nil, fmt.Errorf("Input should be a valid string or a list of content blocks")
	}
	return textParts(c.blocks)
}

// textParts checks a list of content blocks and keeps its text blocks.
func textParts(blocks []contentBlock) ([]cachePart, error) {
	parts := make([]cachePart, 0, len(blocks))
	for i, b := range blocks {
		switch {
		case b.Type == "":
			return nil, fmt.Errorf("%d.type: Field required", i)
		case b.Type == "text" && b.Text == nil:
			return nil, fmt.Errorf("%d.text: Field required", i)
		case b.Type == "text":
			ttl, err := b.CacheControl.ttl()
			if err != nil {
				return nil, fmt.Errorf("%d.cache_control.%v", i, err)
			}
			parts = append(parts, cachePart{text: *b.Text, ttl: ttl})
		}
	}
	return parts, nil
}

// anthropicErrorType is the error type Anthropic sends with a status.
func anthropicErrorType(status int) string {
	switch status {
	case 400:
		return "invalid_request_error"
	case 401:
		return "authentication_error"
	case 402:
		return "billing_error"
	case 403:
		return "permission_error"
	case 404:
		return "not_found_error"
	case 413:
		return "request_too_large"
	case 429:
		return "rate_limit_error"
	case 500:
		return "api_error"
	case 504:
		return "timeout_error"
	case 529:
		return "overloaded_error"
	}
	if status < 500 {
		return "invalid_request_error"
	}
	return "api_error"
}

type anthropicErrorBody struct {
	Type      string            `json:"type"`
	Error     anthropicErrorObj `json:"error"`
	RequestID string            `json:"request_id,omitempty"`
}

type anthropicErrorObj struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

func (anthropicProtocol) writeError(w http.ResponseWriter, e *apiError, requestID string) {
	writeJSON(w, e.status, anthropicErrorBody{
		Type:      "error",
		Error:     anthropicErrorObj{Type: anthropicErrorType(e.status), Message: e.msg},
		RequestID: requestID,
	})
}

// limitHeaders writes anthropic-ratelimit-*: requests, input tokens and
// output tokens each from a bucket of their own; tokens from the tokens
// bucket, or without one, as Anthropic does, the most restrictive of the
// input and output buckets.
func (anthropicProtocol) limitHeaders(h http.Header, st limitState) {
	reset := func(d time.Duration) string {
		// Round up to the second so the reset is never earlier than true.
		return st.now.Add(d).Add(time.Second - 1).Truncate(time.Second).UTC().Format(time.RFC3339)
	}
	set := func(prefix string, d dimState) {
		if d.has {
			h.Set(prefix+"-limit", strconv.Itoa(d.limit))
			h.Set(prefix+"-remaining", strconv.Itoa(d.left))
			h.Set(prefix+"-reset", reset(d.reset))
		}
	}
	set("anthropic-ratelimit-requests", st.dims[dimRequests])
	set("anthropic-ratelimit-input-tokens", st.dims[dimInput])
	set("anthropic-ratelimit-output-tokens", st.dims[dimOutput])
	tokens := st.dims[dimTokens]
	if !tokens.has {
		for _, d := range []dimState{st.dims[dimInput], st.dims[dimOutput]} {
			if d.has && (!tokens.has || d.left < tokens.left) {
				tokens = d
			}
		}
	}
	set("anthropic-ratelimit-tokens", tokens)
}

type anthropicMessage struct {
	ID           string          `json:"id"`
	Type         string          `json:"type"`
	Role         string          `json:"role"`
	Content      []anthropicText `json:"content"`
	Model        string          `json:"model"`
	StopReason   *string         `json:"stop_reason"`
	StopSequence *string         `json:"stop_sequence"`
	StopDetails  *struct{}       `json:"stop_details"`
	Usage        anthropicUsage  `json:"usage"`
}

type anthropicText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type anthropicUsage struct {
	InputTokens              int `json:"input_tokens"`
	OutputTokens             int `json:"output_tokens"`
	CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int `json:"cache_read_input_tokens"`
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (anthropicProtocol) message(c call, a answer) anthropicMessage {
	return anthropicMessage{
		ID:           "msg_" + a.id,
		Type:         "message",
		Role:         "assistant",
		Content:      []anthropicText{{Type: "text", Text: a.Text}},
		Model:        c.prompt.Model,
		StopReason:   &a.StopReason,
		StopSequence: optional(a.StopSequence),
		Usage: anthropicUsage{InputTokens: a.in - a.cache.read - a.cache.write, OutputTokens: a.out,
			CacheCreationInputTokens: a.cache.write, CacheReadInputTokens: a.cache.read},
	}
}

func (p anthropicProtocol) writeMessage(w *recorder, c call, a answer, truncate bool) {
	b, err := json.Marshal(p.message(c, a))
	if err != nil {
		p.writeError(w, &apiError{status: 500, msg: "encode response"}, "")
		return
	}
	writeTruncatable(w, b, truncate)
}

// writeTruncatable writes a JSON body, or with truncate announces all of
// it and sends only the first half before dropping the connection.
func writeTruncatable(w http.ResponseWriter, b []byte, truncate bool) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	if truncate {
		_, _ = w.Write(b[:len(b)/2])
		abort(w)
	}
	_, _ = w.Write(b)
}

func sseHeaders(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
}

func (p anthropicProtocol) writeStream(w *recorder, c call, a answer, plan streamPlan) {
	// The events go out together when the answer is written: with no
	// pacing between them a write and flush per event would only cost
	// system calls, and the bytes on the wire are the same.
	sse := newSSEBuffer()
	defer sse.close(w)
	event := func(name string, v any) {
		b, _ := json.Marshal(v) // maps and structs of strings and ints cannot fail
		sse.event(name, b)
	}
	sseHeaders(w)

	start := p.message(c, a)
	start.Content = []anthropicText{}
	start.StopReason, start.StopSequence = nil, nil
	// Like the real API, message_start reports the input and a placeholder
	// output count; message_delta carries the true cumulative total.
	start.Usage.OutputTokens = min(1, a.out)
	// As the map {"type", "message"} marshals, keys sorted, without the map.
	msg, _ := json.Marshal(start) // a struct of strings and ints cannot fail
	sse.event("message_start", []byte(`{"message":`), msg, []byte(`,"type":"message_start"}`))
	sse.event("content_block_start", contentBlockStartEvent)
	sse.event("ping", pingEvent)
	delta := make([]byte, 0, 256)
	for _, d := range plan.deltas[:plan.sent] {
		// The most frequent event by far, written without a map: the
		// field order is the real API's.
		delta = appendJSONString(append(delta[:0], textDeltaPrefix...), d, true)
		sse.event("content_block_delta", append(delta, '}', '}'))
	}
	if plan.cut {
		sse.send(w)
		abort(w)
	}
	if plan.fail {
		event("error", map[string]any{"type": "error",
			"error": anthropicErrorObj{Type: "overloaded_error", Message: "Overloaded"}})
		return
	}
	sse.event("content_block_stop", contentBlockStopEvent)
	sse.event("message_delta", appendMessageDelta(delta[:0], a))
	sse.event("message_stop", messageStopEvent)
}

// The data of the events whose content never changes, as json.Marshal
// writes the maps they were once built from (keys in sorted order);
// TestAnthropicFixedEvents holds them to it.
var (
	contentBlockStartEvent = []byte(`{"content_block":{"type":"text","text":""},"index":0,"type":"content_block_start"}`)
	pingEvent              = []byte(`{"type":"ping"}`)
	contentBlockStopEvent  = []byte(`{"index":0,"type":"content_block_stop"}`)
	messageStopEvent       = []byte(`{"type":"message_stop"}`)
	textDeltaPrefix        = []byte(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":`)
)

// appendMessageDelta appends the data of a's message_delta event, as
// json.Marshal writes the map of it: stop reason and sequence, and the
// cumulative output tokens.
func appendMessageDelta(dst []byte, a answer) []byte {
	dst = append(dst, `{"delta":{"stop_details":null,"stop_reason":`...)
	dst = appendJSONString(dst, a.StopReason, true)
	dst = append(dst, `,"stop_sequence":`...)
	if a.StopSequence == "" {
		dst = append(dst, "null"...)
	} else {
		dst = appendJSONString(dst, a.StopSequence, true)
	}
	dst = append(dst, `},"type":"message_delta","usage":{"output_tokens":`...)
	dst = strconv.AppendInt(dst, int64(a.out), 10)
	return append(dst, "}}"...)
}

// sseBuffer collects server-sent events to write in one go. Its buffer
// comes from a pool: a streamed document is tens of kilobytes of events,
// and growing a fresh buffer for each answer was a fifth of the bytes a
// zero-latency run allocated.
type sseBuffer struct{ buf *bytes.Buffer }

var ssePool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// newSSEBuffer takes a buffer from the pool; close returns it.
func newSSEBuffer() sseBuffer { return sseBuffer{ssePool.Get().(*bytes.Buffer)} }

// close sends what is left and returns the buffer to the pool.
func (s sseBuffer) close(w http.ResponseWriter) {
	s.send(w)
	if s.buf.Cap() <= maxPooledSSE {
		ssePool.Put(s.buf)
	}
}

// maxPooledSSE bounds the buffers kept in the pool, so one huge answer
// does not stay in memory for good.
const maxPooledSSE = 1 << 20

// event appends one event named name whose data is the concatenation of
// parts (which hold no newline).
func (s sseBuffer) event(name string, parts ...[]byte) {
	if name != "" {
		s.buf.WriteString("event: ")
		s.buf.WriteString(name)
		s.buf.WriteByte('\n')
	}
	s.buf.WriteString("data: ")
	for _, p := range parts {
		s.buf.Write(p)
	}
	s.buf.WriteString("\n\n")
}

// send writes what was collected and flushes it to the client.
func (s sseBuffer) send(w http.ResponseWriter) {
	if s.buf.Len() > 0 {
		w.Write(s.buf.Bytes()) // a client gone away is seen by the next read
		s.buf.Reset()
	}
	http.NewResponseController(w).Flush()
}
