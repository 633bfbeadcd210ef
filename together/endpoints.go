package together

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ethos-toolkit/ethos"
)

// Dedicated endpoints: the spec's GET and POST /endpoints, GET and PATCH
// /endpoints/{endpointId} and GET /hardware. Attaching a LoRA adapter to a
// running LoRA-enabled endpoint is not in the spec; it follows Together's
// documentation (https://docs.together.ai/reference/addadapter and
// https://docs.together.ai/docs/dedicated-endpoints/lora-adapter):
// POST /endpoints/{endpointId}/adapters with {"model_id":
// "<endpoint name>:<adapter model name>"}, answered with {"model_id"}.

var _ ethos.EndpointBackend = (*Client)(nil)

// endpointObject is the spec's DedicatedEndpoint.
type endpointObject struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	DisplayName string `json:"display_name"`
	Model       string `json:"model"`
	Hardware    string `json:"hardware"`
	State       string `json:"state"`
	CreatedAt   stamp  `json:"created_at"`
}

func (c *Client) endpointOf(o endpointObject) ethos.Endpoint {
	return ethos.Endpoint{ID: o.ID, Provider: c.provider, Name: o.Name, DisplayName: o.DisplayName, Model: o.Model,
		Hardware: o.Hardware, State: strings.ToUpper(strings.TrimSpace(o.State)), CreatedAt: o.CreatedAt.time()}
}

// endpointList is the spec's answer to GET /endpoints: a list of
// ListEndpoint, which has no display name, hardware or autoscaling.
type endpointList struct {
	Data []endpointObject `json:"data"`
}

// endpoints reads a list answer: every entry with an ID, in the order
// given. An entry without one names nothing ethos could stop or adopt.
func (c *Client) endpoints(out endpointList) []ethos.Endpoint {
	list := make([]ethos.Endpoint, 0, len(out.Data))
	for _, o := range out.Data {
		if o.ID == "" {
			continue
		}
		list = append(list, c.endpointOf(o))
	}
	return list
}

// autoscaling is the spec's Autoscaling. ethos serves an evaluation from
// one replica.
type autoscaling struct {
	MinReplicas int `json:"min_replicas"`
	MaxReplicas int `json:"max_replicas"`
}

// createEndpointRequest is the spec's CreateEndpointRequest.
type createEndpointRequest struct {
	DisplayName     string      `json:"display_name,omitempty"`
	Model           string      `json:"model"`
	Hardware        string      `json:"hardware"`
	Autoscaling     autoscaling `json:"autoscaling"`
	State           string      `json:"state,omitempty"`
	InactiveTimeout *int        `json:"inactive_timeout,omitempty"`
}

// Hardware lists the hardware that can serve model (GET /hardware?model=),
// with its price per minute and availability.
func (c *Client) Hardware(ctx context.Context, model string) ([]ethos.Hardware, error) {
	var out struct {
		Data []struct {
			ID      string `json:"id"`
			Pricing struct {
				CentsPerMinute float64 `json:"cents_per_minute"`
			} `json:"pricing"`
			Availability *struct {
				Status string `json:"status"`
			} `json:"availability"`
		} `json:"data"`
	}
	path := "/hardware"
	if model != "" {
		path += "?model=" + url.QueryEscape(model)
	}
	if _, err := c.do(ctx, call{op: "hardware.list", method: http.MethodGet, path: path,
		subject: fmt.Sprintf("hardware for model %q", model), model: model}, &out); err != nil {
		return nil, err
	}
	list := make([]ethos.Hardware, 0, len(out.Data))
	for _, h := range out.Data {
		hw := ethos.Hardware{ID: h.ID, CentsPerMinute: h.Pricing.CentsPerMinute}
		if h.Availability != nil {
			hw.Availability = h.Availability.Status
		}
		list = append(list, hw)
	}
	return list, nil
}

// CreateEndpoint creates a dedicated endpoint with one replica, started at
// once (POST /endpoints).
func (c *Client) CreateEndpoint(ctx context.Context, req ethos.EndpointRequest) (ethos.Endpoint, error) {
	if req.Model == "" || req.Hardware == "" {
		return ethos.Endpoint{}, &ethos.Error{Kind: ethos.Invalid, Op: c.provider + ": endpoints.create",
			Msg: fmt.Sprintf("an endpoint needs a model and a hardware configuration (model %q, hardware %q)", req.Model, req.Hardware)}
	}
	if req.InactiveTimeout < 0 {
		return ethos.Endpoint{}, &ethos.Error{Kind: ethos.Invalid, Op: c.provider + ": endpoints.create",
			Msg: fmt.Sprintf("inactive timeout %d minutes is negative", req.InactiveTimeout)}
	}
	body := createEndpointRequest{DisplayName: req.DisplayName, Model: req.Model, Hardware: req.Hardware,
		Autoscaling: autoscaling{MinReplicas: 1, MaxReplicas: 1}, State: ethos.EndpointStarted}
	if req.InactiveTimeout > 0 {
		body.InactiveTimeout = &req.InactiveTimeout
	}
	return c.endpointCall(ctx, call{op: "endpoints.create", method: http.MethodPost, path: "/endpoints", model: req.Model}, body)
}

// ListEndpoints lists the account's own dedicated endpoints in every
// state (GET /endpoints?type=dedicated&mine=true). Each carries what the
// spec's ListEndpoint has: ID, name, model, state and creation time; its
// display name and hardware come from GetEndpoint.
func (c *Client) ListEndpoints(ctx context.Context) ([]ethos.Endpoint, error) {
	var out endpointList
	if _, err := c.do(ctx, call{op: "endpoints.list", method: http.MethodGet, path: "/endpoints?type=dedicated&mine=true",
		subject: "the endpoint list"}, &out); err != nil {
		return nil, err
	}
	return c.endpoints(out), nil
}

// GetEndpoint returns an endpoint's current view (GET /endpoints/{id}).
func (c *Client) GetEndpoint(ctx context.Context, id string) (ethos.Endpoint, error) {
	return c.endpointCall(ctx, call{op: "endpoints.get", method: http.MethodGet, path: "/endpoints/" + pathID(id),
		subject: fmt.Sprintf("endpoint %q", id)}, nil)
}

// StopEndpoint asks for the endpoint to stop (PATCH /endpoints/{id} with
// state STOPPED); a stopped endpoint bills nothing and can be started
// again.
func (c *Client) StopEndpoint(ctx context.Context, id string) (ethos.Endpoint, error) {
	return c.endpointCall(ctx, call{op: "endpoints.update", method: http.MethodPatch, path: "/endpoints/" + pathID(id),
		subject: fmt.Sprintf("endpoint %q", id)}, map[string]string{"state": ethos.EndpointStopped})
}

// endpointCall sends cl with body as JSON (none when nil) and reads a
// DedicatedEndpoint.
func (c *Client) endpointCall(ctx context.Context, cl call, body any) (ethos.Endpoint, error) {
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return ethos.Endpoint{}, &ethos.Error{Kind: ethos.Internal, Op: c.provider + ": " + cl.op, Err: err}
		}
		cl.body, cl.ctype = bytes.NewReader(b), "application/json"
	}
	var out endpointObject
	if _, err := c.do(ctx, cl, &out); err != nil {
		return ethos.Endpoint{}, err
	}
	if out.ID == "" {
		return ethos.Endpoint{}, &ethos.Error{Kind: ethos.Transient, Op: c.provider + ": " + cl.op,
			Msg: "the answer names no endpoint id"}
	}
	e := c.endpointOf(out)
	if e.CreatedAt.IsZero() {
		e.CreatedAt = c.now().UTC().Truncate(time.Second)
	}
	return e, nil
}

// AttachAdapter attaches the adapter model to the endpoint id (system name
// endpointName) and returns the name requests call it by: the model_id
// of the answer, else the combined id sent. The path is not in the spec;
// see the file comment for the documentation it follows.
func (c *Client) AttachAdapter(ctx context.Context, id, endpointName, model string) (string, error) {
	combined := endpointName + ":" + model
	b, err := json.Marshal(map[string]string{"model_id": combined})
	if err != nil {
		return "", &ethos.Error{Kind: ethos.Internal, Op: c.provider + ": endpoints.adapters.add", Err: err}
	}
	var out struct {
		ModelID string `json:"model_id"`
	}
	if _, err := c.do(ctx, call{op: "endpoints.adapters.add", method: http.MethodPost, path: "/endpoints/" + pathID(id) + "/adapters",
		body: bytes.NewReader(b), ctype: "application/json", subject: fmt.Sprintf("endpoint %q", id), model: model}, &out); err != nil {
		return "", err
	}
	if out.ModelID != "" {
		return out.ModelID, nil
	}
	return combined, nil
}
