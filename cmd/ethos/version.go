package main

import (
	"context"
	"fmt"

	"github.com/ethos-toolkit/ethos"
)

// VersionCommand prints the version of the binary.
type VersionCommand struct{ m *Main }

// Run prints the module version and VCS revision the binary was built from.
func (c *VersionCommand) Run(ctx context.Context, args []string) error {
	fs := c.m.newFlagSet("version", "version")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	fmt.Fprintln(c.m.Stdout, "ethos "+ethos.Version())
	return nil
}
