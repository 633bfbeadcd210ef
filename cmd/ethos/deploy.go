package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/finetune"
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
	m, err := p.CompletedModel(ctx, id)
	if err != nil {
		return err
	}
	opts := p.DeployOptions(m.Provider, *hardware, *timeout, *interval, c.m.Stderr)
	opts.AttachTo = *attach
	svc := p.FineTune()
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
		m, err := p.CompletedModel(ctx, id)
		if err != nil {
			return err
		}
		// An endpoint a deploy started but, interrupted, never recorded
		// is recorded first, so that it is stopped too.
		adopted, found, err := p.FineTune().Reattach(ctx, m)
		if err != nil {
			return err
		}
		if found {
			fmt.Fprintf(c.m.Stderr, "found endpoint %s, which an interrupted deploy started and did not record\n", adopted.ID)
		}
		up, err := p.Store().Endpoints(ctx, ethos.EndpointFilter{Up: true, ModelName: m.Name})
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
	svc := p.FineTune()
	var stopped []ethos.Endpoint
	for _, eid := range ids {
		stored, err := p.Store().Endpoint(ctx, eid)
		if err != nil {
			return err
		}
		ep, err := svc.Undeploy(ctx, eid, p.DeployOptions(stored.Provider, "", 0, *interval, c.m.Stderr))
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
