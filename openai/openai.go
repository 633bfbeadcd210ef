// Package openai implements ethos.Completer over the official OpenAI Go SDK
// (chat completions, JSON and server-sent-event streaming). One adapter
// serves OpenAI and every OpenAI-compatible endpoint (Together, vLLM,
// Ollama, OpenRouter, the ethos sandbox), chosen by base URL.
//
// The adapter never reads the environment: base URL and key come from Config,
// which the caller resolves. SDK retries are off by default because durable
// retries belong to the job layer.
package openai

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	sdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/internal/wire"
)

// DefaultBaseURL is used when Config.BaseURL is empty. Base URLs include
// the version path; the SDK appends chat/completions and models.
const DefaultBaseURL = "https://api.openai.com/v1"

// Config says where and how to reach an OpenAI-compatible endpoint.
type Config struct {
	// Provider is the name used in errors ("openai" when empty), for
	// example "together" or "ollama".
	Provider string
	// BaseURL includes the version path: "https://api.openai.com/v1",
	// "https://api.together.xyz/v1", "http://localhost:11434/v1".
	BaseURL string
	// APIKey is sent as a bearer token when set; it never appears in errors.
	APIKey string
	// HTTPClient carries the requests; nil means a fresh client.
	HTTPClient *http.Client
	// Timeout bounds one request including the whole body or stream. Zero
	// sizes it from MaxTokens (see DefaultTimeout).
	Timeout time.Duration
	// MaxRetries is the number of SDK-level retries (default 0).
	MaxRetries int
	// MaxCompletionTokens sends the limit as max_completion_tokens, which
	// OpenAI's reasoning models require; compatible servers expect the
	// default, max_tokens.
	MaxCompletionTokens bool
	// OnOverrun is told of every answer with more output tokens than the
	// request allowed: the server ignored the field the limit was sent
	// in, so the answer ran on unbounded (and was paid for).
	OnOverrun func(Overrun)
	// BatchDialect is the batch API the endpoint speaks (see batch.go):
	// "openai" (the default) or "together", whose chat completions are
	// OpenAI's but whose batch routes, file purpose and statuses are its
	// own.
	BatchDialect string
}

// Overrun is an answer longer than its request's output limit.
type Overrun struct {
	Provider string
	Model    string
	Field    string // the request field the limit was sent in
	Limit    int    // the limit asked for
	Out      int    // the output tokens the server reported
}

func (o Overrun) String() string {
	other := "max_completion_tokens"
	if o.Field == other {
		other = "max_tokens"
	}
	return fmt.Sprintf("%s/%s wrote %d output tokens for a limit of %d sent as %s: the server ignores %s; set providers.%s.output_limit: %s in ethos.yaml",
		o.Provider, o.Model, o.Out, o.Limit, o.Field, o.Field, o.Provider, other)
}

// Client is an ethos.Completer for an OpenAI-compatible chat completions
// endpoint.
type Client struct {
	provider            string
	key                 string
	timeout             time.Duration
	maxCompletionTokens bool
	onOverrun           func(Overrun)
	chat                sdk.ChatCompletionService
	models              sdk.ModelService
	now                 func() time.Time // reads the clock for latency and header resets

	// opts are the SDK options every service of the client is built with.
	opts    []option.RequestOption
	files   sdk.FileService
	batches sdk.BatchService
	// batch is how the client speaks its endpoint's batch API.
	batch batchDialect
}

var _ ethos.Completer = (*Client)(nil)

// New returns a Client for cfg. It fails with a Config error when the base
// URL is unusable or MaxRetries is negative; it makes no request.
func New(cfg Config) (*Client, error) {
	s, err := wire.NewSetup(cfg.Provider, "openai", cfg.BaseURL, DefaultBaseURL, "", cfg.HTTPClient)
	if err != nil {
		return nil, err
	}
	if cfg.MaxRetries < 0 {
		return nil, s.Fail("max retries %d is negative", cfg.MaxRetries)
	}
	dialect, ok := batchDialects[cfg.BatchDialect]
	if !ok {
		return nil, s.Fail("batch dialect %q is neither %q nor %q", cfg.BatchDialect, DialectOpenAI, DialectTogether)
	}
	opts := []option.RequestOption{
		option.WithHTTPClient(s.HTTP),
		option.WithBaseURL(s.Base),
		option.WithMaxRetries(cfg.MaxRetries),
	}
	if cfg.APIKey != "" {
		opts = append(opts, option.WithAPIKey(cfg.APIKey))
	}
	// The services are built directly rather than through sdk.NewClient,
	// which would add OPENAI_* environment settings (base URL, key,
	// organization, project, custom headers) that config resolution
	// elsewhere has already decided about.
	return &Client{
		provider:            s.Provider,
		key:                 cfg.APIKey,
		timeout:             cfg.Timeout,
		maxCompletionTokens: cfg.MaxCompletionTokens,
		onOverrun:           cfg.OnOverrun,
		chat:                sdk.NewChatCompletionService(opts...),
		models:              sdk.NewModelService(opts...),
		now:                 time.Now,
		opts:                opts,
		files:               sdk.NewFileService(opts...),
		batches:             sdk.NewBatchService(opts...),
		batch:               dialect,
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
	done   *doneWatcher // the stream body, when streaming
}

func (x *exchange) middleware(stream bool) option.Middleware {
	return func(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
		resp, err := next(req)
		if resp != nil {
			x.header = resp.Header
			if stream && resp.StatusCode < 300 && resp.Body != nil {
				x.done = &doneWatcher{ReadCloser: resp.Body}
				resp.Body = x.done
			}
		}
		return resp, err
	}
}

// Complete sends req to POST chat/completions, streaming when req.Stream
// is set, and returns the normalised response.
func (c *Client) Complete(ctx context.Context, req ethos.Request) (ethos.Response, error) {
	op := c.provider + ": chat.completions"
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
		option.WithMiddleware(x.middleware(req.Stream)),
		option.WithRequestTimeout(timeout),
	}
	start := c.now()
	var (
		res result
		err error
	)
	if req.Stream {
		params.StreamOptions.IncludeUsage = sdk.Bool(true)
		res, err = c.stream(ctx, params, opts, &x)
	} else {
		var cc *sdk.ChatCompletion
		cc, err = c.chat.New(ctx, params, opts...)
		if err == nil {
			res, err = fromCompletion(cc)
		}
	}
	if err != nil {
		return ethos.Response{}, c.classify(ctx, op, req.Model, timeout, x.header, err)
	}
	resp := ethos.Response{
		Text:       res.text,
		StopReason: stopReason(res.finish, res.refusal),
		Usage:      res.usage,
		Model:      res.model,
		RequestID:  x.header.Get("x-request-id"),
		Latency:    c.now().Sub(start),
		RateLimit:  parseRateLimit(x.header, c.now()),
	}
	if resp.Model == "" {
		resp.Model = req.Model
	}
	if req.MaxTokens > 0 && resp.Usage.Out > req.MaxTokens && c.onOverrun != nil {
		field := "max_tokens"
		if c.maxCompletionTokens {
			field = "max_completion_tokens"
		}
		c.onOverrun(Overrun{Provider: c.provider, Model: req.Model, Field: field, Limit: req.MaxTokens, Out: resp.Usage.Out})
	}
	return resp, nil
}

// params maps an ethos request onto the SDK's request body. It is the one
// builder of a chat body: Complete sends it (adding stream options when
// asked) and a batch writes it as each input line's body.
// req.CachePrefix needs no field: OpenAI caches any stable prefix of 1,024
// tokens or more by itself, and reports the tokens it read as
// usage.prompt_tokens_details.cached_tokens.
func (c *Client) params(req ethos.Request) (sdk.ChatCompletionNewParams, *ethos.Error) {
	p := sdk.ChatCompletionNewParams{Model: req.Model}
	if req.System != "" {
		p.Messages = append(p.Messages, sdk.SystemMessage(req.System))
	}
	for i, m := range req.Messages {
		switch m.Role {
		case ethos.RoleUser:
			p.Messages = append(p.Messages, sdk.UserMessage(m.Content))
		case ethos.RoleAssistant:
			p.Messages = append(p.Messages, sdk.AssistantMessage(m.Content))
		case ethos.RoleSystem:
			p.Messages = append(p.Messages, sdk.SystemMessage(m.Content))
		default:
			return p, &ethos.Error{Kind: ethos.Invalid,
				Msg: fmt.Sprintf("message %d has unknown role %q", i, m.Role)}
		}
	}
	if req.MaxTokens > 0 {
		if c.maxCompletionTokens {
			p.MaxCompletionTokens = sdk.Int(int64(req.MaxTokens))
		} else {
			p.MaxTokens = sdk.Int(int64(req.MaxTokens))
		}
	}
	if req.Temperature != nil {
		p.Temperature = sdk.Float(*req.Temperature)
	}
	if len(req.Stop) > 0 {
		p.Stop.OfStringArray = req.Stop
	}
	return p, nil
}

// result is what JSON and streamed answers have in common.
type result struct {
	text, refusal, finish, model string
	usage                        ethos.Usage
}

func fromCompletion(cc *sdk.ChatCompletion) (result, error) {
	if cc == nil || len(cc.Choices) == 0 {
		return result{}, &streamError{msg: "response has no choices"}
	}
	ch := cc.Choices[0]
	return result{
		text:    ch.Message.Content,
		refusal: ch.Message.Refusal,
		finish:  ch.FinishReason,
		model:   cc.Model,
		usage:   usage(cc.Usage),
	}, nil
}

// usage splits prompt tokens the way ethos.Usage counts them: In excludes
// cached reads and writes, so that Usage.Total does not count them twice.
func usage(u sdk.CompletionUsage) ethos.Usage {
	read := int(u.PromptTokensDetails.CachedTokens)
	write := int(u.PromptTokensDetails.CacheWriteTokens)
	in := int(u.PromptTokens) - read - write
	if in < 0 {
		in = 0
	}
	return ethos.Usage{In: in, Out: int(u.CompletionTokens), CacheRead: read, CacheWrite: write}
}

// stream reads an SSE response. A stream that ends without [DONE] or
// without a finish_reason is an error: its text would silently be
// incomplete.
func (c *Client) stream(ctx context.Context, params sdk.ChatCompletionNewParams, opts []option.RequestOption, x *exchange) (result, error) {
	s := c.chat.NewStreaming(ctx, params, opts...)
	defer s.Close()
	var (
		res  result
		text strings.Builder
		ref  strings.Builder
	)
	for s.Next() {
		chunk := s.Current()
		if chunk.Model != "" {
			res.model = chunk.Model
		}
		if chunk.JSON.Usage.Valid() {
			res.usage = usage(chunk.Usage)
		}
		for _, ch := range chunk.Choices {
			if ch.Index != 0 {
				continue
			}
			text.WriteString(ch.Delta.Content)
			ref.WriteString(ch.Delta.Refusal)
			if ch.FinishReason != "" {
				res.finish = ch.FinishReason
			}
		}
	}
	if err := s.Err(); err != nil {
		return result{}, err
	}
	if x.done == nil || !x.done.sawDone() {
		return result{}, &streamError{msg: "stream ended before data: [DONE]"}
	}
	if res.finish == "" {
		return result{}, &streamError{msg: "stream ended without a finish_reason"}
	}
	res.text, res.refusal = text.String(), ref.String()
	return res, nil
}

// stopReason normalises an OpenAI finish_reason; a non-empty refusal wins.
func stopReason(finish, refusal string) ethos.StopReason {
	if refusal != "" {
		return ethos.StopRefusal
	}
	switch finish {
	case "stop":
		return ethos.StopEnd
	case "length":
		return ethos.StopMaxTokens
	case "content_filter":
		return ethos.StopRefusal
	case "tool_calls", "function_call":
		return ethos.StopToolUse
	}
	return ethos.StopReason(finish)
}

// streamError is a response that broke without an error from the server.
type streamError struct {
	msg string
}

func (e *streamError) Error() string { return e.msg }

// doneWatcher passes a stream body through and notes whether a
// "data: [DONE]" line went by. The SDK treats a clean EOF like [DONE], so
// without it a cut stream would look complete.
type doneWatcher struct {
	io.ReadCloser
	line []byte // start of the current line, at most len(doneLine)+1 bytes
	done bool
}

var doneLine = []byte("data: [DONE]")

func (d *doneWatcher) Read(p []byte) (int, error) {
	n, err := d.ReadCloser.Read(p)
	for _, b := range p[:n] {
		if b == '\n' {
			line := bytes.TrimSuffix(d.line, []byte("\r"))
			if bytes.Equal(line, doneLine) || bytes.Equal(line, []byte("data:[DONE]")) {
				d.done = true
			}
			d.line = d.line[:0]
			continue
		}
		if len(d.line) <= len(doneLine) {
			d.line = append(d.line, b)
		}
	}
	if errors.Is(err, io.EOF) {
		// A final line without a newline still counts.
		if bytes.Equal(bytes.TrimSuffix(d.line, []byte("\r")), doneLine) {
			d.done = true
		}
	}
	return n, err
}

func (d *doneWatcher) sawDone() bool { return d.done }

// Ping lists the models (GET models) to check that the endpoint is
// reachable and the key is accepted. Errors are mapped as in Complete.
func (c *Client) Ping(ctx context.Context) error {
	op := c.provider + ": models"
	timeout := c.timeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	var x exchange
	_, err := c.models.List(ctx, option.WithMiddleware(x.middleware(false)), option.WithRequestTimeout(timeout))
	if err != nil {
		return c.classify(ctx, op, "", timeout, x.header, err)
	}
	return nil
}
