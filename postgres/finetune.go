package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/internal/sqlparams"
	"github.com/jackc/pgx/v5"
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
// it is zero. It replaces the record of the same provider, purpose and
// SHA256.
func (d *DB) PutFile(ctx context.Context, f *ethos.File) error {
	const op = "postgres: put file"
	if f == nil {
		return ethos.Errorf(ethos.Invalid, "%s: nil file", op)
	}
	if f.ID == "" || f.Provider == "" || f.SHA256 == "" {
		return ethos.Errorf(ethos.Invalid, "%s: a file needs an ID, a provider and a SHA256 (ID %q, provider %q)", op, f.ID, f.Provider)
	}
	created := micro(f.CreatedAt)
	if f.CreatedAt.IsZero() {
		created = now()
	}
	if _, err := d.pool.Exec(ctx, `INSERT INTO files (`+fileColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (provider, purpose, sha256) DO UPDATE SET id = excluded.id, name = excluded.name,
			bytes = excluded.bytes, lines = excluded.lines, created_at = excluded.created_at`,
		f.ID, f.Provider, f.Purpose, f.Name, f.SHA256, f.Bytes, f.Lines, created); err != nil {
		return normalize(op, err)
	}
	f.CreatedAt = created
	return nil
}

// FileByHash returns the recorded upload of content sha256 to provider for
// purpose, or a NotFound error.
func (d *DB) FileByHash(ctx context.Context, provider, purpose, sha256 string) (ethos.File, error) {
	var f ethos.File
	err := d.pool.QueryRow(ctx, `SELECT `+fileColumns+` FROM files WHERE provider = $1 AND purpose = $2 AND sha256 = $3`,
		provider, purpose, sha256).Scan(&f.ID, &f.Provider, &f.Purpose, &f.Name, &f.SHA256, &f.Bytes, &f.Lines, &f.CreatedAt)
	if err != nil {
		return ethos.File{}, notFound(normalize("postgres: file by hash", err),
			"no %s file with SHA256 %s uploaded to %s", purpose, sha256, provider)
	}
	return f, nil
}

// PutJob inserts or replaces the job with j.ID and sets j.UpdatedAt. A new
// job's CreatedAt is the current time when zero; a replaced job keeps its
// recorded CreatedAt unless j gives one. An empty State is Unknown.
func (d *DB) PutJob(ctx context.Context, j *ethos.FineTuneJob) error {
	const op = "postgres: put job"
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
	hyper, err := json.Marshal(j.Hyperparameters)
	if err != nil {
		return ethos.Errorf(ethos.Invalid, "%s %s: hyperparameters: %w", op, j.ID, err)
	}
	progress, err := json.Marshal(j.Progress)
	if err != nil {
		return ethos.Errorf(ethos.Invalid, "%s %s: progress: %w", op, j.ID, err)
	}
	state := j.State
	if state == "" {
		state = ethos.FineTuneUnknown
	}
	updated := now()
	givenCreated := !j.CreatedAt.IsZero()
	created := micro(j.CreatedAt)
	if !givenCreated {
		created = updated
	}
	err = d.queryRowNotify(ctx, "job:"+j.ID, []any{&created}, `INSERT INTO finetune_jobs (`+jobColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $21, $22)
		ON CONFLICT (id) DO UPDATE SET
			provider = excluded.provider, base_model = excluded.base_model, status = excluded.status,
			state = excluded.state, train_file = excluded.train_file, validation_file = excluded.validation_file,
			dataset_path = excluded.dataset_path, dataset_sha256 = excluded.dataset_sha256, run_id = excluded.run_id,
			hyperparameters = excluded.hyperparameters, progress = excluded.progress,
			output_model = excluded.output_model, error = excluded.error, cost_usd = excluded.cost_usd,
			payload = excluded.payload, updated_at = excluded.updated_at, finished_at = excluded.finished_at,
			from_checkpoint = CASE WHEN excluded.from_checkpoint <> '' THEN excluded.from_checkpoint ELSE finetune_jobs.from_checkpoint END,
			recipe = CASE WHEN excluded.recipe <> '' THEN excluded.recipe ELSE finetune_jobs.recipe END,
			created_at = CASE WHEN $20 THEN excluded.created_at ELSE finetune_jobs.created_at END
		RETURNING created_at`,
		j.ID, j.Provider, j.BaseModel, j.Status, string(state), j.TrainFile, j.ValidationFile,
		j.DatasetPath, j.DatasetSHA256, j.RunID, string(hyper), string(progress), j.OutputModel, j.Error,
		j.CostUSD, payload, created, updated, nullTime(j.FinishedAt), givenCreated, j.FromCheckpoint, j.Recipe)
	if err != nil {
		return normalize(op, err)
	}
	j.State, j.CreatedAt, j.UpdatedAt = state, created, updated
	if j.FinishedAt != nil {
		t := micro(*j.FinishedAt)
		j.FinishedAt = &t
	}
	return nil
}

// Job returns the job with id, or a NotFound error.
func (d *DB) Job(ctx context.Context, id string) (ethos.FineTuneJob, error) {
	j, err := scanJob(d.pool.QueryRow(ctx, `SELECT `+jobColumns+` FROM finetune_jobs WHERE id = $1`, id))
	if err != nil {
		return ethos.FineTuneJob{}, notFound(normalize("postgres: job", err), "no fine-tune job %s in the store", id)
	}
	return j, nil
}

// Jobs lists the jobs matching f, newest first by CreatedAt.
func (d *DB) Jobs(ctx context.Context, f ethos.FineTuneFilter) ([]ethos.FineTuneJob, error) {
	p := sqlparams.Dollar()
	if f.Provider != "" {
		p.Add("provider = ?", f.Provider)
	}
	if f.Active {
		p.Add("state <> ALL(?)", []string{string(ethos.FineTuneCompleted), string(ethos.FineTuneFailed), string(ethos.FineTuneCancelled)})
	}
	q := `SELECT ` + jobColumns + ` FROM finetune_jobs` + p.Where() + ` ORDER BY created_at DESC, seq DESC`
	if f.Limit > 0 {
		q += ` LIMIT ` + p.Next(f.Limit)
	}
	return list(ctx, d.pool, "postgres: jobs", scanJob, q, p.Args...)
}

func scanJob(row pgx.Row) (ethos.FineTuneJob, error) {
	var (
		j                    ethos.FineTuneJob
		hyper, progress, pay []byte
		state                string
	)
	if err := row.Scan(&j.ID, &j.Provider, &j.BaseModel, &j.Status, &state, &j.TrainFile, &j.ValidationFile,
		&j.DatasetPath, &j.DatasetSHA256, &j.RunID, &hyper, &progress, &j.OutputModel, &j.Error,
		&j.CostUSD, &pay, &j.CreatedAt, &j.UpdatedAt, &j.FinishedAt, &j.FromCheckpoint, &j.Recipe); err != nil {
		return ethos.FineTuneJob{}, err
	}
	j.State = ethos.FineTuneState(state)
	j.Payload = rawJSON(pay)
	if len(hyper) > 0 {
		if err := json.Unmarshal(hyper, &j.Hyperparameters); err != nil {
			return ethos.FineTuneJob{}, fmt.Errorf("hyperparameters of job %s: %w", j.ID, err)
		}
	}
	if len(progress) > 0 {
		if err := json.Unmarshal(progress, &j.Progress); err != nil {
			return ethos.FineTuneJob{}, fmt.Errorf("progress of job %s: %w", j.ID, err)
		}
	}
	return j, nil
}

// AddEvents appends the events of jobID not already recorded (same
// ProviderID, or, without one, same time and message) and returns how many
// were new. Each new event gets the next Seq of the job; the events' own
// JobID and Seq are ignored. An unknown job is NotFound. The job's row is
// locked while its events are added, so that writers of the same job's
// events take turns numbering them.
func (d *DB) AddEvents(ctx context.Context, jobID string, events []ethos.FineTuneEvent) (int, error) {
	const op = "postgres: add events"
	added := 0
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		var seq int64
		if err := tx.QueryRow(ctx, `SELECT COALESCE((SELECT MAX(seq) FROM finetune_events WHERE job_id = $1), 0)
			FROM finetune_jobs WHERE id = $1 FOR UPDATE`, jobID).Scan(&seq); err != nil {
			return err
		}
		for _, ev := range events {
			created := now()
			if !ev.CreatedAt.IsZero() {
				created = micro(ev.CreatedAt)
			}
			tag, err := tx.Exec(ctx, `INSERT INTO finetune_events (`+eventColumns+`)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING`,
				jobID, seq+1, ev.ProviderID, created, ev.Level, ev.Type,
				ev.Message, ev.Step, ev.Epoch, ev.Loss, ev.ValLoss)
			if err != nil {
				return err
			}
			if tag.RowsAffected() > 0 {
				seq++
				added++
			}
		}
		if added == 0 {
			return nil
		}
		return notify(ctx, tx, "job:"+jobID)
	})
	if err != nil {
		return 0, notFound(normalize(op, err), "no fine-tune job %s in the store", jobID)
	}
	return added, nil
}

// Events lists jobID's events in Seq order. An unknown job has none.
func (d *DB) Events(ctx context.Context, jobID string) ([]ethos.FineTuneEvent, error) {
	return list(ctx, d.pool, "postgres: events", func(row pgx.Row) (ethos.FineTuneEvent, error) {
		var ev ethos.FineTuneEvent
		err := row.Scan(&ev.JobID, &ev.Seq, &ev.ProviderID, &ev.CreatedAt, &ev.Level, &ev.Type, &ev.Message,
			&ev.Step, &ev.Epoch, &ev.Loss, &ev.ValLoss)
		return ev, err
	}, `SELECT `+eventColumns+` FROM finetune_events WHERE job_id = $1 ORDER BY seq`, jobID)
}

// PutModel inserts or replaces the registry entry m.Name and sets
// m.CreatedAt to the current time when zero. m.Evals is not stored: it is
// read from the eval runs that name the model.
func (d *DB) PutModel(ctx context.Context, m *ethos.Model) error {
	const op = "postgres: put model"
	if m == nil {
		return ethos.Errorf(ethos.Invalid, "%s: nil model", op)
	}
	if m.Name == "" || m.Provider == "" || m.ProviderModel == "" {
		return ethos.Errorf(ethos.Invalid, "%s: a model needs a name, a provider and the provider's model name (name %q)", op, m.Name)
	}
	hyper, err := json.Marshal(m.Hyperparameters)
	if err != nil {
		return ethos.Errorf(ethos.Invalid, "%s %s: hyperparameters: %w", op, m.Name, err)
	}
	created := micro(m.CreatedAt)
	if m.CreatedAt.IsZero() {
		created = now()
	}
	if _, err := d.execNotify(ctx, "models", `INSERT INTO models (`+modelColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
		ON CONFLICT (name) DO UPDATE SET
			provider = excluded.provider, provider_model = excluded.provider_model,
			base_model = excluded.base_model, job_id = excluded.job_id, dataset_path = excluded.dataset_path,
			dataset_sha256 = excluded.dataset_sha256, hyperparameters = excluded.hyperparameters,
			cost_usd = excluded.cost_usd, created_at = excluded.created_at,
			serving = excluded.serving, call_as = excluded.call_as, endpoint_id = excluded.endpoint_id,
			parent = excluded.parent, recipe = excluded.recipe`,
		m.Name, m.Provider, m.ProviderModel, m.BaseModel, m.JobID, m.DatasetPath, m.DatasetSHA256,
		string(hyper), m.CostUSD, created, m.Serving, m.CallAs, m.EndpointID, m.Parent, m.Recipe); err != nil {
		return normalize(op, err)
	}
	m.CreatedAt = created
	return nil
}

// Model returns the registry entry name with the evals that included it,
// or a NotFound error.
func (d *DB) Model(ctx context.Context, name string) (ethos.Model, error) {
	const op = "postgres: model"
	m, err := scanModel(d.pool.QueryRow(ctx, `SELECT `+modelColumns+` FROM models WHERE name = $1`, name))
	if err != nil {
		return ethos.Model{}, notFound(normalize(op, err), "no model %s in the registry", name)
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
	const op = "postgres: models"
	models, err := list(ctx, d.pool, op, scanModel, `SELECT `+modelColumns+` FROM models ORDER BY created_at DESC, seq DESC`)
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
	type spec struct {
		id     string
		params *string
	}
	// The specs are decoded here, not with PostgreSQL's JSON operators:
	// those refuse a document holding "\u0000" anywhere (the json type
	// stores it, but cannot turn it into text), and one such run would
	// make the whole registry unreadable.
	specs, err := list(ctx, d.pool, op, func(row pgx.Row) (spec, error) {
		var s spec
		err := row.Scan(&s.id, &s.params)
		return s, err
	}, `SELECT id, params::text FROM runs WHERE kind = $1 ORDER BY created_at, seq`, ethos.RunKindEval)
	if err != nil {
		return nil, err
	}
	evals := map[string][]string{}
	for _, s := range specs {
		if s.params == nil {
			continue
		}
		for _, ref := range ethos.EvalSpecModelRefs([]byte(*s.params)) {
			if name != "" && ref != name {
				continue
			}
			// A spec naming the same model twice still counts one eval.
			if ids := evals[ref]; len(ids) > 0 && ids[len(ids)-1] == s.id {
				continue
			}
			evals[ref] = append(evals[ref], s.id)
		}
	}
	return evals, nil
}

func scanModel(row pgx.Row) (ethos.Model, error) {
	var (
		m     ethos.Model
		hyper []byte
	)
	if err := row.Scan(&m.Name, &m.Provider, &m.ProviderModel, &m.BaseModel, &m.JobID, &m.DatasetPath,
		&m.DatasetSHA256, &hyper, &m.CostUSD, &m.CreatedAt, &m.Serving, &m.CallAs, &m.EndpointID, &m.Parent, &m.Recipe); err != nil {
		return ethos.Model{}, err
	}
	if len(hyper) > 0 {
		if err := json.Unmarshal(hyper, &m.Hyperparameters); err != nil {
			return ethos.Model{}, fmt.Errorf("hyperparameters of model %s: %w", m.Name, err)
		}
	}
	return m, nil
}
