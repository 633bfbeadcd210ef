package main

import "context"

// RunCommand is a placeholder until the command is built.
type RunCommand struct{ m *Main }

func (c *RunCommand) Run(ctx context.Context, args []string) error {
	return usageErrorf("run: not built yet")
}
