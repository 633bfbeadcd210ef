// Package sqlite is ethos's default durable ledger: an ethos.Store kept in
// one SQLite file (through the pure-Go modernc.org/sqlite driver), with its
// schema in numbered migrations embedded in the binary.
//
// The database runs in WAL mode. Writes go through a single connection: it
// serialises this process's writers, so they never meet SQLITE_BUSY among
// themselves, and it is what River's SQLite driver, which shares the
// *sql.DB returned by SQL, requires. Reads of the ledger (the cache lookup
// on every model call, listings, sums) use a separate pool of read-only
// connections, which WAL lets run beside the writer, so a lookup never
// waits behind a commit.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/internal/groupcommit"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// busyTimeoutMS is how long a statement waits for another process's write
// lock before failing with SQLITE_BUSY.
const busyTimeoutMS = 10_000

// readConns is the size of the read-only pool.
const readConns = 4

// DB is an open ethos store in a SQLite file. It implements ethos.Store and
// is safe for concurrent use.
type DB struct {
	db   *sql.DB // the one read-write connection
	read *sql.DB // read-only connections for ledger queries
	path string
	// migrated are the migrations Open applied.
	migrated []Migration

	insertCall  *sql.Stmt
	upsertCache *sql.Stmt
	cachedByKey *sql.Stmt
	insertItem  *sql.Stmt
	updateItem  *sql.Stmt
	itemByKey   *sql.Stmt
	itemByKeyW  *sql.Stmt

	// items is the group commit of PutItem and UpdateItem, calls that of
	// RecordCall (see internal/groupcommit).
	items groupcommit.Queue[*itemWrite]
	calls groupcommit.Queue[*callRow]

	closeOnce sync.Once
	closeErr  error
}

var _ ethos.Store = (*DB)(nil)

// Open opens the store at path, creating the file and its parent directory
// when missing, and applies the migrations the file lacks. A path that
// cannot hold a store (a directory, an unreadable file, a file that is not
// a SQLite database, a store written by a newer ethos) is a Config error.
func Open(ctx context.Context, path string) (*DB, error) {
	const op = "sqlite: open"
	if path == "" {
		return nil, &ethos.Error{Kind: ethos.Config, Op: op, Msg: "empty store path"}
	}
	// The driver reads everything after '?' as DSN parameters.
	if strings.ContainsRune(path, '?') {
		return nil, &ethos.Error{Kind: ethos.Config, Op: op, Msg: fmt.Sprintf("%s: a store path cannot contain '?'", path)}
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return nil, &ethos.Error{Kind: ethos.Config, Op: op, Msg: fmt.Sprintf("%s: is a directory, not a store file", path)}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, &ethos.Error{Kind: ethos.Config, Op: op, Msg: fmt.Sprintf("%s: create directory: %v", path, err), Err: err}
	}
	if err := refuseForeign(ctx, path); err != nil {
		return nil, err
	}

	// Pragmas go in the DSN so that every connection the pool ever opens
	// gets them, not only the first.
	dsn := path +
		fmt.Sprintf("?_pragma=busy_timeout(%d)", busyTimeoutMS) +
		"&_pragma=journal_mode(WAL)" +
		"&_pragma=foreign_keys(1)" +
		"&_pragma=synchronous(NORMAL)" +
		// Take the write lock at BEGIN: a deferred transaction that reads
		// and then writes can fail with SQLITE_BUSY at once, without
		// waiting, when another process wrote in between.
		"&_txlock=immediate"
	sqldb, err := openCached(dsn)
	if err != nil {
		return nil, openError(path, err)
	}
	sqldb.SetMaxOpenConns(1)
	// Keep the one connection for good: each new one re-runs the pragmas
	// and loses the prepared statements.
	sqldb.SetMaxIdleConns(1)
	sqldb.SetConnMaxLifetime(0)
	sqldb.SetConnMaxIdleTime(0)

	// The pragmas run when the first connection opens; a file that is not
	// a database fails here.
	if err := sqldb.PingContext(ctx); err != nil {
		sqldb.Close()
		return nil, openError(path, err)
	}
	migrated, err := migrate(ctx, sqldb)
	if err != nil {
		sqldb.Close()
		if isCode(err, sqlite3.SQLITE_NOTADB) {
			return nil, openError(path, err)
		}
		var e *ethos.Error
		if errors.As(err, &e) && e.Kind == ethos.Config {
			e.Op, e.Msg = op, path+": "+e.Msg
		}
		return nil, err
	}

	readdb, err := openCached(path +
		fmt.Sprintf("?_pragma=busy_timeout(%d)", busyTimeoutMS) +
		"&_pragma=query_only(1)")
	if err != nil {
		sqldb.Close()
		return nil, openError(path, err)
	}
	readdb.SetMaxOpenConns(readConns)
	readdb.SetMaxIdleConns(readConns)
	readdb.SetConnMaxIdleTime(0)

	d := &DB{db: sqldb, read: readdb, path: path, migrated: migrated}
	d.items.Max = maxItemBatch
	if err := d.prepare(ctx); err != nil {
		sqldb.Close()
		readdb.Close()
		return nil, err
	}
	return d, nil
}

// refuseForeign refuses a file that holds tables but is not an ethos
// store, such as another application's database given by mistake:
// migrating it would add ethos's and the job queue's tables to it. It
// looks through a read-only connection, so a refused file is left as it
// was. A missing or empty file is a new store, and a file with no tables
// is taken as one too.
func refuseForeign(ctx context.Context, path string) error {
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		return nil // a new store; a path that cannot be created fails later
	}
	db, err := sql.Open("sqlite", path+
		fmt.Sprintf("?_pragma=busy_timeout(%d)", busyTimeoutMS)+
		"&_pragma=query_only(1)")
	if err != nil {
		return openError(path, err)
	}
	defer db.Close()
	tables, err := tableNames(ctx, db)
	if err != nil {
		return openError(path, err)
	}
	if len(tables) == 0 || isStore(ctx, db, tables) {
		return nil
	}
	if len(tables) > 5 {
		tables = append(tables[:5], "…")
	}
	return &ethos.Error{Kind: ethos.Config, Op: "sqlite: open", Msg: fmt.Sprintf(
		"%s: is a SQLite database with tables (%s) but not an ethos store; ethos adds its tables only to a new file or its own store: point --db (or store.path in ethos.yaml) at one",
		path, strings.Join(tables, ", "))}
}

// tableNames lists the tables of db other than SQLite's own, by name.
func tableNames(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	return names, rows.Err()
}

// isStore says whether a database with tables is an ethos store: it has
// ethos's migration table, told from other tools' tables of the same name
// by its columns.
func isStore(ctx context.Context, db *sql.DB, tables []string) bool {
	if !slices.Contains(tables, "schema_migrations") {
		return false
	}
	var n int
	err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM pragma_table_info('schema_migrations') WHERE name IN ('version', 'name', 'applied_at')`).Scan(&n)
	return err == nil && n == 3
}

// openError explains why path cannot be opened as a store.
func openError(path string, err error) error {
	const op = "sqlite: open"
	switch {
	case isCode(err, sqlite3.SQLITE_NOTADB):
		return &ethos.Error{Kind: ethos.Config, Op: op, Msg: fmt.Sprintf("%s: file is not an ethos store (not a SQLite database)", path), Err: err}
	case isCode(err, sqlite3.SQLITE_CANTOPEN), isCode(err, sqlite3.SQLITE_PERM),
		isCode(err, sqlite3.SQLITE_READONLY), isCode(err, sqlite3.SQLITE_AUTH):
		return &ethos.Error{Kind: ethos.Config, Op: op, Msg: fmt.Sprintf("%s: cannot open store: %v", path, err), Err: err}
	}
	e := normalize(op, err)
	e.Msg = fmt.Sprintf("%s: %v", path, err)
	return e
}

// SQL returns the underlying database handle, for River's SQLite driver.
// It has a single connection: a caller must not hold a transaction open
// while calling a method of d, or both wait for ever.
func (d *DB) SQL() *sql.DB { return d.db }

// Path returns the path the store was opened with.
func (d *DB) Path() string { return d.path }

// Ping checks that the store answers.
func (d *DB) Ping(ctx context.Context) error {
	if err := d.db.PingContext(ctx); err != nil {
		return normalize("sqlite: ping", err)
	}
	return nil
}

// Close closes the store. Closing it again returns the first result.
func (d *DB) Close() error {
	d.closeOnce.Do(func() {
		for _, s := range []*sql.Stmt{d.insertCall, d.upsertCache, d.cachedByKey, d.insertItem, d.updateItem, d.itemByKey} {
			if s != nil {
				s.Close()
			}
		}
		if err := d.read.Close(); err != nil {
			d.closeErr = normalize("sqlite: close", err)
		}
		if err := d.db.Close(); err != nil {
			d.closeErr = normalize("sqlite: close", err)
		}
	})
	return d.closeErr
}

// normalize is the one mapping from driver errors to ethos error kinds:
// no rows is NotFound, and so is a foreign-key violation (a row refers to a
// run or item that does not exist; rows are never deleted, so that is the
// only way to break one), a unique or primary-key violation is Conflict, a
// busy or locked database is Transient, anything else Internal. The driver
// error stays reachable with errors.As.
func normalize(op string, err error) *ethos.Error {
	kind := ethos.Internal
	switch {
	case errors.Is(err, sql.ErrNoRows), isCode(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY):
		kind = ethos.NotFound
	case isCode(err, sqlite3.SQLITE_CONSTRAINT_UNIQUE), isCode(err, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY):
		kind = ethos.Conflict
	case isCode(err, sqlite3.SQLITE_BUSY), isCode(err, sqlite3.SQLITE_LOCKED):
		kind = ethos.Transient
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		kind = ethos.Transient
	}
	return &ethos.Error{Kind: kind, Op: op, Err: err}
}

// isCode reports whether err carries the SQLite result code code. A
// primary code (SQLITE_BUSY) also matches its extended codes
// (SQLITE_BUSY_SNAPSHOT); an extended code matches only itself.
func isCode(err error, code int) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	if code > 0xff {
		return se.Code() == code
	}
	return se.Code()&0xff == code
}
