package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/google/go-cmp/cmp"
)

// rawDB opens path without the store's settings, to provoke driver errors.
func rawDB(t *testing.T, path, params string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path+params)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "n.db")
	db := rawDB(t, path, "?_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_txlock=immediate")
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE); INSERT INTO t VALUES (1, 'a');
		CREATE TABLE child (t_id INTEGER REFERENCES t (id))`); err != nil {
		t.Fatal(err)
	}
	_, uniqueErr := db.ExecContext(ctx, `INSERT INTO t VALUES (2, 'a')`)
	_, pkErr := db.ExecContext(ctx, `INSERT INTO t VALUES (1, 'b')`)
	_, syntaxErr := db.ExecContext(ctx, `INSERT INTO nowhere VALUES (1)`)
	_, fkErr := db.ExecContext(ctx, `INSERT INTO child VALUES (99)`)
	noRows := db.QueryRowContext(ctx, `SELECT id FROM t WHERE id = 99`).Scan(new(int))

	// Hold the write lock on one connection; a second one that will not
	// wait gets SQLITE_BUSY at once.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	other := rawDB(t, path, "?_pragma=busy_timeout(0)")
	_, busyErr := other.ExecContext(ctx, `INSERT INTO t VALUES (3, 'c')`)

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	canceledErr := other.PingContext(canceled)

	tests := []struct {
		name string
		err  error
		want ethos.Kind
	}{
		{"no rows", noRows, ethos.NotFound},
		{"unique", uniqueErr, ethos.Conflict},
		{"primary key", pkErr, ethos.Conflict},
		{"foreign key", fkErr, ethos.NotFound},
		{"busy", busyErr, ethos.Transient},
		{"canceled", canceledErr, ethos.Transient},
		{"no such table", syntaxErr, ethos.Internal},
		{"wrapped unique", fmt.Errorf("insert: %w", uniqueErr), ethos.Conflict},
	}
	for _, tt := range tests {
		if tt.err == nil {
			t.Fatalf("%s: the driver returned no error", tt.name)
		}
		got := normalize("sqlite: test op", tt.err)
		if got.Kind != tt.want {
			t.Errorf("%s: normalize(%v).Kind = %q, want %q", tt.name, tt.err, got.Kind, tt.want)
		}
		if !errors.Is(got, tt.err) {
			t.Errorf("%s: the driver error is not in the chain", tt.name)
		}
		if !strings.HasPrefix(got.Error(), "sqlite: test op: ") {
			t.Errorf("%s: error %q does not start with the operation", tt.name, got)
		}
	}
}

func TestLoadMigrations(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		files   []string
		want    []string // version_name, or nil for an error
		wantErr string
	}{
		{"ordered", []string{"0002_b.sql", "0001_a.sql", "0003_c_d.sql"}, []string{"1_a", "2_b", "3_c_d"}, ""},
		{"none", nil, []string{}, ""},
		{"gap", []string{"0001_a.sql", "0003_c.sql"}, nil, "expected version 2"},
		{"starts at zero", []string{"0000_a.sql"}, nil, "expected version 1"},
		{"no name", []string{"0001.sql"}, nil, "want NNNN_name.sql"},
		{"not a number", []string{"one_a.sql"}, nil, "want NNNN_name.sql"},
	}
	for _, tt := range tests {
		fsys := fstest.MapFS{}
		for _, f := range tt.files {
			fsys["migrations/"+f] = &fstest.MapFile{Data: []byte("SELECT 1;")}
		}
		ms, err := loadMigrations(fsys)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: err = %v, want one saying %q", tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		got := []string{}
		for _, m := range ms {
			got = append(got, fmt.Sprintf("%d_%s", m.version, m.name))
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s: migrations mismatch (-want +got):\n%s", tt.name, diff)
		}
	}

	// The embedded set itself must load.
	if _, err := loadMigrations(migrationFiles); err != nil {
		t.Errorf("embedded migrations: %v", err)
	}
}

func TestApplyOnlyMissingMigrations(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := rawDB(t, filepath.Join(t.TempDir(), "m.db"), "?_txlock=immediate")
	ms := []migration{
		{1, "a", `CREATE TABLE a (x INTEGER); INSERT INTO a VALUES (1);`},
		{2, "b", `INSERT INTO a VALUES (2);`},
		{3, "c", `INSERT INTO a VALUES (3);`},
	}
	if _, err := applyMigrations(ctx, db, ms[:1]); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second pass must change nothing
		if _, err := applyMigrations(ctx, db, ms); err != nil {
			t.Fatal(err)
		}
	}
	var got string
	if err := db.QueryRowContext(ctx, `SELECT group_concat(x) FROM (SELECT x FROM a ORDER BY x)`).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != "1,2,3" {
		t.Errorf("rows after migrating = %q, want 1,2,3 (each migration once)", got)
	}
	if v, err := schemaVersion(ctx, db); err != nil || v != 3 {
		t.Errorf("schema version = %d, %v; want 3", v, err)
	}

	// A failing migration leaves nothing behind and records nothing.
	bad := append(ms, migration{4, "bad", `INSERT INTO a VALUES (4); INSERT INTO missing VALUES (1);`})
	if _, err := applyMigrations(ctx, db, bad); err == nil || !strings.Contains(err.Error(), "0004_bad") {
		t.Errorf("failing migration: err = %v, want one naming 0004_bad", err)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM a WHERE x = 4`).Scan(&n); err != nil || n != 0 {
		t.Errorf("failed migration left %d rows (%v)", n, err)
	}
	if v, err := schemaVersion(ctx, db); err != nil || v != 3 {
		t.Errorf("schema version after a failed migration = %d, %v; want 3", v, err)
	}
}

// TestProviderLoadSharesMigration: a snapshot kept from before migration
// 0011 stands for its process, alone on its provider.
func TestProviderLoadSharesMigration(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "m.db")
	db := rawDB(t, path, "?_txlock=immediate")
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	if ms[10].version != 11 {
		t.Fatalf("migration 11 is %+v", ms[10])
	}
	if _, err := applyMigrations(ctx, db, ms[:10]); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO provider_load (provider, in_flight, waiting, target, ceiling, auto,
		latency_ns, rpm, tpm, pid, updated_at) VALUES ('anthropic', 3, 1, 8, 4096, 1, 1000000000, 600, 0, 42,
		'2026-12-03T09:00:00.000000000Z')`); err != nil {
		t.Fatal(err)
	}
	if _, err := applyMigrations(ctx, db, ms); err != nil {
		t.Fatal(err)
	}
	store, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	got, err := store.ProviderLoads(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []ethos.ProviderLoad{{Provider: "anthropic", Key: "anthropic", Process: "pid 42", InFlight: 3, Waiting: 1, Target: 8,
		Ceiling: 4096, Auto: true, Latency: time.Second, RPM: 600, Share: 1, PID: 42,
		UpdatedAt: time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after migrating (-want +got):\n%s", diff)
	}
}

// TestCountByKeySegmentReadsTheIndex: Drive's count of a run's accepted
// items by category is answered from the index on (run_id, stage, status,
// key), without reading the items' rows (half a look's time at 10,000
// examples; see BenchmarkState), while a page of a stage's items in one
// status still comes in id order without a sort.
func TestCountByKeySegmentReadsTheIndex(t *testing.T) {
	d, err := Open(t.Context(), filepath.Join(t.TempDir(), "ethos.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	plan := func(query string, args ...any) string {
		rows, err := d.read.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+query, args...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var steps []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			steps = append(steps, detail)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return strings.Join(steps, "\n")
	}
	const covering = "USING COVERING INDEX items_run_stage_status_key"
	if p := plan(countByKeySegmentSQL, "run", "response", "accepted"); !strings.Contains(p, covering) {
		t.Errorf("the count's plan lacks %q:\n%s", covering, p)
	}
	page := `SELECT id, key FROM items WHERE run_id = ? AND stage = ? AND status = ? AND id > ? ORDER BY id LIMIT 100`
	if p := plan(page, "run", "response", "accepted", 0); strings.Contains(p, "TEMP B-TREE") {
		t.Errorf("a page of items in one status is sorted rather than read in id order:\n%s", p)
	}
}
