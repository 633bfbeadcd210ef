package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/config"
	"github.com/ethos-toolkit/ethos/finetune"
)

// DeployOptions are a configuration's endpoint settings for a model of
// provider, each overridden by a value given (non-zero): the hardware, the
// inactive timeout, and how often to ask whether the endpoint serves
// (default 10s; 0.5s for the sandbox, which starts endpoints in moments).
func DeployOptions(ft config.FineTune, provider, hardware string, timeout, interval time.Duration) finetune.DeployOptions {
	o := finetune.DeployOptions{Hardware: ft.Hardware, InactiveTimeout: ft.InactiveTimeout, Interval: interval}
	if hardware != "" {
		o.Hardware = hardware
	}
	if timeout > 0 {
		o.InactiveTimeout = timeout
	}
	if o.Interval == 0 {
		o.Interval = 10 * time.Second
		if provider == "sandbox" {
			o.Interval = 500 * time.Millisecond
		}
	}
	return o
}

// SpendStore is what Spent reads: the ledger and the endpoints.
type SpendStore interface {
	Spent(ctx context.Context, f ethos.CallFilter) (float64, error)
	Endpoints(ctx context.Context, f ethos.EndpointFilter) ([]ethos.Endpoint, error)
}

// Spent is what a project has spent by now: its recorded calls and what
// its endpoints have cost.
func Spent(ctx context.Context, store SpendStore, now time.Time) (float64, error) {
	calls, err := store.Spent(ctx, ethos.CallFilter{})
	if err != nil {
		return 0, err
	}
	eps, err := store.Endpoints(ctx, ethos.EndpointFilter{})
	if err != nil {
		return 0, err
	}
	return calls + finetune.EndpointsCost(eps, now), nil
}

// EndpointBudget decides whether a dedicated endpoint may be started.
type EndpointBudget struct {
	// MaxUSD is the project's budget (budget.max_usd; zero or less: no
	// cap), CommandMaxUSD the command's (--max-cost; zero: none).
	MaxUSD, CommandMaxUSD float64
	// Spent is what the project has spent so far (see Spent).
	Spent func(ctx context.Context) (float64, error)
}

// Check refuses to start an endpoint on hw whose reserve — its price for
// the inactive timeout, the longest it bills after the last request if
// the process that started it is killed — would take spend past the
// project's budget (calls and endpoints so far included) or the
// command's cap.
func (b EndpointBudget) Check(ctx context.Context, hw ethos.Hardware, timeout time.Duration) error {
	reserve := hw.CentsPerMinute * timeout.Minutes() / 100
	if b.CommandMaxUSD > 0 && reserve > b.CommandMaxUSD {
		return ethos.Errorf(ethos.Budget, "budget: a dedicated endpoint on %s reserves $%.2f (%s at $%.2f/hour) of the $%.2f --max-cost; raise --max-cost or lower finetune.inactive_timeout",
			hw.ID, reserve, timeout, hw.CentsPerMinute*60/100, b.CommandMaxUSD)
	}
	if b.MaxUSD <= 0 {
		return nil
	}
	spent, err := b.Spent(ctx)
	if err != nil {
		return err
	}
	if spent+reserve > b.MaxUSD {
		return ethos.Errorf(ethos.Budget, "budget: a dedicated endpoint on %s reserves $%.2f (%s at $%.2f/hour), and $%.2f is spent of the $%.2f cap; raise budget.max_usd",
			hw.ID, reserve, timeout, hw.CentsPerMinute*60/100, spent, b.MaxUSD)
	}
	return nil
}

// Serving makes a trained model callable for an evaluation, and stops the
// endpoints it started.
type Serving struct {
	Service *finetune.Service
	// Options are the project's endpoint settings (see DeployOptions).
	Options finetune.DeployOptions
	// Probe returns a one-token request through the project's chain
	// (ledger, budget), which says whether the provider serves a model
	// under a name; it is built only when needed.
	Probe func(ctx context.Context) (func(ctx context.Context, ref string) error, error)
	// Budget decides whether an endpoint may be started.
	Budget EndpointBudget
	// Logf hears of each step.
	Logf func(format string, args ...any)
}

// ForEval makes model callable: serverless when the provider answers it
// so, else on a dedicated endpoint (re-attached when an earlier run left
// one up, found again when an interrupted run started one and did not
// record it) after the budget check. stop, when not nil, stops the
// endpoint, even when ctx is cancelled: it bills until then.
func (s Serving) ForEval(ctx context.Context, model ethos.Model) (served ethos.Model, stop func() error, err error) {
	svc := s.Service
	if !svc.HasEndpoints(model.Provider) {
		return model, nil, nil // a provider without endpoints (openai) serves its models by name
	}
	if model.Serving == ethos.ServingServerless {
		s.Logf("      %s is served serverless as %s", model.Name, model.Ref())
		return model, nil, nil
	}
	up, err := s.upEndpoints(ctx, model)
	if err != nil {
		return model, nil, err
	}
	if len(up) == 0 {
		probe, err := s.Probe(ctx)
		if err != nil {
			return model, nil, err
		}
		served, ok, err := svc.Serverless(ctx, model, probe)
		if err != nil {
			return model, nil, err
		}
		if ok {
			s.Logf("      %s is served serverless as %s", model.Name, served.Ref())
			return served, nil, nil
		}
	}
	hw, err := svc.ChooseHardware(ctx, model, s.Options.Hardware)
	if err != nil {
		return model, nil, err
	}
	if len(up) == 0 {
		if err := s.Budget.Check(ctx, hw, s.Options.InactiveTimeout); err != nil {
			return model, nil, err
		}
		s.Logf("      %s is not served serverless: deploying a dedicated endpoint on %s at $%.2f/hour, stopped when the evaluation ends", model.Name, hw.ID, hw.CentsPerMinute*60/100)
	} else {
		s.Logf("      re-attaching to endpoint %s, which an earlier run left %s ($%.2f/hour)", up[0].ID, up[0].State, up[0].USDPerHour())
	}
	ep, served, err := svc.Deploy(ctx, model, hw, s.Options)
	stop = func() error {
		if ep.ID == "" {
			return nil
		}
		return s.stop(ctx, ep.ID)
	}
	if err != nil {
		return model, stop, err
	}
	s.Logf("      endpoint %s serves %s as %s", ep.ID, model.Name, served.Ref())
	return served, stop, nil
}

// StopLeft stops the endpoints ethos started for model that are still up
// (one a killed run left, or found started and unrecorded), for a run
// whose evaluation needs no model any more. An endpoint model was
// attached to is not ethos's to stop.
func (s Serving) StopLeft(ctx context.Context, model ethos.Model) error {
	if !s.Service.HasEndpoints(model.Provider) {
		return nil
	}
	up, err := s.upEndpoints(ctx, model)
	if err != nil {
		return err
	}
	for _, ep := range up {
		if ep.Attached {
			continue
		}
		s.Logf("      the evaluation is complete: stopping endpoint %s, which an earlier run left %s", ep.ID, ep.State)
		if err := s.stop(ctx, ep.ID); err != nil {
			return err
		}
	}
	return nil
}

// upEndpoints are the endpoints up for model, after recording one an
// interrupted run started and did not record: it is re-attached to, never
// doubled.
func (s Serving) upEndpoints(ctx context.Context, model ethos.Model) ([]ethos.Endpoint, error) {
	return s.Service.UpEndpoints(ctx, model, func(adopted ethos.Endpoint) {
		s.Logf("      found endpoint %s (%s), which an interrupted run started for %s and did not record", adopted.ID, adopted.State, model.Name)
	})
}

// stop stops endpoint id, even when ctx is cancelled.
func (s Serving) stop(ctx context.Context, id string) error {
	stopped, err := s.Service.Undeploy(context.WithoutCancel(ctx), id, s.Options)
	if err != nil {
		return fmt.Errorf("stopping endpoint %s (stop it with ethos finetune undeploy %s): %w", id, id, err)
	}
	s.Logf("      endpoint %s stopped; it cost about $%.2f", id, stopped.CostUSD(time.Now()))
	return nil
}
