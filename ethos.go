// Package ethos holds the domain of character training: the types every
// stage shares (LLM requests and responses, recorded calls, characters,
// traits) and the interfaces that adapters implement. It imports no SDK,
// driver or HTTP code; packages named after a dependency (anthropic, openai,
// sqlite, jobs, sandbox) implement these interfaces and cmd/ethos wires them.
package ethos

import (
	"context"
	"net/url"
	"strings"
	"time"
)

// Role is the author of a message in a conversation.
type Role string

// Roles used in requests and training records.
const (
	RoleSystem    Role = "system"
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
)

// Message is one turn of a conversation sent to a model.
type Message struct {
	Role    Role   `json:"role"`
	Content string `json:"content"`
}

// Request is one call to a language model, independent of the provider.
//
// Model is the full reference "provider/model" (for example
// "anthropic/claude-sonnet-4-5" or "sandbox/writer"); the router strips the
// provider before the adapter sees it, so adapters receive only the
// provider-local model name.
type Request struct {
	Model       string    `json:"model"`
	System      string    `json:"system,omitempty"`
	Messages    []Message `json:"messages"`
	MaxTokens   int       `json:"max_tokens"`
	Temperature *float64  `json:"temperature,omitempty"`
	Stop        []string  `json:"stop,omitempty"`
	// Stream asks the adapter to use the provider's streaming protocol, so
	// that long generations are not cut by a client timeout. It does not
	// change the result, and is not part of the cache key.
	Stream bool `json:"-"`
	// Sample distinguishes otherwise identical requests whose answers must
	// differ (the k-th sample of the same prompt). It is part of the cache
	// key and is never sent to the provider.
	Sample int `json:"sample,omitempty"`
	// Metadata labels the call in the ledger (run, stage, item). It is
	// recorded but neither sent to the provider nor part of the cache key.
	Metadata map[string]string `json:"-"`
	// CachePrefix marks the start of the prompt that repeats across calls,
	// for the provider's prompt cache: the number of leading parts, where
	// the system prompt (when there is one) is the first part and each
	// message the next. Zero marks nothing. Adapters whose provider
	// caches only where told (Anthropic's cache_control) mark the end of
	// that prefix when it is long enough for the model to cache; those
	// whose provider caches any long stable prefix by itself (OpenAI)
	// ignore it. It does not change the answer, so it is not part of the
	// cache key.
	CachePrefix int `json:"cache_prefix,omitempty"`
}

// CacheParts is the number of parts CachePrefix counts in r: the system
// prompt, when there is one, and the messages.
func (r Request) CacheParts() int {
	n := len(r.Messages)
	if r.System != "" {
		n++
	}
	return n
}

// StopReason says why a model stopped writing, normalised across providers.
type StopReason string

// Normalised stop reasons. Adapters map provider values onto these; a
// value they do not know is passed through unchanged.
const (
	StopEnd       StopReason = "end_turn"      // natural end (OpenAI "stop")
	StopMaxTokens StopReason = "max_tokens"    // cut by the token limit (OpenAI "length")
	StopSequence  StopReason = "stop_sequence" // a stop sequence matched
	StopRefusal   StopReason = "refusal"       // the model refused (OpenAI "content_filter")
	StopToolUse   StopReason = "tool_use"
	// StopContextWindow is an answer cut because the model's context
	// window filled before max_tokens (Anthropic
	// "model_context_window_exceeded").
	StopContextWindow StopReason = "context_window"
	// StopPaused is a turn the provider paused before it was done, to be
	// continued by sending the partial answer back (Anthropic
	// "pause_turn"): the text so far is not the whole answer.
	StopPaused StopReason = "pause_turn"
)

// Cut reports whether the answer ended before the model finished it: cut
// by max_tokens or the context window, or paused by the provider. A cut
// answer is never complete, whatever text it holds.
func (s StopReason) Cut() bool {
	return s == StopMaxTokens || s == StopContextWindow || s == StopPaused
}

// Usage counts the tokens of one call.
type Usage struct {
	In         int `json:"in"`
	Out        int `json:"out"`
	CacheRead  int `json:"cache_read,omitempty"`
	CacheWrite int `json:"cache_write,omitempty"`
}

// Total is the number of tokens a rate limiter charges for the call.
func (u Usage) Total() int { return u.In + u.Out + u.CacheRead + u.CacheWrite }

// Add adds o's tokens to u's.
func (u *Usage) Add(o Usage) {
	u.In += o.In
	u.Out += o.Out
	u.CacheRead += o.CacheRead
	u.CacheWrite += o.CacheWrite
}

// RateLimit is what a provider's response headers said about the caller's
// limits (anthropic-ratelimit-* or x-ratelimit-*). Zero fields were absent.
type RateLimit struct {
	RequestsLimit     int       `json:"requests_limit,omitempty"`
	RequestsRemaining int       `json:"requests_remaining,omitempty"`
	RequestsReset     time.Time `json:"requests_reset,omitzero"`
	TokensLimit       int       `json:"tokens_limit,omitempty"`
	TokensRemaining   int       `json:"tokens_remaining,omitempty"`
	TokensReset       time.Time `json:"tokens_reset,omitzero"`
	// Input and output tokens, where the provider limits them separately
	// (Anthropic's anthropic-ratelimit-input-tokens-* and -output-tokens-*).
	InputTokensLimit      int `json:"input_tokens_limit,omitempty"`
	InputTokensRemaining  int `json:"input_tokens_remaining,omitempty"`
	OutputTokensLimit     int `json:"output_tokens_limit,omitempty"`
	OutputTokensRemaining int `json:"output_tokens_remaining,omitempty"`
	// HasRequests, HasTokens, HasInputTokens and HasOutputTokens say whether
	// the headers were present, so a remaining count of zero can be told
	// from a missing header.
	HasRequests     bool `json:"-"`
	HasTokens       bool `json:"-"`
	HasInputTokens  bool `json:"-"`
	HasOutputTokens bool `json:"-"`
}

// Response is the result of a successful call.
type Response struct {
	Text       string        `json:"text"`
	StopReason StopReason    `json:"stop_reason"`
	Usage      Usage         `json:"usage"`
	Model      string        `json:"model"` // the model the provider says answered
	RequestID  string        `json:"request_id,omitempty"`
	Latency    time.Duration `json:"latency"`
	// Batch is the provider's ID of the batch that answered the request,
	// empty for an online call. A batch answer costs the batch price.
	Batch     string    `json:"batch,omitempty"`
	RateLimit RateLimit `json:"-"`
	// CallKey is the ledger's key of the call (llm.Key of the request),
	// set by the ledger on every response it returns, with or without an
	// error, so that a caller recording which call answered it need not
	// render and hash the request again. It is not stored.
	CallKey string `json:"-"`
}

// Completer performs one model call. Adapters implement it over a
// provider SDK; middleware implements it by wrapping another Completer.
//
// A Completer returns either a Response or an *Error with its Kind set.
// A response cut by max_tokens or ended by a refusal is still a Response
// (StopReason says so); callers that need a complete answer turn it into an
// error with CheckStop.
type Completer interface {
	Complete(ctx context.Context, req Request) (Response, error)
}

// CompleterFunc adapts a function to the Completer interface.
type CompleterFunc func(ctx context.Context, req Request) (Response, error)

// Complete calls f.
func (f CompleterFunc) Complete(ctx context.Context, req Request) (Response, error) {
	return f(ctx, req)
}

// CheckStop turns a response that did not end naturally into a typed
// error: Truncated for an answer cut by max_tokens or the context window
// or paused by the provider, Refused for a refusal. Stages that need a
// complete answer call it; `ethos complete` shows the stop reason instead.
func CheckStop(resp Response) error {
	switch resp.StopReason {
	case StopMaxTokens:
		return Errorf(Truncated, "response cut at max_tokens after %d output tokens", resp.Usage.Out)
	case StopContextWindow:
		return Errorf(Truncated, "response cut after %d output tokens: the model's context window is full; shorten the prompt or lower max_tokens", resp.Usage.Out)
	case StopPaused:
		return Errorf(Truncated, "the provider paused the turn after %d output tokens, before the answer was complete", resp.Usage.Out)
	case StopRefusal:
		return Errorf(Refused, "model refused to answer")
	}
	return nil
}

// ModelRef is a model reference "provider/model" taken apart: the
// provider ethos routes the call to and the provider's own name of the
// model.
type ModelRef struct {
	Provider string
	Model    string
}

// String is the reference as written, "provider/model".
func (r ModelRef) String() string { return r.Provider + "/" + r.Model }

// Names reports whether ref is r as written, r.String() == ref, without
// building the string.
func (r ModelRef) Names(ref string) bool {
	p := len(r.Provider)
	return len(ref) == p+1+len(r.Model) && ref[:p] == r.Provider && ref[p] == '/' && ref[p+1:] == r.Model
}

// ParseModelRef is the one parser of model references: it splits ref at
// its first slash, so that Together's "together/meta-llama/Llama-3.3-70B"
// keeps the slashes of its model name. A reference without both parts is
// an Invalid error saying the shape wanted.
func ParseModelRef(ref string) (ModelRef, error) {
	provider, model, ok := strings.Cut(ref, "/")
	switch {
	case ref == "":
		return ModelRef{}, Errorf(Invalid, "missing model reference; want provider/model, for example anthropic/claude-sonnet-4-5")
	case !ok || provider == "" || model == "":
		return ModelRef{}, Errorf(Invalid, "model reference %q must be provider/model, for example anthropic/claude-sonnet-4-5", ref)
	}
	return ModelRef{Provider: provider, Model: model}, nil
}

// SplitModel is ParseModelRef for a caller that needs only whether ref is
// well formed. ok is false unless both parts are non-empty.
func SplitModel(ref string) (provider, model string, ok bool) {
	r, err := ParseModelRef(ref)
	return r.Provider, r.Model, err == nil
}

// HTTPURL parses raw as an absolute http or https URL, the only kind
// ethos sends requests to (an API root, a webhook) or shows as a link.
func HTTPURL(raw string) (*url.URL, bool) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, false
	}
	return u, true
}
