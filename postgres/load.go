package postgres

import (
	"context"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/jackc/pgx/v5"
)

// PutProviderLoads replaces the snapshots of the providers in loads, in
// one transaction.
func (d *DB) PutProviderLoads(ctx context.Context, loads []ethos.ProviderLoad) error {
	if len(loads) == 0 {
		return nil
	}
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		for _, l := range loads {
			if _, err := tx.Exec(ctx, `INSERT INTO provider_load (provider, in_flight, waiting, target, ceiling, auto,
				latency_ns, rpm, tpm, pid, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
				ON CONFLICT (provider) DO UPDATE SET in_flight = excluded.in_flight, waiting = excluded.waiting,
				target = excluded.target, ceiling = excluded.ceiling, auto = excluded.auto, latency_ns = excluded.latency_ns,
				rpm = excluded.rpm, tpm = excluded.tpm, pid = excluded.pid, updated_at = excluded.updated_at`,
				l.Provider, l.InFlight, l.Waiting, l.Target, l.Ceiling, l.Auto, int64(l.Latency), l.RPM, l.TPM, l.PID,
				micro(l.UpdatedAt)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return normalize("postgres: put provider loads", err)
	}
	return nil
}

// ProviderLoads lists the latest snapshot of every provider, by name.
func (d *DB) ProviderLoads(ctx context.Context) ([]ethos.ProviderLoad, error) {
	return list(ctx, d.pool, "postgres: provider loads", func(row pgx.Row) (ethos.ProviderLoad, error) {
		var l ethos.ProviderLoad
		var latency int64
		err := row.Scan(&l.Provider, &l.InFlight, &l.Waiting, &l.Target, &l.Ceiling, &l.Auto, &latency,
			&l.RPM, &l.TPM, &l.PID, &l.UpdatedAt)
		l.Latency = time.Duration(latency)
		return l, err
	}, `SELECT provider, in_flight, waiting, target, ceiling, auto, latency_ns,
		rpm, tpm, pid, updated_at FROM provider_load ORDER BY provider COLLATE "C"`)
}
