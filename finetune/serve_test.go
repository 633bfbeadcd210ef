package finetune

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/sqlite"
)

// fakeEndpoints is a hand-written dedicated-endpoint API over the fine-tune
// fake: an endpoint moves one state on at each Get (PENDING, STARTING,
// STARTED; STOPPING, STOPPED once stopped). Like Together's, its list
// shows no display name.
type fakeEndpoints struct {
	*fakeBackend

	emu       sync.Mutex
	endpoints []*ethos.Endpoint
	epCreates int // endpoints started
	epLists   int

	// Failure injection, each used once.
	createEPErr error // returned by CreateEndpoint without starting one
	lostEP      error // CreateEndpoint starts the endpoint, then returns this
	listEPErr   error
}

func (f *fakeEndpoints) Hardware(ctx context.Context, model string) ([]ethos.Hardware, error) {
	return []ethos.Hardware{{ID: "1x_h100", CentsPerMinute: 5.5, Availability: "available"}}, nil
}

func (f *fakeEndpoints) CreateEndpoint(ctx context.Context, req ethos.EndpointRequest) (ethos.Endpoint, error) {
	f.emu.Lock()
	defer f.emu.Unlock()
	if err := f.createEPErr; err != nil {
		f.createEPErr = nil
		return ethos.Endpoint{}, err
	}
	if req.Hardware == "8x_nothing" {
		return ethos.Endpoint{}, &ethos.Error{Kind: ethos.Invalid, Status: 400, Msg: "unknown hardware"}
	}
	f.epCreates++
	ep := &ethos.Endpoint{ID: fmt.Sprintf("endpoint-%d", f.epCreates), Provider: f.provider,
		Name: fmt.Sprintf("acme/%s-%d", req.Model, f.epCreates), DisplayName: req.DisplayName, Model: req.Model,
		Hardware: req.Hardware, State: ethos.EndpointPending, CreatedAt: f.now()}
	f.endpoints = append(f.endpoints, ep)
	if err := f.lostEP; err != nil {
		f.lostEP = nil
		return ethos.Endpoint{}, err
	}
	return *ep, nil
}

func (f *fakeEndpoints) findEP(id string) (*ethos.Endpoint, error) {
	for _, e := range f.endpoints {
		if e.ID == id {
			return e, nil
		}
	}
	return nil, &ethos.Error{Kind: ethos.NotFound, Status: 404, Msg: "endpoint " + id + " not found"}
}

func (f *fakeEndpoints) GetEndpoint(ctx context.Context, id string) (ethos.Endpoint, error) {
	f.emu.Lock()
	defer f.emu.Unlock()
	e, err := f.findEP(id)
	if err != nil {
		return ethos.Endpoint{}, err
	}
	next := map[string]string{ethos.EndpointPending: ethos.EndpointStarting, ethos.EndpointStarting: ethos.EndpointStarted,
		ethos.EndpointStopping: ethos.EndpointStopped}
	if n, ok := next[e.State]; ok {
		e.State = n
	}
	return *e, nil
}

func (f *fakeEndpoints) ListEndpoints(ctx context.Context) ([]ethos.Endpoint, error) {
	f.emu.Lock()
	defer f.emu.Unlock()
	f.epLists++
	if err := f.listEPErr; err != nil {
		f.listEPErr = nil
		return nil, err
	}
	var out []ethos.Endpoint
	for _, e := range f.endpoints {
		l := *e
		l.DisplayName, l.Hardware = "", "" // as Together lists them
		out = append(out, l)
	}
	return out, nil
}

func (f *fakeEndpoints) StopEndpoint(ctx context.Context, id string) (ethos.Endpoint, error) {
	f.emu.Lock()
	defer f.emu.Unlock()
	e, err := f.findEP(id)
	if err != nil {
		return ethos.Endpoint{}, err
	}
	if e.State != ethos.EndpointStopped {
		e.State = ethos.EndpointStopping
	}
	return *e, nil
}

func (f *fakeEndpoints) AttachAdapter(ctx context.Context, id, endpointName, model string) (string, error) {
	return endpointName + ":" + model, nil
}

// running counts the endpoints the fake has that are not stopped.
func (f *fakeEndpoints) running() int {
	f.emu.Lock()
	defer f.emu.Unlock()
	n := 0
	for _, e := range f.endpoints {
		if e.State != ethos.EndpointStopped {
			n++
		}
	}
	return n
}

// deployStore is a store whose next PutEndpoint fails, as if the process
// had been killed right after the provider started the endpoint.
type deployStore struct {
	*sqlite.DB
	failPutEndpoint bool
}

func (s *deployStore) PutEndpoint(ctx context.Context, e *ethos.Endpoint) error {
	if s.failPutEndpoint {
		s.failPutEndpoint = false
		return ethos.Errorf(ethos.Internal, "killed")
	}
	return s.DB.PutEndpoint(ctx, e)
}

// endpointEnv is a service whose provider has dedicated endpoints, and a
// model to serve on one.
func endpointEnv(t *testing.T) (*env, *fakeEndpoints, *deployStore, ethos.Model) {
	t.Helper()
	e := newEnv(t)
	fe := &fakeEndpoints{fakeBackend: e.fake}
	ds := &deployStore{DB: e.store}
	e.svc.Store = ds
	e.svc.Backend = func(provider string) (ethos.FineTuneBackend, error) { return fe, nil }
	m := ethos.Model{Name: "together/acme/agora-ft-1", Provider: "together", ProviderModel: "acme/agora-ft-1", JobID: "ft-1"}
	if err := e.store.PutModel(t.Context(), &m); err != nil {
		t.Fatal(err)
	}
	return e, fe, ds, m
}

var testHardware = ethos.Hardware{ID: "1x_h100", CentsPerMinute: 5.5}

func TestDeployRecordsTheAttemptFirst(t *testing.T) {
	t.Parallel()
	e, fe, _, m := endpointEnv(t)
	ep, served, err := e.svc.Deploy(t.Context(), m, testHardware, DeployOptions{InactiveTimeout: 15 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if ep.State != ethos.EndpointStarted || served.Serving != ethos.ServingDedicated || served.EndpointID != ep.ID || fe.epCreates != 1 {
		t.Fatalf("Deploy = %+v, %+v after %d creates; want one started endpoint serving the model", ep, served, fe.epCreates)
	}
	if !strings.HasPrefix(ep.DisplayName, "ethos "+m.Name+" (deploy-") || !strings.HasSuffix(ep.DisplayName, "/attempt/1)") {
		t.Errorf("display name %q does not name the model and the attempt", ep.DisplayName)
	}
	rec, err := e.store.Endpoint(t.Context(), ep.ID)
	if err != nil || rec.DisplayName != ep.DisplayName || rec.CentsPerMinute != 5.5 || rec.InactiveTimeout != 15 {
		t.Errorf("recorded endpoint %+v (%v)", rec, err)
	}
	if p, err := e.svc.PendingDeploys(t.Context()); err != nil || len(p) != 0 {
		t.Errorf("PendingDeploys after a deploy = %+v, %v; want none", p, err)
	}
}

// TestDeployAdoptsAfterKill interrupts a deploy at each point where the
// provider may have started an endpoint ethos has not recorded; the next
// Deploy adopts that endpoint, and the provider starts only one.
func TestDeployAdoptsAfterKill(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		breakIt func(fe *fakeEndpoints, ds *deployStore)
		adopted bool
	}{
		{"killed after the create, before the endpoint was recorded", func(fe *fakeEndpoints, ds *deployStore) { ds.failPutEndpoint = true }, true},
		{"the create's response was lost", func(fe *fakeEndpoints, ds *deployStore) {
			fe.lostEP = ethos.Errorf(ethos.Transient, "connection reset")
		}, true},
		{"cancelled while the create was answered", func(fe *fakeEndpoints, ds *deployStore) { fe.lostEP = context.Canceled }, true},
		{"the create never reached the provider", func(fe *fakeEndpoints, ds *deployStore) {
			fe.createEPErr = ethos.Errorf(ethos.Transient, "connection refused")
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, fe, ds, m := endpointEnv(t)
			tc.breakIt(fe, ds)
			if _, _, err := e.svc.Deploy(t.Context(), m, testHardware, DeployOptions{}); err == nil {
				t.Fatal("the broken Deploy succeeded")
			}
			pending, err := e.svc.PendingDeploys(t.Context())
			if err != nil || len(pending) != 1 || pending[0].ModelName != m.Name || pending[0].Hardware != testHardware.ID {
				t.Fatalf("PendingDeploys after the interrupted deploy = %+v, %v; want the open attempt", pending, err)
			}
			ep, served, err := e.svc.Deploy(t.Context(), m, testHardware, DeployOptions{})
			if err != nil {
				t.Fatalf("Deploy again: %v", err)
			}
			if fe.epCreates != 1 || len(fe.endpoints) != 1 || ep.ID != fe.endpoints[0].ID {
				t.Fatalf("Deploy again: endpoint %s, provider started %d; want the one endpoint", ep.ID, fe.epCreates)
			}
			if ep.State != ethos.EndpointStarted || served.EndpointID != ep.ID || ep.CallAs != "together/"+fe.endpoints[0].Name {
				t.Errorf("Deploy again = %+v, model %+v", ep, served)
			}
			if ep.DisplayName != pending[0].DisplayName {
				t.Errorf("endpoint display name %q, want the attempt's %q", ep.DisplayName, pending[0].DisplayName)
			}
			if p, _ := e.svc.PendingDeploys(t.Context()); len(p) != 0 {
				t.Errorf("still pending after Deploy again: %+v", p)
			}
			// And again: the recorded endpoint, nothing new.
			if again, _, err := e.svc.Deploy(t.Context(), m, testHardware, DeployOptions{}); err != nil || again.ID != ep.ID || fe.epCreates != 1 {
				t.Errorf("third Deploy = %s, %v after %d creates", again.ID, err, fe.epCreates)
			}
		})
	}
}

func TestDeployNeedsTheProviderList(t *testing.T) {
	t.Parallel()
	e, fe, _, m := endpointEnv(t)
	fe.lostEP = ethos.Errorf(ethos.Transient, "timeout")
	if _, _, err := e.svc.Deploy(t.Context(), m, testHardware, DeployOptions{}); err == nil {
		t.Fatal("Deploy with a lost response succeeded")
	}
	// Without the provider's list, ethos cannot know whether the endpoint
	// is up, so it starts nothing.
	fe.listEPErr = ethos.Errorf(ethos.Auth, "403 forbidden")
	_, _, err := e.svc.Deploy(t.Context(), m, testHardware, DeployOptions{})
	if ethos.KindOf(err) != ethos.Auth || fe.epCreates != 1 || !strings.Contains(err.Error(), "may have started an endpoint") {
		t.Fatalf("Deploy without a list = %v; provider started %d", err, fe.epCreates)
	}
	if _, _, err := e.svc.Deploy(t.Context(), m, testHardware, DeployOptions{}); err != nil || fe.epCreates != 1 {
		t.Errorf("Deploy once the list works = %v; provider started %d", err, fe.epCreates)
	}
}

// TestDeployAdoptsOnlyItsOwn: an endpoint of the same model that another
// deploy started (recorded), or that someone started by hand (another
// display name), is not the interrupted attempt's.
func TestDeployAdoptsOnlyItsOwn(t *testing.T) {
	t.Parallel()
	e, fe, _, m := endpointEnv(t)
	if _, err := fe.CreateEndpoint(t.Context(), ethos.EndpointRequest{Model: m.ProviderModel, Hardware: "1x_h100", DisplayName: "my own"}); err != nil {
		t.Fatal(err)
	}
	fe.createEPErr = ethos.Errorf(ethos.Transient, "connection refused")
	if _, _, err := e.svc.Deploy(t.Context(), m, testHardware, DeployOptions{}); err == nil {
		t.Fatal("the broken Deploy succeeded")
	}
	ep, _, err := e.svc.Deploy(t.Context(), m, testHardware, DeployOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ep.ID == "endpoint-1" || fe.epCreates != 2 {
		t.Errorf("Deploy adopted %s (%d started); want a new endpoint beside the hand-made one", ep.ID, fe.epCreates)
	}
}

func TestDeployRefusedClosesTheAttempt(t *testing.T) {
	t.Parallel()
	e, fe, _, m := endpointEnv(t)
	if _, _, err := e.svc.Deploy(t.Context(), m, ethos.Hardware{ID: "8x_nothing"}, DeployOptions{}); ethos.KindOf(err) != ethos.Invalid {
		t.Fatalf("Deploy on unknown hardware = %v, want Invalid", err)
	}
	if p, _ := e.svc.PendingDeploys(t.Context()); len(p) != 0 {
		t.Errorf("a refused deploy is left pending: %+v", p)
	}
	ep, _, err := e.svc.Deploy(t.Context(), m, testHardware, DeployOptions{})
	if err != nil || fe.epLists != 0 || !strings.HasSuffix(ep.DisplayName, "/attempt/2)") {
		t.Errorf("Deploy after a refusal = %+v, %v; want a second attempt that lists nothing", ep, err)
	}
}

// TestReattachThenUndeploy is ethos finetune undeploy after a kill: the
// endpoint the interrupted deploy started is adopted and stopped; an
// interrupted deploy that started nothing is closed.
func TestReattachThenUndeploy(t *testing.T) {
	t.Parallel()
	e, fe, ds, m := endpointEnv(t)
	if _, found, err := e.svc.Reattach(t.Context(), m); err != nil || found {
		t.Fatalf("Reattach with nothing open = %v, %v", found, err)
	}
	ds.failPutEndpoint = true
	if _, _, err := e.svc.Deploy(t.Context(), m, testHardware, DeployOptions{}); err == nil {
		t.Fatal("the broken Deploy succeeded")
	}
	ep, found, err := e.svc.Reattach(t.Context(), m)
	if err != nil || !found || ep.ID != "endpoint-1" {
		t.Fatalf("Reattach = %+v, %v, %v; want the endpoint the deploy started", ep, found, err)
	}
	if up, _ := e.store.Endpoints(t.Context(), ethos.EndpointFilter{Up: true, ModelName: m.Name}); len(up) != 1 {
		t.Fatalf("after Reattach, endpoints up in the store: %+v", up)
	}
	stopped, err := e.svc.Undeploy(t.Context(), ep.ID, DeployOptions{})
	if err != nil || stopped.State != ethos.EndpointStopped || fe.running() != 0 {
		t.Fatalf("Undeploy = %+v, %v; provider has %d running", stopped, err, fe.running())
	}

	// Interrupted before the provider started anything: Reattach finds
	// nothing and closes the record.
	fe.createEPErr = ethos.Errorf(ethos.Transient, "connection refused")
	if _, _, err := e.svc.Deploy(t.Context(), m, testHardware, DeployOptions{}); err == nil {
		t.Fatal("the broken Deploy succeeded")
	}
	if _, found, err := e.svc.Reattach(t.Context(), m); err != nil || found {
		t.Fatalf("Reattach with nothing started = %v, %v", found, err)
	}
	if p, _ := e.svc.PendingDeploys(t.Context()); len(p) != 0 {
		t.Errorf("still pending after Reattach found nothing: %+v", p)
	}
	if fe.epCreates != 1 {
		t.Errorf("provider started %d endpoints, want 1", fe.epCreates)
	}
}

// TestCompletedModel: only a completed job's registered model can be
// served; a job still training and a job unknown are refused, each with
// what to do.
func TestCompletedModel(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.create(t, e.options(t))
	if _, err := e.svc.CompletedModel(t.Context(), c.Job.ID); ethos.KindOf(err) != ethos.Invalid ||
		!strings.Contains(err.Error(), "ethos finetune wait "+c.Job.ID) {
		t.Errorf("a job still training: %v, want Invalid naming finetune wait", err)
	}
	if _, err := e.svc.CompletedModel(t.Context(), "ft-nope"); ethos.KindOf(err) != ethos.NotFound {
		t.Errorf("an unknown job: %v, want NotFound", err)
	}
	want, err := e.svc.WaitModel(t.Context(), c.Job.ID, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.CompletedModel(t.Context(), c.Job.ID)
	if err != nil || got.Name != want.Name {
		t.Errorf("the completed job's model: %+v, %v; want %s", got, err, want.Name)
	}
}

// TestUpEndpointsAdoptsTheUnrecorded: an endpoint a broken deploy started
// and did not record is among the model's endpoints up, and the caller
// hears of it.
func TestUpEndpointsAdoptsTheUnrecorded(t *testing.T) {
	t.Parallel()
	e, _, ds, m := endpointEnv(t)
	if up, err := e.svc.UpEndpoints(t.Context(), m, nil); err != nil || len(up) != 0 {
		t.Fatalf("UpEndpoints with nothing deployed = %+v, %v", up, err)
	}
	ds.failPutEndpoint = true
	if _, _, err := e.svc.Deploy(t.Context(), m, testHardware, DeployOptions{}); err == nil {
		t.Fatal("the broken Deploy succeeded")
	}
	var adopted []string
	up, err := e.svc.UpEndpoints(t.Context(), m, func(ep ethos.Endpoint) { adopted = append(adopted, ep.ID) })
	if err != nil || len(up) != 1 || up[0].ID != "endpoint-1" {
		t.Fatalf("UpEndpoints = %+v, %v; want the endpoint the deploy started", up, err)
	}
	if len(adopted) != 1 || adopted[0] != "endpoint-1" {
		t.Errorf("adopted %v, want the endpoint the deploy started", adopted)
	}
}
