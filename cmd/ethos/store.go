package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/internal/storecopy"
	"github.com/ethos-toolkit/ethos/pipeline"
	"github.com/ethos-toolkit/ethos/project"
)

// StoreCommand manages the store itself: its schema, and moving a project
// from one store to another.
type StoreCommand struct{ m *Main }

func (c *StoreCommand) Run(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(c.m.Stderr, `Usage: ethos store <command> [flags]

Commands:
  migrate    apply the store's migrations and say which ran
  copy       copy a project to another store: --from sqlite:PATH|postgres://… --to …
`)
		if len(args) == 0 {
			return usageErrorf("store: no command given")
		}
		return nil
	}
	switch args[0] {
	case "migrate":
		return c.migrate(ctx, args[1:])
	case "copy":
		return c.copy(ctx, args[1:])
	}
	return usageErrorf("store: unknown command %q; want migrate or copy", args[0])
}

func (c *StoreCommand) migrate(ctx context.Context, args []string) error {
	fs := c.m.newFlagSet("store migrate", "store migrate [--config FILE] [--db PATH|postgres://…]")
	var pf projectFlags
	pf.register(fs)
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, dir, _, err := c.m.loadConfig(pf, isSet(fs, "config"))
	if err != nil {
		return err
	}
	loc := pipeline.StoreLocation(pf.db, c.m.Getenv, c.m.Dir, cfg, dir)
	if !pipeline.IsPostgresURL(loc) {
		loc = "sqlite:" + loc
	}
	s, err := storecopy.Open(ctx, loc)
	if err != nil {
		return err
	}
	defer s.Close()
	return c.printMigrated(ctx, s)
}

// printMigrated says which migrations opening s applied, and the version
// it is at.
func (c *StoreCommand) printMigrated(ctx context.Context, s *storecopy.Store) error {
	v, err := s.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	for _, m := range s.Migrated {
		fmt.Fprintf(c.m.Stdout, "%s: applied %04d_%s\n", s.Name, m.Version, m.Name)
	}
	if len(s.Migrated) == 0 {
		fmt.Fprintf(c.m.Stdout, "%s: up to date at schema version %d\n", s.Name, v)
	} else {
		fmt.Fprintf(c.m.Stdout, "%s: now at schema version %d\n", s.Name, v)
	}
	return nil
}

func (c *StoreCommand) copy(ctx context.Context, args []string) error {
	fs := c.m.newFlagSet("store copy", "store copy --from sqlite:PATH|postgres://… --to postgres://…|sqlite:PATH")
	from := fs.String("from", "", "the store to copy: sqlite:`PATH` or a postgres:// URL")
	to := fs.String("to", "", "the empty store to copy into: sqlite:`PATH` or a postgres:// URL (migrated first)")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if *from == "" || *to == "" {
		return usageErrorf("store copy: --from and --to are both required")
	}
	src, err := storecopy.Open(ctx, c.m.storeLocation(*from))
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := storecopy.Open(ctx, c.m.storeLocation(*to))
	if err != nil {
		return err
	}
	defer dst.Close()
	if src.Name == dst.Name {
		return ethos.Errorf(ethos.Config, "store copy: --from and --to name the same store %s", src.Name)
	}
	for _, s := range []*storecopy.Store{src, dst} {
		if err := c.printMigrated(ctx, s); err != nil {
			return err
		}
		// No ethos process may work on either store while it is copied:
		// the generation and eval workers' lock, and the monitor's.
		for _, name := range []string{"", ".monitor"} {
			unlock, err := lockCopied(ctx, s, name)
			if err != nil {
				return err
			}
			defer unlock()
		}
	}
	start := time.Now()
	report, err := storecopy.Copy(ctx, src, dst)
	if err != nil {
		return err
	}
	var total int64
	for _, t := range report.Tables {
		fmt.Fprintf(c.m.Stdout, "  %-18s %8d rows\n", t.Table, t.Rows)
		total += t.Rows
	}
	fmt.Fprintf(c.m.Stdout, "copied %d rows in %d tables from %s to %s in %s (schema version %d); counts checked\n",
		total, len(report.Tables), src.Name, dst.Name, time.Since(start).Round(time.Millisecond), report.Version)
	fmt.Fprintln(c.m.Stdout, "the job queue is not copied: run the same generate or eval command on the new store to continue unfinished runs")
	return nil
}

// storeLocation resolves a sqlite: path against the working directory.
func (m *Main) storeLocation(loc string) string {
	if path, ok := strings.CutPrefix(loc, "sqlite:"); ok && path != "" {
		return "sqlite:" + m.abs(path)
	}
	return loc
}

// lockCopied takes the worker lock name of a store being copied.
func lockCopied(ctx context.Context, s *storecopy.Store, name string) (func(), error) {
	if pg := s.Postgres(); pg != nil {
		return pg.TryLock(ctx, name)
	}
	return project.LockFile(s.SQLite().Path() + name)
}
