package ethos

import (
	"context"
	"math"
	"time"
)

// How a trained model is served (Model.Serving).
const (
	// ServingServerless is a model the provider answers on its shared
	// fleet under its own name: nothing to start, nothing billed by the
	// hour.
	ServingServerless = "serverless"
	// ServingDedicated is a model that answers only on a dedicated
	// endpoint ethos started (Model.EndpointID), billed while it is up.
	ServingDedicated = "dedicated"
)

// Endpoint states, as Together's spec names them (DedicatedEndpoint.state).
const (
	EndpointPending  = "PENDING"
	EndpointStarting = "STARTING"
	EndpointStarted  = "STARTED"
	EndpointStopping = "STOPPING"
	EndpointStopped  = "STOPPED"
	EndpointError    = "ERROR"
)

// Endpoint is a dedicated endpoint that serves a trained model, recorded
// before the create call returns to the user so that a later process
// (a rerun after a kill, ethos status, ethos finetune undeploy) finds it
// and stops it: an endpoint bills for every minute it is up.
type Endpoint struct {
	ID       string `json:"id"`       // the provider's endpoint ID ("endpoint-…")
	Provider string `json:"provider"` // "together", "sandbox"
	// Name is the endpoint's system name, which chat requests name as
	// their model.
	Name string `json:"name"`
	// DisplayName is the human-readable name ethos gave it, which names
	// the deploy that created it ("ethos <model> deploy-…/attempt/N"), so
	// that a rerun finds an endpoint an interrupted deploy created.
	DisplayName string `json:"display_name,omitempty"`
	Model       string `json:"model"` // the provider's name of the model it serves
	Hardware    string `json:"hardware"`
	// State is the provider's state, verbatim (PENDING, STARTING,
	// STARTED, STOPPING, STOPPED, ERROR).
	State string `json:"state"`
	// JobID and ModelName tie the endpoint to the fine-tune job and the
	// registry entry it serves.
	JobID     string `json:"job_id"`
	ModelName string `json:"model_name"`
	// CallAs is the reference ethos calls the served model by:
	// "provider/endpoint name", or "provider/adapter name" for an adapter
	// attached to an endpoint ethos did not start.
	CallAs string `json:"call_as"`
	// Attached is set for an adapter attached to an existing endpoint:
	// ethos did not start that endpoint and never stops it.
	Attached bool `json:"attached,omitempty"`
	// CentsPerMinute is the hardware's price while the endpoint is up.
	CentsPerMinute float64 `json:"cents_per_minute"`
	// InactiveTimeout is the minutes without requests after which the
	// provider stops the endpoint by itself; 0 is none.
	InactiveTimeout int `json:"inactive_timeout"`

	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	StoppedAt *time.Time `json:"stopped_at,omitempty"` // when ethos saw it stopped
}

// Up reports whether the endpoint may be running, and billing: any state
// but STOPPED and ERROR. An adapter attached to someone else's endpoint
// is never ethos's to stop, so it is not up in this sense.
func (e Endpoint) Up() bool {
	return !e.Attached && e.State != EndpointStopped && e.State != EndpointError
}

// USDPerHour is the endpoint's price per hour of uptime.
func (e Endpoint) USDPerHour() float64 { return e.CentsPerMinute * 60 / 100 }

// CostUSD is what the endpoint has cost by now: its price per minute for
// every started minute from its creation until it stopped (or now, while
// it is up), as Together bills dedicated endpoints per minute. An
// attached adapter costs nothing of its own.
func (e Endpoint) CostUSD(now time.Time) float64 {
	if e.Attached || e.CentsPerMinute <= 0 {
		return 0
	}
	end := now
	if e.StoppedAt != nil {
		end = *e.StoppedAt
	}
	minutes := math.Ceil(end.Sub(e.CreatedAt).Minutes())
	if minutes < 0 {
		minutes = 0
	}
	return minutes * e.CentsPerMinute / 100
}

// EndpointFilter selects endpoints. Zero fields match everything.
type EndpointFilter struct {
	Up        bool   // only endpoints that may be up (Endpoint.Up)
	ModelName string // only endpoints serving this registry entry
}

// EndpointStore keeps the dedicated endpoints ethos started.
type EndpointStore interface {
	// PutEndpoint inserts or replaces an endpoint by ID and sets UpdatedAt.
	PutEndpoint(ctx context.Context, e *Endpoint) error
	// Endpoint returns an endpoint by ID, or a NotFound error.
	Endpoint(ctx context.Context, id string) (Endpoint, error)
	// Endpoints lists the endpoints matching f, newest first.
	Endpoints(ctx context.Context, f EndpointFilter) ([]Endpoint, error)
}

// Hardware is a hardware configuration an endpoint can run on.
type Hardware struct {
	ID             string  `json:"id"` // e.g. "1x_nvidia_h100_80gb_sxm"
	CentsPerMinute float64 `json:"cents_per_minute"`
	// Availability is the provider's word for it when it was asked for a
	// model: available, unavailable, insufficient; "" when not said.
	Availability string `json:"availability,omitempty"`
}

// EndpointRequest is what a backend needs to create an endpoint.
type EndpointRequest struct {
	Model       string // the provider's name of the model to serve
	Hardware    string
	DisplayName string
	// InactiveTimeout is the minutes without requests after which the
	// provider stops the endpoint; 0 is none.
	InactiveTimeout int
}

// EndpointBackend is a provider's dedicated-endpoint API (Together's
// /endpoints and /hardware). Errors are typed like FineTuneBackend's.
type EndpointBackend interface {
	// Hardware lists the hardware that can serve model.
	Hardware(ctx context.Context, model string) ([]Hardware, error)
	// CreateEndpoint starts an endpoint; the result carries its ID, name
	// and state. Nothing is recorded by the backend itself.
	CreateEndpoint(ctx context.Context, req EndpointRequest) (Endpoint, error)
	// GetEndpoint returns the provider's current view of an endpoint,
	// display name included.
	GetEndpoint(ctx context.Context, id string) (Endpoint, error)
	// ListEndpoints lists the account's own dedicated endpoints, in any
	// state. A listing may leave out fields GetEndpoint has (Together's
	// lists no display name or hardware).
	ListEndpoints(ctx context.Context) ([]Endpoint, error)
	// StopEndpoint asks the provider to stop an endpoint and returns its
	// new view.
	StopEndpoint(ctx context.Context, id string) (Endpoint, error)
	// AttachAdapter attaches the LoRA adapter model to the running
	// LoRA-enabled endpoint id, whose system name is endpointName, and
	// returns the name requests call it by.
	AttachAdapter(ctx context.Context, id, endpointName, model string) (string, error)
}
