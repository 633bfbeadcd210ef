package main

import "context"

// DemoCommand is a placeholder until the command is built.
type DemoCommand struct{ m *Main }

func (c *DemoCommand) Run(ctx context.Context, args []string) error {
	return usageErrorf("demo: not built yet")
}
