package main

import "context"

// ServeCommand is a placeholder until the command is built.
type ServeCommand struct{ m *Main }

func (c *ServeCommand) Run(ctx context.Context, args []string) error {
	return usageErrorf("serve: not built yet")
}
