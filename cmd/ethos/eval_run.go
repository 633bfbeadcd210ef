package main

import "context"

// EvalRunCommand is a placeholder until the command is built.
type EvalRunCommand struct{ m *Main }

func (c *EvalRunCommand) Run(ctx context.Context, args []string) error {
	return usageErrorf("eval_run: not built yet")
}
