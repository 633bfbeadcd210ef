package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/ethos-toolkit/ethos/pipeline"
)

// DoctorCommand checks that a project is ready to run: the configuration,
// the store, and every provider's key and endpoint.
type DoctorCommand struct{ m *Main }

// check is one line of the doctor's report.
type check = pipeline.Check

// Run prints one line per check and fails if a check the project depends
// on failed.
func (c *DoctorCommand) Run(ctx context.Context, args []string) error {
	flags := c.m.newFlagSet("doctor", "doctor [--json] [--timeout 5s] [--config FILE] [--db PATH]")
	var pf projectFlags
	pf.register(flags)
	asJSON := flags.Bool("json", false, "print the checks as JSON")
	timeout := flags.Duration("timeout", 5*time.Second, "how long to wait for each endpoint")
	rest, err := parseFlags(flags, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageErrorf("doctor takes no arguments, got %q", rest)
	}

	p, err := c.m.openProject(ctx, flags, pf)
	if err != nil {
		return err
	}
	defer p.Close()

	checks, failed := pipeline.Doctor{Providers: p.Providers(), Router: p.Router(), Store: p.Store(),
		ConfigName: p.Describe(), StoreName: p.StoreName(), Timeout: *timeout}.Run(ctx)
	if *asJSON {
		enc := json.NewEncoder(c.m.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			OK     bool    `json:"ok"`
			Checks []check `json:"checks"`
		}{failed == 0, checks}); err != nil {
			return err
		}
	} else {
		w := tabwriter.NewWriter(c.m.Stdout, 0, 4, 2, ' ', 0)
		for _, ck := range checks {
			mark := "ok"
			switch {
			case ck.Skipped:
				mark = "-"
			case !ck.OK:
				mark = "FAIL"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\n", mark, ck.Name, ck.Detail)
		}
		w.Flush()
	}
	if failed > 0 {
		if !*asJSON {
			fmt.Fprintf(c.m.Stderr, "\n%d check(s) failed\n", failed)
		}
		return errSilent
	}
	return nil
}
