package storecopy

import (
	"context"
	"fmt"
	"io"
	"time"
)

// WriteMigrated writes which migrations opening s applied, a line each,
// and the schema version s is at.
func (s *Store) WriteMigrated(ctx context.Context, w io.Writer) error {
	v, err := s.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	for _, m := range s.Migrated {
		fmt.Fprintf(w, "%s: applied %04d_%s\n", s.Name, m.Version, m.Name)
	}
	if len(s.Migrated) == 0 {
		fmt.Fprintf(w, "%s: up to date at schema version %d\n", s.Name, v)
	} else {
		fmt.Fprintf(w, "%s: now at schema version %d\n", s.Name, v)
	}
	return nil
}

// processLocks are the lock names of the ethos processes that work a
// store: the generation and evaluation workers' ("") and the monitor's.
var processLocks = []string{"", ".monitor"}

// LockAll takes, on each store, the locks every ethos process that works
// a store takes, so that none works on them while they are copied; it
// fails at once if one is held. fileLock takes the lock file of a SQLite
// store at a path (PostgreSQL stores are locked in the database). unlock
// releases every lock taken.
func LockAll(ctx context.Context, fileLock func(path string) (unlock func(), err error), stores ...*Store) (unlock func(), err error) {
	var unlocks []func()
	unlock = func() {
		for i := len(unlocks) - 1; i >= 0; i-- {
			unlocks[i]()
		}
	}
	for _, s := range stores {
		for _, name := range processLocks {
			var u func()
			if pg := s.Postgres(); pg != nil {
				u, err = pg.TryLock(ctx, name)
			} else {
				u, err = fileLock(s.SQLite().Path() + name)
			}
			if err != nil {
				unlock()
				return nil, err
			}
			unlocks = append(unlocks, u)
		}
	}
	return unlock, nil
}

// WriteText writes what a copy from one store to another did, taking
// took: each table's rows, the total, and that the job queue stays
// behind.
func (r Report) WriteText(w io.Writer, from, to string, took time.Duration) {
	var total int64
	for _, t := range r.Tables {
		fmt.Fprintf(w, "  %-18s %8d rows\n", t.Table, t.Rows)
		total += t.Rows
	}
	fmt.Fprintf(w, "copied %d rows in %d tables from %s to %s in %s (schema version %d); counts checked\n",
		total, len(r.Tables), from, to, took.Round(time.Millisecond), r.Version)
	fmt.Fprintln(w, "the job queue is not copied: run the same generate or eval command on the new store to continue unfinished runs")
}
