package together

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/internal/wire"
)

// baseURLHint tells a 404 how base URLs are formed here: they carry the
// version path, which is easy to leave out.
const baseURLHint = "it includes the version, e.g. /v1"

// statusError turns a failed HTTP answer into an *ethos.Error whose
// message is the one-line meaning of the status followed by the
// provider's own words.
func (c *Client) statusError(op string, cl call, resp *http.Response, body []byte) *ethos.Error {
	status := resp.StatusCode
	e := &ethos.Error{
		Op:        op,
		Kind:      wire.KindOfStatus(status),
		Status:    status,
		RequestID: requestID(resp.Header),
	}
	if e.Kind == ethos.RateLimited || e.Kind == ethos.Overloaded {
		e.RetryAfter = wire.ParseRetryAfter(resp.Header, c.now())
	}
	detail := c.providerMessage(body)
	if status == http.StatusNotFound && cl.subject != "" {
		e.Msg = fmt.Sprintf("%s not found (404) at provider %s: check the ID", cl.subject, c.provider)
	} else {
		e.Msg = wire.StatusMessage(c.provider, cl.model, status, e.RetryAfter, baseURLHint)
	}
	if detail != "" {
		e.Msg += ": " + detail
	}
	e.Err = fmt.Errorf("HTTP %d: %s", status, c.clean(string(body)))
	return e
}

// providerMessage extracts the provider's explanation from an error body:
// the spec's ErrorData {"error":{"message","type","param","code"}}, a bare
// {"message"} as some endpoints send, or else the body's text.
func (c *Client) providerMessage(body []byte) string {
	var data struct {
		Error json.RawMessage `json:"error"`
		// Message is where some endpoints put their explanation instead.
		Message string `json:"message"`
	}
	if err := json.Unmarshal(body, &data); err != nil {
		return c.clean(string(body))
	}
	var inner struct {
		Message string          `json:"message"`
		Type    string          `json:"type"`
		Param   string          `json:"param"`
		Code    json.RawMessage `json:"code"`
	}
	var parts []string
	add := func(s string) {
		s = c.clean(s)
		if s != "" && s != "null" && !containsString(parts, s) {
			parts = append(parts, s)
		}
	}
	switch {
	case len(data.Error) > 0 && json.Unmarshal(data.Error, &inner) == nil:
		add(inner.Type)
		add(strings.Trim(string(inner.Code), `"`))
		add(inner.Message)
		if inner.Param != "" {
			add("param " + inner.Param)
		}
	case len(data.Error) > 0:
		// {"error": "text"}
		var s string
		if json.Unmarshal(data.Error, &s) == nil {
			add(s)
		}
	}
	add(data.Message)
	return strings.Join(parts, ": ")
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// transportError describes a request that got no complete answer.
func (c *Client) transportError(ctx context.Context, op string, timeout time.Duration, err error) *ethos.Error {
	e := &ethos.Error{Kind: ethos.Transient, Op: op, Err: c.redacted(err)}
	switch {
	case ctx.Err() != nil:
		// The caller gave up; keep context.Canceled reachable so that a
		// shutdown is not mistaken for a provider fault.
		e.Msg = "call abandoned: " + ctx.Err().Error()
		if !errors.Is(err, ctx.Err()) {
			e.Err = errors.Join(ctx.Err(), e.Err)
		}
	case errors.Is(err, context.DeadlineExceeded):
		e.Msg = fmt.Sprintf("no complete answer within %s: the provider is slow or unreachable; raise the timeout", timeout)
	default:
		e.Msg = "request failed: " + c.clean(err.Error())
	}
	return e
}

// clean makes provider text safe for a one-line message, with every key
// the client holds redacted.
func (c *Client) clean(s string) string {
	return wire.Clean(wire.Redact(s, c.wandbKey), c.key)
}

// redacted wraps err so that printing it cannot reveal a key.
func (c *Client) redacted(err error) error {
	var r error = wire.Redacted{Err: err, Secret: c.key}
	if c.wandbKey != "" {
		r = wire.Redacted{Err: r, Secret: c.wandbKey}
	}
	return r
}

// requestID is the provider's id of a request, for support tickets.
func requestID(h http.Header) string {
	for _, name := range []string{"x-request-id", "request-id", "x-together-request-id"} {
		if v := h.Get(name); v != "" {
			return v
		}
	}
	return ""
}
