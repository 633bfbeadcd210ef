package main

import (
	"context"
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
	return dispatch(ctx, c.m, "store", nil, []subcommand{
		{"migrate", "apply the store's migrations and say which ran", c.migrate},
		{"copy", "copy a project to another store: --from sqlite:PATH|postgres://… --to …", c.copy},
	}, args)
}

func (c *StoreCommand) migrate(ctx context.Context, args []string) error {
	fs, pf := c.m.projectFlagSet("store migrate", "store migrate [--config FILE] [--db PATH|postgres://…]")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	cfg, dir, _, err := c.m.loadConfig(*pf, isSet(fs, "config"))
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
	return s.WriteMigrated(ctx, c.m.Stdout)
}

func (c *StoreCommand) copy(ctx context.Context, args []string) error {
	fs := c.m.newFlagSet("store copy", "store copy --from sqlite:PATH|postgres://… --to postgres://…|sqlite:PATH")
	from := fs.String("from", "", "the store to copy: sqlite:`PATH` or a postgres:// URL")
	to := fs.String("to", "", "the empty store to copy into: sqlite:`PATH` or a postgres:// URL (migrated first)")
	if err := parseNoArgs(fs, args); err != nil {
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
		if err := s.WriteMigrated(ctx, c.m.Stdout); err != nil {
			return err
		}
	}
	unlock, err := storecopy.LockAll(ctx, project.LockFile, src, dst)
	if err != nil {
		return err
	}
	defer unlock()
	start := time.Now()
	report, err := storecopy.Copy(ctx, src, dst)
	if err != nil {
		return err
	}
	report.WriteText(c.m.Stdout, src.Name, dst.Name, time.Since(start))
	return nil
}

// storeLocation resolves a sqlite: path against the working directory.
func (m *Main) storeLocation(loc string) string {
	if path, ok := strings.CutPrefix(loc, "sqlite:"); ok && path != "" {
		return "sqlite:" + m.abs(path)
	}
	return loc
}
