package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ethos-toolkit/ethos"
)

// openaiProtocol renders OpenAI chat completions, which Together, vLLM,
// Ollama and most gateways also speak.
type openaiProtocol struct{}

func (openaiProtocol) requestIDHeader() string { return "x-request-id" }

func (openaiProtocol) check(*http.Request) *apiError { return nil }

type openaiRequest struct {
	Model               string          `json:"model"`
	Messages            []openaiTurn    `json:"messages"`
	MaxTokens           *int            `json:"max_tokens"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	Temperature         *float64        `json:"temperature"`
	Stop                json.RawMessage `json:"stop"`
	Stream              bool            `json:"stream"`
	StreamOptions       *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	N *int `json:"n"`
}

type openaiTurn struct {
	Role    string  `json:"role"`
	Content content `json:"content"`
}

func (openaiProtocol) parse(body []byte) (call, *apiError) {
	var req openaiRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return call{}, invalid("We could not parse the JSON body of your request: %v", err)
	}
	maxTokens := req.MaxTokens
	if req.MaxCompletionTokens != nil {
		maxTokens = req.MaxCompletionTokens
	}
	switch {
	case req.Model == "":
		return call{}, invalid("you must provide a model parameter")
	case len(req.Messages) == 0:
		return call{}, invalid("'messages' must contain at least one message")
	case maxTokens != nil && *maxTokens < 1:
		return call{}, invalid("max_tokens: must be at least 1")
	case req.Temperature != nil && !(*req.Temperature >= 0 && *req.Temperature <= 2):
		return call{}, invalid("temperature: must be between 0 and 2")
	case req.N != nil && *req.N != 1:
		return call{}, invalid("n: the sandbox answers with exactly one choice")
	}
	stop, err := stopList(req.Stop)
	if err != nil {
		return call{}, invalid("stop: %v", err)
	}
	c := call{
		prompt:       Prompt{Model: req.Model, Temperature: req.Temperature},
		stop:         stop,
		stream:       req.Stream,
		includeUsage: req.Stream && req.StreamOptions != nil && req.StreamOptions.IncludeUsage,
	}
	if maxTokens != nil {
		c.prompt.MaxTokens = *maxTokens
	}
	var system []string
	for i, m := range req.Messages {
		text, err := textContent(m.Content, m.Role == "assistant")
		if err != nil {
			return call{}, invalid("messages[%d].content: %v", i, err)
		}
		c.parts = append(c.parts, cachePart{role: m.Role, text: text})
		switch m.Role {
		case "system", "developer":
			system = append(system, text)
		case "user", "assistant", "tool":
			c.prompt.Messages = append(c.prompt.Messages, ethos.Message{Role: ethos.Role(m.Role), Content: text})
		default:
			return call{}, invalid("messages[%d].role: unknown role %q", i, m.Role)
		}
	}
	c.prompt.System = strings.Join(system, "\n\n")
	return c, nil
}

// stopList reads OpenAI's stop, which is null, a string or a list.
func stopList(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return []string{s}, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("must be a string or a list of strings")
	}
	return list, nil
}

// openaiErrorKind is the type and code OpenAI sends with a status.
func openaiErrorKind(status int) (typ, code string) {
	switch status {
	case 401:
		return "invalid_request_error", "invalid_api_key"
	case 402:
		return "insufficient_quota", "insufficient_quota"
	case 403:
		return "permission_error", ""
	case 404:
		return "invalid_request_error", ""
	case 413:
		return "invalid_request_error", "request_too_large"
	case 429:
		return "requests", "rate_limit_exceeded"
	case 503:
		return "server_error", "overloaded"
	case 504:
		return "timeout", ""
	case 529:
		return "overloaded_error", "overloaded"
	}
	if status < 500 {
		return "invalid_request_error", ""
	}
	return "server_error", ""
}

type openaiErrorBody struct {
	Error openaiErrorObj `json:"error"`
}

type openaiErrorObj struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

func (openaiProtocol) writeError(w http.ResponseWriter, e *apiError, _ string) {
	typ, code := openaiErrorKind(e.status)
	if e.code != "" {
		code = e.code
	}
	if e.limited != "" {
		typ = e.limited
	}
	status, msg := e.status, e.msg
	if status == http.StatusPaymentRequired {
		// OpenAI has no 402: an account out of credit gets a 429 with
		// insufficient_quota, a 429 that waiting never clears.
		status = http.StatusTooManyRequests
		msg = "You exceeded your current quota, please check your plan and billing details."
	}
	writeJSON(w, status, openaiErrorBody{Error: openaiErrorObj{Message: msg, Type: typ, Code: optional(code)}})
}

// limitHeaders writes x-ratelimit-*; resets are Go duration strings
// ("1s", "6m0s"), rounded to the millisecond like OpenAI's.
func (openaiProtocol) limitHeaders(h http.Header, st limitState) {
	reset := func(d time.Duration) string { return d.Round(time.Millisecond).String() }
	if d := st.dims[dimRequests]; d.has {
		h.Set("x-ratelimit-limit-requests", strconv.Itoa(d.limit))
		h.Set("x-ratelimit-remaining-requests", strconv.Itoa(d.left))
		h.Set("x-ratelimit-reset-requests", reset(d.reset))
	}
	if d := st.dims[dimTokens]; d.has {
		h.Set("x-ratelimit-limit-tokens", strconv.Itoa(d.limit))
		h.Set("x-ratelimit-remaining-tokens", strconv.Itoa(d.left))
		h.Set("x-ratelimit-reset-tokens", reset(d.reset))
	}
}

// finishReason maps the sandbox's stop reason onto OpenAI's.
func finishReason(stop string) string {
	switch stop {
	case "max_tokens":
		return "length"
	case "refusal":
		return "content_filter"
	}
	return "stop" // end_turn and stop_sequence alike
}

type openaiCompletion struct {
	ID                string         `json:"id"`
	Object            string         `json:"object"`
	Created           int64          `json:"created"`
	Model             string         `json:"model"`
	Choices           []openaiChoice `json:"choices"`
	Usage             *openaiUsage   `json:"usage"`
	SystemFingerprint *string        `json:"system_fingerprint"`
}

type openaiChoice struct {
	Index        int            `json:"index"`
	Message      *openaiMessage `json:"message,omitempty"`
	Delta        *openaiDelta   `json:"delta,omitempty"`
	Logprobs     *struct{}      `json:"logprobs"`
	FinishReason *string        `json:"finish_reason"`
}

type openaiMessage struct {
	Role    string  `json:"role"`
	Content string  `json:"content"`
	Refusal *string `json:"refusal"`
}

type openaiDelta struct {
	Role    string  `json:"role,omitempty"`
	Content *string `json:"content,omitempty"`
}

type openaiUsage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
	// PromptTokensDetails is sent when part of the prompt came from the
	// cache, as OpenAI reports it (OpenAI-compatible servers that do not
	// cache send none).
	PromptTokensDetails *openaiPromptDetails `json:"prompt_tokens_details,omitempty"`
}

type openaiPromptDetails struct {
	CachedTokens int `json:"cached_tokens"`
}

// usageOf is the usage of an answer: prompt_tokens counts every input
// token, cached or not.
func usageOf(a answer) *openaiUsage {
	u := &openaiUsage{PromptTokens: a.in, CompletionTokens: a.out, TotalTokens: a.in + a.out}
	if a.cache.read > 0 {
		u.PromptTokensDetails = &openaiPromptDetails{CachedTokens: a.cache.read}
	}
	return u
}

func (p openaiProtocol) writeMessage(w *recorder, c call, a answer, truncate bool) {
	b, _ := json.Marshal(p.completion(c, a))
	writeTruncatable(w, b, truncate)
}

// completion is the JSON answer to a call.
func (openaiProtocol) completion(c call, a answer) openaiCompletion {
	finish := finishReason(a.StopReason)
	return openaiCompletion{
		ID:      "chatcmpl-" + a.id,
		Object:  "chat.completion",
		Created: a.created.Unix(),
		Model:   c.prompt.Model,
		Choices: []openaiChoice{{
			Message:      &openaiMessage{Role: "assistant", Content: a.Text},
			FinishReason: &finish,
		}},
		Usage: usageOf(a),
	}
}

func (openaiProtocol) writeStream(w *recorder, c call, a answer, plan streamPlan) {
	// One write when the answer is written (see anthropicProtocol.writeStream).
	sse := newSSEBuffer()
	defer sse.close(w)
	data := func(v any) {
		b, _ := json.Marshal(v) // plain structs of strings and ints cannot fail
		sse.event("", b)
	}
	chunk := func(choices []openaiChoice, usage *openaiUsage) openaiCompletion {
		return openaiCompletion{ID: "chatcmpl-" + a.id, Object: "chat.completion.chunk",
			Created: a.created.Unix(), Model: c.prompt.Model, Choices: choices, Usage: usage}
	}
	// With include_usage every chunk carries "usage": null until the last;
	// without it the field is left out.
	withUsage := func(v openaiCompletion) any {
		if c.includeUsage {
			return v
		}
		return struct {
			openaiCompletion
			Usage *openaiUsage `json:"usage,omitempty"`
		}{openaiCompletion: v}
	}
	sseHeaders(w)
	empty := ""
	data(withUsage(chunk([]openaiChoice{{Delta: &openaiDelta{Role: "assistant", Content: &empty}}}, nil)))
	for _, d := range plan.deltas[:plan.sent] {
		data(withUsage(chunk([]openaiChoice{{Delta: &openaiDelta{Content: &d}}}, nil)))
	}
	if plan.cut {
		sse.send(w)
		abort(w)
	}
	if plan.fail {
		typ, code := openaiErrorKind(http.StatusServiceUnavailable)
		data(openaiErrorBody{Error: openaiErrorObj{Message: statusMessage(http.StatusServiceUnavailable), Type: typ, Code: &code}})
		return
	}
	finish := finishReason(a.StopReason)
	data(withUsage(chunk([]openaiChoice{{Delta: &openaiDelta{}, FinishReason: &finish}}, nil)))
	if c.includeUsage {
		data(chunk([]openaiChoice{}, usageOf(a)))
	}
	sse.event("", []byte("[DONE]"))
}
