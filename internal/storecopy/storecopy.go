// Package storecopy moves an ethos project from one store to another: a
// SQLite file to PostgreSQL when a team starts sharing it, and back. It
// copies every ethos table row for row, in one transaction on the target,
// and leaves the job queue's tables behind: a copied run is resumed by
// ethos enqueueing its pending items again, as any resumed run is.
//
// Each store keeps values its own way (times as fixed-width text and
// booleans as integers in SQLite; timestamptz, boolean and json in
// PostgreSQL). The copy converts them by the PostgreSQL side's column
// types, so what the store API reads back from the target is what it read
// from the source, except that PostgreSQL keeps times to the microsecond:
// a time SQLite holds to the nanosecond loses its last three digits.
package storecopy

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/internal/redact"
	"github.com/ethos-toolkit/ethos/postgres"
	"github.com/ethos-toolkit/ethos/sqlite"
)

// A Migration is one schema change Open applied to a store.
type Migration struct {
	Version int
	Name    string
}

// Store is an opened store, one end of a copy.
type Store struct {
	// Name is the store as given, its password masked.
	Name string
	// Migrated are the migrations Open applied to bring the store up to
	// this ethos's schema, oldest first.
	Migrated []Migration

	sqlite   *sqlite.DB
	postgres *postgres.DB
	end      end
}

// Open opens the store at location, "sqlite:PATH" or a postgres:// URL,
// and applies the migrations it lacks. A SQLite file that does not exist
// is created.
func Open(ctx context.Context, location string) (*Store, error) {
	switch {
	case strings.HasPrefix(location, "postgres://"), strings.HasPrefix(location, "postgresql://"):
		db, err := postgres.Open(ctx, location)
		if err != nil {
			return nil, err
		}
		s := &Store{Name: redact.URLs(location), postgres: db, end: &pgEnd{pool: db.Pool()}}
		for _, m := range db.Migrated() {
			s.Migrated = append(s.Migrated, Migration(m))
		}
		return s, nil
	case strings.HasPrefix(location, "sqlite:") && len(location) > len("sqlite:"):
		db, err := sqlite.Open(ctx, strings.TrimPrefix(location, "sqlite:"))
		if err != nil {
			return nil, err
		}
		s := &Store{Name: location, sqlite: db, end: &sqliteEnd{db: db.SQL()}}
		for _, m := range db.Migrated() {
			s.Migrated = append(s.Migrated, Migration(m))
		}
		return s, nil
	}
	return nil, ethos.Errorf(ethos.Config, "store %q: want sqlite:PATH (a SQLite file) or a postgres:// URL", redact.URLs(location))
}

// SQLite returns the store when it is a SQLite file, else nil.
func (s *Store) SQLite() *sqlite.DB { return s.sqlite }

// Postgres returns the store when it is on PostgreSQL, else nil.
func (s *Store) Postgres() *postgres.DB { return s.postgres }

// SchemaVersion returns the newest migration applied to the store.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	if s.postgres != nil {
		return s.postgres.SchemaVersion(ctx)
	}
	return s.sqlite.SchemaVersion(ctx)
}

// Close closes the store.
func (s *Store) Close() error {
	if s.postgres != nil {
		return s.postgres.Close()
	}
	return s.sqlite.Close()
}

// TableCount is the number of rows a copy moved into one table, counted
// on the target before the copy committed.
type TableCount struct {
	Table string
	Rows  int64
}

// Report says what a copy did.
type Report struct {
	// Version is the schema version both stores are at.
	Version int
	// Tables are the tables copied, in the order they were written.
	Tables []TableCount
}

// derived are tables a copy does not write: schema_migrations is the
// target's own, and triggers on items rebuild item_counts as the items
// arrive (the copy checks the result). River's tables (river_…) hold the
// job queue, which is not moved.
var derived = map[string]bool{"schema_migrations": true, "item_counts": true}

// Copy copies every ethos table of from into to, in one transaction on
// to, and checks that each table of to holds as many rows as from did. It
// reads from in one transaction too, so it sees one state of the store;
// the caller keeps writers away from both stores (their worker locks).
// Both must be at the same schema version, and to must hold no ethos
// data: a copy never merges into or replaces a project.
func Copy(ctx context.Context, from, to *Store) (Report, error) {
	fv, err := from.SchemaVersion(ctx)
	if err != nil {
		return Report{}, err
	}
	tv, err := to.SchemaVersion(ctx)
	if err != nil {
		return Report{}, err
	}
	if fv != tv {
		return Report{}, ethos.Errorf(ethos.Config, "%s is at schema version %d and %s at %d; open both with the same ethos (ethos store migrate) before copying", from.Name, fv, to.Name, tv)
	}
	src, err := from.end.tables(ctx)
	if err != nil {
		return Report{}, err
	}
	dst, err := to.end.tables(ctx)
	if err != nil {
		return Report{}, err
	}
	plan, err := planCopy(src, dst)
	if err != nil {
		return Report{}, ethos.Errorf(ethos.Internal, "copy %s to %s: %w", from.Name, to.Name, err)
	}

	r, err := from.end.beginRead(ctx)
	if err != nil {
		return Report{}, err
	}
	defer r.close()
	w, err := to.end.beginWrite(ctx)
	if err != nil {
		return Report{}, err
	}
	defer w.rollback()
	for _, t := range plan {
		n, err := w.count(ctx, t.name)
		if err != nil {
			return Report{}, err
		}
		if n > 0 {
			return Report{}, ethos.Errorf(ethos.Conflict, "%s already holds ethos data (%d rows in %s); a copy goes only into an empty store: point --to at a new file, database or schema (?search_path=…)", to.Name, n, t.name)
		}
	}
	report := Report{Version: fv}
	for _, t := range plan {
		want, err := r.count(ctx, t.name)
		if err != nil {
			return Report{}, err
		}
		err = r.rows(ctx, t.source, t.columns, func(next func() ([]any, bool, error)) error {
			return w.insert(ctx, t.target, t.columns, next)
		})
		if err != nil {
			return Report{}, fmt.Errorf("copy table %s: %w", t.name, err)
		}
		got, err := w.count(ctx, t.name)
		if err != nil {
			return Report{}, err
		}
		if got != want {
			return Report{}, ethos.Errorf(ethos.Internal, "copy table %s: %s holds %d rows, %s %d; nothing was committed", t.name, from.Name, want, to.Name, got)
		}
		report.Tables = append(report.Tables, TableCount{Table: t.name, Rows: got})
	}
	if err := checkItemCounts(ctx, r, w); err != nil {
		return Report{}, err
	}
	if err := w.commit(ctx); err != nil {
		return Report{}, err
	}
	return report, nil
}

// checkItemCounts compares the item counts the target's triggers built
// with the source's. Counts of zero are left out: a store keeps the row of
// a status its items have all left, and a copy makes no such row.
func checkItemCounts(ctx context.Context, r readTx, w writeTx) error {
	want, err := r.itemCounts(ctx)
	if err != nil {
		return err
	}
	got, err := w.itemCounts(ctx)
	if err != nil {
		return err
	}
	if !slices.Equal(want, got) {
		return ethos.Errorf(ethos.Internal, "copy: the item counts rebuilt on the target differ from the source's (%d rows against %d); nothing was committed", len(got), len(want))
	}
	return nil
}

// itemCountsQuery lists the non-zero item counts of a store, in an order
// both stores agree on (byte order: SQLite's and the C collation).
const itemCountsQuery = `SELECT run_id, stage, status, n FROM item_counts WHERE n <> 0`

// itemCount is one row of item_counts.
type itemCount struct {
	run, stage, status string
	n                  int64
}

func sortItemCounts(cs []itemCount) {
	slices.SortFunc(cs, func(a, b itemCount) int {
		return cmp.Or(strings.Compare(a.run, b.run), strings.Compare(a.stage, b.stage), strings.Compare(a.status, b.status))
	})
}

// table is one table of a store as the copy sees it.
type table struct {
	name    string
	columns []column
	refs    []string // the tables its foreign keys name
	order   []string // columns that list its rows in insertion order
}

// column is one column of a table. kind is known on PostgreSQL only
// (SQLite declares times and JSON as TEXT); identity marks a column the
// target numbers itself when the source has no such column.
type column struct {
	name     string
	kind     kind
	identity bool
}

// kind is how PostgreSQL keeps a column, which decides how a value from
// SQLite is converted for it and how it is read for SQLite.
type kind int

const (
	kindOther kind = iota
	kindTime
	kindBool
	kindJSON
)

// step is one table to copy: the columns both stores have, described by
// each side.
type step struct {
	name           string
	source, target table
	columns        []string
}

// planCopy matches the tables and columns of the two stores and orders the
// tables so that each comes after those its foreign keys name. A table or
// column on one side only means the two schemas differ, which equal
// versions rule out; an identity column only the target has (PostgreSQL's
// seq, SQLite's rowid) is numbered by the target in the order rows come.
func planCopy(src, dst []table) ([]step, error) {
	byName := map[string]table{}
	for _, t := range dst {
		byName[t.name] = t
	}
	if len(src) != len(dst) {
		return nil, fmt.Errorf("the stores hold different tables (%s against %s)", names(src), names(dst))
	}
	var steps []step
	for _, s := range src {
		d, ok := byName[s.name]
		if !ok {
			return nil, fmt.Errorf("table %s is in the source only", s.name)
		}
		st := step{name: s.name, source: s, target: d}
		have := map[string]bool{}
		for _, c := range s.columns {
			have[c.name] = true
		}
		for _, c := range d.columns {
			switch {
			case have[c.name]:
				st.columns = append(st.columns, c.name)
				delete(have, c.name)
			case !c.identity:
				return nil, fmt.Errorf("column %s.%s is in the target only", s.name, c.name)
			}
		}
		for c := range have {
			if !s.columnNamed(c).identity {
				return nil, fmt.Errorf("column %s.%s is in the source only", s.name, c)
			}
		}
		steps = append(steps, st)
	}
	return orderByReferences(steps)
}

func (t table) columnNamed(name string) column {
	for _, c := range t.columns {
		if c.name == name {
			return c
		}
	}
	return column{}
}

func names(ts []table) string {
	var n []string
	for _, t := range ts {
		n = append(n, t.name)
	}
	return strings.Join(n, ", ")
}

// orderByReferences sorts steps so that every table comes after the
// tables it references (a table referencing itself, as items do, is
// written in its own insertion order), and otherwise by name.
func orderByReferences(steps []step) ([]step, error) {
	slices.SortFunc(steps, func(a, b step) int { return strings.Compare(a.name, b.name) })
	done := map[string]bool{}
	var out []step
	for len(out) < len(steps) {
		progress := false
		for _, s := range steps {
			if done[s.name] {
				continue
			}
			ready := true
			for _, r := range s.target.refs {
				ready = ready && (r == s.name || done[r])
			}
			if ready {
				done[s.name] = true
				out = append(out, s)
				progress = true
			}
		}
		if !progress {
			return nil, fmt.Errorf("the tables' foreign keys form a cycle")
		}
	}
	return out, nil
}

// end is one kind of store as a copy reads and writes it.
type end interface {
	// tables lists the tables to copy: all but the job queue's and the
	// derived ones.
	tables(ctx context.Context) ([]table, error)
	beginRead(ctx context.Context) (readTx, error)
	beginWrite(ctx context.Context) (writeTx, error)
}

// readTx reads one state of a store.
type readTx interface {
	count(ctx context.Context, table string) (int64, error)
	// rows calls copy with an iterator over the rows of t, in insertion
	// order, each holding columns in that order.
	rows(ctx context.Context, t table, columns []string, copy func(next func() ([]any, bool, error)) error) error
	itemCounts(ctx context.Context) ([]itemCount, error)
	close()
}

// writeTx writes a store in one transaction.
type writeTx interface {
	count(ctx context.Context, table string) (int64, error)
	// insert writes the rows next returns, converting each value for its
	// column, and renumbers the table's identity columns after them.
	insert(ctx context.Context, t table, columns []string, next func() ([]any, bool, error)) error
	itemCounts(ctx context.Context) ([]itemCount, error)
	commit(ctx context.Context) error
	rollback()
}

// skipped reports whether a copy leaves table alone.
func skipped(table string) bool {
	return derived[table] || strings.HasPrefix(table, "river_")
}
