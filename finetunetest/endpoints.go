package finetunetest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ethos-toolkit/ethos"
)

// EndpointHarness is what RunEndpoints needs to know about a provider's
// dedicated endpoints (ethos.EndpointBackend) under test.
type EndpointHarness struct {
	// Backend is the endpoint API under test. Other tests may share it;
	// the suite looks only at the endpoints it starts.
	Backend ethos.EndpointBackend
	// Advance moves the provider's clock forward by d.
	Advance func(d time.Duration)
	// Tick is how far the clock moves before each poll; it must be
	// shorter than each state an endpoint passes through. Default one
	// second.
	Tick time.Duration
	// MaxPolls bounds how many polls a start or a stop may take; default
	// 100.
	MaxPolls int

	// Model is a model the provider serves only on a dedicated endpoint.
	Model string
	// UnknownModel is a model the provider cannot deploy.
	UnknownModel string
	// UnknownEndpointID is an ID no endpoint has; default
	// "endpoint-00000000-0000-0000-0000-000000000000".
	UnknownEndpointID string

	// Call, if set, sends a one-token chat request for model and returns
	// the provider's error, typed; the suite then checks that Model is
	// refused as not served serverless (NotServerless), and that a
	// started endpoint answers under its name.
	Call func(ctx context.Context, model string) error
	// NotServerless says whether an error is the provider's answer that
	// a model is not served serverless; required with Call.
	NotServerless func(error) bool
	// APIKey, if set, must never appear in an error.
	APIKey string
}

func (h *EndpointHarness) defaults() {
	if h.Tick <= 0 {
		h.Tick = time.Second
	}
	if h.MaxPolls <= 0 {
		h.MaxPolls = 100
	}
	if h.UnknownEndpointID == "" {
		h.UnknownEndpointID = "endpoint-00000000-0000-0000-0000-000000000000"
	}
}

// RunEndpoints runs the endpoint suite: hardware, create, get, list,
// stop, the lifecycle through every state, the provider's refusals, and
// (with Call) the not-serverless answer. Its subtests share the
// provider's clock, so they run in order.
func RunEndpoints(t *testing.T, h EndpointHarness) {
	t.Helper()
	h.defaults()
	if h.Backend == nil || h.Advance == nil || h.Model == "" || h.UnknownModel == "" {
		t.Fatal("finetunetest: an EndpointHarness needs Backend, Advance, Model and UnknownModel")
	}
	if h.Call != nil && h.NotServerless == nil {
		t.Fatal("finetunetest: an EndpointHarness with Call needs NotServerless")
	}
	s := &epSuite{h: h, ctx: context.Background()}
	var hw ethos.Hardware
	t.Run("Hardware", func(t *testing.T) { hw = s.hardware(t) })
	if hw.ID == "" {
		t.Fatal("no hardware to deploy on; later subtests need one")
	}
	if h.Call != nil {
		t.Run("NotServerless", s.notServerless)
	}
	t.Run("Refusals", func(t *testing.T) { s.refusals(t, hw) })
	t.Run("Lifecycle", func(t *testing.T) { s.lifecycle(t, hw) })
	t.Run("Unknown", s.unknown)
}

type epSuite struct {
	h   EndpointHarness
	ctx context.Context
}

func (s *epSuite) check(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var e *ethos.Error
	if !errors.As(err, &e) {
		t.Errorf("%s: error %v (%T) is not an *ethos.Error", what, err, err)
	}
	if s.h.APIKey != "" && strings.Contains(err.Error(), s.h.APIKey) {
		t.Errorf("%s: error shows the API key: %v", what, err)
	}
}

func (s *epSuite) fatal(t *testing.T, what string, err error) {
	t.Helper()
	s.check(t, what, err)
	t.Fatalf("%s: %v", what, err)
}

// hardware returns an available configuration for Model.
func (s *epSuite) hardware(t *testing.T) ethos.Hardware {
	list, err := s.h.Backend.Hardware(s.ctx, s.h.Model)
	if err != nil {
		s.fatal(t, "Hardware", err)
	}
	var avail ethos.Hardware
	for _, hw := range list {
		if hw.ID == "" || hw.CentsPerMinute <= 0 {
			t.Errorf("Hardware(%s) lists %+v: want an ID and a price per minute", s.h.Model, hw)
		}
		if hw.Availability == "available" && avail.ID == "" {
			avail = hw
		}
	}
	if avail.ID == "" {
		t.Fatalf("Hardware(%s) = %+v: none available", s.h.Model, list)
	}
	return avail
}

func (s *epSuite) notServerless(t *testing.T) {
	err := s.h.Call(s.ctx, s.h.Model)
	if err == nil || !s.h.NotServerless(err) {
		t.Fatalf("a chat request for %s = %v; want the provider's answer that it is not served serverless", s.h.Model, err)
	}
	s.check(t, "chat", err)
	if k := ethos.KindOf(err); k != ethos.Invalid && k != ethos.NotFound {
		t.Errorf("not served serverless is %s, want invalid or not_found (a caller's mistake, never retried): %v", k, err)
	}
}

func (s *epSuite) refusals(t *testing.T, hw ethos.Hardware) {
	before, err := s.h.Backend.ListEndpoints(s.ctx)
	if err != nil {
		s.fatal(t, "ListEndpoints", err)
	}
	for _, tc := range []struct {
		what string
		req  ethos.EndpointRequest
	}{
		{"unknown hardware", ethos.EndpointRequest{Model: s.h.Model, Hardware: "8x_no_such_gpu"}},
		{"unknown model", ethos.EndpointRequest{Model: s.h.UnknownModel, Hardware: hw.ID}},
		{"no model", ethos.EndpointRequest{Hardware: hw.ID}},
		{"negative inactive timeout", ethos.EndpointRequest{Model: s.h.Model, Hardware: hw.ID, InactiveTimeout: -1}},
	} {
		ep, err := s.h.Backend.CreateEndpoint(s.ctx, tc.req)
		if ethos.KindOf(err) != ethos.Invalid {
			t.Errorf("CreateEndpoint with %s = %+v, %v; want an Invalid error", tc.what, ep, err)
		}
		s.check(t, "CreateEndpoint with "+tc.what, err)
		if err != nil && strings.TrimSpace(err.Error()) == "" {
			t.Errorf("CreateEndpoint with %s: an empty message", tc.what)
		}
	}
	after, err := s.h.Backend.ListEndpoints(s.ctx)
	if err != nil {
		s.fatal(t, "ListEndpoints", err)
	}
	if len(after) != len(before) {
		t.Errorf("refused creates left endpoints: %d listed before, %d after", len(before), len(after))
	}
}

// lifecycle starts an endpoint, follows it to STARTED, finds it in the
// list with its display name readable, calls it, stops it and follows it
// to STOPPED.
func (s *epSuite) lifecycle(t *testing.T, hw ethos.Hardware) {
	const display = "ethos conformance (deploy-0123456789abcdef/attempt/1)"
	ep, err := s.h.Backend.CreateEndpoint(s.ctx, ethos.EndpointRequest{Model: s.h.Model, Hardware: hw.ID,
		DisplayName: display, InactiveTimeout: 15})
	if err != nil {
		s.fatal(t, "CreateEndpoint", err)
	}
	if ep.ID == "" || ep.Name == "" || ep.Model != s.h.Model || !sameProvider(s.h.Backend, ep) {
		t.Fatalf("CreateEndpoint = %+v: want an ID, a name, model %s", ep, s.h.Model)
	}
	if ep.State != ethos.EndpointPending && ep.State != ethos.EndpointStarting {
		t.Errorf("a new endpoint is %s, want PENDING or STARTING", ep.State)
	}
	if ep.CreatedAt.IsZero() {
		t.Error("a new endpoint has no creation time")
	}

	got, err := s.h.Backend.GetEndpoint(s.ctx, ep.ID)
	if err != nil {
		s.fatal(t, "GetEndpoint", err)
	}
	if got.ID != ep.ID || got.Name != ep.Name || got.DisplayName != display || got.Hardware != hw.ID || got.Model != s.h.Model {
		t.Errorf("GetEndpoint = %+v; want the endpoint created, display name %q, hardware %s", got, display, hw.ID)
	}
	listed := s.listed(t, ep.ID)
	if listed.Name != ep.Name || listed.Model != s.h.Model || !listed.CreatedAt.Equal(got.CreatedAt) {
		t.Errorf("ListEndpoints shows %+v; GetEndpoint %+v", listed, got)
	}

	states := s.follow(t, ep.ID, ethos.EndpointStarted)
	if i := slices.Index(states, ethos.EndpointStarting); i < 0 || slices.Contains(states[i:], ethos.EndpointPending) {
		t.Errorf("states on the way to STARTED: %v; want STARTING after any PENDING", states)
	}
	if st := s.listed(t, ep.ID).State; st != ethos.EndpointStarted {
		t.Errorf("ListEndpoints shows a started endpoint as %s", st)
	}
	if s.h.Call != nil {
		if err := s.h.Call(s.ctx, ep.Name); err != nil {
			t.Errorf("a chat request to started endpoint %s: %v", ep.Name, err)
		}
	}

	stopped, err := s.h.Backend.StopEndpoint(s.ctx, ep.ID)
	if err != nil {
		s.fatal(t, "StopEndpoint", err)
	}
	if stopped.ID != ep.ID || (stopped.State != ethos.EndpointStopping && stopped.State != ethos.EndpointStopped) {
		t.Errorf("StopEndpoint = %+v, want STOPPING or STOPPED", stopped)
	}
	s.follow(t, ep.ID, ethos.EndpointStopped)
	if st := s.listed(t, ep.ID).State; st != ethos.EndpointStopped {
		t.Errorf("ListEndpoints shows a stopped endpoint as %s", st)
	}
	if s.h.Call != nil {
		if err := s.h.Call(s.ctx, ep.Name); err == nil {
			t.Errorf("stopped endpoint %s still answers", ep.Name)
		}
	}
	// Stopping a stopped endpoint changes nothing.
	if again, err := s.h.Backend.StopEndpoint(s.ctx, ep.ID); err != nil || again.State != ethos.EndpointStopped {
		t.Errorf("StopEndpoint again = %+v, %v; want it STOPPED", again, err)
	}
}

// listed returns the endpoint id as ListEndpoints shows it.
func (s *epSuite) listed(t *testing.T, id string) ethos.Endpoint {
	t.Helper()
	list, err := s.h.Backend.ListEndpoints(s.ctx)
	if err != nil {
		s.fatal(t, "ListEndpoints", err)
	}
	i := slices.IndexFunc(list, func(e ethos.Endpoint) bool { return e.ID == id })
	if i < 0 {
		t.Fatalf("ListEndpoints does not list endpoint %s (%d listed)", id, len(list))
	}
	if !sameProvider(s.h.Backend, list[i]) {
		t.Errorf("listed endpoint %s has provider %q", id, list[i].Provider)
	}
	return list[i]
}

// follow polls the endpoint, a tick of the provider's clock apart, until
// it is want, and returns the states seen before.
func (s *epSuite) follow(t *testing.T, id, want string) []string {
	t.Helper()
	var states []string
	for range s.h.MaxPolls {
		s.h.Advance(s.h.Tick)
		ep, err := s.h.Backend.GetEndpoint(s.ctx, id)
		if err != nil {
			s.fatal(t, "GetEndpoint", err)
		}
		if ep.State == want {
			return states
		}
		if ep.State == ethos.EndpointError {
			t.Fatalf("endpoint %s went to ERROR on the way to %s (after %v)", id, want, states)
		}
		if len(states) == 0 || states[len(states)-1] != ep.State {
			states = append(states, ep.State)
		}
	}
	t.Fatalf("endpoint %s not %s after %d polls (states %v)", id, want, s.h.MaxPolls, states)
	return nil
}

func (s *epSuite) unknown(t *testing.T) {
	id := s.h.UnknownEndpointID
	if _, err := s.h.Backend.GetEndpoint(s.ctx, id); ethos.KindOf(err) != ethos.NotFound {
		t.Errorf("GetEndpoint(%s) = %v, want NotFound", id, err)
	} else {
		s.check(t, "GetEndpoint", err)
	}
	if _, err := s.h.Backend.StopEndpoint(s.ctx, id); ethos.KindOf(err) != ethos.NotFound {
		t.Errorf("StopEndpoint(%s) = %v, want NotFound", id, err)
	}
}

// sameProvider reports whether ep names the backend's provider, when the
// backend says which it is (a FineTuneBackend does).
func sameProvider(b ethos.EndpointBackend, ep ethos.Endpoint) bool {
	p, ok := b.(interface{ Provider() string })
	return !ok || ep.Provider == p.Provider()
}
