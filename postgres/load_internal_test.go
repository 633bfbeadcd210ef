package postgres

import (
	"testing"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/internal/pgtest"
	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"
)

// TestProviderLoadSharesMigration: a snapshot kept from before migration
// 0011 stands for its process, alone on its provider.
func TestProviderLoadSharesMigration(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url := pgtest.URL(t)
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	if ms[10].version != 11 {
		t.Fatalf("migration 11 is %+v", ms[10])
	}
	if _, err := applyMigrations(ctx, pool, ms[:10]); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	if _, err := pool.Exec(ctx, `INSERT INTO provider_load (provider, in_flight, waiting, target, ceiling, auto,
		latency_ns, rpm, tpm, pid, updated_at) VALUES ('anthropic', 3, 1, 8, 4096, true, 1000000000, 600, 0, 42, $1)`, at); err != nil {
		t.Fatal(err)
	}
	store, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	got, err := store.ProviderLoads(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []ethos.ProviderLoad{{Provider: "anthropic", Key: "anthropic", Process: "pid 42", InFlight: 3, Waiting: 1, Target: 8,
		Ceiling: 4096, Auto: true, Latency: time.Second, RPM: 600, Share: 1, PID: 42, UpdatedAt: at}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after migrating (-want +got):\n%s", diff)
	}
}
