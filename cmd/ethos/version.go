package main

import (
	"context"
	"fmt"
	"runtime/debug"
)

// VersionCommand prints the version of the binary.
type VersionCommand struct{ m *Main }

// Run prints the module version and VCS revision the binary was built from.
func (c *VersionCommand) Run(ctx context.Context, args []string) error {
	fs := c.m.newFlagSet("version", "version")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	fmt.Fprintln(c.m.Stdout, "ethos "+version())
	return nil
}

func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := info.Main.Version
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v
}
