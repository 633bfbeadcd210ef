package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/internal/sqlparams"
)

var _ ethos.FineTuneStore = (*DB)(nil)

const fileColumns = `id, provider, purpose, name, sha256, bytes, lines, created_at`

const jobColumns = `id, provider, base_model, status, state, train_file, validation_file,
	dataset_path, dataset_sha256, run_id, hyperparameters, progress, output_model, error,
	cost_usd, payload, created_at, updated_at, finished_at, from_checkpoint, recipe`

const eventColumns = `job_id, seq, provider_id, created_at, level, type, message, step, epoch, loss, val_loss`

const modelColumns = `name, provider, provider_model, base_model, job_id, dataset_path,
	dataset_sha256, hyperparameters, cost_usd, created_at, serving, call_as, endpoint_id, parent, recipe`

// PutFile records an upload and sets f.CreatedAt to the current time when
// it is zero. A file with the same provider, purpose and SHA256 is a
// Conflict.
func (d *DB) PutFile(ctx context.Context, f *ethos.File) error {
	const op = "sqlite: put file"
	if f == nil {
		return ethos.Errorf(ethos.Invalid, "%s: nil file", op)
	}
	if f.ID == "" || f.Provider == "" || f.SHA256 == "" {
		return ethos.Errorf(ethos.Invalid, "%s: a file needs an ID, a provider and a SHA256 (ID %q, provider %q)", op, f.ID, f.Provider)
	}
	created := f.CreatedAt.UTC().Round(0)
	if f.CreatedAt.IsZero() {
		created = now()
	}
	if _, err := d.db.ExecContext(ctx, `INSERT INTO files (`+fileColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (provider, purpose, sha256) DO UPDATE SET id = excluded.id, name = excluded.name,
			bytes = excluded.bytes, lines = excluded.lines, created_at = excluded.created_at`,
		f.ID, f.Provider, f.Purpose, f.Name, f.SHA256, f.Bytes, f.Lines, formatTime(created)); err != nil {
		return normalize(op, err)
	}
	f.CreatedAt = created
	return nil
}

// FileByHash returns the recorded upload of content sha256 to provider for
// purpose, or a NotFound error.
func (d *DB) FileByHash(ctx context.Context, provider, purpose, sha256 string) (ethos.File, error) {
	const op = "sqlite: file by hash"
	var (
		f       ethos.File
		created string
	)
	err := d.read.QueryRowContext(ctx, `SELECT `+fileColumns+` FROM files WHERE provider = ? AND purpose = ? AND sha256 = ?`,
		provider, purpose, sha256).Scan(&f.ID, &f.Provider, &f.Purpose, &f.Name, &f.SHA256, &f.Bytes, &f.Lines, &created)
	if err != nil {
		e := normalize(op, err)
		if e.Kind == ethos.NotFound {
			e.Msg = fmt.Sprintf("no %s file with SHA256 %s uploaded to %s", purpose, sha256, provider)
		}
		return ethos.File{}, e
	}
	if f.CreatedAt, err = parseTime(created); err != nil {
		return ethos.File{}, normalize(op, fmt.Errorf("created_at of file %s: %w", f.ID, err))
	}
	return f, nil
}

// jsonValue marshals v for a JSON column.
func jsonValue(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// nullTime is a nullable time column's value.
func nullTime(t *time.Time) any {
	if t == nil || t.IsZero() {
		return nil
	}
	return formatTime(*t)
}

// PutJob inserts or replaces the job with j.ID and sets j.UpdatedAt. A new
// job's CreatedAt is the current time when zero; a replaced job keeps its
// recorded CreatedAt unless j gives one. An empty State is Unknown.
func (d *DB) PutJob(ctx context.Context, j *ethos.FineTuneJob) error {
	const op = "sqlite: put job"
	if j == nil {
		return ethos.Errorf(ethos.Invalid, "%s: nil job", op)
	}
	if j.ID == "" || j.Provider == "" {
		return ethos.Errorf(ethos.Invalid, "%s: a job needs an ID and a provider (ID %q, provider %q)", op, j.ID, j.Provider)
	}
	payload, err := jsonText(j.Payload)
	if err != nil {
		return ethos.Errorf(ethos.Invalid, "%s %s: payload: %w", op, j.ID, err)
	}
	hyper, err := jsonValue(j.Hyperparameters)
	if err != nil {
		return ethos.Errorf(ethos.Invalid, "%s %s: hyperparameters: %w", op, j.ID, err)
	}
	progress, err := jsonValue(j.Progress)
	if err != nil {
		return ethos.Errorf(ethos.Invalid, "%s %s: progress: %w", op, j.ID, err)
	}
	state := j.State
	if state == "" {
		state = ethos.FineTuneUnknown
	}
	updated := now()
	givenCreated := !j.CreatedAt.IsZero()
	created := j.CreatedAt.UTC().Round(0)
	if !givenCreated {
		created = updated
	}
	var createdText string
	err = d.db.QueryRowContext(ctx, `INSERT INTO finetune_jobs (`+jobColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET
			provider = excluded.provider, base_model = excluded.base_model, status = excluded.status,
			state = excluded.state, train_file = excluded.train_file, validation_file = excluded.validation_file,
			dataset_path = excluded.dataset_path, dataset_sha256 = excluded.dataset_sha256, run_id = excluded.run_id,
			hyperparameters = excluded.hyperparameters, progress = excluded.progress,
			output_model = excluded.output_model, error = excluded.error, cost_usd = excluded.cost_usd,
			payload = excluded.payload, updated_at = excluded.updated_at, finished_at = excluded.finished_at,
			from_checkpoint = CASE WHEN excluded.from_checkpoint <> '' THEN excluded.from_checkpoint ELSE finetune_jobs.from_checkpoint END,
			recipe = CASE WHEN excluded.recipe <> '' THEN excluded.recipe ELSE finetune_jobs.recipe END,
			created_at = CASE WHEN ? THEN excluded.created_at ELSE finetune_jobs.created_at END
		RETURNING created_at`,
		j.ID, j.Provider, j.BaseModel, j.Status, string(state), j.TrainFile, j.ValidationFile,
		j.DatasetPath, j.DatasetSHA256, j.RunID, hyper, progress, j.OutputModel, j.Error,
		j.CostUSD, payload, formatTime(created), formatTime(updated), nullTime(j.FinishedAt), j.FromCheckpoint, j.Recipe,
		givenCreated).Scan(&createdText)
	if err != nil {
		return normalize(op, err)
	}
	if created, err = parseTime(createdText); err != nil {
		return normalize(op, fmt.Errorf("created_at of job %s: %w", j.ID, err))
	}
	j.State, j.CreatedAt, j.UpdatedAt = state, created, updated
	if j.FinishedAt != nil {
		t := j.FinishedAt.UTC().Round(0)
		j.FinishedAt = &t
	}
	return nil
}

// Job returns the job with id, or a NotFound error.
func (d *DB) Job(ctx context.Context, id string) (ethos.FineTuneJob, error) {
	const op = "sqlite: job"
	j, err := scanJob(d.read.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM finetune_jobs WHERE id = ?`, id))
	if err != nil {
		e := normalize(op, err)
		if e.Kind == ethos.NotFound {
			e.Msg = fmt.Sprintf("no fine-tune job %s in the store", id)
		}
		return ethos.FineTuneJob{}, e
	}
	return j, nil
}

// finalStates are the states Active leaves out.
var finalStates = []any{string(ethos.FineTuneCompleted), string(ethos.FineTuneFailed), string(ethos.FineTuneCancelled)}

// Jobs lists the jobs matching f, newest first by CreatedAt.
func (d *DB) Jobs(ctx context.Context, f ethos.FineTuneFilter) ([]ethos.FineTuneJob, error) {
	p := sqlparams.Question()
	if f.Provider != "" {
		p.Add("provider = ?", f.Provider)
	}
	if f.Active {
		p.Add("state NOT IN (?, ?, ?)", finalStates...)
	}
	q := `SELECT ` + jobColumns + ` FROM finetune_jobs` + p.Where() + ` ORDER BY created_at DESC, rowid DESC`
	if f.Limit > 0 {
		q += ` LIMIT ` + p.Next(f.Limit)
	}
	return list(ctx, d.read, "sqlite: jobs", scanJob, q, p.Args...)
}

func scanJob(s scanner) (ethos.FineTuneJob, error) {
	var (
		j                ethos.FineTuneJob
		hyper, progress  sql.NullString
		created, updated string
		finished         sql.NullString
		state            string
	)
	if err := s.Scan(&j.ID, &j.Provider, &j.BaseModel, &j.Status, &state, &j.TrainFile, &j.ValidationFile,
		&j.DatasetPath, &j.DatasetSHA256, &j.RunID, &hyper, &progress, &j.OutputModel, &j.Error,
		&j.CostUSD, jsonColumn{&j.Payload}, &created, &updated, &finished, &j.FromCheckpoint, &j.Recipe); err != nil {
		return ethos.FineTuneJob{}, err
	}
	j.State = ethos.FineTuneState(state)
	if hyper.Valid && hyper.String != "" {
		if err := json.Unmarshal([]byte(hyper.String), &j.Hyperparameters); err != nil {
			return ethos.FineTuneJob{}, fmt.Errorf("hyperparameters of job %s: %w", j.ID, err)
		}
	}
	if progress.Valid && progress.String != "" {
		if err := json.Unmarshal([]byte(progress.String), &j.Progress); err != nil {
			return ethos.FineTuneJob{}, fmt.Errorf("progress of job %s: %w", j.ID, err)
		}
	}
	var err error
	if j.CreatedAt, err = parseTime(created); err != nil {
		return ethos.FineTuneJob{}, fmt.Errorf("created_at of job %s: %w", j.ID, err)
	}
	if j.UpdatedAt, err = parseTime(updated); err != nil {
		return ethos.FineTuneJob{}, fmt.Errorf("updated_at of job %s: %w", j.ID, err)
	}
	if finished.Valid {
		t, err := parseTime(finished.String)
		if err != nil {
			return ethos.FineTuneJob{}, fmt.Errorf("finished_at of job %s: %w", j.ID, err)
		}
		j.FinishedAt = &t
	}
	return j, nil
}

// AddEvents appends the events of jobID not already recorded (same
// ProviderID, or, without one, same time and message) and returns how many
// were new. Each new event gets the next Seq of the job; the events' own
// JobID and Seq are ignored. An unknown job is NotFound.
func (d *DB) AddEvents(ctx context.Context, jobID string, events []ethos.FineTuneEvent) (int, error) {
	const op = "sqlite: add events"
	if len(events) == 0 {
		// Still say whether the job exists, as with events to add.
		var n int
		if err := d.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM finetune_jobs WHERE id = ?`, jobID).Scan(&n); err != nil {
			return 0, normalize(op, err)
		}
		if n == 0 {
			return 0, &ethos.Error{Kind: ethos.NotFound, Op: op, Msg: fmt.Sprintf("no fine-tune job %s in the store", jobID)}
		}
		return 0, nil
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, normalize(op, err)
	}
	defer tx.Rollback()
	var seq int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM finetune_events WHERE job_id = ?`, jobID).Scan(&seq); err != nil {
		return 0, normalize(op, err)
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO finetune_events (`+eventColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`)
	if err != nil {
		return 0, normalize(op, err)
	}
	defer stmt.Close()
	added := 0
	for _, ev := range events {
		created := ev.CreatedAt
		if created.IsZero() {
			created = now()
		}
		res, err := stmt.ExecContext(ctx, jobID, seq+1, ev.ProviderID, formatTime(created), ev.Level, ev.Type,
			ev.Message, ev.Step, ev.Epoch, nullFloat(ev.Loss), nullFloat(ev.ValLoss))
		if err != nil {
			e := normalize(op, err)
			if e.Kind == ethos.NotFound {
				e.Msg = fmt.Sprintf("no fine-tune job %s in the store", jobID)
			}
			return 0, e
		}
		if n, err := res.RowsAffected(); err != nil {
			return 0, normalize(op, err)
		} else if n > 0 {
			seq++
			added++
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, normalize(op, err)
	}
	return added, nil
}

func nullFloat(f *float64) any {
	if f == nil {
		return nil
	}
	return *f
}

// Events lists jobID's events in Seq order. An unknown job has none.
func (d *DB) Events(ctx context.Context, jobID string) ([]ethos.FineTuneEvent, error) {
	return list(ctx, d.read, "sqlite: events", func(s scanner) (ethos.FineTuneEvent, error) {
		var (
			ev            ethos.FineTuneEvent
			created       string
			loss, valLoss sql.NullFloat64
		)
		if err := s.Scan(&ev.JobID, &ev.Seq, &ev.ProviderID, &created, &ev.Level, &ev.Type, &ev.Message,
			&ev.Step, &ev.Epoch, &loss, &valLoss); err != nil {
			return ev, err
		}
		var err error
		if ev.CreatedAt, err = parseTime(created); err != nil {
			return ev, fmt.Errorf("created_at of event %d of job %s: %w", ev.Seq, jobID, err)
		}
		if loss.Valid {
			ev.Loss = &loss.Float64
		}
		if valLoss.Valid {
			ev.ValLoss = &valLoss.Float64
		}
		return ev, nil
	}, `SELECT `+eventColumns+` FROM finetune_events WHERE job_id = ? ORDER BY seq`, jobID)
}

// PutModel inserts or replaces the registry entry m.Name and sets
// m.CreatedAt to the current time when zero. m.Evals is not stored: it is
// read from the eval runs that name the model.
func (d *DB) PutModel(ctx context.Context, m *ethos.Model) error {
	const op = "sqlite: put model"
	if m == nil {
		return ethos.Errorf(ethos.Invalid, "%s: nil model", op)
	}
	if m.Name == "" || m.Provider == "" || m.ProviderModel == "" {
		return ethos.Errorf(ethos.Invalid, "%s: a model needs a name, a provider and the provider's model name (name %q)", op, m.Name)
	}
	hyper, err := jsonValue(m.Hyperparameters)
	if err != nil {
		return ethos.Errorf(ethos.Invalid, "%s %s: hyperparameters: %w", op, m.Name, err)
	}
	created := m.CreatedAt.UTC().Round(0)
	if m.CreatedAt.IsZero() {
		created = now()
	}
	if _, err := d.db.ExecContext(ctx, `INSERT INTO models (`+modelColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET
			provider = excluded.provider, provider_model = excluded.provider_model,
			base_model = excluded.base_model, job_id = excluded.job_id, dataset_path = excluded.dataset_path,
			dataset_sha256 = excluded.dataset_sha256, hyperparameters = excluded.hyperparameters,
			cost_usd = excluded.cost_usd, created_at = excluded.created_at,
			serving = excluded.serving, call_as = excluded.call_as, endpoint_id = excluded.endpoint_id,
			parent = excluded.parent, recipe = excluded.recipe`,
		m.Name, m.Provider, m.ProviderModel, m.BaseModel, m.JobID, m.DatasetPath, m.DatasetSHA256,
		hyper, m.CostUSD, formatTime(created), m.Serving, m.CallAs, m.EndpointID, m.Parent, m.Recipe); err != nil {
		return normalize(op, err)
	}
	m.CreatedAt = created
	return nil
}

// Model returns the registry entry name with the evals that included it,
// or a NotFound error.
func (d *DB) Model(ctx context.Context, name string) (ethos.Model, error) {
	const op = "sqlite: model"
	m, err := scanModel(d.read.QueryRowContext(ctx, `SELECT `+modelColumns+` FROM models WHERE name = ?`, name))
	if err != nil {
		e := normalize(op, err)
		if e.Kind == ethos.NotFound {
			e.Msg = fmt.Sprintf("no model %s in the registry", name)
		}
		return ethos.Model{}, e
	}
	evals, err := d.modelEvals(ctx, op, name)
	if err != nil {
		return ethos.Model{}, err
	}
	m.Evals = evals[name]
	return m, nil
}

// Models lists the registry, newest first, each model with the evals that
// included it.
func (d *DB) Models(ctx context.Context) ([]ethos.Model, error) {
	const op = "sqlite: models"
	models, err := list(ctx, d.read, op, scanModel, `SELECT `+modelColumns+` FROM models ORDER BY created_at DESC, rowid DESC`)
	if err != nil || len(models) == 0 {
		return nil, err
	}
	evals, err := d.modelEvals(ctx, op, "")
	if err != nil {
		return nil, err
	}
	for i := range models {
		models[i].Evals = evals[models[i].Name]
	}
	return models, nil
}

// modelEvals maps model references to the IDs of the eval runs whose spec
// (ethos.EvalSpec, the run's params) lists them among its models, oldest
// eval first; name "" reads every model's. Its errors are normalised
// under op, the caller's.
func (d *DB) modelEvals(ctx context.Context, op, name string) (map[string][]string, error) {
	q := `SELECT json_extract(m.value, '$.ref'), r.id
		FROM runs r, json_each(r.params, '$.models') m
		WHERE r.kind = ? AND json_valid(r.params) AND m.type = 'object'`
	args := []any{ethos.RunKindEval}
	if name != "" {
		q += ` AND json_extract(m.value, '$.ref') = ?`
		args = append(args, name)
	}
	q += ` ORDER BY r.created_at, r.rowid`
	type use struct {
		ref sql.NullString
		id  string
	}
	uses, err := list(ctx, d.read, op, func(s scanner) (use, error) {
		var u use
		err := s.Scan(&u.ref, &u.id)
		return u, err
	}, q, args...)
	if err != nil {
		return nil, err
	}
	evals := map[string][]string{}
	for _, u := range uses {
		if !u.ref.Valid {
			continue
		}
		// A spec naming the same model twice still counts one eval.
		if ids := evals[u.ref.String]; len(ids) > 0 && ids[len(ids)-1] == u.id {
			continue
		}
		evals[u.ref.String] = append(evals[u.ref.String], u.id)
	}
	return evals, nil
}

func scanModel(s scanner) (ethos.Model, error) {
	var (
		m       ethos.Model
		hyper   sql.NullString
		created string
	)
	if err := s.Scan(&m.Name, &m.Provider, &m.ProviderModel, &m.BaseModel, &m.JobID, &m.DatasetPath,
		&m.DatasetSHA256, &hyper, &m.CostUSD, &created, &m.Serving, &m.CallAs, &m.EndpointID, &m.Parent, &m.Recipe); err != nil {
		return ethos.Model{}, err
	}
	if hyper.Valid && hyper.String != "" {
		if err := json.Unmarshal([]byte(hyper.String), &m.Hyperparameters); err != nil {
			return ethos.Model{}, fmt.Errorf("hyperparameters of model %s: %w", m.Name, err)
		}
	}
	var err error
	if m.CreatedAt, err = parseTime(created); err != nil {
		return ethos.Model{}, fmt.Errorf("created_at of model %s: %w", m.Name, err)
	}
	return m, nil
}
