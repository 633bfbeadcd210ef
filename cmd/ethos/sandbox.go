package main

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"strings"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/config"
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
	fs.Int64Var(&r.opts.Seed, "seed", r.opts.Seed, "seed for deterministic content and fault decisions (default: sandbox.seed)")
	fs.StringVar(&r.apiKey, "api-key", r.apiKey, "require this API key on every request (default: accept any)")
	fs.StringVar(&r.opts.FineTune.Dir, "finetune-dir", r.opts.FineTune.Dir, "keep uploaded files and fine-tune jobs in `DIR`, so a restarted sandbox still has them (default: in memory)")
	fs.DurationVar(&r.opts.Batch.ProcessingTime, "batch-time", r.opts.Batch.ProcessingTime, "how long a batch takes from creation to its end (default: sandbox.batch_time, else 2s)")
	fs.Float64Var(&r.opts.Batch.ErrorRate, "batch-error-rate", r.opts.Batch.ErrorRate, "share of a batch's requests answered with a server error (default: sandbox.batch_error_rate)")
	fs.Float64Var(&r.opts.Batch.ExpireRate, "batch-expire-rate", r.opts.Batch.ExpireRate, "share of a batch's requests left unprocessed, so the batch expires (default: sandbox.batch_expire_rate)")
	r.opts.Faults.RegisterFlags(fs)
	sandbox.RegisterDefectFlags(fs, &r.opts.Defects)
	fs.Func("serving", "how the models fine-tuned from a base model are served, e.g. base=dedicated: serverless (default) or dedicated, only through an endpoint (default: sandbox.serving)", func(v string) error {
		for _, kv := range strings.Split(v, ",") {
			base, how, ok := strings.Cut(strings.TrimSpace(kv), "=")
			if !ok || base == "" || !slices.Contains(config.SandboxServing, how) {
				return fmt.Errorf("want BASE=serverless or BASE=dedicated, got %q", kv)
			}
			if r.opts.Serving == nil {
				r.opts.Serving = map[string]string{}
			}
			r.opts.Serving[base] = how
		}
		return nil
	})
	return fs
}

// Run starts the sandbox on --addr and prints how to point clients at it.
func (c *SandboxCommand) Run(ctx context.Context, args []string) error {
	var pf projectFlags
	r := sandboxRun{addr: "127.0.0.1:8700", opts: sandbox.Options{Seed: 1}}
	flags := c.flags(&r, &pf)
	rest, err := parseFlags(flags, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageErrorf("sandbox takes no arguments, got %q", rest)
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
	fmt.Fprintf(c.m.Stdout, `ethos sandbox listening on %[1]s
  Anthropic Messages:        %[1]s/v1/messages
  OpenAI chat completions:   %[1]s/v1/chat/completions
  Together fine-tuning:      %[1]s/v1/files/upload, %[1]s/v1/fine-tunes
  OpenAI fine-tuning:        %[1]s/v1/files, %[1]s/v1/fine_tuning/jobs
  batches:                   %[1]s/v1/messages/batches (Anthropic), %[1]s/v1/batches (OpenAI, Together)
  stats:                     %[1]s/_sandbox/stats
Point ethos at it:  SANDBOX_BASE_URL=%[1]s ethos complete --model sandbox/writer "hello"
or any client:      ANTHROPIC_BASE_URL=%[1]s   OPENAI_BASE_URL=%[1]s/v1
Models: writer, base, judge, judge-biased, judge-noisy, and each completed fine-tune's ft-…; fault-429, fault-529, fault-500, fault-401, fault-cut, fault-refuse force failures;
writer-defect-<name> always writes that defect into ethos's generation outputs.
Press Ctrl-C to stop.
`, run.URL)
	<-ctx.Done()
	fmt.Fprintln(c.m.Stdout, "sandbox stopped")
	return nil
}
