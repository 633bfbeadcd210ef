// Package together is a client for Together AI's files and fine-tuning REST
// API, as its official OpenAPI spec describes it (testdata/openapi.yaml):
// POST /files/upload, GET /files/{id}, POST and GET /fine-tunes, GET
// /fine-tunes/{id} and its events, checkpoints and metrics (the losses),
// POST /fine-tunes/{id}/cancel, GET /fine-tunes/models/limits. Client
// implements ethos.FineTuneBackend and ethos.FineTuneMetrics.
//
// The client speaks the wire as it is, not as the command-line tools
// present it: LoRA settings travel nested in training_type, a job's status
// is kept verbatim beside the ethos state it maps to (State), and the
// trained model's name comes from model_output_name or, in older payloads,
// output_name. The same client drives the ethos sandbox, which serves the
// same endpoints.
//
// Together's Batch API is not here: what a batch carries is chat
// completions, which the openai adapter builds for Together's online calls,
// so that adapter speaks Together's batch routes too (openai.Config
// BatchDialect "together") and a batched body cannot drift from an online
// one.
//
// The client never reads the environment: the base URL and keys come from
// Options, which the caller resolves (TOGETHER_BASE_URL, TOGETHER_API_KEY).
// It makes one attempt per call; durable retries belong to the job layer,
// which reads the *ethos.Error kind of every failure.
package together

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/internal/wire"
)

// DefaultBaseURL is the API root used when Options.BaseURL is empty. It
// includes the version path; endpoint paths are appended to it.
const DefaultBaseURL = "https://api.together.xyz/v1"

// DefaultTimeout bounds one request when Options.Timeout is zero. Uploads
// get DefaultTimeout plus a second per 100 KB on top, so that a large
// training file is not cut off.
const DefaultTimeout = 2 * time.Minute

// Options says where and how to reach the API.
type Options struct {
	// BaseURL is the API root including the version path, e.g.
	// "https://api.together.xyz/v1" or a sandbox's "http://127.0.0.1:8700/v1".
	BaseURL string
	// APIKey is sent as a bearer token when set. It never appears in
	// errors.
	APIKey string
	// WandbAPIKey, when set, is sent with jobs whose hyperparameters name a
	// Weights & Biases project. It is never stored and never appears in
	// errors.
	WandbAPIKey string
	// HTTPClient carries the requests; nil means a fresh client.
	HTTPClient *http.Client
	// Provider is the name the backend records and shows in errors:
	// "together" when empty, "sandbox" when pointed at the sandbox.
	Provider string
	// Timeout bounds one request; zero means DefaultTimeout.
	Timeout time.Duration
	// Now reads the clock, for retry-after headers given as a date;
	// default time.Now.
	Now func() time.Time
}

// Client is a Together files and fine-tuning client. It is safe for
// concurrent use.
type Client struct {
	base     string // without a trailing slash
	key      string
	wandbKey string
	provider string
	hc       *http.Client
	timeout  time.Duration
	now      func() time.Time
}

var _ ethos.FineTuneBackend = (*Client)(nil)

// New returns a Client for o. It fails with a Config error when the base
// URL is not an http(s) URL; it makes no request.
func New(o Options) (*Client, error) {
	s, err := wire.NewSetup(o.Provider, "together", o.BaseURL, DefaultBaseURL,
		"; it is the API root including the version, e.g. "+DefaultBaseURL, o.HTTPClient)
	if err != nil {
		return nil, err
	}
	if o.Timeout < 0 {
		return nil, s.Fail("timeout %s is negative", o.Timeout)
	}
	c := &Client{
		base:     strings.TrimRight(s.Base, "/"),
		key:      o.APIKey,
		wandbKey: o.WandbAPIKey,
		provider: s.Provider,
		hc:       s.HTTP,
		timeout:  o.Timeout,
		now:      o.Now,
	}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// Provider is the name the backend records: Options.Provider, "together"
// by default.
func (c *Client) Provider() string { return c.provider }

// call is one request: what to send and how a failure is described.
type call struct {
	op      string // "fine-tunes.create"
	method  string
	path    string // below the base URL, with a leading slash
	body    io.Reader
	ctype   string        // content type of body
	timeout time.Duration // overrides the client's timeout when positive
	// subject names what a 404 means, e.g. `fine-tune job "ft-1"`; model
	// names the model a create asked for.
	subject, model string
}

// do sends cl and decodes a 2xx JSON answer into out (when non-nil),
// returning the raw body. Every failure is an *ethos.Error.
func (c *Client) do(ctx context.Context, cl call, out any) ([]byte, error) {
	op := c.provider + ": " + cl.op
	timeout := c.timeout
	if cl.timeout > 0 {
		timeout = cl.timeout
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, cl.method, c.base+cl.path, cl.body)
	if err != nil {
		return nil, &ethos.Error{Kind: ethos.Invalid, Op: op, Msg: "cannot build the request: " + c.clean(err.Error()), Err: c.redacted(err)}
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "ethos")
	if cl.ctype != "" {
		req.Header.Set("Content-Type", cl.ctype)
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, c.transportError(ctx, op, timeout, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		e := c.transportError(ctx, op, timeout, err)
		e.Status = resp.StatusCode
		e.RequestID = requestID(resp.Header)
		return nil, e
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, c.statusError(op, cl, resp, body)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			return nil, &ethos.Error{Kind: ethos.Transient, Op: op, Status: resp.StatusCode, RequestID: requestID(resp.Header),
				Msg: fmt.Sprintf("unreadable answer (HTTP %d, %s): %s", resp.StatusCode, resp.Header.Get("Content-Type"), c.clean(err.Error())),
				Err: c.redacted(err)}
		}
	}
	return body, nil
}

// maxResponseBytes bounds a response body; a job list with embedded
// events is far smaller.
const maxResponseBytes = 64 << 20

// pathID escapes a provider ID for use as one path segment.
func pathID(id string) string { return url.PathEscape(id) }
