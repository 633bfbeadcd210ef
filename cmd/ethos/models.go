package main

import "context"

// ModelsCommand is a placeholder until the command is built.
type ModelsCommand struct{ m *Main }

func (c *ModelsCommand) Run(ctx context.Context, args []string) error {
	return usageErrorf("models: not built yet")
}
