package main

import "context"

// EvalCommand dispatches the eval subcommands.
type EvalCommand struct{ m *Main }

func (c *EvalCommand) Run(ctx context.Context, args []string) error {
	return dispatch(ctx, c.m, "eval", nil, []subcommand{
		{"run", "answer held-out prompts with each model and judge every pair in both orders", (&EvalRunCommand{c.m}).Run},
		{"rate", "ratings (Elo, Bradley–Terry, win rate) with CIs from a battles file", (&EvalRateCommand{c.m}).Run},
		{"report", "the statistics of an evaluation as Markdown, HTML or JSON", (&EvalReportCommand{c.m}).Run},
	}, args)
}
