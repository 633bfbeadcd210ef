package main

import (
	"context"
	"fmt"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/config"
)

// InitCommand writes a commented ethos.yaml for the example character.
type InitCommand struct{ m *Main }

// Run writes DIR/ethos.yaml (DIR defaults to the working directory). It
// never overwrites an existing file without --force.
func (c *InitCommand) Run(ctx context.Context, args []string) error {
	flags := c.m.newFlagSet("init", "init [--force] [--sandbox] [DIR]")
	force := flags.Bool("force", false, "overwrite an existing ethos.yaml")
	offline := flags.Bool("sandbox", false, "use sandbox models everywhere, to try ethos with no keys and no network")
	rest, err := parseFlags(flags, args)
	if err != nil {
		return err
	}
	if len(rest) > 1 {
		return usageErrorf("init takes at most one directory, got %d arguments", len(rest))
	}
	dir := "."
	if len(rest) == 1 {
		dir = rest[0]
	}
	tmpl := config.Template()
	if *offline {
		tmpl = config.OfflineTemplate()
	}
	path, written, err := config.WriteFile(c.m.abs(dir), tmpl, *force)
	if err != nil {
		return err
	}
	if !written {
		return ethos.Errorf(ethos.Config, "%s already exists; edit it, or pass --force to replace it with the template", path)
	}
	fmt.Fprintf(c.m.Stdout, "wrote %s (the example character Agora)\n", path)
	fmt.Fprintln(c.m.Stdout, "next: edit the character, then run \"ethos doctor\" to check providers and keys")
	return nil
}
