package main

import "context"

// DatasetCommand is a placeholder until the command is built.
type DatasetCommand struct{ m *Main }

func (c *DatasetCommand) Run(ctx context.Context, args []string) error {
	return usageErrorf("dataset: not built yet")
}
