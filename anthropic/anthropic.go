// Package anthropic implements ethos.Completer over the official Anthropic Go
// SDK (Messages API, JSON and server-sent-event streaming). It maps ethos
// requests onto the wire, normalises responses, reads rate-limit headers and
// turns every failure into an *ethos.Error with the right Kind.
//
// The adapter never reads the environment: base URL and key come from Config,
// which the caller resolves. SDK retries are off by default because durable
// retries belong to the job layer.
package anthropic

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	sdk "github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/internal/redact"
	"github.com/ethos-toolkit/ethos/internal/wire"
)

// DefaultBaseURL is the API root the adapter talks to when Config.BaseURL
// is empty. The SDK appends /v1/messages and /v1/models.
const DefaultBaseURL = "https://api.anthropic.com"

// Config says where and how to reach an Anthropic Messages endpoint.
type Config struct {
	// Provider is the name used in errors ("anthropic" when empty).
	Provider string
	// BaseURL is the API root without a version path, for example
	// "https://api.anthropic.com" or a sandbox's "http://127.0.0.1:8080".
	BaseURL string
	// APIKey is sent as the request credential; it never appears in errors.
	APIKey string
	// HTTPClient carries the requests; nil means a fresh client.
	HTTPClient *http.Client
	// Timeout bounds one request including the whole body or stream. Zero
	// sizes it from MaxTokens (see DefaultTimeout).
	Timeout time.Duration
	// MaxRetries is the number of SDK-level retries (default 0).
	MaxRetries int
}

// Client is an ethos.Completer for the Anthropic Messages API.
type Client struct {
	provider string
	key      string
	timeout  time.Duration
	sdk      sdk.Client
	now      func() time.Time // reads the clock for latency and header resets
	// batchLimits bounds a message batch (tests lower it).
	batchLimits ethos.BatchLimits
}

var _ ethos.Completer = (*Client)(nil)

// New returns a Client for cfg. It fails with a Config error when the base
// URL is unusable or MaxRetries is negative; it makes no request.
func New(cfg Config) (*Client, error) {
	s, err := wire.NewSetup(cfg.Provider, "anthropic", cfg.BaseURL, DefaultBaseURL, "", cfg.HTTPClient)
	if err != nil {
		return nil, err
	}
	if p := strings.TrimSuffix(s.URL.Path, "/"); strings.HasSuffix(p, "/v1") {
		// The SDK adds /v1/messages itself; a root ending in /v1 would
		// produce /v1/v1/messages and a confusing 404 on every call.
		return nil, s.Fail("base URL %q ends in /v1: give the API root without the version (the adapter adds /v1/messages)", redact.URLs(s.Base))
	}
	if cfg.MaxRetries < 0 {
		return nil, s.Fail("max retries %d is negative", cfg.MaxRetries)
	}
	opts := []option.RequestOption{
		// Configuration is resolved by the caller; ANTHROPIC_* variables
		// must not override it or add a credential behind its back.
		option.WithoutEnvironmentDefaults(),
		option.WithBaseURL(s.Base),
		option.WithHTTPClient(s.HTTP),
		option.WithMaxRetries(cfg.MaxRetries),
	}
	if cfg.APIKey != "" {
		opts = append(opts, option.WithAPIKey(cfg.APIKey))
	}
	return &Client{
		provider: s.Provider,
		key:      cfg.APIKey,
		timeout:  cfg.Timeout,
		sdk:      sdk.NewClient(opts...),
		now:      time.Now,

		batchLimits: ethos.BatchLimits{MaxRequests: MaxBatchRequests, MaxBytes: MaxBatchBytes},
	}, nil
}

// DefaultTimeout is the per-request timeout used when Config.Timeout is
// zero: two minutes plus 30 ms per requested output token, so that a
// 64k-token generation gets about 34 minutes.
func DefaultTimeout(maxTokens int) time.Duration {
	return 2*time.Minute + time.Duration(max(maxTokens, 0))*30*time.Millisecond
}

// exchange records what the HTTP layer saw during one call.
type exchange struct {
	header http.Header
}

func (x *exchange) middleware() option.Middleware {
	return func(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
		resp, err := next(req)
		if resp != nil {
			x.header = resp.Header
		}
		return resp, err
	}
}

// Complete sends req to POST /v1/messages, streaming when req.Stream is
// set, and returns the normalised response.
func (c *Client) Complete(ctx context.Context, req ethos.Request) (ethos.Response, error) {
	op := c.provider + ": messages"
	params, perr := c.params(req)
	if perr != nil {
		perr.Op = op
		return ethos.Response{}, perr
	}
	timeout := c.timeout
	if timeout <= 0 {
		timeout = DefaultTimeout(req.MaxTokens)
	}
	var x exchange
	opts := []option.RequestOption{
		option.WithMiddleware(x.middleware()),
		// An explicit timeout also stops the SDK from refusing large
		// max_tokens on non-streaming calls.
		option.WithRequestTimeout(timeout),
	}
	start := c.now()
	var (
		msg *sdk.Message
		err error
	)
	if req.Stream {
		msg, err = c.stream(ctx, params, opts)
	} else {
		msg, err = c.sdk.Messages.New(ctx, params, opts...)
		if err == nil && msg == nil {
			err = errors.New("empty response body")
		}
	}
	if err != nil {
		return ethos.Response{}, c.classify(ctx, op, req.Model, timeout, x.header, err)
	}
	resp := response(msg, req.Model)
	resp.RequestID = x.header.Get("request-id")
	resp.Latency = c.now().Sub(start)
	resp.RateLimit = parseRateLimit(x.header)
	return resp, nil
}

// response normalises a message, answered online or in a batch; model is
// the one asked for, named when the message names none.
func response(msg *sdk.Message, model string) ethos.Response {
	resp := ethos.Response{
		Text:       text(msg),
		StopReason: stopReason(msg.StopReason),
		Usage: ethos.Usage{
			In:         int(msg.Usage.InputTokens),
			Out:        int(msg.Usage.OutputTokens),
			CacheRead:  int(msg.Usage.CacheReadInputTokens),
			CacheWrite: int(msg.Usage.CacheCreationInputTokens),
		},
		Model: msg.Model,
	}
	if resp.Model == "" {
		resp.Model = model
	}
	return resp
}

// stopReason normalises a Messages stop_reason. The API's own names are
// ethos's, except model_context_window_exceeded; a value ethos does not
// know passes through unchanged.
func stopReason(r sdk.StopReason) ethos.StopReason {
	if r == sdk.StopReasonModelContextWindowExceeded {
		return ethos.StopContextWindow
	}
	return ethos.StopReason(r)
}

// params maps an ethos request onto the SDK's request body. It is the one
// builder of a Messages body: Complete sends it (adding stream when asked)
// and a batch sends its JSON as each request's params (batchParams).
func (c *Client) params(req ethos.Request) (sdk.MessageNewParams, *ethos.Error) {
	if req.Temperature != nil {
		// The Messages API version this SDK speaks has no temperature
		// field (the spec rejects unknown fields); dropping it silently
		// would change sampling behind the caller's back.
		return sdk.MessageNewParams{}, &ethos.Error{Kind: ethos.Invalid,
			Msg: fmt.Sprintf("temperature is not supported by the %s Messages API (version 2026-10-21): leave it unset for this provider", c.provider)}
	}
	p := sdk.MessageNewParams{
		Model:         sdk.Model(req.Model),
		MaxTokens:     int64(req.MaxTokens),
		StopSequences: req.Stop,
	}
	if req.System != "" {
		p.System = []sdk.TextBlockParam{{Text: req.System}}
	}
	for i, m := range req.Messages {
		if m.Role != ethos.RoleUser && m.Role != ethos.RoleAssistant {
			return sdk.MessageNewParams{}, &ethos.Error{Kind: ethos.Invalid,
				Msg: fmt.Sprintf("message %d has role %q: the Messages API takes only user and assistant turns (put system text in Request.System)", i, m.Role)}
		}
		block := sdk.NewTextBlock(m.Content)
		// Consecutive messages of one role are one turn (the API would
		// combine them anyway); each keeps its own block, so a cache mark
		// can end the prefix between them.
		if i > 0 && req.Messages[i-1].Role == m.Role {
			if last := turnBlocks(&p.Messages[len(p.Messages)-1]); last != nil {
				*last = append(*last, block)
				continue
			}
		}
		if m.Role == ethos.RoleUser {
			p.Messages = append(p.Messages, sdk.NewUserMessage(block))
		} else {
			p.Messages = append(p.Messages, sdk.NewAssistantMessage(block))
		}
	}
	markCache(req, &p)
	return p, nil
}

// turnBlocks is the content of a user or assistant turn.
func turnBlocks(m *sdk.MessageParam) *[]sdk.ContentBlockParamUnion {
	switch {
	case m.OfUser != nil:
		return &m.OfUser.Content
	case m.OfAssistant != nil:
		return &m.OfAssistant.Content
	}
	return nil
}

// streamError is a stream that broke without an error from the server.
type streamError struct {
	msg string
	err error
}

func (e *streamError) Error() string {
	if e.err != nil {
		return e.msg + ": " + e.err.Error()
	}
	return e.msg
}

func (e *streamError) Unwrap() error { return e.err }

// text concatenates the message's text blocks.
func text(msg *sdk.Message) string {
	var b strings.Builder
	for _, block := range msg.Content {
		if block.Type == "text" {
			b.WriteString(block.Text)
		}
	}
	return b.String()
}

// Ping lists one model (GET /v1/models) to check that the endpoint is
// reachable and the key is accepted. Errors are mapped as in Complete.
func (c *Client) Ping(ctx context.Context) error {
	op := c.provider + ": models"
	timeout := c.timeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	var x exchange
	_, err := c.sdk.Models.List(ctx, sdk.ModelListParams{Limit: sdk.Int(1)},
		option.WithMiddleware(x.middleware()), option.WithRequestTimeout(timeout))
	if err != nil {
		return c.classify(ctx, op, "", timeout, x.header, err)
	}
	return nil
}
