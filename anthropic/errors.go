package anthropic

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	sdk "github.com/anthropics/anthropic-sdk-go/v2"

	"github.com/ethos-toolkit/ethos"
)

// classify turns any failure of a call into an *ethos.Error. header is the
// last response header the HTTP layer saw, if any; model names the model
// in a not-found message.
func (c *Client) classify(ctx context.Context, op, model string, timeout time.Duration, header http.Header, err error) *ethos.Error {
	e := &ethos.Error{Op: op, Err: redacted{err: err, secret: c.key}}
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
			e.Msg = "broken stream: " + c.clean(se.Error())
		} else {
			e.Msg = "request failed: " + c.clean(err.Error())
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
	e.Err = errors.New(c.clean(apiErr.Error()))
	e.RequestID = apiErr.RequestID
	detail := c.clean(apiErr.Message)
	typ := string(apiErr.Type())
	if detail == "" {
		detail = typ
	} else if typ != "" {
		detail = typ + ": " + detail
	}
	if detail != "" {
		detail = ": " + detail
	}
	status := apiErr.StatusCode
	if status < 400 {
		// An error event inside a 200 stream: only its type says what
		// went wrong.
		e.Kind = kindOfType(typ)
		e.Msg = "stream failed after HTTP " + fmt.Sprint(status) + detail
		e.RetryAfter = parseRetryAfter(header, c.now())
		return
	}
	e.Status = status
	e.Kind = kindOfStatus(status)
	e.RetryAfter = parseRetryAfter(header, c.now())
	e.Msg = statusMessage(c.provider, model, status, e.RetryAfter) + detail
}

// kindOfStatus is the one table from HTTP status to error kind.
func kindOfStatus(status int) ethos.Kind {
	switch status {
	case 400, 413, 422:
		return ethos.Invalid
	case 401, 402, 403:
		return ethos.Auth
	case 404:
		return ethos.NotFound
	case 429:
		return ethos.RateLimited
	case 503, 529:
		return ethos.Overloaded
	case 408, 409:
		return ethos.Transient
	}
	if status >= 500 {
		return ethos.Transient
	}
	return ethos.Invalid
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

// statusMessage says in one line what a status means and what to do.
func statusMessage(provider, model string, status int, retryAfter time.Duration) string {
	wait := ""
	if retryAfter > 0 {
		wait = ", retry after " + retryAfter.String()
	}
	switch {
	case status == 401:
		return fmt.Sprintf("authentication failed (401): check the API key for provider %s", provider)
	case status == 402:
		return fmt.Sprintf("billing problem (402): check the plan and credit of the account behind provider %s", provider)
	case status == 403:
		return fmt.Sprintf("permission denied (403): the API key for provider %s may not use this model or endpoint", provider)
	case status == 404 && model != "":
		return fmt.Sprintf("model %q not found (404) at provider %s: check the model name", model, provider)
	case status == 404:
		return fmt.Sprintf("not found (404) at provider %s: check the base URL", provider)
	case status == 413:
		return "request too large (413): shorten the prompt"
	case status == 429:
		return fmt.Sprintf("rate limited by provider %s (429)%s", provider, wait)
	case status == 503 || status == 529:
		return fmt.Sprintf("provider %s is overloaded (%d)%s", provider, status, wait)
	case status >= 500 || status == 408 || status == 409:
		return fmt.Sprintf("provider %s failed (%d %s), worth retrying", provider, status, http.StatusText(status))
	default:
		return fmt.Sprintf("request rejected (%d %s): fix the request", status, http.StatusText(status))
	}
}

// clean makes provider text safe for a one-line message: the key is
// removed, whitespace collapsed and the length bounded.
func (c *Client) clean(s string) string {
	s = redact(s, c.key)
	s = strings.Join(strings.Fields(s), " ")
	const limit = 300
	if len(s) > limit {
		s = s[:limit] + "…"
	}
	return s
}

func redact(s, secret string) string {
	if secret == "" {
		return s
	}
	return strings.ReplaceAll(s, secret, "[redacted]")
}

// redacted wraps a cause so that printing it cannot reveal the API key,
// even if a server echoed the key back in an error body.
type redacted struct {
	err    error
	secret string
}

func (r redacted) Error() string { return redact(r.err.Error(), r.secret) }
func (r redacted) Unwrap() error { return r.err }
