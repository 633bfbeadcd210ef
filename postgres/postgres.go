// Package postgres is ethos's store on PostgreSQL: an ethos.Store shared
// by every process that opens the same database (a team's runs, a
// dashboard on a server, workers on several machines), over pgx v5 and
// its connection pool. Its schema is in numbered migrations embedded in
// the binary, with the same numbers and names as the SQLite store's, and
// it passes the same conformance suite (storetest).
//
// The store keeps its tables in the first schema of the connection's
// search_path (public unless the URL says otherwise, e.g.
// ?search_path=ethos), so one database can hold several stores.
// Timestamps are timestamptz, which keeps microseconds: the store rounds
// every time it is given down to the microsecond, so what a caller holds
// after a write equals what it reads back.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DB is an open ethos store in a PostgreSQL database. It implements
// ethos.Store and is safe for concurrent use, by many processes too.
type DB struct {
	pool *pgxpool.Pool
	name string // the URL without its password, for messages
	// migrated are the migrations Open applied.
	migrated []Migration
}

var _ ethos.Store = (*DB)(nil)

// Open connects to the database at url (postgres://user:pass@host/db?…,
// or a key=value connection string; pool settings such as pool_max_conns
// are read from it too) and applies the migrations its store lacks; many
// processes may open the same store at once. A URL that does not parse, a
// database that refuses the credentials or does not exist, a database
// whose schema holds tables that are not an ethos store, and a store
// written by a newer ethos are Config errors; a server that cannot be
// reached is Transient.
func Open(ctx context.Context, url string) (*DB, error) {
	const op = "postgres: open"
	name := redact(url)
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, &ethos.Error{Kind: ethos.Config, Op: op, Msg: fmt.Sprintf("%s: not a PostgreSQL URL: %v", name, err), Err: err}
	}
	cfg.AfterConnect = func(_ context.Context, conn *pgx.Conn) error {
		// Times come back in UTC, as the SQLite store returns them,
		// rather than in the process's local zone.
		conn.TypeMap().RegisterType(&pgtype.Type{Name: "timestamptz", OID: pgtype.TimestamptzOID,
			Codec: &pgtype.TimestamptzCodec{ScanLocation: time.UTC}})
		return nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, openError(name, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, openError(name, err)
	}
	if err := refuseForeign(ctx, pool, name); err != nil {
		pool.Close()
		return nil, err
	}
	migrated, err := migrate(ctx, pool)
	if err != nil {
		pool.Close()
		var e *ethos.Error
		if errors.As(err, &e) && e.Kind == ethos.Config {
			e.Op, e.Msg = op, name+": "+e.Error()
		}
		return nil, err
	}
	return &DB{pool: pool, name: name, migrated: migrated}, nil
}

// redact returns url without its password, to name the store in messages.
func redact(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.Scheme != "" {
		return u.Redacted()
	}
	return "the PostgreSQL store"
}

// openError explains why the store cannot be opened.
func openError(name string, err error) error {
	e := normalize("postgres: open", err)
	e.Msg = fmt.Sprintf("%s: %v", name, err)
	return e
}

// refuseForeign refuses a schema that holds tables but is not an ethos
// store, such as another application's database given by mistake:
// migrating it would add ethos's and the job queue's tables to it. It only
// reads, so a refused database is left as it was. A schema without tables
// is a new store.
func refuseForeign(ctx context.Context, pool *pgxpool.Pool, name string) error {
	const op = "postgres: open"
	var (
		schema *string
		tables []string
		isOurs bool
	)
	err := pool.QueryRow(ctx, `SELECT current_schema(),
		COALESCE((SELECT array_agg(tablename::text ORDER BY tablename) FROM pg_tables WHERE schemaname = current_schema()), '{}'),
		(SELECT COUNT(*) = 3 FROM information_schema.columns WHERE table_schema = current_schema()
			AND table_name = 'schema_migrations' AND column_name IN ('version', 'name', 'applied_at'))`).Scan(&schema, &tables, &isOurs)
	if err != nil {
		return openError(name, err)
	}
	if schema == nil {
		return &ethos.Error{Kind: ethos.Config, Op: op, Msg: fmt.Sprintf(
			"%s: no schema of the search_path exists to hold the store; create it or name another (?search_path=…)", name)}
	}
	if len(tables) == 0 || isOurs {
		return nil
	}
	if len(tables) > 5 {
		tables = append(tables[:5], "…")
	}
	return &ethos.Error{Kind: ethos.Config, Op: op, Msg: fmt.Sprintf(
		"%s: schema %s holds tables (%s) but is not an ethos store; ethos adds its tables only to an empty schema or its own store: point the store at another database, or at a schema of its own (?search_path=…)",
		name, *schema, strings.Join(tables, ", "))}
}

// Pool returns the connection pool, for River's Postgres driver.
func (d *DB) Pool() *pgxpool.Pool { return d.pool }

// Ping checks that the store answers.
func (d *DB) Ping(ctx context.Context) error {
	if err := d.pool.Ping(ctx); err != nil {
		return normalize("postgres: ping", err)
	}
	return nil
}

// Close closes the pool; closing it again does nothing.
func (d *DB) Close() error {
	d.pool.Close()
	return nil
}

// normalize is the one mapping from driver errors to ethos error kinds:
// no rows is NotFound, and so is a foreign-key violation (a row refers to
// a run or item that does not exist), a unique violation is Conflict; a
// cancelled or expired context, a lost or refused connection, a deadlock,
// a serialization failure, a server shutting down or out of connections
// are Transient; a value the database cannot hold (a NUL byte in text, a
// number out of range) is Invalid; credentials, a database or schema that
// does not exist and missing privileges are Config; anything else is
// Internal. The driver error stays reachable with errors.As.
func normalize(op string, err error) *ethos.Error {
	kind := ethos.Internal
	var pg *pgconn.PgError
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		kind = ethos.NotFound
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		kind = ethos.Transient
	case errors.As(err, &pg):
		kind = kindOfCode(pg.Code)
	case connectionLost(err):
		kind = ethos.Transient
	}
	return &ethos.Error{Kind: kind, Op: op, Err: err}
}

// kindOfCode maps a SQLSTATE to an error kind.
func kindOfCode(code string) ethos.Kind {
	switch code {
	case "23505": // unique_violation
		return ethos.Conflict
	case "23503": // foreign_key_violation
		return ethos.NotFound
	case "40001", "40P01", // serialization_failure, deadlock_detected
		"55P03",                   // lock_not_available
		"57014",                   // query_canceled (a statement timeout)
		"57P01", "57P02", "57P03": // admin_shutdown, crash_shutdown, cannot_connect_now
		return ethos.Transient
	case "3D000", "3F000", "42501": // invalid_catalog_name, invalid_schema_name, insufficient_privilege
		return ethos.Config
	}
	switch code[:2] {
	case "08", "53": // connection_exception, insufficient_resources
		return ethos.Transient
	case "22": // data_exception
		return ethos.Invalid
	case "28": // invalid_authorization_specification
		return ethos.Config
	}
	return ethos.Internal
}

// connectionLost reports whether err is a failure to reach the server or
// a connection that broke, as opposed to an answer from the server.
func connectionLost(err error) bool {
	var (
		connect *pgconn.ConnectError
		netErr  net.Error
	)
	return errors.As(err, &connect) || errors.As(err, &netErr) || pgconn.Timeout(err) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}
