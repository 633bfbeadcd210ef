package sqlite_test

import (
	"bytes"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/sqlite"
	"github.com/ethos-toolkit/ethos/storetest"
	"github.com/google/go-cmp/cmp"
)

// openTemp opens a fresh store in the test's temporary directory and closes
// it when the test ends.
func openTemp(t testing.TB) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "ethos.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) ethos.Store { return openTemp(t) })
}

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

	tables := tableNames(t, db.SQL())
	if diff := cmp.Diff([]string{"answers", "batch_items", "batches", "endpoints", "eval_prompts", "files", "finetune_events", "finetune_jobs", "item_counts", "items", "judgments", "llm_cache", "llm_calls", "models", "provider_load", "runs", "schema_migrations", "trait_scores"}, tables); diff != "" {
		t.Errorf("tables mismatch (-want +got):\n%s", diff)
	}

	var name, appliedAt string
	if err := db.SQL().QueryRowContext(ctx, `SELECT name, applied_at FROM schema_migrations WHERE version = 1`).Scan(&name, &appliedAt); err != nil {
		t.Fatalf("migration 1 not recorded: %v", err)
	}
	if name != "llm_calls" || appliedAt == "" {
		t.Errorf("migration 1 recorded as %q at %q", name, appliedAt)
	}
}

func TestReopenKeepsDataAndAppliesNothing(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "nested", "dir", "ethos.db")

	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if db.Path() != path {
		t.Errorf("Path() = %q, want %q", db.Path(), path)
	}
	c := &ethos.Call{
		Key: "k", Provider: "sandbox", Model: "sandbox/writer", RunID: "r1",
		Request:  ethos.Request{Model: "sandbox/writer", Messages: []ethos.Message{{Role: ethos.RoleUser, Content: "hi"}}},
		Response: &ethos.Response{Text: "hello", StopReason: ethos.StopEnd},
		CostUSD:  0.5,
	}
	if err := db.RecordCall(ctx, c); err != nil {
		t.Fatalf("RecordCall: %v", err)
	}
	snapshot := func(db *sqlite.DB) []string {
		rows, err := db.SQL().QueryContext(ctx, `SELECT version || ' ' || name || ' ' || applied_at FROM schema_migrations ORDER BY version`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		return out
	}
	applied := snapshot(db)
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	db, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("re-Open: %v", err)
	}
	defer db.Close()
	if diff := cmp.Diff(applied, snapshot(db)); diff != "" {
		t.Errorf("re-opening changed schema_migrations (-before +after):\n%s", diff)
	}
	calls, err := db.Calls(ctx, ethos.CallFilter{})
	if err != nil {
		t.Fatalf("Calls: %v", err)
	}
	if diff := cmp.Diff([]ethos.Call{*c}, calls); diff != "" {
		t.Errorf("calls after re-open mismatch (-want +got):\n%s", diff)
	}
	resp, ok, err := db.CachedResponse(ctx, "k")
	if err != nil || !ok || resp.Text != "hello" {
		t.Errorf("CachedResponse after re-open = %q, %v, %v; want hello, true, nil", resp.Text, ok, err)
	}
	if spent, err := db.Spent(ctx, ethos.CallFilter{RunID: "r1"}); err != nil || spent != 0.5 {
		t.Errorf("Spent after re-open = %v, %v; want 0.5", spent, err)
	}
}

func TestNewerSchemaIsRefused(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "ethos.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	known := migrationCount(t)
	if _, err := db.SQL().ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'from_the_future', '')`, known+2); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	_, err = sqlite.Open(ctx, path)
	if got := ethos.KindOf(err); got != ethos.Config {
		t.Fatalf("Open of a newer store = %v (kind %q), want kind config", err, got)
	}
	want := fmt.Sprintf("store schema version %d is newer than this ethos (%d); upgrade ethos", known+2, known)
	if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the path and say %q", err, want)
	}
}

func TestUnusablePaths(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notDB := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notDB, []byte(strings.Repeat("these are notes, not a database\n", 200)), 0o644); err != nil {
		t.Fatal(err)
	}
	aFile := filepath.Join(dir, "plain-file")
	if err := os.WriteFile(aFile, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, path, want string
	}{
		{"not a database", notDB, "file is not an ethos store (not a SQLite database)"},
		{"directory", dir, "is a directory"},
		{"parent is a file", filepath.Join(aFile, "ethos.db"), "create directory"},
		{"empty", "", "empty store path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := sqlite.Open(t.Context(), tt.path)
			if err == nil {
				db.Close()
				t.Fatalf("Open(%q) succeeded", tt.path)
			}
			if got := ethos.KindOf(err); got != ethos.Config {
				t.Errorf("Open(%q) = %v (kind %q), want kind config", tt.path, err, got)
			}
			if !strings.Contains(err.Error(), tt.path) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Open(%q) error %q should name the path and say %q", tt.path, err, tt.want)
			}
		})
	}

	// The refused file is left as it was.
	b, err := os.ReadFile(notDB)
	if err != nil || !strings.HasPrefix(string(b), "these are notes") {
		t.Errorf("notes.txt changed: %v", err)
	}
}

func TestPragmas(t *testing.T) {
	t.Parallel()
	db := openTemp(t)
	tests := []struct {
		pragma, want string
	}{
		{"journal_mode", "wal"},
		{"foreign_keys", "1"},
		{"synchronous", "1"}, // NORMAL
		{"busy_timeout", "10000"},
	}
	for _, tt := range tests {
		var got string
		if err := db.SQL().QueryRowContext(t.Context(), "PRAGMA "+tt.pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", tt.pragma, err)
		}
		if got != tt.want {
			t.Errorf("PRAGMA %s = %q, want %q", tt.pragma, got, tt.want)
		}
	}
	if n := db.SQL().Stats().MaxOpenConnections; n != 1 {
		t.Errorf("MaxOpenConnections = %d, want 1", n)
	}
}

func TestForeignKeysEnforced(t *testing.T) {
	t.Parallel()
	db := openTemp(t)
	_, err := db.SQL().ExecContext(t.Context(), `INSERT INTO llm_cache (key, call_id) VALUES ('k', 12345)`)
	if err == nil {
		t.Fatal("cache entry for a missing call was accepted")
	}
	if !strings.Contains(err.Error(), "FOREIGN KEY") {
		t.Errorf("error = %v, want a foreign key violation", err)
	}
}

// The kept counts equal a count of the items themselves through inserts,
// repeated puts, status changes back and forth, and more than one run.
func TestItemCountsStayExact(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := openTemp(t)
	for _, run := range []string{"gen-a", "gen-b"} {
		if err := db.CreateRun(ctx, &ethos.Run{ID: run, Kind: "generate", Status: ethos.RunRunning}); err != nil {
			t.Fatal(err)
		}
	}
	statuses := []ethos.ItemStatus{ethos.ItemPending, ethos.ItemAccepted, ethos.ItemRejected, ethos.ItemQuarantined}
	var items []*ethos.Item
	for i := range 60 {
		it := &ethos.Item{RunID: []string{"gen-a", "gen-b"}[i%2], Stage: []string{"idea", "document", "response"}[i%3],
			Key: fmt.Sprintf("k/%d", i), Status: ethos.ItemPending}
		if _, err := db.PutItem(ctx, it); err != nil {
			t.Fatal(err)
		}
		again := *it // a second put of the same key changes nothing
		if created, err := db.PutItem(ctx, &again); err != nil || created {
			t.Fatalf("second put: created %v, %v", created, err)
		}
		items = append(items, it)
	}
	for round := range 3 {
		for i, it := range items {
			it.Status = statuses[(i*7+round)%len(statuses)]
			if err := db.UpdateItem(ctx, it); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, run := range []string{"gen-a", "gen-b"} {
		got, err := db.CountItems(ctx, run)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := db.SQL().QueryContext(ctx, `SELECT stage, status, COUNT(*) FROM items WHERE run_id = ? GROUP BY stage, status ORDER BY stage, status`, run)
		if err != nil {
			t.Fatal(err)
		}
		var want []ethos.ItemCount
		for rows.Next() {
			var c ethos.ItemCount
			if err := rows.Scan(&c.Stage, &c.Status, &c.Count); err != nil {
				t.Fatal(err)
			}
			want = append(want, c)
		}
		rows.Close()
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: kept counts differ from the items (-counted +kept):\n%s", run, diff)
		}
	}
}

// TestForeignDatabaseIsRefused opens another application's SQLite file as
// a store: Open refuses it with a config error that names the path and
// says what to do, and adds nothing to it. An empty file is a new store.
func TestForeignDatabaseIsRefused(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "notes.db")
	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.ExecContext(ctx, `CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes (body) VALUES ('keep me')`); err != nil {
		t.Fatal(err)
	}
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	db, err := sqlite.Open(ctx, path)
	if err == nil {
		db.Close()
		t.Fatal("Open of another application's database succeeded")
	}
	if got := ethos.KindOf(err); got != ethos.Config {
		t.Errorf("Open = %v (kind %q), want kind config", err, got)
	}
	for _, want := range []string{path, "not an ethos store", "notes", "--db"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Error("the refused file was changed")
	}
	ro, err := sql.Open("sqlite", path+"?_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if diff := cmp.Diff([]string{"notes"}, tableNames(t, ro)); diff != "" {
		t.Errorf("tables (-want +got):\n%s", diff)
	}

	empty := filepath.Join(t.TempDir(), "empty.db")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	db, err = sqlite.Open(ctx, empty)
	if err != nil {
		t.Fatalf("Open of an empty file: %v", err)
	}
	db.Close()
}

// tableNames lists the tables of db by name.
func tableNames(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), `SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}
