package sandbox

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// RegisterFlags registers on fs the flags of ethos sandbox that set o, each
// defaulting to what o holds: --seed, --finetune-dir, the batch flags, the
// fault flags (Faults.RegisterFlags), --defect and --serving.
func (o *Options) RegisterFlags(fs *flag.FlagSet) {
	fs.Int64Var(&o.Seed, "seed", o.Seed, "seed for deterministic content and fault decisions (default: sandbox.seed)")
	fs.StringVar(&o.FineTune.Dir, "finetune-dir", o.FineTune.Dir, "keep uploaded files and fine-tune jobs in `DIR`, so a restarted sandbox still has them (default: in memory)")
	fs.DurationVar(&o.Batch.ProcessingTime, "batch-time", o.Batch.ProcessingTime, "how long a batch takes from creation to its end (default: sandbox.batch_time, else 2s)")
	fs.Float64Var(&o.Batch.ErrorRate, "batch-error-rate", o.Batch.ErrorRate, "share of a batch's requests answered with a server error (default: sandbox.batch_error_rate)")
	fs.Float64Var(&o.Batch.ExpireRate, "batch-expire-rate", o.Batch.ExpireRate, "share of a batch's requests left unprocessed, so the batch expires (default: sandbox.batch_expire_rate)")
	o.Faults.RegisterFlags(fs)
	RegisterDefectFlags(fs, &o.Defects)
	fs.Func("serving", "how the models fine-tuned from a base model are served, e.g. base=dedicated: serverless (default) or dedicated, only through an endpoint (default: sandbox.serving)", func(v string) error {
		return parseServing(v, &o.Serving)
	})
}

// parseServing adds to *serving the comma-separated BASE=serverless or
// BASE=dedicated of v.
func parseServing(v string, serving *map[string]string) error {
	for _, kv := range strings.Split(v, ",") {
		base, how, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || base == "" || (how != ServingServerless && how != ServingDedicated) {
			return fmt.Errorf("want BASE=serverless or BASE=dedicated, got %q", kv)
		}
		if *serving == nil {
			*serving = map[string]string{}
		}
		(*serving)[base] = how
	}
	return nil
}

// WriteUsage writes where the running sandbox answers each provider API,
// how to point ethos or any client at it, and the models it knows.
func (r *Running) WriteUsage(w io.Writer) {
	fmt.Fprintf(w, `ethos sandbox listening on %[1]s
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
`, r.URL)
}
