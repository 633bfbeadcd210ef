package finetune

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ethos-toolkit/ethos"
)

// Serving a trained model. A provider may answer a fine-tuned model
// serverless under its own name (or its adapter's), or only through a
// dedicated endpoint, which bills by the minute while it is up. Serverless
// finds out which with one-token requests; Deploy starts an endpoint (or
// attaches the adapter to a running one), waits until it serves and
// records in the registry how the model is called; Undeploy stops it.
// Every attempt to start an endpoint is recorded before the provider is
// asked and the endpoint as soon as the provider names it (see
// deploy_intent.go), so a process killed at any point leaves a record
// that the next Deploy re-attaches to and that ethos status lists.

// NotServerless reports whether err is a provider's answer that a model is
// not served serverless under the name called: Together's 400 with code
// model_not_available and the message "Unable to access non-serverless
// model …" (a client that drops the code still shows the message), or a
// 404 for a name it does not know.
func NotServerless(err error) bool {
	switch ethos.KindOf(err) {
	case ethos.NotFound:
		return true
	case ethos.Invalid:
		msg := err.Error()
		return strings.Contains(msg, "model_not_available") || strings.Contains(msg, "non-serverless model")
	}
	return false
}

// ServingCandidates are the references a model may be called by
// serverless: its registry name, then "provider/adapter_output_name" when
// the job's payload names an adapter (Together's Python SDK reads the
// field from a LoRA job; the spec does not list it).
func ServingCandidates(m ethos.Model, job ethos.FineTuneJob) []string {
	refs := []string{m.Name}
	var p struct {
		Adapter string `json:"adapter_output_name"`
	}
	if len(job.Payload) > 0 && json.Unmarshal(job.Payload, &p) == nil {
		if a := strings.TrimSpace(p.Adapter); a != "" && !slices.Contains(refs, m.Provider+"/"+a) {
			refs = append(refs, m.Provider+"/"+a)
		}
	}
	return refs
}

// Serverless tries each of the model's candidate references with probe (a
// one-token request) and records the first that answers: the model is
// then served serverless. ok is false when the provider said of every
// candidate that it does not serve it serverless; any other failure is
// returned as it is, never taken for an answer.
func (s *Service) Serverless(ctx context.Context, m ethos.Model, probe func(ctx context.Context, ref string) error) (ethos.Model, bool, error) {
	job, err := s.Store.Job(ctx, m.JobID)
	if err != nil && ethos.KindOf(err) != ethos.NotFound {
		return m, false, err
	}
	for _, ref := range ServingCandidates(m, job) {
		err := probe(ctx, ref)
		if NotServerless(err) {
			continue
		}
		if err != nil {
			return m, false, fmt.Errorf("finetune: finding how %s is served, a one-token request to %s: %w", m.Name, ref, err)
		}
		m.Serving, m.CallAs, m.EndpointID = ethos.ServingServerless, "", ""
		if ref != m.Name {
			m.CallAs = ref
		}
		if err := s.Store.PutModel(context.WithoutCancel(ctx), &m); err != nil {
			return m, false, err
		}
		return m, true, nil
	}
	return m, false, nil
}

// DeployOptions say how to deploy a model.
type DeployOptions struct {
	// Hardware is the configuration to run on; empty picks the cheapest
	// one the provider lists as available for the model.
	Hardware string
	// InactiveTimeout is how long the endpoint may sit idle before the
	// provider stops it; whole minutes.
	InactiveTimeout time.Duration
	// AttachTo is the ID of a running LoRA-enabled endpoint of the
	// model's base model to attach the adapter to, instead of starting
	// an endpoint.
	AttachTo string
	// Interval is how often to ask whether the endpoint serves.
	Interval time.Duration
	// Progress, if not nil, sees each state the endpoint passes through.
	Progress func(ethos.Endpoint)
}

// Validate refuses an inactive timeout that is negative or not whole
// minutes, the provider's unit, and a negative interval.
func (o DeployOptions) Validate() error {
	if o.InactiveTimeout < 0 || o.InactiveTimeout%time.Minute != 0 {
		return ethos.Errorf(ethos.Config, "the inactive timeout (--inactive-timeout) must be whole minutes, e.g. 15m; got %v", o.InactiveTimeout)
	}
	if o.Interval < 0 {
		return ethos.Errorf(ethos.Config, "the interval (--interval) must not be negative; got %v", o.Interval)
	}
	return nil
}

func (s *Service) endpointBackend(provider string) (ethos.EndpointBackend, error) {
	b, err := s.backend(provider)
	if err != nil {
		return nil, err
	}
	eb, ok := b.(ethos.EndpointBackend)
	if !ok {
		return nil, ethos.Errorf(ethos.Invalid, "finetune: provider %s has no dedicated endpoints; its models are called by their names", provider)
	}
	return eb, nil
}

// HasEndpoints reports whether provider serves models on dedicated
// endpoints (Together and the sandbox); others serve them by name.
func (s *Service) HasEndpoints(provider string) bool {
	_, err := s.endpointBackend(provider)
	return err == nil
}

// ChooseHardware returns the hardware opts name for the model, or the
// cheapest available one, with its price.
func (s *Service) ChooseHardware(ctx context.Context, m ethos.Model, hardware string) (ethos.Hardware, error) {
	b, err := s.endpointBackend(m.Provider)
	if err != nil {
		return ethos.Hardware{}, err
	}
	list, err := b.Hardware(ctx, m.ProviderModel)
	if err != nil {
		return ethos.Hardware{}, fmt.Errorf("finetune: hardware for %s: %w", m.Name, err)
	}
	var ids []string
	var best *ethos.Hardware
	for i, h := range list {
		ids = append(ids, h.ID)
		if hardware != "" {
			if h.ID == hardware {
				return h, nil
			}
			continue
		}
		if h.Availability != "" && h.Availability != "available" {
			continue
		}
		if best == nil || h.CentsPerMinute < best.CentsPerMinute {
			best = &list[i]
		}
	}
	switch {
	case hardware != "":
		return ethos.Hardware{}, ethos.Errorf(ethos.Config, "finetune: hardware %q cannot serve %s; %s lists %s (set finetune.hardware or --hardware)",
			hardware, m.Name, m.Provider, strings.Join(ids, ", "))
	case best == nil:
		return ethos.Hardware{}, ethos.Errorf(ethos.Overloaded, "finetune: no hardware is available to serve %s at %s now (listed: %s); try again later",
			m.Name, m.Provider, strings.Join(ids, ", "))
	}
	return *best, nil
}

// Deploy makes the model callable on a dedicated endpoint: it re-attaches
// to an endpoint an earlier process started for it and left up, else
// starts one on hw (or attaches the adapter to opts.AttachTo), waits until
// it serves and records the model as served dedicated, called by the
// endpoint's name.
func (s *Service) Deploy(ctx context.Context, m ethos.Model, hw ethos.Hardware, opts DeployOptions) (ethos.Endpoint, ethos.Model, error) {
	b, err := s.endpointBackend(m.Provider)
	if err != nil {
		return ethos.Endpoint{}, m, err
	}
	if opts.AttachTo != "" {
		return s.attach(ctx, b, m, opts.AttachTo)
	}
	up, err := s.Store.Endpoints(ctx, ethos.EndpointFilter{Up: true, ModelName: m.Name})
	if err != nil {
		return ethos.Endpoint{}, m, err
	}
	var ep ethos.Endpoint
	if len(up) > 0 {
		ep = up[0]
	} else if ep, err = s.startEndpoint(ctx, b, m, hw, opts); err != nil {
		return ep, m, err
	}
	if opts.Progress != nil {
		opts.Progress(ep)
	}
	if ep, err = s.waitEndpoint(ctx, b, ep, ethos.EndpointStarted, opts); err != nil {
		return ep, m, err
	}
	m.Serving, m.CallAs, m.EndpointID = ethos.ServingDedicated, ep.CallAs, ep.ID
	if err := s.Store.PutModel(context.WithoutCancel(ctx), &m); err != nil {
		return ep, m, err
	}
	return ep, m, nil
}

// startEndpoint starts an endpoint for m on hw and records it, recording
// the attempt first; an attempt an interrupted process left open is
// resolved first, by adopting the endpoint it started.
func (s *Service) startEndpoint(ctx context.Context, b ethos.EndpointBackend, m ethos.Model, hw ethos.Hardware, opts DeployOptions) (ethos.Endpoint, error) {
	minutes := int(opts.InactiveTimeout / time.Minute)
	at, err := s.beginDeploy(ctx, m, hw, minutes)
	if err != nil {
		return ethos.Endpoint{}, err
	}
	if at.createdBefore {
		remote, found, err := s.findDeployed(ctx, b, m, at)
		if err != nil {
			return ethos.Endpoint{}, err
		}
		if found {
			return s.recordDeployed(ctx, m, at, remote)
		}
		// Nothing was started: this try asks for what it is given, under
		// the attempt's display name.
		at.data.Hardware, at.data.CentsPerMinute, at.data.InactiveTimeout = hw.ID, hw.CentsPerMinute, minutes
		at.Data = marshal(at.data)
		if err := s.Store.UpdateItem(ctx, at.Item); err != nil {
			return ethos.Endpoint{}, err
		}
	}
	remote, err := b.CreateEndpoint(ctx, ethos.EndpointRequest{Model: m.ProviderModel, Hardware: at.data.Hardware,
		DisplayName: at.data.DisplayName, InactiveTimeout: at.data.InactiveTimeout})
	if err != nil {
		err = fmt.Errorf("finetune: deploy %s on %s: %w", m.Name, at.data.Hardware, err)
		if refused(err) {
			// The provider said no: nothing was started. Any other
			// failure may have started it, so the attempt stays open for
			// the next one to look for it.
			if cerr := s.closeDeploy(ctx, at, err.Error()); cerr != nil {
				return ethos.Endpoint{}, errors.Join(err, cerr)
			}
		}
		return ethos.Endpoint{}, err
	}
	return s.recordDeployed(ctx, m, at, remote)
}

// attach attaches the model's adapter to a running endpoint ethos did not
// start, and records it.
func (s *Service) attach(ctx context.Context, b ethos.EndpointBackend, m ethos.Model, id string) (ethos.Endpoint, ethos.Model, error) {
	remote, err := b.GetEndpoint(ctx, id)
	if err != nil {
		return ethos.Endpoint{}, m, fmt.Errorf("finetune: attach %s to endpoint %s: %w", m.Name, id, err)
	}
	if remote.State != ethos.EndpointStarted {
		return remote, m, ethos.Errorf(ethos.Invalid, "finetune: endpoint %s is %s; an adapter attaches to a started LoRA-enabled endpoint", id, remote.State)
	}
	name, err := b.AttachAdapter(ctx, id, remote.Name, m.ProviderModel)
	if err != nil {
		return remote, m, fmt.Errorf("finetune: attach %s to endpoint %s: %w", m.Name, id, err)
	}
	ep := remote
	ep.Attached, ep.JobID, ep.ModelName, ep.CallAs = true, m.JobID, m.Name, m.Provider+"/"+name
	if err := s.Store.PutEndpoint(context.WithoutCancel(ctx), &ep); err != nil {
		return ep, m, err
	}
	m.Serving, m.CallAs, m.EndpointID = ethos.ServingDedicated, ep.CallAs, ep.ID
	if err := s.Store.PutModel(context.WithoutCancel(ctx), &m); err != nil {
		return ep, m, err
	}
	return ep, m, nil
}

// waitEndpoint polls the endpoint until it reaches want, recording each
// state it reports. ERROR, or a stop while waiting for it to start, ends
// the wait with an error.
func (s *Service) waitEndpoint(ctx context.Context, b ethos.EndpointBackend, ep ethos.Endpoint, want string, opts DeployOptions) (ethos.Endpoint, error) {
	interval := opts.Interval
	if interval <= 0 {
		interval = 10 * time.Second
	}
	last := ep.State
	for {
		if ep.State == want {
			return ep, nil
		}
		if ep.State == ethos.EndpointError || (want == ethos.EndpointStarted && ep.State == ethos.EndpointStopped) {
			return ep, ethos.Errorf(ethos.Internal, "finetune: endpoint %s (%s) is %s while waiting for %s; see it at %s", ep.ID, ep.Name, ep.State, want, ep.Provider)
		}
		if err := s.sleep(ctx, interval); err != nil {
			return ep, ethos.Errorf(ethos.Transient, "finetune: waiting for endpoint %s to be %s: %w", ep.ID, want, err)
		}
		remote, err := retry(ctx, s, func() (ethos.Endpoint, error) { return b.GetEndpoint(ctx, ep.ID) })
		if err != nil {
			return ep, fmt.Errorf("finetune: endpoint %s: %w", ep.ID, err)
		}
		ep.State, ep.Name = remote.State, cmpOr(remote.Name, ep.Name)
		if ep.State == ethos.EndpointStopped && ep.StoppedAt == nil {
			t := s.now()
			ep.StoppedAt = &t
		}
		if err := s.Store.PutEndpoint(context.WithoutCancel(ctx), &ep); err != nil {
			return ep, err
		}
		if ep.State != last && opts.Progress != nil {
			opts.Progress(ep)
		}
		last = ep.State
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Undeploy stops an endpoint ethos started and waits until the provider
// says it is stopped. An endpoint the provider no longer knows is recorded
// as stopped; an adapter attached to someone else's endpoint is refused.
func (s *Service) Undeploy(ctx context.Context, id string, opts DeployOptions) (ethos.Endpoint, error) {
	ep, err := s.Store.Endpoint(ctx, id)
	if err != nil {
		return ep, err
	}
	if ep.Attached {
		return ep, ethos.Errorf(ethos.Invalid, "finetune: ethos attached an adapter to endpoint %s but did not start it, so it does not stop it; stop it at %s", id, ep.Provider)
	}
	if ep.State == ethos.EndpointStopped {
		return ep, nil
	}
	b, err := s.endpointBackend(ep.Provider)
	if err != nil {
		return ep, err
	}
	remote, err := retry(ctx, s, func() (ethos.Endpoint, error) { return b.StopEndpoint(ctx, id) })
	if ethos.KindOf(err) == ethos.NotFound {
		t := s.now()
		ep.State, ep.StoppedAt = ethos.EndpointStopped, &t
		return ep, s.Store.PutEndpoint(context.WithoutCancel(ctx), &ep)
	}
	if err != nil {
		return ep, fmt.Errorf("finetune: stop endpoint %s: %w", id, err)
	}
	ep.State = remote.State
	if err := s.Store.PutEndpoint(context.WithoutCancel(ctx), &ep); err != nil {
		return ep, err
	}
	if opts.Progress != nil {
		opts.Progress(ep)
	}
	return s.waitEndpoint(ctx, b, ep, ethos.EndpointStopped, opts)
}

// EndpointsCost is what the recorded endpoints have cost by now, stopped
// ones and those still up (see ethos.Endpoint.CostUSD).
func EndpointsCost(eps []ethos.Endpoint, now time.Time) float64 {
	total := 0.0
	for _, e := range eps {
		total += e.CostUSD(now)
	}
	return total
}

// CompletedModel is the registered model of a completed job: the only
// kind of job whose model can be served.
func (s *Service) CompletedModel(ctx context.Context, jobID string) (ethos.Model, error) {
	j, err := s.Store.Job(ctx, jobID)
	if err != nil {
		return ethos.Model{}, err
	}
	if j.State != ethos.FineTuneCompleted {
		return ethos.Model{}, ethos.Errorf(ethos.Invalid, "job %s is %s; only a completed job's model can be served (ethos finetune wait %s)", jobID, j.Status, jobID)
	}
	m, err := s.Store.Model(ctx, ModelName(j))
	if err != nil {
		return ethos.Model{}, fmt.Errorf("job %s completed, but its model is not registered (ethos finetune status %s registers it): %w", jobID, jobID, err)
	}
	return m, nil
}
