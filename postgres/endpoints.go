package postgres

import (
	"context"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/internal/sqlparams"
	"github.com/jackc/pgx/v5"
)

const endpointColumns = `id, provider, name, model, hardware, state, job_id, model_name, call_as,
	attached, cents_per_minute, inactive_timeout, created_at, updated_at, stopped_at, display_name`

// PutEndpoint inserts or replaces the endpoint e.ID and sets e.UpdatedAt;
// a new endpoint's CreatedAt is the current time when zero.
func (d *DB) PutEndpoint(ctx context.Context, e *ethos.Endpoint) error {
	const op = "postgres: put endpoint"
	if e == nil {
		return ethos.Errorf(ethos.Invalid, "%s: nil endpoint", op)
	}
	if e.ID == "" || e.Provider == "" {
		return ethos.Errorf(ethos.Invalid, "%s: an endpoint needs an ID and a provider (ID %q)", op, e.ID)
	}
	updated := now()
	created := micro(e.CreatedAt)
	if e.CreatedAt.IsZero() {
		created = updated
	}
	if _, err := d.pool.Exec(ctx, `INSERT INTO endpoints (`+endpointColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
		ON CONFLICT (id) DO UPDATE SET
			provider = excluded.provider, name = excluded.name, model = excluded.model,
			hardware = excluded.hardware, state = excluded.state, job_id = excluded.job_id,
			model_name = excluded.model_name, call_as = excluded.call_as, attached = excluded.attached,
			cents_per_minute = excluded.cents_per_minute, inactive_timeout = excluded.inactive_timeout,
			created_at = excluded.created_at, updated_at = excluded.updated_at, stopped_at = excluded.stopped_at,
			display_name = excluded.display_name`,
		e.ID, e.Provider, e.Name, e.Model, e.Hardware, e.State, e.JobID, e.ModelName, e.CallAs,
		e.Attached, e.CentsPerMinute, e.InactiveTimeout, created, updated,
		nullTime(e.StoppedAt), e.DisplayName); err != nil {
		return normalize(op, err)
	}
	e.CreatedAt, e.UpdatedAt = created, updated
	if e.StoppedAt != nil && !e.StoppedAt.IsZero() {
		t := micro(*e.StoppedAt)
		e.StoppedAt = &t
	}
	return nil
}

// Endpoint returns the endpoint id, or a NotFound error.
func (d *DB) Endpoint(ctx context.Context, id string) (ethos.Endpoint, error) {
	e, err := scanEndpoint(d.pool.QueryRow(ctx, `SELECT `+endpointColumns+` FROM endpoints WHERE id = $1`, id))
	if err != nil {
		return ethos.Endpoint{}, notFound(normalize("postgres: endpoint", err),
			"no endpoint %s in the store; \"ethos status\" lists the endpoints ethos started", id)
	}
	return e, nil
}

// Endpoints lists the endpoints matching f, newest first.
func (d *DB) Endpoints(ctx context.Context, f ethos.EndpointFilter) ([]ethos.Endpoint, error) {
	p := sqlparams.Dollar()
	if f.Up {
		p.Add("NOT attached AND state <> ?", ethos.EndpointStopped)
		p.Add("state <> ?", ethos.EndpointError)
	}
	if f.ModelName != "" {
		p.Add("model_name = ?", f.ModelName)
	}
	return list(ctx, d.pool, "postgres: endpoints", scanEndpoint,
		`SELECT `+endpointColumns+` FROM endpoints`+p.Where()+` ORDER BY created_at DESC, seq DESC`, p.Args...)
}

func scanEndpoint(row pgx.Row) (ethos.Endpoint, error) {
	var e ethos.Endpoint
	err := row.Scan(&e.ID, &e.Provider, &e.Name, &e.Model, &e.Hardware, &e.State, &e.JobID, &e.ModelName,
		&e.CallAs, &e.Attached, &e.CentsPerMinute, &e.InactiveTimeout, &e.CreatedAt, &e.UpdatedAt, &e.StoppedAt, &e.DisplayName)
	return e, err
}
