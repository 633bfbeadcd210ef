package postgres

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/internal/pgtest"
	"github.com/jackc/pgx/v5"
)

func TestNormalize(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE TABLE t (id int PRIMARY KEY, name text UNIQUE); INSERT INTO t VALUES (1, 'a');
		CREATE TABLE child (t_id int REFERENCES t (id))`); err != nil {
		t.Fatal(err)
	}
	_, uniqueErr := conn.Exec(ctx, `INSERT INTO t VALUES (2, 'a')`)
	_, pkErr := conn.Exec(ctx, `INSERT INTO t VALUES (1, 'b')`)
	_, noTable := conn.Exec(ctx, `INSERT INTO nowhere VALUES (1)`)
	_, fkErr := conn.Exec(ctx, `INSERT INTO child VALUES (99)`)
	_, nulErr := conn.Exec(ctx, `INSERT INTO t VALUES (3, $1)`, "a\x00b")
	noRows := conn.QueryRow(ctx, `SELECT id FROM t WHERE id = 99`).Scan(new(int))
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	canceledErr := conn.Ping(canceled)
	// A socket directory where no server listens.
	_, refused := pgx.Connect(ctx, "postgres://postgres@/postgres?host="+filepath.Join(t.TempDir(), "nothing"))

	tests := []struct {
		name string
		err  error
		want ethos.Kind
	}{
		{"no rows", noRows, ethos.NotFound},
		{"unique", uniqueErr, ethos.Conflict},
		{"primary key", pkErr, ethos.Conflict},
		{"foreign key", fkErr, ethos.NotFound},
		{"NUL in text", nulErr, ethos.Invalid},
		{"canceled", canceledErr, ethos.Transient},
		{"no server", refused, ethos.Transient},
		{"no such table", noTable, ethos.Internal},
		{"wrapped unique", fmt.Errorf("insert: %w", uniqueErr), ethos.Conflict},
	}
	for _, tt := range tests {
		if tt.err == nil {
			t.Fatalf("%s: the driver returned no error", tt.name)
		}
		got := normalize("postgres: test op", tt.err)
		if got.Kind != tt.want {
			t.Errorf("%s: normalize(%v).Kind = %q, want %q", tt.name, tt.err, got.Kind, tt.want)
		}
		if !errors.Is(got, tt.err) {
			t.Errorf("%s: the driver error is not in the chain", tt.name)
		}
		if !strings.HasPrefix(got.Error(), "postgres: test op: ") {
			t.Errorf("%s: error %q does not start with the operation", tt.name, got)
		}
	}
	if !errors.Is(normalize("op", canceledErr), context.Canceled) {
		t.Error("a cancelled context is not kept in the chain")
	}
}

// TestItemCountsStayExact moves items between statuses from many writers
// at once, some each way, and checks the kept counts against the items.
func TestItemCountsStayExact(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db, err := Open(ctx, pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.CreateRun(ctx, &ethos.Run{ID: "r", Kind: "generate"}); err != nil {
		t.Fatal(err)
	}
	const n = 40
	items := make([]*ethos.Item, n)
	for i := range items {
		items[i] = &ethos.Item{RunID: "r", Stage: "document", Key: fmt.Sprintf("k%d", i)}
		if i%2 == 1 {
			items[i].Status = ethos.ItemRejected
		}
		if _, err := db.PutItem(ctx, items[i]); err != nil {
			t.Fatal(err)
		}
	}
	errs := make(chan error, n)
	for _, it := range items {
		go func() {
			// Pending items become rejected and rejected ones pending.
			if it.Status == ethos.ItemPending {
				it.Status = ethos.ItemRejected
			} else {
				it.Status = ethos.ItemPending
			}
			errs <- db.UpdateItem(ctx, it)
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("UpdateItem: %v", err)
		}
	}
	got, err := db.CountItems(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	want := []ethos.ItemCount{{Stage: "document", Status: ethos.ItemPending, Count: n / 2}, {Stage: "document", Status: ethos.ItemRejected, Count: n / 2}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("CountItems = %v, want %v", got, want)
	}
}
