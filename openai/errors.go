package openai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	sdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/ssestream"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/internal/wire"
)

// classify turns any failure of a call into an *ethos.Error. header is the
// last response header the HTTP layer saw, if any; model names the model
// in a not-found message.
func (c *Client) classify(ctx context.Context, op, model string, timeout time.Duration, header http.Header, err error) *ethos.Error {
	e := &ethos.Error{Op: op, Err: wire.Redacted{Err: err, Secret: c.key}}
	var (
		apiErr    *sdk.Error
		streamErr *ssestream.StreamError
		broken    *streamError
	)
	switch {
	case ctx.Err() != nil:
		// The caller gave up; keep context.Canceled / DeadlineExceeded
		// reachable so that shutdown is not mistaken for a provider fault.
		e.Kind = ethos.Transient
		e.Msg = "call abandoned: " + ctx.Err().Error()
		if !errors.Is(err, ctx.Err()) {
			e.Err = errors.Join(ctx.Err(), e.Err)
		}
	case errors.As(err, &apiErr):
		c.apiError(e, apiErr, model)
	case errors.As(err, &streamErr):
		c.streamEventError(e, streamErr)
	case errors.Is(err, context.DeadlineExceeded):
		e.Kind = ethos.Transient
		e.Msg = fmt.Sprintf("no complete response within %s: raise the timeout or use streaming", timeout)
	case errors.As(err, &broken):
		e.Kind = ethos.Transient
		e.Msg = "broken stream: " + wire.Clean(broken.Error(), c.key)
	default:
		e.Kind = ethos.Transient
		e.Msg = "request failed: " + wire.Clean(err.Error(), c.key)
	}
	if header != nil {
		e.RequestID = header.Get("x-request-id")
		if e.RetryAfter == 0 && e.Kind != ethos.Transient {
			e.RetryAfter = wire.ParseRetryAfter(header, c.now())
		}
	}
	return e
}

// call runs fn with the request options every call beyond chat shares
// (files, fine-tuning, batches) and maps its error as Complete maps a
// failed call. subject names what a 404 means (`batch "batch_1"`); model
// names the model a create asked for. A zero timeout is two minutes.
func (c *Client) call(ctx context.Context, op, subject, model string, timeout time.Duration, fn func(opts ...option.RequestOption) error) error {
	op = c.provider + ": " + op
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	var x exchange
	err := fn(option.WithMiddleware(x.middleware(false)), option.WithRequestTimeout(timeout))
	if err == nil {
		return nil
	}
	e := c.classify(ctx, op, model, timeout, x.header, err)
	var apiErr *sdk.Error
	if e.Status == http.StatusNotFound && subject != "" && errors.As(err, &apiErr) {
		e.Msg = fmt.Sprintf("%s not found (404) at provider %s: check the ID", subject, c.provider) +
			c.detail(apiErr.Type, apiErr.Code, apiErr.Message)
	}
	return e
}

// baseURLHint tells a 404 how this adapter's base URLs are formed: unlike
// Anthropic's, they carry the version path, which is easy to leave out.
const baseURLHint = "it includes the version, e.g. /v1"

// apiError fills e from an HTTP error response.
func (c *Client) apiError(e *ethos.Error, apiErr *sdk.Error, model string) {
	var header http.Header
	if apiErr.Response != nil {
		header = apiErr.Response.Header
	}
	// Keep a redacted copy of the SDK's text rather than the SDK error,
	// whose raw body a careless server may fill with the key.
	e.Err = errors.New(wire.Clean(apiErr.Error(), c.key))
	e.RetryAfter = wire.ParseRetryAfter(header, c.now())
	c.statusError(e, apiErr.StatusCode, model, apiErr.Type, apiErr.Code, apiErr.Message)
}

// statusError sets e's status, kind and message for a failed HTTP status
// and the provider's error type, code and message: an online call's
// failure, or one request's in a batch's error file.
func (c *Client) statusError(e *ethos.Error, status int, model, typ, code, msg string) {
	e.Status = status
	e.Kind = wire.KindOfStatus(status)
	e.Msg = wire.StatusMessage(c.provider, model, status, e.RetryAfter, baseURLHint) + c.detail(typ, code, msg)
	if code == "insufficient_quota" || typ == "insufficient_quota" {
		// OpenAI's 429 for an account out of credit: waiting will not
		// clear it, so it stops the run instead of snoozing for ever.
		e.Kind = ethos.Quota
		e.Msg = fmt.Sprintf("the account behind provider %s has no quota left (insufficient_quota, HTTP %d): add credit or raise its limits, then run the same command again", c.provider, status) + c.detail(typ, code, msg)
	}
}

// streamEventError fills e from an error object sent inside a 200 stream,
// which compatible servers (vLLM, Together) use for failures mid-stream.
func (c *Client) streamEventError(e *ethos.Error, se *ssestream.StreamError) {
	var body errorBody
	_ = json.Unmarshal(se.Event.Data, &body)
	code := rawCode(body.Error.Code)
	e.Err = errors.New(wire.Clean(se.Message, c.key))
	e.Kind = kindOfStreamError(body.Error.Type, code)
	e.Msg = "stream failed after HTTP 200" + c.detail(body.Error.Type, code, body.Error.Message)
}

// errorBody is an OpenAI error object: {"error": {message, type, code}},
// whose code may be a string, a number or null.
type errorBody struct {
	Error struct {
		Message string          `json:"message"`
		Type    string          `json:"type"`
		Code    json.RawMessage `json:"code"`
	} `json:"error"`
}

// rawCode reads an error code that may be a string, a number or null.
func rawCode(raw json.RawMessage) string {
	code := strings.Trim(string(raw), `"`)
	if code == "null" {
		return ""
	}
	return code
}

// detail renders the provider's own words as a message suffix.
func (c *Client) detail(typ, code, msg string) string {
	var parts []string
	for _, s := range []string{typ, code, wire.Clean(msg, c.key)} {
		if s != "" && !containsString(parts, s) {
			parts = append(parts, s)
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return ": " + strings.Join(parts, ": ")
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// kindOfStreamError classifies an in-stream error object by its numeric
// code when it has one, else by the words of its type or code.
func kindOfStreamError(typ, code string) ethos.Kind {
	if n, err := strconv.Atoi(code); err == nil && n >= 400 {
		return wire.KindOfStatus(n)
	}
	words := strings.ToLower(typ + " " + code)
	switch {
	case strings.Contains(words, "rate_limit"), strings.Contains(words, "ratelimit"):
		return ethos.RateLimited
	case strings.Contains(words, "overload"):
		return ethos.Overloaded
	case strings.Contains(words, "insufficient_quota"):
		return ethos.Quota
	case strings.Contains(words, "auth"), strings.Contains(words, "permission"), strings.Contains(words, "billing"):
		return ethos.Auth
	case strings.Contains(words, "not_found"), strings.Contains(words, "notfound"):
		return ethos.NotFound
	case strings.Contains(words, "invalid_request"), strings.Contains(words, "badrequest"), strings.Contains(words, "context_length"):
		return ethos.Invalid
	}
	return ethos.Transient
}
