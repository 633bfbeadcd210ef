package main

import "context"

// EvalReportCommand is a placeholder until the command is built.
type EvalReportCommand struct{ m *Main }

func (c *EvalReportCommand) Run(ctx context.Context, args []string) error {
	return usageErrorf("eval_report: not built yet")
}
