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
	e.Status = apiErr.StatusCode
	e.Kind = wire.KindOfStatus(apiErr.StatusCode)
	e.RetryAfter = wire.ParseRetryAfter(header, c.now())
	e.Msg = wire.StatusMessage(c.provider, model, apiErr.StatusCode, e.RetryAfter, baseURLHint) + c.detail(apiErr.Type, apiErr.Code, apiErr.Message)
	if apiErr.Code == "insufficient_quota" || apiErr.Type == "insufficient_quota" {
		// OpenAI's 429 for an account out of credit: waiting will not
		// clear it, so it stops the run instead of snoozing for ever.
		e.Kind = ethos.Quota
		e.Msg = fmt.Sprintf("the account behind provider %s has no quota left (insufficient_quota, HTTP %d): add credit or raise its limits, then run the same command again", c.provider, apiErr.StatusCode) + c.detail(apiErr.Type, apiErr.Code, apiErr.Message)
	}
}

// streamEventError fills e from an error object sent inside a 200 stream,
// which compatible servers (vLLM, Together) use for failures mid-stream.
func (c *Client) streamEventError(e *ethos.Error, se *ssestream.StreamError) {
	var body struct {
		Error struct {
			Message string          `json:"message"`
			Type    string          `json:"type"`
			Code    json.RawMessage `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(se.Event.Data, &body)
	code := strings.Trim(string(body.Error.Code), `"`)
	if code == "null" {
		code = ""
	}
	e.Err = errors.New(wire.Clean(se.Message, c.key))
	e.Kind = kindOfStreamError(body.Error.Type, code)
	e.Msg = "stream failed after HTTP 200" + c.detail(body.Error.Type, code, body.Error.Message)
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
