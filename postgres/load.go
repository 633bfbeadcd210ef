package postgres

import (
	"context"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/jackc/pgx/v5"
)

// PutProviderLoads replaces the snapshots of the share keys and processes
// in loads and deletes those older than ethos.LoadRetention, in one
// transaction.
func (d *DB) PutProviderLoads(ctx context.Context, loads []ethos.ProviderLoad) error {
	if len(loads) == 0 {
		return nil
	}
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		for _, l := range loads {
			l = l.Keyed()
			if _, err := tx.Exec(ctx, `INSERT INTO provider_load (share_key, process, provider, in_flight, waiting,
				target, ceiling, auto, latency_ns, rpm, tpm, share, pid, updated_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
				ON CONFLICT (share_key, process) DO UPDATE SET provider = excluded.provider, in_flight = excluded.in_flight,
				waiting = excluded.waiting, target = excluded.target, ceiling = excluded.ceiling, auto = excluded.auto,
				latency_ns = excluded.latency_ns, rpm = excluded.rpm, tpm = excluded.tpm, share = excluded.share,
				pid = excluded.pid, updated_at = excluded.updated_at`,
				l.Key, l.Process, l.Provider, l.InFlight, l.Waiting, l.Target, l.Ceiling, l.Auto, int64(l.Latency), l.RPM, l.TPM,
				l.Share, l.PID, micro(l.UpdatedAt)); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `DELETE FROM provider_load WHERE updated_at < $1`, micro(loads[0].UpdatedAt.Add(-ethos.LoadRetention)))
		return err
	})
	if err != nil {
		return normalize("postgres: put provider loads", err)
	}
	return nil
}

// ProviderLoads lists the latest snapshot of every share key and process,
// by provider, key and process.
func (d *DB) ProviderLoads(ctx context.Context) ([]ethos.ProviderLoad, error) {
	return list(ctx, d.pool, "postgres: provider loads", func(row pgx.Row) (ethos.ProviderLoad, error) {
		var l ethos.ProviderLoad
		var latency int64
		err := row.Scan(&l.Provider, &l.Key, &l.Process, &l.InFlight, &l.Waiting, &l.Target, &l.Ceiling, &l.Auto,
			&latency, &l.RPM, &l.TPM, &l.Share, &l.PID, &l.UpdatedAt)
		l.Latency = time.Duration(latency)
		return l, err
	}, `SELECT provider, share_key, process, in_flight, waiting, target, ceiling, auto, latency_ns,
		rpm, tpm, share, pid, updated_at FROM provider_load
		ORDER BY provider COLLATE "C", share_key COLLATE "C", process COLLATE "C"`)
}
