package storetest

import (
	"testing"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func putEndpoint(t *testing.T, s ethos.Store, e *ethos.Endpoint) {
	t.Helper()
	if err := s.PutEndpoint(t.Context(), e); err != nil {
		t.Fatalf("PutEndpoint(%s): %v", e.ID, err)
	}
}

func newEndpoint(id, state string, created time.Time) *ethos.Endpoint {
	return &ethos.Endpoint{ID: id, Provider: "together", Name: "acme/" + id, DisplayName: "ethos agora " + id, Model: "acme/Llama-3-8B-agora-ab12",
		Hardware: "1x_nvidia_h100_80gb_sxm", State: state, JobID: "ft-ab12", ModelName: "together/acme/Llama-3-8B-agora-ab12",
		CallAs: "together/acme/" + id, CentsPerMinute: 5.42, InactiveTimeout: 15, CreatedAt: created}
}

func testEndpointsReadBack(t *testing.T, s ethos.Store) {
	e := newEndpoint("endpoint-1", ethos.EndpointPending, base)
	putEndpoint(t, s, e)
	if e.UpdatedAt.IsZero() {
		t.Error("PutEndpoint left UpdatedAt zero")
	}
	got, err := s.Endpoint(t.Context(), e.ID)
	if err != nil {
		t.Fatalf("Endpoint: %v", err)
	}
	if diff := cmp.Diff(*e, got); diff != "" {
		t.Errorf("Endpoint (-put +got):\n%s", diff)
	}

	// Replacing records the new state and when it stopped.
	stopped := base.Add(20 * time.Minute)
	e.State, e.StoppedAt = ethos.EndpointStopped, &stopped
	putEndpoint(t, s, e)
	got, err = s.Endpoint(t.Context(), e.ID)
	if err != nil {
		t.Fatalf("Endpoint after replace: %v", err)
	}
	if diff := cmp.Diff(*e, got); diff != "" {
		t.Errorf("Endpoint after replace (-put +got):\n%s", diff)
	}
	if got.Up() {
		t.Error("a stopped endpoint reads as up")
	}
	// 20 minutes at 5.42 cents a minute.
	if cost := got.CostUSD(base.Add(time.Hour)); cost < 1.0839 || cost > 1.0841 {
		t.Errorf("CostUSD = %v, want 1.084", cost)
	}
}

func testEndpointsFilter(t *testing.T, s ethos.Store) {
	started := newEndpoint("endpoint-started", ethos.EndpointStarted, base)
	stopped := newEndpoint("endpoint-stopped", ethos.EndpointStopped, base.Add(time.Minute))
	failed := newEndpoint("endpoint-error", ethos.EndpointError, base.Add(2*time.Minute))
	stopping := newEndpoint("endpoint-stopping", ethos.EndpointStopping, base.Add(3*time.Minute))
	stopping.ModelName = "together/acme/other"
	attached := newEndpoint("endpoint-attached", ethos.EndpointStarted, base.Add(4*time.Minute))
	attached.Attached = true
	for _, e := range []*ethos.Endpoint{started, stopped, failed, stopping, attached} {
		putEndpoint(t, s, e)
	}
	ids := func(f ethos.EndpointFilter) []string {
		t.Helper()
		list, err := s.Endpoints(t.Context(), f)
		if err != nil {
			t.Fatalf("Endpoints(%+v): %v", f, err)
		}
		var out []string
		for _, e := range list {
			out = append(out, e.ID)
		}
		return out
	}
	for _, tc := range []struct {
		f    ethos.EndpointFilter
		want []string
	}{
		{ethos.EndpointFilter{}, []string{"endpoint-attached", "endpoint-stopping", "endpoint-error", "endpoint-stopped", "endpoint-started"}},
		{ethos.EndpointFilter{Up: true}, []string{"endpoint-stopping", "endpoint-started"}},
		{ethos.EndpointFilter{Up: true, ModelName: started.ModelName}, []string{"endpoint-started"}},
		{ethos.EndpointFilter{ModelName: "together/none"}, nil},
	} {
		if diff := cmp.Diff(tc.want, ids(tc.f), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("Endpoints(%+v) (-want +got):\n%s", tc.f, diff)
		}
	}
}

func testUnknownEndpoint(t *testing.T, s ethos.Store) {
	_, err := s.Endpoint(t.Context(), "endpoint-none")
	if ethos.KindOf(err) != ethos.NotFound {
		t.Errorf("Endpoint(unknown) = %v, want a NotFound error", err)
	}
	if err := s.PutEndpoint(t.Context(), &ethos.Endpoint{Provider: "together"}); ethos.KindOf(err) != ethos.Invalid {
		t.Errorf("PutEndpoint without an ID = %v, want an Invalid error", err)
	}
}
