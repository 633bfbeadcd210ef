package sqlite

import (
	"context"
	"time"

	"github.com/ethos-toolkit/ethos"
)

// PutProviderLoads replaces the snapshots of the share keys and processes
// in loads and deletes those older than ethos.LoadRetention, in one
// transaction.
func (d *DB) PutProviderLoads(ctx context.Context, loads []ethos.ProviderLoad) error {
	const op = "sqlite: put provider loads"
	if len(loads) == 0 {
		return nil
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return normalize(op, err)
	}
	defer tx.Rollback()
	for _, l := range loads {
		l = l.Keyed()
		if _, err := tx.ExecContext(ctx, `INSERT INTO provider_load (share_key, process, provider, in_flight, waiting,
			target, ceiling, auto, latency_ns, rpm, tpm, share, pid, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (share_key, process) DO UPDATE SET provider = excluded.provider, in_flight = excluded.in_flight,
			waiting = excluded.waiting, target = excluded.target, ceiling = excluded.ceiling, auto = excluded.auto,
			latency_ns = excluded.latency_ns, rpm = excluded.rpm, tpm = excluded.tpm, share = excluded.share,
			pid = excluded.pid, updated_at = excluded.updated_at`,
			l.Key, l.Process, l.Provider, l.InFlight, l.Waiting, l.Target, l.Ceiling, l.Auto, int64(l.Latency), l.RPM, l.TPM,
			l.Share, l.PID, formatTime(l.UpdatedAt)); err != nil {
			return normalize(op, err)
		}
	}
	// timeFormat is fixed-width UTC, so the text compares as the time does.
	if _, err := tx.ExecContext(ctx, `DELETE FROM provider_load WHERE updated_at < ?`,
		formatTime(loads[0].UpdatedAt.Add(-ethos.LoadRetention))); err != nil {
		return normalize(op, err)
	}
	if err := tx.Commit(); err != nil {
		return normalize(op, err)
	}
	return nil
}

// ProviderLoads lists the latest snapshot of every share key and process,
// by provider, key and process.
func (d *DB) ProviderLoads(ctx context.Context) ([]ethos.ProviderLoad, error) {
	const op = "sqlite: provider loads"
	rows, err := d.read.QueryContext(ctx, `SELECT provider, share_key, process, in_flight, waiting, target, ceiling, auto,
		latency_ns, rpm, tpm, share, pid, updated_at FROM provider_load ORDER BY provider, share_key, process`)
	if err != nil {
		return nil, normalize(op, err)
	}
	defer rows.Close()
	var out []ethos.ProviderLoad
	for rows.Next() {
		var l ethos.ProviderLoad
		var latency int64
		var updated string
		if err := rows.Scan(&l.Provider, &l.Key, &l.Process, &l.InFlight, &l.Waiting, &l.Target, &l.Ceiling, &l.Auto,
			&latency, &l.RPM, &l.TPM, &l.Share, &l.PID, &updated); err != nil {
			return nil, normalize(op, err)
		}
		l.Latency = time.Duration(latency)
		if l.UpdatedAt, err = parseTime(updated); err != nil {
			return nil, ethos.Errorf(ethos.Internal, "%s: %s: updated_at %q: %w", op, l.Provider, updated, err)
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, normalize(op, err)
	}
	return out, nil
}
