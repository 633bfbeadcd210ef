package main

import (
	"context"
	"fmt"
	"time"

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
	var in pipeline.CompleteInputs
	in.RegisterFlags(flags)
	maxCost := flags.Float64("max-cost", 0, "refuse the call if it could cost more than this many `USD`")
	asJSON := flags.Bool("json", false, "print the result as JSON")
	rest, err := parseFlags(flags, args)
	if err != nil {
		return err
	}
	req, err := in.Request(rest, c.m.Dir)
	if err != nil {
		return err
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
