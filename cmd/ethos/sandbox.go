package main

import (
	"context"
	"fmt"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/sandbox"
)

const sandboxSynopsis = `sandbox [--addr 127.0.0.1:8700] [--seed N] [--api-key K] [--finetune-dir DIR]
       [--error-rate STATUS=P,…] [--stream-error-rate P] [--cut-stream-rate P] [--retry-after D]
       [--latency D] [--jitter D] [--rpm N] [--tpm N] [--defect NAME=P,…]`

// SandboxCommand runs the offline provider emulator until interrupted.
type SandboxCommand struct{ m *Main }

// Run starts the sandbox on --addr and prints how to point clients at it.
func (c *SandboxCommand) Run(ctx context.Context, args []string) error {
	flags := c.m.newFlagSet("sandbox", sandboxSynopsis)
	addr := flags.String("addr", "127.0.0.1:8700", "listen `address`")
	seed := flags.Int64("seed", 1, "seed for deterministic content and fault decisions")
	apiKey := flags.String("api-key", "", "require this API key on every request (default: accept any)")
	ftDir := flags.String("finetune-dir", "", "keep uploaded files and fine-tune jobs in `DIR`, so a restarted sandbox still has them (default: in memory)")
	var faults sandbox.Faults
	faults.RegisterFlags(flags)
	var defects map[string]float64
	sandbox.RegisterDefectFlags(flags, &defects)
	rest, err := parseFlags(flags, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageErrorf("sandbox takes no arguments, got %q", rest)
	}
	run, err := sandbox.Start(ctx, *addr, sandbox.Options{Seed: *seed, APIKey: *apiKey, Faults: faults, Defects: defects,
		FineTune: sandbox.FineTuneOptions{Dir: *ftDir}})
	if err != nil {
		return ethos.Errorf(ethos.Config, "sandbox: listening on %s: %w", *addr, err)
	}
	defer run.Close()
	fmt.Fprintf(c.m.Stdout, `ethos sandbox listening on %[1]s
  Anthropic Messages:        %[1]s/v1/messages
  OpenAI chat completions:   %[1]s/v1/chat/completions
  Together fine-tuning:      %[1]s/v1/files/upload, %[1]s/v1/fine-tunes
  OpenAI fine-tuning:        %[1]s/v1/files, %[1]s/v1/fine_tuning/jobs
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
