package main

import (
	"context"
	"fmt"
)

// EvalCommand dispatches the eval subcommands.
type EvalCommand struct{ m *Main }

func (c *EvalCommand) Run(ctx context.Context, args []string) error {
	subs := []struct {
		name, summary string
		new           func(m *Main) command
	}{
		{"run", "answer held-out prompts with each model and judge every pair in both orders", func(m *Main) command { return &EvalRunCommand{m} }},
		{"rate", "ratings (Elo, Bradley–Terry, win rate) with CIs from a battles file", func(m *Main) command { return &EvalRateCommand{m} }},
		{"report", "the statistics of an evaluation as Markdown, HTML or JSON", func(m *Main) command { return &EvalReportCommand{m} }},
	}
	if len(args) > 0 {
		for _, s := range subs {
			if s.name == args[0] {
				return s.new(c.m).Run(ctx, args[1:])
			}
		}
	}
	// Usage goes to stderr, as every command's flag help does.
	w := c.m.Stderr
	fmt.Fprintln(w, "Usage: ethos eval <run|rate|report> [flags]\n\nSubcommands:")
	for _, s := range subs {
		fmt.Fprintf(w, "  %-8s %s\n", s.name, s.summary)
	}
	fmt.Fprintln(w, "\nRun \"ethos eval SUBCOMMAND --help\" for its flags.")
	switch {
	case len(args) == 0:
		return usageErrorf("eval: no subcommand given")
	case args[0] == "-h" || args[0] == "--help" || args[0] == "help":
		return nil
	}
	return usageErrorf("eval: unknown subcommand %q", args[0])
}
