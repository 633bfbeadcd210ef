package main

import "context"

// EvalRateCommand is a placeholder until the command is built.
type EvalRateCommand struct{ m *Main }

func (c *EvalRateCommand) Run(ctx context.Context, args []string) error {
	return usageErrorf("eval_rate: not built yet")
}
