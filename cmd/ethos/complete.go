package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/llm"
	"github.com/ethos-toolkit/ethos/pipeline"
)

// CompleteCommand sends one request through the full middleware chain and
// the durable job queue, and prints the reply with its stop reason, usage
// and cost.
type CompleteCommand struct{ m *Main }

// Run parses the flags, makes the call and prints the result.
func (c *CompleteCommand) Run(ctx context.Context, args []string) error {
	flags, pf := c.m.projectFlagSet("complete", `complete --model PROVIDER/MODEL [--system S|@FILE] [--max-tokens N] [--temperature T] [--stream]
       [--sample K] [--max-cost USD] [--json] [--config FILE] [--db PATH] "prompt"`)
	model := flags.String("model", "", "the model as `provider/model`, e.g. sandbox/writer or anthropic/claude-sonnet-4-5 (required)")
	system := flags.String("system", "", "system prompt (@FILE reads it from a file)")
	maxTokens := flags.Int("max-tokens", 1024, "maximum output `tokens`")
	temperature := flags.String("temperature", "", "sampling temperature (default: the provider's)")
	stream := flags.Bool("stream", false, "use the provider's streaming protocol (for long outputs)")
	sample := flags.Int("sample", 0, "sample `index`: a different index asks again instead of reusing the cached reply")
	maxCost := flags.Float64("max-cost", 0, "refuse the call if it could cost more than this many `USD`")
	asJSON := flags.Bool("json", false, "print the result as JSON")
	rest, err := parseFlags(flags, args)
	if err != nil {
		return err
	}
	if *model == "" {
		return usageErrorf("complete: --model is required (e.g. --model sandbox/writer)")
	}
	if _, _, err := llm.SplitModel(*model); err != nil {
		return usageErrorf("complete: --model %q: want provider/model, e.g. sandbox/writer", *model)
	}
	if len(rest) != 1 || strings.TrimSpace(rest[0]) == "" {
		return usageErrorf("complete: give exactly one prompt argument (quote it), got %d", len(rest))
	}
	if *maxTokens < 1 {
		return usageErrorf("complete: --max-tokens must be at least 1")
	}
	req := ethos.Request{
		Model:     *model,
		Messages:  []ethos.Message{{Role: ethos.RoleUser, Content: rest[0]}},
		MaxTokens: *maxTokens,
		Stream:    *stream,
		Sample:    *sample,
		Metadata:  map[string]string{"stage": "complete"},
	}
	if req.System, err = pipeline.ReadTextArg(*system, c.m.Dir); err != nil {
		return err
	}
	if *temperature != "" {
		t, err := strconv.ParseFloat(*temperature, 64)
		if err != nil || t < 0 || t > 2 {
			return usageErrorf("complete: --temperature %q: want a number from 0 to 2", *temperature)
		}
		req.Temperature = &t
	}

	p, err := c.m.openProject(ctx, flags, *pf)
	if err != nil {
		return err
	}
	defer p.Close()
	res, err := pipeline.Complete(ctx, c.m.deps(p), req, *maxCost)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(c.m.Stdout, res)
	}
	fmt.Fprintln(c.m.Stdout, res.Text)
	cache := "miss"
	if res.CacheHit {
		cache = "hit (free)"
	}
	fmt.Fprintf(c.m.Stderr, "\nstop: %s · tokens: %d in, %d out · cost: $%.6f · latency: %s · cache: %s\n",
		res.StopReason, res.Usage.In, res.Usage.Out, res.CostUSD, res.Latency.Round(time.Millisecond), cache)
	return nil
}
