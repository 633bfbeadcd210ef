package jobs

import (
	"context"
	"database/sql"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/ethos-toolkit/ethos"
)

// Backend is the database a Client keeps its jobs in: SQLite (the
// default, one process) or PostgreSQL (many processes, on many machines).
// Make one with SQLite or Postgres.
type Backend struct{ impl backend }

// SQLite is the job queue in a SQLite database, which must have exactly
// one open connection (see the package documentation).
func SQLite(db *sql.DB) Backend {
	return Backend{sqliteBackend{riverDriver[*sql.Tx]{riversqlite.New(db)}, db}}
}

// Postgres is the job queue in a PostgreSQL database. River's tables live
// in the first schema of the pool's search_path, beside the store's, so
// one database can hold several stores, each with its own queue. Workers
// learn of new jobs through LISTEN/NOTIFY as soon as they are committed,
// without waiting for FetchPollInterval. A started Client keeps one of the
// pool's connections for listening, so the pool needs room for it beside
// the work's own queries (pool_max_conns in the URL).
func Postgres(pool *pgxpool.Pool) Backend {
	return Backend{postgresBackend{riverDriver[pgx.Tx]{riverpgxv5.New(pool)}, pool}}
}

// backend is what differs between the databases: River's driver, and how
// the few statements River has no API for are run. Those statements are
// written once, with $1… placeholders (SQLite's driver binds $N by
// position too) and times passed through timeArg.
type backend interface {
	migrate(ctx context.Context) error
	// newRiver makes River's client, fetching no more tasks than gate
	// can soon take (see fetchPilot).
	newRiver(cfg *river.Config, gate *workGate) (riverClient, error)
	// exec runs a statement and returns how many rows it changed.
	exec(ctx context.Context, query string, args ...any) (int64, error)
	// query runs a query and calls row for each row it returns, with the
	// function that scans that row.
	query(ctx context.Context, query string, args []any, row func(scan func(dest ...any) error) error) error
	// timeArg is t as a statement argument compared with River's times.
	timeArg(t time.Time) any
	// groupInserts reports whether concurrent inserts are better made in
	// one transaction (see newInserter).
	groupInserts() bool
	// heartbeats reports whether started clients beat and sweep the jobs
	// of dead ones (see SweepDead): where many processes share the queue.
	heartbeats() bool
}

// riverClient is what a Client uses of River's client, whichever its
// transaction type (*sql.Tx for SQLite, pgx.Tx for PostgreSQL).
type riverClient interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	StopAndCancel(ctx context.Context) error
	SubscribeConfig(config *river.SubscribeConfig) (<-chan *river.Event, func())
	Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	InsertMany(ctx context.Context, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error)
	JobGet(ctx context.Context, id int64) (*rivertype.JobRow, error)
	Queues() *river.QueueBundle
}

// MigrateOn creates or upgrades River's tables in b. It is idempotent.
func MigrateOn(ctx context.Context, b Backend) error {
	if b.impl == nil {
		return errNoBackend
	}
	return b.impl.migrate(ctx)
}

var errNoBackend = ethos.Errorf(ethos.Config, "jobs: no database: make the Backend with jobs.SQLite or jobs.Postgres")

// riverDriver is the part of a backend that River's driver does, whatever
// its transaction type.
type riverDriver[TTx any] struct{ driver riverdriver.Driver[TTx] }

func (d riverDriver[TTx]) migrate(ctx context.Context) error {
	migrator, err := rivermigrate.New(d.driver, &rivermigrate.Config{
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return ethos.Errorf(ethos.Internal, "jobs: migrate: %w", err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return ethos.Errorf(ethos.Internal, "jobs: migrate: %w", err)
	}
	return nil
}

func (d riverDriver[TTx]) newRiver(cfg *river.Config, gate *workGate) (riverClient, error) {
	return river.NewClient(pilotedDriver[TTx]{Driver: d.driver, pilot: &fetchPilot{gate: gate}}, cfg)
}

// sqliteBackend keeps the jobs in a SQLite database.
type sqliteBackend struct {
	riverDriver[*sql.Tx]
	db *sql.DB
}

func (b sqliteBackend) exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := b.db.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (b sqliteBackend) query(ctx context.Context, query string, args []any, row func(scan func(dest ...any) error) error) error {
	rows, err := b.db.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	return eachRow(rows, row)
}

// riverTimeFormat is how River's SQLite driver writes timestamps: as text,
// compared as text, so an argument in any other format silently compares
// wrong.
const riverTimeFormat = "2006-01-02 15:04:05.000"

func (sqliteBackend) timeArg(t time.Time) any { return t.UTC().Format(riverTimeFormat) }

// groupInserts: SQLite has one writer, and River's own fetches and
// completions wait behind every insert transaction.
func (sqliteBackend) groupInserts() bool { return true }

// heartbeats: one process works a SQLite store, under its lock.
func (sqliteBackend) heartbeats() bool { return false }

// postgresBackend keeps the jobs in a PostgreSQL database. River is given
// no schema of its own, so its migrations, queries and notification
// channels all follow the connections' search_path.
type postgresBackend struct {
	riverDriver[pgx.Tx]
	pool *pgxpool.Pool
}

func (b postgresBackend) exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := b.pool.Exec(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func (b postgresBackend) query(ctx context.Context, query string, args []any, row func(scan func(dest ...any) error) error) error {
	rows, err := b.pool.Query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	return eachRow(rows, row)
}

func (postgresBackend) timeArg(t time.Time) any { return t.UTC() }

// groupInserts: many connections insert at once, and a batch holding the
// same task twice would fail in River's one INSERT … ON CONFLICT.
func (postgresBackend) groupInserts() bool { return false }

func (postgresBackend) heartbeats() bool { return true }

// migrate adds the clients' heartbeat table (see SweepDead) to River's.
// Processes starting together (workers) take turns: River's migrations
// are not safe to run concurrently.
func (b postgresBackend) migrate(ctx context.Context) error {
	conn, err := b.pool.Acquire(ctx)
	if err != nil {
		return ethos.Errorf(ethos.Internal, "jobs: migrate: %w", err)
	}
	defer conn.Release()
	const lock = `hashtextextended(current_schema() || '/jobs.migrate', 0)`
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(`+lock+`)`); err != nil {
		return ethos.Errorf(ethos.Internal, "jobs: migrate: lock: %w", err)
	}
	defer func() {
		if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(`+lock+`)`); err != nil {
			// The session's locks go with its connection.
			conn.Conn().Close(context.WithoutCancel(ctx))
		}
	}()
	if err := b.riverDriver.migrate(ctx); err != nil {
		return err
	}
	if _, err := b.pool.Exec(ctx, beatTable); err != nil {
		return ethos.Errorf(ethos.Internal, "jobs: migrate: heartbeats: %w", err)
	}
	return nil
}

// rowSet is what *sql.Rows and pgx.Rows have in common.
type rowSet interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// eachRow calls row for each of rs's rows.
func eachRow(rs rowSet, row func(scan func(dest ...any) error) error) error {
	for rs.Next() {
		if err := row(rs.Scan); err != nil {
			return err
		}
	}
	return rs.Err()
}
