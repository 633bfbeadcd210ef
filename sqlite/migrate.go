package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/internal/migrations"
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
	files, err := migrations.Load(fsys, "sqlite: migrations")
	if err != nil {
		return nil, err
	}
	ms := make([]migration, len(files))
	for i, f := range files {
		ms[i] = migration{version: f.Version, name: f.Name, sql: f.SQL}
	}
	return ms, nil
}

// migrate brings db's schema up to the newest version this binary knows,
// applying each missing migration in its own transaction, and returns
// those it applied.
func migrate(ctx context.Context, db *sql.DB) ([]Migration, error) {
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		return nil, err
	}
	return applyMigrations(ctx, db, ms)
}

func applyMigrations(ctx context.Context, db *sql.DB, ms []migration) ([]Migration, error) {
	const op = "sqlite: migrate"
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at TEXT NOT NULL
	)`); err != nil {
		return nil, normalize(op, err)
	}
	current, err := schemaVersion(ctx, db)
	if err != nil {
		return nil, err
	}
	if current > len(ms) {
		return nil, ethos.Errorf(ethos.Config, "store schema version %d is newer than this ethos (%d); upgrade ethos", current, len(ms))
	}
	var applied []Migration
	for _, m := range ms {
		if m.version <= current {
			continue
		}
		ran, err := applyMigration(ctx, db, m)
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
// transaction takes the write lock at BEGIN, so the check and the change
// cannot interleave with another migrator. It reports whether it ran m.
func applyMigration(ctx context.Context, db *sql.DB, m migration) (bool, error) {
	op := fmt.Sprintf("sqlite: migration %04d_%s", m.version, m.name)
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, normalize(op, err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, m.version).Scan(&n); err != nil {
		return false, normalize(op, err)
	}
	if n > 0 {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return false, normalize(op, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.version, m.name, formatTime(time.Now())); err != nil {
		return false, normalize(op, err)
	}
	if err := tx.Commit(); err != nil {
		return false, normalize(op, err)
	}
	return true, nil
}

// Migrated returns the migrations Open applied to the store, oldest
// first: none when it was up to date.
func (d *DB) Migrated() []Migration { return d.migrated }

// SchemaVersion returns the newest migration applied to the store.
func (d *DB) SchemaVersion(ctx context.Context) (int, error) {
	return schemaVersion(ctx, d.db)
}

func schemaVersion(ctx context.Context, db *sql.DB) (int, error) {
	var v int
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, normalize("sqlite: schema version", err)
	}
	return v, nil
}
