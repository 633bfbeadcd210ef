package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/internal/sqlparams"
)

const endpointColumns = `id, provider, name, model, hardware, state, job_id, model_name, call_as,
	attached, cents_per_minute, inactive_timeout, created_at, updated_at, stopped_at, display_name`

// PutEndpoint inserts or replaces the endpoint e.ID and sets e.UpdatedAt;
// a new endpoint's CreatedAt is the current time when zero.
func (d *DB) PutEndpoint(ctx context.Context, e *ethos.Endpoint) error {
	const op = "sqlite: put endpoint"
	if e == nil {
		return ethos.Errorf(ethos.Invalid, "%s: nil endpoint", op)
	}
	if e.ID == "" || e.Provider == "" {
		return ethos.Errorf(ethos.Invalid, "%s: an endpoint needs an ID and a provider (ID %q)", op, e.ID)
	}
	updated := now()
	created := e.CreatedAt.UTC().Round(0)
	if e.CreatedAt.IsZero() {
		created = updated
	}
	if _, err := d.db.ExecContext(ctx, `INSERT INTO endpoints (`+endpointColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET
			provider = excluded.provider, name = excluded.name, model = excluded.model,
			hardware = excluded.hardware, state = excluded.state, job_id = excluded.job_id,
			model_name = excluded.model_name, call_as = excluded.call_as, attached = excluded.attached,
			cents_per_minute = excluded.cents_per_minute, inactive_timeout = excluded.inactive_timeout,
			created_at = excluded.created_at, updated_at = excluded.updated_at, stopped_at = excluded.stopped_at,
			display_name = excluded.display_name`,
		e.ID, e.Provider, e.Name, e.Model, e.Hardware, e.State, e.JobID, e.ModelName, e.CallAs,
		e.Attached, e.CentsPerMinute, e.InactiveTimeout, formatTime(created), formatTime(updated),
		nullTime(e.StoppedAt), e.DisplayName); err != nil {
		return normalize(op, err)
	}
	e.CreatedAt, e.UpdatedAt = created, updated
	return nil
}

// Endpoint returns the endpoint id, or a NotFound error.
func (d *DB) Endpoint(ctx context.Context, id string) (ethos.Endpoint, error) {
	const op = "sqlite: endpoint"
	e, err := scanEndpoint(d.read.QueryRowContext(ctx, `SELECT `+endpointColumns+` FROM endpoints WHERE id = ?`, id))
	if err != nil {
		ne := normalize(op, err)
		if ne.Kind == ethos.NotFound {
			ne.Msg = fmt.Sprintf("no endpoint %s in the store; \"ethos status\" lists the endpoints ethos started", id)
		}
		return ethos.Endpoint{}, ne
	}
	return e, nil
}

// Endpoints lists the endpoints matching f, newest first.
func (d *DB) Endpoints(ctx context.Context, f ethos.EndpointFilter) ([]ethos.Endpoint, error) {
	p := sqlparams.Question()
	if f.Up {
		p.Add("attached = 0 AND state NOT IN (?, ?)", ethos.EndpointStopped, ethos.EndpointError)
	}
	if f.ModelName != "" {
		p.Add("model_name = ?", f.ModelName)
	}
	return list(ctx, d.read, "sqlite: endpoints", scanEndpoint,
		`SELECT `+endpointColumns+` FROM endpoints`+p.Where()+` ORDER BY created_at DESC, rowid DESC`, p.Args...)
}

func scanEndpoint(s scanner) (ethos.Endpoint, error) {
	var (
		e                ethos.Endpoint
		created, updated string
		stopped          sql.NullString
	)
	if err := s.Scan(&e.ID, &e.Provider, &e.Name, &e.Model, &e.Hardware, &e.State, &e.JobID, &e.ModelName,
		&e.CallAs, &e.Attached, &e.CentsPerMinute, &e.InactiveTimeout, &created, &updated, &stopped, &e.DisplayName); err != nil {
		return ethos.Endpoint{}, err
	}
	var err error
	if e.CreatedAt, err = parseTime(created); err != nil {
		return ethos.Endpoint{}, fmt.Errorf("created_at of endpoint %s: %w", e.ID, err)
	}
	if e.UpdatedAt, err = parseTime(updated); err != nil {
		return ethos.Endpoint{}, fmt.Errorf("updated_at of endpoint %s: %w", e.ID, err)
	}
	if stopped.Valid {
		t, err := parseTime(stopped.String)
		if err != nil {
			return ethos.Endpoint{}, fmt.Errorf("stopped_at of endpoint %s: %w", e.ID, err)
		}
		e.StoppedAt = &t
	}
	return e, nil
}
