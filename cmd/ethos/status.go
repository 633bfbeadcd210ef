package main

import "context"

// StatusCommand is a placeholder until the command is built.
type StatusCommand struct{ m *Main }

func (c *StatusCommand) Run(ctx context.Context, args []string) error {
	return usageErrorf("status: not built yet")
}
