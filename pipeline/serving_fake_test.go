package pipeline_test

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/ethos-toolkit/ethos"
)

// endpointProvider is a provider's fine-tuning API reduced to dedicated
// endpoints: an endpoint starts on the next look at it and stops likewise.
type endpointProvider struct {
	mu        sync.Mutex
	endpoints []*ethos.Endpoint
	creates   int
}

var errUnused = ethos.Errorf(ethos.Internal, "not used by serving")

func (*endpointProvider) Provider() string { return "together" }
func (*endpointProvider) Upload(context.Context, string, []byte) (ethos.File, error) {
	return ethos.File{}, errUnused
}
func (*endpointProvider) Create(context.Context, ethos.FineTuneRequest) (ethos.FineTuneJob, error) {
	return ethos.FineTuneJob{}, errUnused
}
func (*endpointProvider) Get(context.Context, string) (ethos.FineTuneJob, error) {
	return ethos.FineTuneJob{}, errUnused
}
func (*endpointProvider) List(context.Context, int) ([]ethos.FineTuneJob, error) {
	return nil, errUnused
}
func (*endpointProvider) Events(context.Context, string) ([]ethos.FineTuneEvent, error) {
	return nil, errUnused
}
func (*endpointProvider) Cancel(context.Context, string) (ethos.FineTuneJob, error) {
	return ethos.FineTuneJob{}, errUnused
}

func (*endpointProvider) Hardware(context.Context, string) ([]ethos.Hardware, error) {
	return []ethos.Hardware{{ID: "1x_h100", CentsPerMinute: 10, Availability: "available"}}, nil // $6/hour
}

func (f *endpointProvider) CreateEndpoint(_ context.Context, req ethos.EndpointRequest) (ethos.Endpoint, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.creates++
	ep := &ethos.Endpoint{ID: fmt.Sprintf("endpoint-%d", f.creates), Provider: "together", Name: fmt.Sprintf("acme/%s-%d", req.Model, f.creates),
		DisplayName: req.DisplayName, Model: req.Model, Hardware: req.Hardware, State: ethos.EndpointPending}
	f.endpoints = append(f.endpoints, ep)
	return *ep, nil
}

// change applies next to endpoint id's state and returns the endpoint.
func (f *endpointProvider) change(id string, next map[string]string) (ethos.Endpoint, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range f.endpoints {
		if e.ID == id {
			if state, ok := next[e.State]; ok {
				e.State = state
			}
			return *e, nil
		}
	}
	return ethos.Endpoint{}, ethos.Errorf(ethos.NotFound, "endpoint %s", id)
}

func (f *endpointProvider) GetEndpoint(_ context.Context, id string) (ethos.Endpoint, error) {
	return f.change(id, map[string]string{ethos.EndpointPending: ethos.EndpointStarted, ethos.EndpointStopping: ethos.EndpointStopped})
}

func (f *endpointProvider) ListEndpoints(context.Context) ([]ethos.Endpoint, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []ethos.Endpoint
	for _, e := range f.endpoints {
		out = append(out, *e)
	}
	return out, nil
}

func (f *endpointProvider) StopEndpoint(_ context.Context, id string) (ethos.Endpoint, error) {
	return f.change(id, map[string]string{ethos.EndpointPending: ethos.EndpointStopping, ethos.EndpointStarted: ethos.EndpointStopping})
}

func (*endpointProvider) AttachAdapter(context.Context, string, string, string) (string, error) {
	return "", errUnused
}

// running counts the endpoints that are not stopped.
func (f *endpointProvider) running() int {
	eps, _ := f.ListEndpoints(context.Background())
	return len(slices.DeleteFunc(eps, func(e ethos.Endpoint) bool { return e.State == ethos.EndpointStopped }))
}
