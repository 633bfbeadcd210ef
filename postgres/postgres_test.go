package postgres_test

import (
	"testing"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/internal/pgtest"
	"github.com/ethos-toolkit/ethos/postgres"
	"github.com/ethos-toolkit/ethos/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// openTemp opens a store in a new schema and closes it when the test ends.
func openTemp(t testing.TB) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(t.Context(), pgtest.URL(t))
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

func TestTryLock(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	ctx := t.Context()
	a, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	unlock, err := a.TryLock(ctx, "worker")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.TryLock(ctx, "worker"); ethos.KindOf(err) != ethos.Conflict {
		t.Fatalf("a second holder: %v, want conflict", err)
	}
	other, err := b.TryLock(ctx, "monitor")
	if err != nil {
		t.Fatalf("another lock name: %v", err)
	}
	other()
	unlock()
	again, err := b.TryLock(ctx, "worker")
	if err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	again()
}
