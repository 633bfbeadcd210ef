package main

import "context"

// MonitorCommand is a placeholder until the command is built.
type MonitorCommand struct{ m *Main }

func (c *MonitorCommand) Run(ctx context.Context, args []string) error {
	return usageErrorf("monitor: not built yet")
}
