package main

import (
	"context"
	"fmt"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/finetune"
)

// deploy serves a completed job's model on a dedicated endpoint.
func (c *FinetuneCommand) deploy(ctx context.Context, args []string) error {
	flags := c.m.newFlagSet("finetune deploy", finetuneDeploySynopsis)
	var pf projectFlags
	pf.register(flags)
	var given finetune.DeployOptions
	flags.StringVar(&given.Hardware, "hardware", "", "the hardware `configuration` (default: finetune.hardware, else the cheapest available)")
	flags.DurationVar(&given.InactiveTimeout, "inactive-timeout", 0, "the provider stops the endpoint after this long without requests, whole minutes (default: finetune.inactive_timeout)")
	flags.StringVar(&given.AttachTo, "attach", "", "attach the adapter to this running LoRA-enabled `endpoint` of the base model instead of starting one")
	flags.DurationVar(&given.Interval, "interval", 0, "how often to ask whether the endpoint serves (default 10s; 0.5s for the sandbox)")
	asJSON := flags.Bool("json", false, "print the endpoint and model as JSON")
	rest, err := parseFlags(flags, args)
	if err != nil {
		return err
	}
	id, err := jobArg("deploy", rest)
	if err != nil {
		return err
	}
	if err := given.Validate(); err != nil {
		return usageErrorf("finetune deploy: %v", err)
	}
	p, err := c.m.openProject(ctx, flags, pf)
	if err != nil {
		return err
	}
	defer p.Close()
	ep, m, err := p.Deploy(ctx, id, given)
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
	stopped, err := p.Undeploy(ctx, id, *interval, func(ep ethos.Endpoint) {
		if !*asJSON {
			fmt.Fprintf(c.m.Stdout, "endpoint %s stopped (%s); it cost about $%.2f\n", ep.ID, ep.ModelName, ep.CostUSD(time.Now()))
		}
	})
	if err != nil || !*asJSON {
		return err
	}
	return writeJSON(c.m.Stdout, stopped)
}
