package main

import (
	"context"
	"fmt"
	"time"

	"github.com/ethos-toolkit/ethos/pipeline"
)

// DoctorCommand checks that a project is ready to run: the configuration,
// the store, and every provider's key and endpoint.
type DoctorCommand struct{ m *Main }

// Run prints one line per check and fails if a check the project depends
// on failed.
func (c *DoctorCommand) Run(ctx context.Context, args []string) error {
	flags, pf := c.m.projectFlagSet("doctor", "doctor [--json] [--timeout 5s] [--config FILE] [--db PATH]")
	asJSON := flags.Bool("json", false, "print the checks as JSON")
	timeout := flags.Duration("timeout", 5*time.Second, "how long to wait for each endpoint")
	if err := parseNoArgs(flags, args); err != nil {
		return err
	}

	p, err := c.m.openProject(ctx, flags, *pf)
	if err != nil {
		return err
	}
	defer p.Close()

	checks, failed := pipeline.Doctor{Providers: p.Providers(), Router: p.Router(), Store: p.Store(),
		ConfigName: p.Describe(), StoreName: p.StoreName(), Timeout: *timeout}.Run(ctx)
	if *asJSON {
		if err := writeJSON(c.m.Stdout, struct {
			OK     bool             `json:"ok"`
			Checks []pipeline.Check `json:"checks"`
		}{failed == 0, checks}); err != nil {
			return err
		}
	} else if err := pipeline.WriteChecks(c.m.Stdout, checks); err != nil {
		return err
	}
	if failed > 0 {
		if !*asJSON {
			fmt.Fprintf(c.m.Stderr, "\n%d check(s) failed\n", failed)
		}
		return errSilent
	}
	return nil
}
