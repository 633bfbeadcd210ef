package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Serving and dedicated endpoints. Together serves a fine-tuned model
// serverless only for some base models; the others answer chat requests
// only through a dedicated endpoint. Options.Serving says which way each
// base model's fine-tuned models are served (ServingServerless, the
// default, or ServingDedicated). A chat request naming a fine-tuned model
// that is not served serverless gets Together's answer for that case: 400
// with code model_not_available ("Unable to access non-serverless model
// …").
//
// The sandbox serves Together's /endpoints API as its spec describes it
// (GET and POST /v1/endpoints, GET and PATCH /v1/endpoints/{endpointId},
// GET /v1/hardware) and, as Together documents it, POST
// /v1/endpoints/{endpointId}/adapters. Like a job's, an endpoint's state
// is computed from the times it was asked to start or stop and the
// server clock, so every process that reads it agrees:
//
//	create (or PATCH state STARTED): PENDING → STARTING → STARTED
//	PATCH state STOPPED:             STOPPING → STOPPED
//
// each step lasting FineTuneOptions.EndpointStep (default 250ms). A
// started endpoint answers chat requests under its name (owner/model-<8
// hex>), and an adapter attached to it under "<endpoint name>:<adapter>".
// Endpoints are kept beside jobs (FineTuneOptions.Dir).

// Serving values of Options.Serving.
const (
	ServingServerless = "serverless"
	ServingDedicated  = "dedicated"
)

// sandboxOwner is the account that owns the sandbox's endpoints.
const sandboxOwner = "sandbox-user"

// defaultEndpointStep is how long each step of an endpoint's start or stop
// lasts.
const defaultEndpointStep = 250 * time.Millisecond

// sandboxHardware is what GET /hardware lists, with its price.
var sandboxHardware = []struct {
	id       string
	cents    float64
	gpu      string
	memoryGB float64
}{
	{"1x_nvidia_a100_80gb_sxm", 4.0, "a100-80gb", 80},
	{"1x_nvidia_h100_80gb_sxm", 5.5, "h100-80gb", 80},
}

// epTransition is one request to start or stop an endpoint.
type epTransition struct {
	At    time.Time `json:"at"`
	State string    `json:"state"` // STARTED or STOPPED
}

// ftEndpoint is a dedicated endpoint as the sandbox keeps it.
type ftEndpoint struct {
	ID              string         `json:"id"`
	Name            string         `json:"name"`
	DisplayName     string         `json:"display_name"`
	Model           string         `json:"model"`
	Hardware        string         `json:"hardware"`
	InactiveTimeout int            `json:"inactive_timeout,omitempty"`
	Step            time.Duration  `json:"step"`
	CreatedAt       time.Time      `json:"created_at"`
	Transitions     []epTransition `json:"transitions"`
	Adapters        []string       `json:"adapters,omitempty"` // combined model ids
}

// state is the endpoint's state at now.
func (e *ftEndpoint) state(now time.Time) string {
	var last epTransition
	for _, t := range e.Transitions {
		if !t.At.After(now) {
			last = t
		}
	}
	if last.State == "" {
		return "PENDING"
	}
	since := now.Sub(last.At)
	if last.State == "STOPPED" {
		if since < e.Step {
			return "STOPPING"
		}
		return "STOPPED"
	}
	switch {
	case since < e.Step:
		return "PENDING"
	case since < 2*e.Step:
		return "STARTING"
	}
	return "STARTED"
}

// epStore keeps endpoints in memory or, with a directory, one JSON file
// each, read again on every use (there are few).
type epStore struct{ recs *records[ftEndpoint] }

func (st *epStore) put(e *ftEndpoint, exclusive bool) error { return st.recs.put(e.ID, e, exclusive) }

func (st *epStore) get(id string) (*ftEndpoint, bool, error) { return st.recs.get(id) }

func (st *epStore) list() ([]*ftEndpoint, error) {
	return st.recs.list(func(e *ftEndpoint) (time.Time, string) { return e.CreatedAt, e.ID })
}

func (s *Server) registerEndpoints() {
	s.eps = &epStore{recs: newRecords[ftEndpoint](s.opts.FineTune.Dir, "endpoints")}
	s.mux.HandleFunc("GET /v1/hardware", s.handle(s.serveHardware))
	s.mux.HandleFunc("GET /v1/endpoints", s.handle(s.listEndpoints))
	s.mux.HandleFunc("POST /v1/endpoints", s.handle(s.createEndpoint))
	s.mux.HandleFunc("GET /v1/endpoints/{id}", s.handle(s.getEndpoint))
	s.mux.HandleFunc("PATCH /v1/endpoints/{id}", s.handle(s.updateEndpoint))
	s.mux.HandleFunc("POST /v1/endpoints/{id}/adapters", s.handle(s.attachAdapter))
}

// dedicatedOnly reports whether model is a fine-tuned model whose base
// model is served on dedicated endpoints only.
func (s *Server) dedicatedOnly(model string) bool {
	j, ok := s.completedJob(model)
	return ok && s.opts.Serving[j.Model] == ServingDedicated
}

// notServerless is Together's answer to a chat request for a model it
// does not serve serverless.
func notServerless(model string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "model_not_available",
		msg: fmt.Sprintf("Unable to access non-serverless model %s. Please visit https://api.together.ai/models/%s to create and start a new dedicated endpoint for the model.", model, model)}
}

// endpointModel is the model a started endpoint serves under name (its
// own name, or an attached adapter's combined id), or "".
func (s *Server) endpointModel(name string) string {
	if !strings.HasPrefix(name, sandboxOwner+"/") {
		return ""
	}
	eps, err := s.eps.list()
	if err != nil {
		return ""
	}
	now := s.opts.Now()
	for _, e := range eps {
		if e.state(now) != "STARTED" {
			continue
		}
		if e.Name == name {
			return e.Model
		}
		if slices.Contains(e.Adapters, name) {
			_, adapter, _ := strings.Cut(name, ":")
			return adapter
		}
	}
	return ""
}

func (s *Server) serveHardware(w http.ResponseWriter, r *http.Request) *ftError {
	model := r.URL.Query().Get("model")
	if model != "" && !s.deployable(model) {
		return &ftError{status: http.StatusNotFound, param: "model", msg: fmt.Sprintf("model %s cannot be deployed on a dedicated endpoint", model)}
	}
	updated := s.opts.Now().UTC().Truncate(time.Hour).Format(togetherTime)
	data := []map[string]any{}
	for _, h := range sandboxHardware {
		hw := map[string]any{"object": "hardware", "id": h.id, "updated_at": updated,
			"pricing": map[string]any{"cents_per_minute": h.cents},
			"specs":   map[string]any{"gpu_type": h.gpu, "gpu_link": "sxm", "gpu_memory": h.memoryGB, "gpu_count": 1}}
		if model != "" {
			hw["availability"] = map[string]any{"status": "available"}
		}
		data = append(data, hw)
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
	return nil
}

// deployable says whether model can run on an endpoint: a base model the
// sandbox fine-tunes, or a completed fine-tuned model.
func (s *Server) deployable(model string) bool {
	if _, ok := s.completedJob(model); ok {
		return true
	}
	return s.baseModelOK(model) && model != FailTrainModel
}

// Fields the spec declares for the bodies of POST /endpoints
// (CreateEndpointRequest) and PATCH /endpoints/{endpointId}.
var (
	createEndpointFields = []string{"autoscaling", "availability_zone", "disable_prompt_cache",
		"disable_speculative_decoding", "display_name", "hardware", "inactive_timeout", "model", "state"}
	updateEndpointFields = []string{"autoscaling", "display_name", "inactive_timeout", "state"}
)

type endpointBody struct {
	DisplayName string `json:"display_name"`
	Model       string `json:"model"`
	Hardware    string `json:"hardware"`
	Autoscaling *struct {
		MinReplicas *int `json:"min_replicas"`
		MaxReplicas *int `json:"max_replicas"`
	} `json:"autoscaling"`
	State           string `json:"state"`
	InactiveTimeout *int   `json:"inactive_timeout"`
}

// readEndpointBody reads a JSON body whose fields must be among allowed.
func readEndpointBody(w http.ResponseWriter, r *http.Request, allowed []string) (endpointBody, *ftError) {
	var b endpointBody
	body, ae := readBody(w, r)
	if ae != nil {
		return b, &ftError{status: ae.status, msg: ae.msg}
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return b, &ftError{status: 400, msg: "invalid JSON body: " + err.Error()}
	}
	if f := extraField(raw, allowed); f != "" {
		return b, &ftError{status: 400, param: f, msg: fmt.Sprintf("unknown field %q: the fields of %s %s are %s", f, r.Method, r.URL.Path, strings.Join(allowed, ", "))}
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return b, &ftError{status: 400, msg: "invalid request body: " + err.Error()}
	}
	if b.State != "" && b.State != "STARTED" && b.State != "STOPPED" {
		return b, &ftError{status: 400, param: "state", msg: fmt.Sprintf("state must be STARTED or STOPPED, got %q", b.State)}
	}
	if b.InactiveTimeout != nil && *b.InactiveTimeout < 0 {
		return b, &ftError{status: 400, param: "inactive_timeout", msg: "inactive_timeout must not be negative"}
	}
	if a := b.Autoscaling; a != nil {
		if a.MinReplicas == nil || a.MaxReplicas == nil {
			return b, &ftError{status: 400, param: "autoscaling", msg: "autoscaling needs min_replicas and max_replicas"}
		}
		if *a.MinReplicas < 0 || *a.MaxReplicas < 1 || *a.MinReplicas > *a.MaxReplicas {
			return b, &ftError{status: 400, param: "autoscaling", msg: fmt.Sprintf("autoscaling must have 0 <= min_replicas <= max_replicas and max_replicas >= 1, got %d and %d", *a.MinReplicas, *a.MaxReplicas)}
		}
	}
	return b, nil
}

func (s *Server) createEndpoint(w http.ResponseWriter, r *http.Request) *ftError {
	b, e := readEndpointBody(w, r, createEndpointFields)
	if e != nil {
		return e
	}
	switch {
	case b.Model == "":
		return &ftError{status: 400, param: "model", msg: "missing required field: model"}
	case b.Hardware == "":
		return &ftError{status: 400, param: "hardware", msg: "missing required field: hardware"}
	case b.Autoscaling == nil:
		return &ftError{status: 400, param: "autoscaling", msg: "missing required field: autoscaling"}
	case !s.deployable(b.Model):
		return &ftError{status: 400, param: "model", msg: fmt.Sprintf("model %s cannot be deployed on a dedicated endpoint: the sandbox deploys its base models and completed fine-tuned models", b.Model)}
	case !slices.ContainsFunc(sandboxHardware, func(h struct {
		id       string
		cents    float64
		gpu      string
		memoryGB float64
	}) bool {
		return h.id == b.Hardware
	}):
		return &ftError{status: 400, param: "hardware", msg: fmt.Sprintf("unknown hardware %q; GET /hardware lists the configurations", b.Hardware)}
	}
	now := s.opts.Now().UTC()
	ep := &ftEndpoint{Model: b.Model, Hardware: b.Hardware, DisplayName: b.DisplayName, CreatedAt: now,
		Step: phase(s.opts.FineTune.EndpointStep, defaultEndpointStep)}
	if b.InactiveTimeout != nil {
		ep.InactiveTimeout = *b.InactiveTimeout
	}
	if b.State != "STOPPED" {
		ep.Transitions = []epTransition{{At: now, State: "STARTED"}}
	}
	for attempt := 0; ; attempt++ {
		id := s.newJobID("endpoint-", now, attempt, 16)
		ep.ID = "endpoint-" + id[:8] + "-" + id[8:12] + "-" + id[12:16] + "-" + id[16:20] + "-" + id[20:]
		ep.Name = sandboxOwner + "/" + b.Model + "-" + id[24:]
		if ep.DisplayName == "" {
			ep.DisplayName = ep.Name
		}
		err := s.eps.put(ep, true)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return internalError(err)
		}
		break
	}
	writeJSON(w, http.StatusOK, s.endpointObject(ep))
	return nil
}

func (s *Server) endpointOr404(id string) (*ftEndpoint, *ftError) {
	ep, ok, err := s.eps.get(id)
	if err != nil {
		return nil, internalError(err)
	}
	if !ok {
		return nil, &ftError{status: http.StatusNotFound, msg: "Endpoint not found: " + id}
	}
	return ep, nil
}

// endpointObject renders an endpoint as the spec's DedicatedEndpoint.
func (s *Server) endpointObject(ep *ftEndpoint) map[string]any {
	return map[string]any{"object": "endpoint", "id": ep.ID, "name": ep.Name, "display_name": ep.DisplayName,
		"model": ep.Model, "hardware": ep.Hardware, "type": "dedicated", "owner": sandboxOwner,
		"state": ep.state(s.opts.Now()), "autoscaling": map[string]any{"min_replicas": 1, "max_replicas": 1},
		"created_at": ep.CreatedAt.Format(togetherTime)}
}

// listQuery are the query parameters the spec declares for GET
// /endpoints, with the values each may take.
var listQuery = map[string][]string{
	"type":       {"dedicated", "serverless"},
	"usage_type": {"on-demand", "reserved"},
	"mine":       {"true", "false"},
}

// listEndpoints answers GET /endpoints as the spec's ListEndpoint list,
// newest first. Every dedicated endpoint is the caller's; the sandbox
// lists no serverless ones (its models are called by name) and reserves
// nothing, so type=serverless and usage_type=reserved list none.
func (s *Server) listEndpoints(w http.ResponseWriter, r *http.Request) *ftError {
	q := r.URL.Query()
	for name, vals := range q {
		allowed, ok := listQuery[name]
		if !ok {
			return &ftError{status: 400, param: name, msg: fmt.Sprintf("unknown query parameter %q: GET /endpoints takes type, usage_type and mine", name)}
		}
		if len(vals) != 1 || !slices.Contains(allowed, vals[0]) {
			return &ftError{status: 400, param: name, msg: fmt.Sprintf("query parameter %s must be one of %s, got %q", name, strings.Join(allowed, ", "), vals)}
		}
	}
	data := []map[string]any{}
	if q.Get("type") != "serverless" && q.Get("usage_type") != "reserved" {
		eps, err := s.eps.list()
		if err != nil {
			return internalError(err)
		}
		now := s.opts.Now()
		for _, ep := range eps {
			data = append(data, map[string]any{"object": "endpoint", "id": ep.ID, "name": ep.Name, "model": ep.Model,
				"type": "dedicated", "owner": sandboxOwner, "state": ep.state(now), "created_at": ep.CreatedAt.Format(togetherTime)})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
	return nil
}

func (s *Server) getEndpoint(w http.ResponseWriter, r *http.Request) *ftError {
	ep, e := s.endpointOr404(r.PathValue("id"))
	if e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, s.endpointObject(ep))
	return nil
}

func (s *Server) updateEndpoint(w http.ResponseWriter, r *http.Request) *ftError {
	ep, e := s.endpointOr404(r.PathValue("id"))
	if e != nil {
		return e
	}
	b, e := readEndpointBody(w, r, updateEndpointFields)
	if e != nil {
		return e
	}
	now := s.opts.Now().UTC()
	if b.DisplayName != "" {
		ep.DisplayName = b.DisplayName
	}
	if b.InactiveTimeout != nil {
		ep.InactiveTimeout = *b.InactiveTimeout
	}
	if b.State != "" {
		cur := ep.state(now)
		stopping := cur == "STOPPED" || cur == "STOPPING"
		// Asking for the state it is going to changes nothing.
		if (b.State == "STOPPED") != stopping {
			ep.Transitions = append(ep.Transitions, epTransition{At: now, State: b.State})
		}
	}
	if err := s.eps.put(ep, false); err != nil {
		return internalError(err)
	}
	writeJSON(w, http.StatusOK, s.endpointObject(ep))
	return nil
}

func (s *Server) attachAdapter(w http.ResponseWriter, r *http.Request) *ftError {
	ep, e := s.endpointOr404(r.PathValue("id"))
	if e != nil {
		return e
	}
	body, ae := readBody(w, r)
	if ae != nil {
		return &ftError{status: ae.status, msg: ae.msg}
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return &ftError{status: 400, msg: "invalid JSON body: " + err.Error()}
	}
	if f := extraField(raw, []string{"model_id"}); f != "" {
		return &ftError{status: 400, param: f, msg: fmt.Sprintf("unknown field %q: the body is {\"model_id\": \"<endpoint name>:<adapter model>\"}", f)}
	}
	var b struct {
		ModelID string `json:"model_id"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return &ftError{status: 400, msg: "invalid request body: " + err.Error()}
	}
	name, adapter, ok := strings.Cut(b.ModelID, ":")
	switch {
	case !ok || adapter == "":
		return &ftError{status: 400, param: "model_id", msg: fmt.Sprintf("model_id %q is not \"<endpoint name>:<adapter model>\"", b.ModelID)}
	case name != ep.Name:
		return &ftError{status: 400, param: "model_id", msg: fmt.Sprintf("the endpoint name in model_id, %q, is not endpoint %s's name %q", name, ep.ID, ep.Name)}
	case ep.state(s.opts.Now()) != "STARTED":
		return &ftError{status: 400, msg: fmt.Sprintf("endpoint %s is %s; an adapter attaches to a started endpoint", ep.ID, ep.state(s.opts.Now()))}
	}
	j, ok := s.completedJob(adapter)
	switch {
	case !ok || j.LoRA == nil:
		return &ftError{status: 400, param: "model_id", msg: fmt.Sprintf("%s is not a LoRA adapter of a completed fine-tuning job", adapter)}
	case j.Model != ep.Model:
		return &ftError{status: 400, param: "model_id", msg: fmt.Sprintf("adapter %s is trained on %s, but endpoint %s serves %s", adapter, j.Model, ep.ID, ep.Model)}
	}
	if !slices.Contains(ep.Adapters, b.ModelID) {
		ep.Adapters = append(ep.Adapters, b.ModelID)
		if err := s.eps.put(ep, false); err != nil {
			return internalError(err)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"model_id": b.ModelID})
	return nil
}
