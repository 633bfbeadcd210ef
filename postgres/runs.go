package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/internal/sqlparams"
	"github.com/jackc/pgx/v5"
)

var _ ethos.RunStore = (*DB)(nil)

const runColumns = `id, kind, status, config_hash, character_hash, params, error, created_at, updated_at`

const itemColumns = `id, run_id, stage, key, parent_id, attempt, status, reason, data, created_at, updated_at`

// itemColumnsNoData selects the same columns with data left NULL.
const itemColumnsNoData = `id, run_id, stage, key, parent_id, attempt, status, reason, NULL::json, created_at, updated_at`

// jsonText checks that raw is JSON and returns it as the column's value:
// NULL when empty.
func jsonText(raw json.RawMessage) (any, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	if !json.Valid(raw) {
		return nil, errors.New("not valid JSON")
	}
	return string(raw), nil
}

// rawJSON turns a JSON column back into a RawMessage, nil for NULL or
// empty text.
func rawJSON(b []byte) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	return json.RawMessage(b)
}

// CreateRun stores r. It sets r.Status to running when empty, r.CreatedAt
// to the current time when zero (and to UTC otherwise), and r.UpdatedAt to
// r.CreatedAt when zero. A run with the same ID is a Conflict; invalid
// Params JSON is Invalid.
func (d *DB) CreateRun(ctx context.Context, r *ethos.Run) error {
	const op = "postgres: create run"
	if r == nil {
		return ethos.Errorf(ethos.Invalid, "%s: nil run", op)
	}
	if r.ID == "" {
		return ethos.Errorf(ethos.Invalid, "%s: empty run ID", op)
	}
	params, err := jsonText(r.Params)
	if err != nil {
		return ethos.Errorf(ethos.Invalid, "%s %s: params: %w", op, r.ID, err)
	}
	status := r.Status
	if status == "" {
		status = ethos.RunRunning
	}
	created := micro(r.CreatedAt)
	if r.CreatedAt.IsZero() {
		created = now()
	}
	updated := micro(r.UpdatedAt)
	if r.UpdatedAt.IsZero() {
		updated = created
	}
	if _, err := d.execNotify(ctx, "run:"+r.ID, `INSERT INTO runs (`+runColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		r.ID, r.Kind, string(status), r.ConfigHash, r.CharacterHash, params, r.Error, created, updated); err != nil {
		e := normalize(op, err)
		if e.Kind == ethos.Conflict {
			e.Msg = fmt.Sprintf("run %s already exists", r.ID)
		}
		return e
	}
	r.Status, r.CreatedAt, r.UpdatedAt = status, created, updated
	return nil
}

// notFound rewrites the message of a NotFound error.
func notFound(e *ethos.Error, format string, args ...any) *ethos.Error {
	if e.Kind == ethos.NotFound {
		e.Msg = fmt.Sprintf(format, args...)
	}
	return e
}

// Run returns the run with id, or a NotFound error.
func (d *DB) Run(ctx context.Context, id string) (ethos.Run, error) {
	r, err := scanRun(d.pool.QueryRow(ctx, `SELECT `+runColumns+` FROM runs WHERE id = $1`, id))
	if err != nil {
		return ethos.Run{}, notFound(normalize("postgres: run", err), "run %s not found", id)
	}
	return r, nil
}

// RunStatus returns the status of the run with id, or a NotFound error.
func (d *DB) RunStatus(ctx context.Context, id string) (ethos.RunStatus, error) {
	var status string
	if err := d.pool.QueryRow(ctx, `SELECT status FROM runs WHERE id = $1`, id).Scan(&status); err != nil {
		return "", notFound(normalize("postgres: run status", err), "run %s not found", id)
	}
	return ethos.RunStatus(status), nil
}

// Runs lists runs of kind ("" for all), newest first by CreatedAt (the one
// created later first when two share it), at most limit of them when limit
// is positive.
func (d *DB) Runs(ctx context.Context, kind string, limit int) ([]ethos.Run, error) {
	p := sqlparams.Dollar()
	if kind != "" {
		p.Add("kind = ?", kind)
	}
	q := `SELECT ` + runColumns + ` FROM runs` + p.Where() + ` ORDER BY created_at DESC, seq DESC`
	if limit > 0 {
		q += ` LIMIT ` + p.Next(limit)
	}
	return list(ctx, d.pool, "postgres: runs", scanRun, q, p.Args...)
}

// SetRunStatus changes a run's status and error text and stamps its
// UpdatedAt. An unknown run is NotFound; an empty status is Invalid.
func (d *DB) SetRunStatus(ctx context.Context, id string, status ethos.RunStatus, errText string) error {
	const op = "postgres: set run status"
	if status == "" {
		return ethos.Errorf(ethos.Invalid, "%s %s: empty status", op, id)
	}
	tag, err := d.execNotify(ctx, "run:"+id, `UPDATE runs SET status = $1, error = $2, updated_at = $3 WHERE id = $4`,
		string(status), errText, now(), id)
	if err != nil {
		return normalize(op, err)
	}
	if tag.RowsAffected() == 0 {
		return &ethos.Error{Kind: ethos.NotFound, Op: op, Msg: fmt.Sprintf("run %s not found", id)}
	}
	return nil
}

func scanRun(row pgx.Row) (ethos.Run, error) {
	var (
		r      ethos.Run
		params []byte
	)
	if err := row.Scan(&r.ID, &r.Kind, &r.Status, &r.ConfigHash, &r.CharacterHash, &params, &r.Error, &r.CreatedAt, &r.UpdatedAt); err != nil {
		return ethos.Run{}, err
	}
	r.Params = rawJSON(params)
	return r, nil
}

func scanItem(row pgx.Row) (ethos.Item, error) {
	var (
		it     ethos.Item
		parent *int64
		data   []byte
	)
	if err := row.Scan(&it.ID, &it.RunID, &it.Stage, &it.Key, &parent, &it.Attempt, &it.Status, &it.Reason, &data, &it.CreatedAt, &it.UpdatedAt); err != nil {
		return ethos.Item{}, err
	}
	if parent != nil {
		it.ParentID = *parent
	}
	it.Data = rawJSON(data)
	return it, nil
}

// PutItem inserts it unless its run already has an item with its key, in
// which case it loads that item into it and reports created false. On
// insert it sets it.ID, it.Status to pending when empty, it.CreatedAt to
// the current time when zero, and it.UpdatedAt to it.CreatedAt. A run or
// parent that does not exist is NotFound; invalid Data JSON is Invalid.
//
// Many writers may put the same key at once: the insert of one waits for
// the other's to commit, then does nothing, and the item is read after it.
func (d *DB) PutItem(ctx context.Context, it *ethos.Item) (bool, error) {
	const op = "postgres: put item"
	if it == nil {
		return false, ethos.Errorf(ethos.Invalid, "%s: nil item", op)
	}
	if it.RunID == "" || it.Key == "" {
		return false, ethos.Errorf(ethos.Invalid, "%s: item needs a run ID and a key (run %q, key %q)", op, it.RunID, it.Key)
	}
	data, err := jsonText(it.Data)
	if err != nil {
		return false, ethos.Errorf(ethos.Invalid, "%s %s/%s: data: %w", op, it.RunID, it.Key, err)
	}
	status := it.Status
	if status == "" {
		status = ethos.ItemPending
	}
	var parent any
	if it.ParentID != 0 {
		parent = it.ParentID
	}
	created := micro(it.CreatedAt)
	if it.CreatedAt.IsZero() {
		created = now()
	}
	var id int64
	err = d.queryRowNotify(ctx, "run:"+it.RunID, []any{&id}, `INSERT INTO items (run_id, stage, key, parent_id, attempt, status, reason, data, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
		ON CONFLICT (run_id, key) DO NOTHING
		RETURNING id`,
		it.RunID, it.Stage, it.Key, parent, it.Attempt, string(status), it.Reason, data, created)
	if errors.Is(err, pgx.ErrNoRows) {
		existing, err := scanItem(d.pool.QueryRow(ctx, `SELECT `+itemColumns+` FROM items WHERE run_id = $1 AND key = $2`, it.RunID, it.Key))
		if err != nil {
			return false, normalize(op, err)
		}
		*it = existing
		return false, nil
	}
	if err != nil {
		return false, notFound(normalize(op, err), "item %s of run %s: the run or parent item %d does not exist", it.Key, it.RunID, it.ParentID)
	}
	it.ID, it.Status, it.CreatedAt, it.UpdatedAt = id, status, created, created
	return true, nil
}

// UpdateItem saves the status, reason, attempt and data of the item with
// it.ID and sets it.UpdatedAt. An unknown item is NotFound; invalid Data
// JSON is Invalid.
func (d *DB) UpdateItem(ctx context.Context, it *ethos.Item) error {
	const op = "postgres: update item"
	if it == nil {
		return ethos.Errorf(ethos.Invalid, "%s: nil item", op)
	}
	data, err := jsonText(it.Data)
	if err != nil {
		return ethos.Errorf(ethos.Invalid, "%s %d: data: %w", op, it.ID, err)
	}
	updated := now()
	tag, err := d.execNotify(ctx, "run:"+it.RunID, `UPDATE items SET status = $1, reason = $2, attempt = $3, data = $4, updated_at = $5 WHERE id = $6`,
		string(it.Status), it.Reason, it.Attempt, data, updated, it.ID)
	if err != nil {
		return normalize(op, err)
	}
	if tag.RowsAffected() == 0 {
		return &ethos.Error{Kind: ethos.NotFound, Op: op, Msg: fmt.Sprintf("item %d not found", it.ID)}
	}
	it.UpdatedAt = updated
	return nil
}

// Item returns the item with id, or a NotFound error.
func (d *DB) Item(ctx context.Context, id int64) (ethos.Item, error) {
	it, err := scanItem(d.pool.QueryRow(ctx, `SELECT `+itemColumns+` FROM items WHERE id = $1`, id))
	if err != nil {
		return ethos.Item{}, notFound(normalize("postgres: item", err), "item %d not found", id)
	}
	return it, nil
}

// Items lists the items matching f in ID order, at most f.Limit of them
// when it is positive.
func (d *DB) Items(ctx context.Context, f ethos.ItemFilter) ([]ethos.Item, error) {
	p := sqlparams.Dollar()
	if f.RunID != "" {
		p.Add("run_id = ?", f.RunID)
	}
	if f.Stage != "" {
		p.Add("stage = ?", f.Stage)
	}
	if f.Status != "" {
		p.Add("status = ?", string(f.Status))
	}
	if f.ParentID != 0 {
		p.Add("parent_id = ?", f.ParentID)
	}
	if f.AfterID != 0 {
		p.Add("id > ?", f.AfterID)
	}
	columns := itemColumns
	if f.NoData {
		columns = itemColumnsNoData
	}
	q := `SELECT ` + columns + ` FROM items` + p.Where() + ` ORDER BY id`
	if f.Limit > 0 {
		q += ` LIMIT ` + p.Next(f.Limit)
	}
	return list(ctx, d.pool, "postgres: items", scanItem, q, p.Args...)
}

// CountItems counts runID's items per stage and status, ordered by stage
// then status. A run without items, or no such run, has no counts.
func (d *DB) CountItems(ctx context.Context, runID string) ([]ethos.ItemCount, error) {
	// item_counts is kept by triggers on items (migration 0005).
	return list(ctx, d.pool, "postgres: count items", func(row pgx.Row) (ethos.ItemCount, error) {
		var c ethos.ItemCount
		err := row.Scan(&c.Stage, &c.Status, &c.Count)
		return c, err
	}, `SELECT stage, status, n FROM item_counts WHERE run_id = $1 AND n > 0
		ORDER BY stage COLLATE "C", status COLLATE "C"`, runID)
}

// CountItemsByKeySegment counts runID's items of stage in status by the
// second "/"-separated segment of their keys.
func (d *DB) CountItemsByKeySegment(ctx context.Context, runID, stage string, status ethos.ItemStatus) (map[string]int, error) {
	counts := map[string]int{}
	// split_part gives "" for a key without a second segment.
	_, err := list(ctx, d.pool, "postgres: count items by key segment", func(row pgx.Row) (struct{}, error) {
		var segment string
		var n int
		err := row.Scan(&segment, &n)
		counts[segment] = n
		return struct{}{}, err
	}, `SELECT split_part(key, '/', 2) AS segment, count(*) FROM items
		WHERE run_id = $1 AND stage = $2 AND status = $3 GROUP BY segment`, runID, stage, string(status))
	if err != nil {
		return nil, err
	}
	return counts, nil
}
