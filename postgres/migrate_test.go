package postgres_test

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/internal/pgtest"
	"github.com/ethos-toolkit/ethos/postgres"
	"github.com/ethos-toolkit/ethos/sqlite"
	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
)

// migrationCount is the number of migration files, which is the schema
// version a fresh store must reach.
func migrationCount(t *testing.T) int {
	t.Helper()
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no migration files: %v", err)
	}
	return len(files)
}

// tables lists the tables of the store's schema by name.
func tables(t *testing.T, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}) []string {
	t.Helper()
	rows, _ := q.Query(t.Context(), `SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename`)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// migrations lists the applied migrations as "version name".
func migrations(t *testing.T, db *postgres.DB) []string {
	t.Helper()
	rows, _ := db.Pool().Query(t.Context(), `SELECT version || ' ' || name || ' ' || applied_at FROM schema_migrations ORDER BY version`)
	applied, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return applied
}

// TestMigrationsFromEmpty: a new store reaches the newest version with the
// same migrations and tables as a new SQLite store.
func TestMigrationsFromEmpty(t *testing.T) {
	t.Parallel()
	db := openTemp(t)
	ctx := t.Context()
	v, err := db.SchemaVersion(ctx)
	if err != nil {
		t.Fatalf("SchemaVersion: %v", err)
	}
	if want := migrationCount(t); v != want {
		t.Errorf("SchemaVersion = %d, want %d", v, want)
	}

	lite, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ethos.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	rows, err := lite.SQL().QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		want = append(want, n)
	}
	rows.Close()
	if diff := cmp.Diff(want, tables(t, db.Pool())); diff != "" {
		t.Errorf("tables differ from the SQLite store's (-sqlite +postgres):\n%s", diff)
	}
	liteNames, err := filepath.Glob("../sqlite/migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	pgNames, _ := filepath.Glob("migrations/*.sql")
	for i := range liteNames {
		liteNames[i] = filepath.Base(liteNames[i])
	}
	for i := range pgNames {
		pgNames[i] = filepath.Base(pgNames[i])
	}
	if diff := cmp.Diff(liteNames, pgNames); diff != "" {
		t.Errorf("migration files differ from the SQLite store's (-sqlite +postgres):\n%s", diff)
	}
	if got := migrations(t, db); len(got) == 0 || !strings.HasPrefix(got[0], "1 llm_calls ") {
		t.Errorf("schema_migrations = %q, want 1 llm_calls first", got)
	}
}

// TestReopenKeepsDataAndAppliesNothing: opening a store again runs no
// migration and finds what was written.
func TestReopenKeepsDataAndAppliesNothing(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	u := pgtest.URL(t)
	db, err := postgres.Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	c := &ethos.Call{
		Key: "k", Provider: "sandbox", Model: "sandbox/writer", RunID: "r1",
		Request:  ethos.Request{Model: "sandbox/writer", Messages: []ethos.Message{{Role: ethos.RoleUser, Content: "hi"}}},
		Response: &ethos.Response{Text: "hello", StopReason: ethos.StopEnd},
		CostUSD:  0.5,
	}
	if err := db.RecordCall(ctx, c); err != nil {
		t.Fatal(err)
	}
	applied := migrations(t, db)
	db.Close()

	db, err = postgres.Open(ctx, u)
	if err != nil {
		t.Fatalf("re-Open: %v", err)
	}
	defer db.Close()
	if diff := cmp.Diff(applied, migrations(t, db)); diff != "" {
		t.Errorf("re-opening changed schema_migrations (-before +after):\n%s", diff)
	}
	calls, err := db.Calls(ctx, ethos.CallFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]ethos.Call{*c}, calls); diff != "" {
		t.Errorf("calls after re-open (-want +got):\n%s", diff)
	}
}

// TestConcurrentOpensMigrateOnce: processes opening a new store at the
// same time all succeed, and each migration is applied once.
func TestConcurrentOpensMigrateOnce(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	u := pgtest.URL(t)
	const openers = 4
	dbs := make([]*postgres.DB, openers)
	errs := make([]error, openers)
	var wg sync.WaitGroup
	for i := range openers {
		wg.Go(func() { dbs[i], errs[i] = postgres.Open(ctx, u) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d: %v", i, err)
			continue
		}
		defer dbs[i].Close()
	}
	if t.Failed() {
		return
	}
	var rows, versions int
	if err := dbs[0].Pool().QueryRow(ctx, `SELECT COUNT(*), COUNT(DISTINCT version) FROM schema_migrations`).Scan(&rows, &versions); err != nil {
		t.Fatal(err)
	}
	if want := migrationCount(t); rows != want || versions != want {
		t.Errorf("schema_migrations has %d rows of %d versions, want %d of each", rows, versions, want)
	}
}

// TestNewerSchemaIsRefused: a store migrated by a newer ethos is a Config
// error saying to upgrade.
func TestNewerSchemaIsRefused(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	u := pgtest.URL(t)
	db, err := postgres.Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	known := migrationCount(t)
	if _, err := db.Pool().Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, 'from_the_future', now())`, known+2); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = postgres.Open(ctx, u)
	if got := ethos.KindOf(err); got != ethos.Config {
		t.Fatalf("Open of a newer store = %v (kind %q), want kind config", err, got)
	}
	if want := fmt.Sprintf("store schema version %d is newer than this ethos (%d); upgrade ethos", known+2, known); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
}

// TestForeignDatabaseIsRefused opens a schema another application uses as
// a store: Open refuses it with a Config error that names its tables and
// says what to do, and adds nothing to it.
func TestForeignDatabaseIsRefused(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	u := pgtest.URL(t)
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE TABLE notes (id int PRIMARY KEY, body text); INSERT INTO notes VALUES (1, 'keep me')`); err != nil {
		t.Fatal(err)
	}

	db, err := postgres.Open(ctx, u)
	if err == nil {
		db.Close()
		t.Fatal("Open of another application's database succeeded")
	}
	if got := ethos.KindOf(err); got != ethos.Config {
		t.Errorf("Open = %v (kind %q), want kind config", err, got)
	}
	for _, want := range []string{"not an ethos store", "notes", "search_path"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if diff := cmp.Diff([]string{"notes"}, tables(t, conn)); diff != "" {
		t.Errorf("tables after the refusal (-want +got):\n%s", diff)
	}
}

// TestOpenErrors: a URL that is not one, a database that does not exist
// and a schema that does not exist are Config errors, which do not show
// the password.
func TestOpenErrors(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	good, err := url.Parse(pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	noDB := *good
	noDB.Path = "/no_such_database"
	noDB.User = url.UserPassword("postgres", "s3cret")
	noSchema := *good
	q := noSchema.Query()
	q.Set("search_path", "no_such_schema")
	noSchema.RawQuery = q.Encode()
	for _, tt := range []struct{ name, url string }{
		{"not a URL", "postgres://%zz"},
		{"no such database", noDB.String()},
		{"no such schema", noSchema.String()},
	} {
		db, err := postgres.Open(ctx, tt.url)
		if err == nil {
			db.Close()
			t.Errorf("%s: Open succeeded", tt.name)
			continue
		}
		if got := ethos.KindOf(err); got != ethos.Config {
			t.Errorf("%s: Open = %v (kind %q), want kind config", tt.name, err, got)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: error %q shows the password", tt.name, err)
		}
	}
}
