package project

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/finetune"
	"github.com/ethos-toolkit/ethos/openai"
	"github.com/ethos-toolkit/ethos/pipeline"
	"github.com/ethos-toolkit/ethos/together"
)

// FineTune returns the fine-tune service over the project's store. Each
// provider's backend is built on first use and kept for the project's
// life; the service itself is new on each call, so a caller may change
// its fields.
func (p *Project) FineTune() *finetune.Service {
	return &finetune.Service{Store: p.store, ProjectDir: p.dir, Backend: p.backend}
}

// backend is the kept fine-tune backend of provider, built on first use.
func (p *Project) backend(provider string) (ethos.FineTuneBackend, error) {
	p.mu.Lock()
	b, ok := p.backends[provider]
	p.mu.Unlock()
	if ok {
		return b, nil
	}
	b, err := p.FineTuneBackend(provider)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if kept, ok := p.backends[provider]; ok {
		return kept, nil
	}
	p.backends[provider] = b
	return b, nil
}

// FineTuneBackend builds the fine-tuning API client of a provider: the
// Together client for "together", the OpenAI one for "openai", and for
// "sandbox" the Together client pointed at the sandbox's Together
// endpoints (SANDBOX_BASE_URL, else the in-process sandbox). A missing key
// is a Config error naming its variable.
func (p *Project) FineTuneBackend(provider string) (ethos.FineTuneBackend, error) {
	switch provider {
	case "together":
		prov, key, err := p.provider("together")
		if err != nil {
			return nil, err
		}
		return together.New(together.Options{BaseURL: prov.BaseURL, APIKey: key, Provider: "together",
			WandbAPIKey: p.getenv("WANDB_API_KEY")})
	case "openai":
		prov, key, err := p.provider("openai")
		if err != nil {
			return nil, err
		}
		return openai.NewFineTune(openai.Config{Provider: "openai", BaseURL: prov.BaseURL, APIKey: key})
	case "sandbox":
		prov, err := p.cfg.ResolveProvider("sandbox", p.getenv)
		if err != nil {
			return nil, err
		}
		base := prov.BaseURL
		if base == "" {
			if base, err = p.StartSandbox(); err != nil {
				return nil, err
			}
		}
		return together.New(together.Options{BaseURL: strings.TrimRight(base, "/") + "/v1", APIKey: "sandbox", Provider: "sandbox"})
	}
	return nil, ethos.CheckFineTuneProvider(provider)
}

// CancelFineTune asks the provider to stop job jobID and records its
// answer, as ethos finetune cancel and the dashboard's cancel button do.
func (p *Project) CancelFineTune(ctx context.Context, jobID string) error {
	_, err := p.FineTune().Cancel(ctx, jobID)
	return err
}

// CompletedModel is the registered model of a completed job.
func (p *Project) CompletedModel(ctx context.Context, jobID string) (ethos.Model, error) {
	return p.FineTune().CompletedModel(ctx, jobID)
}

// DeployOptions are the project's endpoint settings (the finetune
// section), each overridden by an argument that is not zero, with the
// endpoint's progress lines written to log.
func (p *Project) DeployOptions(provider, hardware string, timeout, interval time.Duration, log io.Writer) finetune.DeployOptions {
	o := pipeline.DeployOptions(p.cfg.FineTune, provider, hardware, timeout, interval)
	o.Progress = func(e ethos.Endpoint) { fmt.Fprintf(log, "      endpoint %s: %s\n", e.ID, e.State) }
	return o
}

// Deploy serves job jobID's completed model on a dedicated endpoint, or
// attaches it to the running endpoint given.AttachTo. given's hardware,
// inactive timeout and interval, when not zero, replace the project's
// (see DeployOptions); the endpoint's price and progress go to the log.
func (p *Project) Deploy(ctx context.Context, jobID string, given finetune.DeployOptions) (ethos.Endpoint, ethos.Model, error) {
	m, err := p.CompletedModel(ctx, jobID)
	if err != nil {
		return ethos.Endpoint{}, m, err
	}
	opts := p.DeployOptions(m.Provider, given.Hardware, given.InactiveTimeout, given.Interval, p.log)
	opts.AttachTo = given.AttachTo
	svc := p.FineTune()
	var hw ethos.Hardware
	if opts.AttachTo == "" {
		if hw, err = svc.ChooseHardware(ctx, m, opts.Hardware); err != nil {
			return ethos.Endpoint{}, m, err
		}
		fmt.Fprintf(p.log, "deploying %s on %s at $%.2f/hour while up\n", m.Name, hw.ID, hw.CentsPerMinute*60/100)
	}
	return svc.Deploy(ctx, m, hw, opts)
}

// Undeploy stops the endpoint target ("endpoint-…"), or, given a job's ID,
// every endpoint up for the job's model, one an interrupted deploy started
// and did not record included (see finetune.Service.UpEndpoints). interval,
// when not zero, is how often to ask whether an endpoint stopped; stopped,
// when not nil, hears of each endpoint as it stops.
func (p *Project) Undeploy(ctx context.Context, target string, interval time.Duration, stopped func(ethos.Endpoint)) ([]ethos.Endpoint, error) {
	svc := p.FineTune()
	var eps []ethos.Endpoint
	if strings.HasPrefix(target, "endpoint-") {
		ep, err := p.store.Endpoint(ctx, target)
		if err != nil {
			return nil, err
		}
		eps = append(eps, ep)
	} else {
		m, err := p.CompletedModel(ctx, target)
		if err != nil {
			return nil, err
		}
		if eps, err = svc.UpEndpoints(ctx, m, func(adopted ethos.Endpoint) {
			fmt.Fprintf(p.log, "found endpoint %s, which an interrupted deploy started and did not record\n", adopted.ID)
		}); err != nil {
			return nil, err
		}
		if len(eps) == 0 {
			return nil, ethos.Errorf(ethos.NotFound, "finetune undeploy: no endpoint of %s (job %s) is up", m.Name, target)
		}
	}
	var done []ethos.Endpoint
	for _, e := range eps {
		ep, err := svc.Undeploy(ctx, e.ID, p.DeployOptions(e.Provider, "", 0, interval, p.log))
		if err != nil {
			return done, err
		}
		done = append(done, ep)
		if stopped != nil {
			stopped(ep)
		}
	}
	return done, nil
}

// Probe builds a one-token request through the project's middleware
// (ledger, budget, capped at commandCap) that says whether the provider
// serves a model under ref. The model is called by the very name given,
// never by a registered alias.
func (p *Project) Probe(ctx context.Context, commandCap float64) (func(ctx context.Context, ref string) error, error) {
	c, err := p.completer(ctx, commandCap, false)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, ref string) error {
		_, err := c.Complete(ctx, ethos.Request{Model: ref, MaxTokens: 1,
			Messages: []ethos.Message{{Role: ethos.RoleUser, Content: "Hi"}},
			Metadata: map[string]string{"stage": "serving-probe"}})
		return err
	}, nil
}

// Serving is how the project makes model callable for an evaluation (see
// pipeline.Serving), under the caller's cap maxCost, logging to logf.
func (p *Project) Serving(model ethos.Model, maxCost float64, logf func(string, ...any)) pipeline.Serving {
	return pipeline.Serving{Service: p.FineTune(), Options: p.DeployOptions(model.Provider, "", 0, 0, p.log),
		Probe:  func(ctx context.Context) (func(context.Context, string) error, error) { return p.Probe(ctx, maxCost) },
		Budget: pipeline.EndpointBudget{MaxUSD: p.cfg.Budget.MaxUSD, CommandMaxUSD: maxCost, Spent: p.Spent},
		Logf:   logf}
}

// Spent is what the project has spent: its recorded calls and what its
// endpoints have cost by now.
func (p *Project) Spent(ctx context.Context) (float64, error) {
	return pipeline.Spent(ctx, p.store, time.Now())
}
