package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/finetune"
	"github.com/ethos-toolkit/ethos/pipeline"
)

// deploy serves a completed job's model on a dedicated endpoint.
func (c *FinetuneCommand) deploy(ctx context.Context, args []string) error {
	flags := c.m.newFlagSet("finetune deploy", finetuneDeploySynopsis)
	var pf projectFlags
	pf.register(flags)
	hardware := flags.String("hardware", "", "the hardware `configuration` (default: finetune.hardware, else the cheapest available)")
	timeout := flags.Duration("inactive-timeout", 0, "the provider stops the endpoint after this long without requests, whole minutes (default: finetune.inactive_timeout)")
	attach := flags.String("attach", "", "attach the adapter to this running LoRA-enabled `endpoint` of the base model instead of starting one")
	interval := flags.Duration("interval", 0, "how often to ask whether the endpoint serves (default 10s; 0.5s for the sandbox)")
	asJSON := flags.Bool("json", false, "print the endpoint and model as JSON")
	rest, err := parseFlags(flags, args)
	if err != nil {
		return err
	}
	id, err := jobArg("deploy", rest)
	if err != nil {
		return err
	}
	if *timeout < 0 || *timeout%time.Minute != 0 || *interval < 0 {
		return usageErrorf("finetune deploy: --inactive-timeout must be whole minutes (e.g. 15m), --interval not negative")
	}
	p, err := c.m.openProject(ctx, flags, pf)
	if err != nil {
		return err
	}
	defer p.Close()
	m, err := p.completedModel(ctx, id)
	if err != nil {
		return err
	}
	opts := p.deployOptions(m.Provider, *hardware, *timeout, *interval, c.m.Stderr)
	opts.AttachTo = *attach
	svc := p.fineTune()
	var hw ethos.Hardware
	if *attach == "" {
		if hw, err = svc.ChooseHardware(ctx, m, opts.Hardware); err != nil {
			return err
		}
		fmt.Fprintf(c.m.Stderr, "deploying %s on %s at $%.2f/hour while up\n", m.Name, hw.ID, hw.CentsPerMinute*60/100)
	}
	ep, m, err := svc.Deploy(ctx, m, hw, opts)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(c.m.Stdout, map[string]any{"endpoint": ep, "model": m})
	}
	finetune.WriteDeployed(c.m.Stdout, ep, m)
	return nil
}

// undeploy stops an endpoint, or every endpoint up for a job's model.
func (c *FinetuneCommand) undeploy(ctx context.Context, args []string) error {
	flags := c.m.newFlagSet("finetune undeploy", finetuneUndeploySynopsis)
	var pf projectFlags
	pf.register(flags)
	interval := flags.Duration("interval", 0, "how often to ask whether the endpoint stopped (default 10s; 0.5s for the sandbox)")
	asJSON := flags.Bool("json", false, "print the endpoints as JSON")
	rest, err := parseFlags(flags, args)
	if err != nil {
		return err
	}
	id, err := jobArg("undeploy", rest)
	if err != nil {
		return err
	}
	p, err := c.m.openProject(ctx, flags, pf)
	if err != nil {
		return err
	}
	defer p.Close()
	ids := []string{id}
	if !strings.HasPrefix(id, "endpoint-") {
		m, err := p.completedModel(ctx, id)
		if err != nil {
			return err
		}
		// An endpoint a deploy started but, interrupted, never recorded
		// is recorded first, so that it is stopped too.
		adopted, found, err := p.fineTune().Reattach(ctx, m)
		if err != nil {
			return err
		}
		if found {
			fmt.Fprintf(c.m.Stderr, "found endpoint %s, which an interrupted deploy started and did not record\n", adopted.ID)
		}
		up, err := p.store.Endpoints(ctx, ethos.EndpointFilter{Up: true, ModelName: m.Name})
		if err != nil {
			return err
		}
		if len(up) == 0 {
			return ethos.Errorf(ethos.NotFound, "finetune undeploy: no endpoint of %s (job %s) is up", m.Name, id)
		}
		ids = ids[:0]
		for _, e := range up {
			ids = append(ids, e.ID)
		}
	}
	svc := p.fineTune()
	var stopped []ethos.Endpoint
	for _, eid := range ids {
		stored, err := p.store.Endpoint(ctx, eid)
		if err != nil {
			return err
		}
		ep, err := svc.Undeploy(ctx, eid, p.deployOptions(stored.Provider, "", 0, *interval, c.m.Stderr))
		if err != nil {
			return err
		}
		stopped = append(stopped, ep)
		if !*asJSON {
			fmt.Fprintf(c.m.Stdout, "endpoint %s stopped (%s); it cost about $%.2f\n", ep.ID, ep.ModelName, ep.CostUSD(time.Now()))
		}
	}
	if *asJSON {
		return writeJSON(c.m.Stdout, stopped)
	}
	return nil
}

// completedModel is the registered model of a completed job.
func (p *project) completedModel(ctx context.Context, jobID string) (ethos.Model, error) {
	return p.fineTune().CompletedModel(ctx, jobID)
}

// deployOptions are the project's endpoint settings, each overridden by a
// flag given (non-zero), with progress lines written to log.
func (p *project) deployOptions(provider, hardware string, timeout, interval time.Duration, log io.Writer) finetune.DeployOptions {
	o := pipeline.DeployOptions(p.cfg.FineTune, provider, hardware, timeout, interval)
	o.Progress = func(e ethos.Endpoint) { fmt.Fprintf(log, "      endpoint %s: %s\n", e.ID, e.State) }
	return o
}

// probe is a one-token request through the project's middleware (ledger,
// budget), which says whether the provider serves a model under ref.
func (p *project) probe(ctx context.Context, commandCap float64) (func(context.Context, string) error, error) {
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

// serving is the project's pipeline.Serving of model, under the command's
// cap maxCost, logging to logf.
func (p *project) serving(model ethos.Model, maxCost float64, logf func(string, ...any)) pipeline.Serving {
	return pipeline.Serving{Service: p.fineTune(), Options: p.deployOptions(model.Provider, "", 0, 0, p.m.Stderr),
		Probe:  func(ctx context.Context) (func(context.Context, string) error, error) { return p.probe(ctx, maxCost) },
		Budget: pipeline.EndpointBudget{MaxUSD: p.cfg.Budget.MaxUSD, CommandMaxUSD: maxCost, Spent: p.spent},
		Logf:   logf}
}

// spent is what the project has spent: its recorded calls and what its
// endpoints have cost by now.
func (p *project) spent(ctx context.Context) (float64, error) {
	return pipeline.Spent(ctx, p.store, time.Now())
}
