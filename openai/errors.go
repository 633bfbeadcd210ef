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
)

// classify turns any failure of a call into an *ethos.Error. header is the
// last response header the HTTP layer saw, if any; model names the model
// in a not-found message.
func (c *Client) classify(ctx context.Context, op, model string, timeout time.Duration, header http.Header, err error) *ethos.Error {
	e := &ethos.Error{Op: op, Err: redacted{err: err, secret: c.key}}
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
		e.Msg = "broken stream: " + c.clean(broken.Error())
	default:
		e.Kind = ethos.Transient
		e.Msg = "request failed: " + c.clean(err.Error())
	}
	if header != nil {
		e.RequestID = header.Get("x-request-id")
		if e.RetryAfter == 0 && e.Kind != ethos.Transient {
			e.RetryAfter = parseRetryAfter(header, c.now())
		}
	}
	return e
}

// apiError fills e from an HTTP error response.
func (c *Client) apiError(e *ethos.Error, apiErr *sdk.Error, model string) {
	var header http.Header
	if apiErr.Response != nil {
		header = apiErr.Response.Header
	}
	// Keep a redacted copy of the SDK's text rather than the SDK error,
	// whose raw body a careless server may fill with the key.
	e.Err = errors.New(c.clean(apiErr.Error()))
	e.Status = apiErr.StatusCode
	e.Kind = kindOfStatus(apiErr.StatusCode)
	e.RetryAfter = parseRetryAfter(header, c.now())
	e.Msg = statusMessage(c.provider, model, apiErr.StatusCode, e.RetryAfter) + c.detail(apiErr.Type, apiErr.Code, apiErr.Message)
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
	e.Err = errors.New(c.clean(se.Message))
	e.Kind = kindOfStreamError(body.Error.Type, code)
	e.Msg = "stream failed after HTTP 200" + c.detail(body.Error.Type, code, body.Error.Message)
}

// detail renders the provider's own words as a message suffix.
func (c *Client) detail(typ, code, msg string) string {
	var parts []string
	for _, s := range []string{typ, code, c.clean(msg)} {
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

// kindOfStreamError classifies an in-stream error object by its numeric
// code when it has one, else by the words of its type or code.
func kindOfStreamError(typ, code string) ethos.Kind {
	if n, err := strconv.Atoi(code); err == nil && n >= 400 {
		return kindOfStatus(n)
	}
	words := strings.ToLower(typ + " " + code)
	switch {
	case strings.Contains(words, "rate_limit"), strings.Contains(words, "ratelimit"):
		return ethos.RateLimited
	case strings.Contains(words, "overload"):
		return ethos.Overloaded
	case strings.Contains(words, "auth"), strings.Contains(words, "permission"), strings.Contains(words, "billing"), strings.Contains(words, "insufficient_quota"):
		return ethos.Auth
	case strings.Contains(words, "not_found"), strings.Contains(words, "notfound"):
		return ethos.NotFound
	case strings.Contains(words, "invalid_request"), strings.Contains(words, "badrequest"), strings.Contains(words, "context_length"):
		return ethos.Invalid
	}
	return ethos.Transient
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
		return fmt.Sprintf("model %q not found (404) at provider %s: check the model name and base URL", model, provider)
	case status == 404:
		return fmt.Sprintf("not found (404) at provider %s: check the base URL (it includes the version, e.g. /v1)", provider)
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

// redacted wraps a cause so that printing it cannot reveal the API key.
type redacted struct {
	err    error
	secret string
}

func (r redacted) Error() string { return redact(r.err.Error(), r.secret) }
func (r redacted) Unwrap() error { return r.err }
