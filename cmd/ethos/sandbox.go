package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/project"
	"github.com/ethos-toolkit/ethos/sandbox"
)

const sandboxSynopsis = `sandbox [--addr 127.0.0.1:8700] [--seed N] [--api-key K] [--finetune-dir DIR]
       [--error-rate STATUS=P,…] [--stream-error-rate P] [--cut-stream-rate P] [--retry-after D]
       [--latency D] [--jitter D] [--rpm N] [--tpm N] [--itpm N] [--otpm N]
       [--defect NAME=P,…] [--serving BASE=serverless|dedicated,…]
       [--batch-time D] [--batch-error-rate P] [--batch-expire-rate P] [--config FILE]

Seed, faults, limits and defects default to the sandbox section of ethos.yaml
(--config); a flag given here overrides its setting.`

// SandboxCommand runs the offline provider emulator until interrupted.
type SandboxCommand struct{ m *Main }

// sandboxRun is what ethos sandbox runs with.
type sandboxRun struct {
	addr, apiKey string
	opts         sandbox.Options
}

// flags registers the command's flags, each defaulting to what r holds.
func (c *SandboxCommand) flags(r *sandboxRun, pf *projectFlags) *flag.FlagSet {
	fs := c.m.newFlagSet("sandbox", sandboxSynopsis)
	pf.registerConfig(fs)
	fs.StringVar(&r.addr, "addr", r.addr, "listen `address`")
	fs.StringVar(&r.apiKey, "api-key", r.apiKey, "require this API key on every request (default: accept any)")
	r.opts.RegisterFlags(fs)
	return fs
}

// Run starts the sandbox on --addr and prints how to point clients at it.
func (c *SandboxCommand) Run(ctx context.Context, args []string) error {
	var pf projectFlags
	r := sandboxRun{addr: "127.0.0.1:8700", opts: sandbox.Options{Seed: 1}}
	flags := c.flags(&r, &pf)
	if err := parseNoArgs(flags, args); err != nil {
		return err
	}
	cfg, _, _, err := c.m.loadConfig(pf, isSet(flags, "config"))
	if err != nil {
		return err
	}
	// The config's sandbox section, then the flags given, which override it.
	r = sandboxRun{addr: r.addr, opts: project.SandboxOptions(cfg.Sandbox)}
	if _, err := parseFlags(c.flags(&r, &pf), args); err != nil {
		return err
	}
	r.opts.APIKey = r.apiKey
	run, err := sandbox.Start(ctx, r.addr, r.opts)
	if err != nil {
		return ethos.Errorf(ethos.Config, "sandbox: listening on %s: %w", r.addr, err)
	}
	defer run.Close()
	run.WriteUsage(c.m.Stdout)
	fmt.Fprintln(c.m.Stdout, "Press Ctrl-C to stop.")
	<-ctx.Done()
	fmt.Fprintln(c.m.Stdout, "sandbox stopped")
	return nil
}
