package main

import "context"

// FinetuneCommand is a placeholder until the command is built.
type FinetuneCommand struct{ m *Main }

func (c *FinetuneCommand) Run(ctx context.Context, args []string) error {
	return usageErrorf("finetune: not built yet")
}
