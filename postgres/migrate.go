package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/internal/migrations"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// A Migration names one numbered schema change, as `ethos store migrate`
// reports it.
type Migration = migrations.Migration

// A migration is one numbered schema change, applied once per store.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads the embedded migrations in version order (see
// migrations.Load).
func loadMigrations(fsys fs.FS) ([]migration, error) {
	files, err := migrations.Load(fsys, "postgres: migrations")
	if err != nil {
		return nil, err
	}
	ms := make([]migration, len(files))
	for i, f := range files {
		ms[i] = migration{version: f.Version, name: f.Name, sql: f.SQL}
	}
	return ms, nil
}

// migrate brings the store's schema up to the newest version this binary
// knows, applying each missing migration in its own transaction, and
// returns those it applied.
func migrate(ctx context.Context, pool *pgxpool.Pool) ([]Migration, error) {
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		return nil, err
	}
	return applyMigrations(ctx, pool, ms)
}

// lockMigrations takes the transaction-scoped advisory lock that
// serialises migrators of the store: of its schema in its database, so
// stores in other schemas migrate independently. Whoever holds it sees
// the schema as the last holder left it.
const lockMigrations = `SELECT pg_advisory_xact_lock(hashtext('ethos: migrate'), hashtext(current_schema()))`

func applyMigrations(ctx context.Context, pool *pgxpool.Pool, ms []migration) ([]Migration, error) {
	const op = "postgres: migrate"
	var current int
	// Creating the table is under the lock too: two sessions running
	// CREATE TABLE IF NOT EXISTS at once can both try to create it.
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, lockMigrations); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			name       TEXT NOT NULL,
			applied_at TIMESTAMPTZ NOT NULL
		)`); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current)
	})
	if err != nil {
		return nil, normalize(op, err)
	}
	if current > len(ms) {
		return nil, ethos.Errorf(ethos.Config, "store schema version %d is newer than this ethos (%d); upgrade ethos", current, len(ms))
	}
	var applied []Migration
	for _, m := range ms {
		if m.version <= current {
			continue
		}
		ran, err := applyMigration(ctx, pool, m)
		if err != nil {
			return applied, err
		}
		if ran {
			applied = append(applied, Migration{Version: m.version, Name: m.name})
		}
	}
	return applied, nil
}

// applyMigration runs m unless another process applied it first: the
// check and the change happen under the migration lock. It reports whether
// it ran m.
func applyMigration(ctx context.Context, pool *pgxpool.Pool, m migration) (bool, error) {
	op := fmt.Sprintf("postgres: migration %04d_%s", m.version, m.name)
	ran := false
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, lockMigrations); err != nil {
			return err
		}
		var applied bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, m.version).Scan(&applied); err != nil {
			return err
		}
		if applied {
			return nil
		}
		// Without arguments pgx sends the file as one simple query, which
		// may hold many statements.
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, now())`, m.version, m.name)
		ran = err == nil
		return err
	})
	if err != nil {
		return false, normalize(op, err)
	}
	return ran, nil
}

// Migrated returns the migrations Open applied to the store, oldest
// first: none when it was up to date.
func (d *DB) Migrated() []Migration { return d.migrated }

// SchemaVersion returns the newest migration applied to the store.
func (d *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := d.pool.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, normalize("postgres: schema version", err)
	}
	return v, nil
}
