package pgtest_test

import (
	"strings"
	"testing"

	"github.com/ethos-toolkit/ethos/internal/pgtest"
	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestURLIsAFreshSchema: each URL connects to an empty schema of its own,
// which is where unqualified tables go.
func TestURLIsAFreshSchema(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	seen := map[string]bool{}
	for range 2 {
		conn, err := pgx.Connect(ctx, pgtest.URL(t))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var schema string
		var tables int
		if err := conn.QueryRow(ctx, `SELECT current_schema(),
			(SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema())`).Scan(&schema, &tables); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(schema, "ethos_test_") || tables != 0 || seen[schema] {
			t.Errorf("schema %q with %d tables (seen before: %v); want a new, empty ethos_test_ schema", schema, tables, seen[schema])
		}
		seen[schema] = true
		if _, err := conn.Exec(ctx, `CREATE TABLE t (id int)`); err != nil {
			t.Fatal(err)
		}
	}
}
