package anthropic

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	sdk "github.com/anthropics/anthropic-sdk-go/v2"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/internal/wire"
)

// classify turns any failure of a call into an *ethos.Error. header is the
// last response header the HTTP layer saw, if any; model names the model
// in a not-found message.
func (c *Client) classify(ctx context.Context, op, model string, timeout time.Duration, header http.Header, err error) *ethos.Error {
	e := &ethos.Error{Op: op, Err: wire.Redacted{Err: err, Secret: c.key}}
	var apiErr *sdk.Error
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
		c.apiError(e, apiErr, model, header)
	case errors.Is(err, context.DeadlineExceeded):
		e.Kind = ethos.Transient
		e.Msg = fmt.Sprintf("no complete response within %s: raise the timeout or use streaming", timeout)
	default:
		var se *streamError
		e.Kind = ethos.Transient
		if errors.As(err, &se) {
			e.Msg = "broken stream: " + wire.Clean(se.Error(), c.key)
		} else {
			e.Msg = "request failed: " + wire.Clean(err.Error(), c.key)
		}
	}
	if e.RequestID == "" && header != nil {
		e.RequestID = header.Get("request-id")
	}
	return e
}

// apiError fills e from an HTTP error response, or from an SSE error
// event that arrived after a 200.
func (c *Client) apiError(e *ethos.Error, apiErr *sdk.Error, model string, header http.Header) {
	if apiErr.Response != nil {
		header = apiErr.Response.Header
	}
	// The SDK error prints the raw response body, which a careless server
	// may fill with the key; keep only a redacted copy of its text.
	e.Err = errors.New(wire.Clean(apiErr.Error(), c.key))
	e.RequestID = apiErr.RequestID
	typ := string(apiErr.Type())
	detail := c.typeDetail(typ, apiErr.Message)
	status := apiErr.StatusCode
	if status < 400 {
		// An error event inside a 200 stream: only its type says what
		// went wrong.
		e.Kind = kindOfType(typ)
		e.Msg = "stream failed after HTTP " + fmt.Sprint(status) + detail
		e.RetryAfter = wire.ParseRetryAfter(header, c.now())
		return
	}
	e.Status = status
	e.Kind = wire.KindOfStatus(status)
	e.RetryAfter = wire.ParseRetryAfter(header, c.now())
	// No base-URL hint: New already refuses a root ending in /v1, the one
	// base URL mistake that turns every call into a 404.
	e.Msg = wire.StatusMessage(c.provider, model, status, e.RetryAfter, "") + detail
}

// typeDetail renders an error's type and message as a message suffix
// (": type: message"), the message cleaned of the key.
func (c *Client) typeDetail(typ, msg string) string {
	detail := wire.Clean(msg, c.key)
	if detail == "" {
		detail = typ
	} else if typ != "" {
		detail = typ + ": " + detail
	}
	if detail != "" {
		detail = ": " + detail
	}
	return detail
}

// kindOfType maps an Anthropic error.type onto a kind, for errors that
// carry no meaningful HTTP status.
func kindOfType(typ string) ethos.Kind {
	switch typ {
	case "overloaded_error":
		return ethos.Overloaded
	case "rate_limit_error":
		return ethos.RateLimited
	case "invalid_request_error", "request_too_large":
		return ethos.Invalid
	case "authentication_error", "permission_error", "billing_error":
		return ethos.Auth
	case "not_found_error":
		return ethos.NotFound
	default: // api_error, timeout_error and types not yet known
		return ethos.Transient
	}
}
