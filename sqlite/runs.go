package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unsafe"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/internal/sqlparams"
)

var _ ethos.RunStore = (*DB)(nil)

const runColumns = `id, kind, status, config_hash, character_hash, params, error, created_at, updated_at`

const itemColumns = `id, run_id, stage, key, parent_id, attempt, status, reason, data, created_at, updated_at`

// itemColumnsFor selects what a listing by f reads: data is left NULL for
// f.NoData, and a column f fixes (run, stage, status) is read as empty
// text, for fixedByFilter to fill in. Every row would have the filter's
// value, and the driver allocates each row's copy of a text column; a
// generate run lists its thousands of items by run, stage and status on
// every look at its progress.
func itemColumnsFor(f ethos.ItemFilter) string {
	column := func(name, fixed string) string {
		if fixed != "" {
			return "''"
		}
		return name
	}
	data := "data"
	if f.NoData {
		data = "NULL"
	}
	return "id, " + column("run_id", f.RunID) + ", " + column("stage", f.Stage) + ", key, parent_id, attempt, " +
		column("status", string(f.Status)) + ", reason, " + data + ", created_at, updated_at"
}

// fixedByFilter fills in the columns itemColumnsFor(f) left out.
func fixedByFilter(f ethos.ItemFilter, it *ethos.Item) {
	if f.RunID != "" {
		it.RunID = f.RunID
	}
	if f.Stage != "" {
		it.Stage = f.Stage
	}
	if f.Status != "" {
		it.Status = f.Status
	}
}

// prepareRuns compiles the statements every stage runs once per item.
func (d *DB) prepareRuns(prep func(*sql.DB, string) *sql.Stmt) {
	// A conflict on (run_id, key) inserts nothing and returns no row; any
	// other constraint (a missing run or parent) still fails.
	d.insertItem = prep(d.db, `INSERT INTO items (run_id, stage, key, parent_id, attempt, status, reason, data, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (run_id, key) DO NOTHING
		RETURNING id`)
	d.updateItem = prep(d.db, `UPDATE items SET status = ?, reason = ?, attempt = ?, data = ?, updated_at = ? WHERE id = ?`)
	d.itemByKey = prep(d.read, `SELECT `+itemColumns+` FROM items WHERE run_id = ? AND key = ?`)
	// The same, for a writer that must see its own transaction's rows.
	d.itemByKeyW = prep(d.db, `SELECT `+itemColumns+` FROM items WHERE run_id = ? AND key = ?`)
}

// now is the time the store stamps on rows, in UTC without a monotonic
// reading, so that what a caller holds equals what is read back.
func now() time.Time { return time.Now().UTC().Round(0) }

// jsonText checks that raw is JSON and returns it as the column's value:
// NULL when empty.
func jsonText(raw json.RawMessage) (any, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	if !json.Valid(raw) {
		return nil, errors.New("not valid JSON")
	}
	return boundText(raw), nil
}

// boundText is b as a statement's text argument, without a copy: the
// driver copies a text argument when it binds it, and the callers keep b
// unchanged until their statement has run. Documents and replies are
// tens of kilobytes, and each was copied once more for every write.
func boundText(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// jsonColumn scans a JSON text column into *raw: nil for NULL or empty
// text.
//
// The driver hands a text column over as a string it has just copied out
// of SQLite into memory of its own, which nothing else refers to once the
// row is scanned; the RawMessage takes that memory over instead of
// copying it once more. Item data and run params are kilobytes, read by
// every task.
type jsonColumn struct{ raw *json.RawMessage }

// Scan implements sql.Scanner.
func (c jsonColumn) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.raw = nil
	case string:
		*c.raw = takeText(v)
	case []byte:
		// A driver's bytes are valid only until the next row.
		*c.raw = nil
		if len(v) > 0 {
			*c.raw = bytes.Clone(v)
		}
	default:
		return fmt.Errorf("JSON column holds %T, not text", src)
	}
	return nil
}

// takeText is the memory of s, a text the driver copied out for this row
// alone, as bytes; nil when s is empty.
func takeText(s string) []byte {
	if s == "" {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// CreateRun stores r. It sets r.Status to running when empty, r.CreatedAt
// to the current time when zero (and to UTC otherwise), and r.UpdatedAt to
// r.CreatedAt when zero. A run with the same ID is a Conflict; invalid
// Params JSON is Invalid.
func (d *DB) CreateRun(ctx context.Context, r *ethos.Run) error {
	const op = "sqlite: create run"
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
	created := r.CreatedAt.UTC().Round(0)
	if r.CreatedAt.IsZero() {
		created = now()
	}
	updated := r.UpdatedAt.UTC().Round(0)
	if r.UpdatedAt.IsZero() {
		updated = created
	}
	if _, err := d.db.ExecContext(ctx, `INSERT INTO runs (`+runColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.Kind, string(status), r.ConfigHash, r.CharacterHash, params, r.Error,
		formatTime(created), formatTime(updated)); err != nil {
		e := normalize(op, err)
		if e.Kind == ethos.Conflict {
			e.Msg = fmt.Sprintf("run %s already exists", r.ID)
		}
		return e
	}
	r.Status, r.CreatedAt, r.UpdatedAt = status, created, updated
	return nil
}

// Run returns the run with id, or a NotFound error.
func (d *DB) Run(ctx context.Context, id string) (ethos.Run, error) {
	r, err := scanRun(d.read.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs WHERE id = ?`, id))
	if err != nil {
		return ethos.Run{}, runError("sqlite: run", id, err)
	}
	return r, nil
}

// RunStatus returns the status of the run with id, or a NotFound error.
func (d *DB) RunStatus(ctx context.Context, id string) (ethos.RunStatus, error) {
	var status string
	if err := d.read.QueryRowContext(ctx, `SELECT status FROM runs WHERE id = ?`, id).Scan(&status); err != nil {
		return "", runError("sqlite: run status", id, err)
	}
	return ethos.RunStatus(status), nil
}

// runError is err of op on the run with id, normalised, naming the run
// when it does not exist.
func runError(op, id string, err error) error {
	e := normalize(op, err)
	if e.Kind == ethos.NotFound {
		e.Msg = fmt.Sprintf("run %s not found", id)
	}
	return e
}

// Runs lists runs of kind ("" for all), newest first by CreatedAt (the one
// created later first when two share it), at most limit of them when limit
// is positive.
func (d *DB) Runs(ctx context.Context, kind string, limit int) ([]ethos.Run, error) {
	p := sqlparams.Question()
	if kind != "" {
		p.Add("kind = ?", kind)
	}
	q := `SELECT ` + runColumns + ` FROM runs` + p.Where() + ` ORDER BY created_at DESC, rowid DESC`
	if limit > 0 {
		q += ` LIMIT ` + p.Next(limit)
	}
	return list(ctx, d.read, "sqlite: runs", scanRun, q, p.Args...)
}

// SetRunStatus changes a run's status and error text and stamps its
// UpdatedAt. An unknown run is NotFound; an empty status is Invalid.
func (d *DB) SetRunStatus(ctx context.Context, id string, status ethos.RunStatus, errText string) error {
	const op = "sqlite: set run status"
	if status == "" {
		return ethos.Errorf(ethos.Invalid, "%s %s: empty status", op, id)
	}
	res, err := d.db.ExecContext(ctx, `UPDATE runs SET status = ?, error = ?, updated_at = ? WHERE id = ?`,
		string(status), errText, formatTime(now()), id)
	if err != nil {
		return normalize(op, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return normalize(op, err)
	} else if n == 0 {
		return &ethos.Error{Kind: ethos.NotFound, Op: op, Msg: fmt.Sprintf("run %s not found", id)}
	}
	return nil
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

func scanRun(s scanner) (ethos.Run, error) {
	var (
		r                ethos.Run
		created, updated string
	)
	if err := s.Scan(&r.ID, &r.Kind, &r.Status, &r.ConfigHash, &r.CharacterHash, jsonColumn{&r.Params}, &r.Error, &created, &updated); err != nil {
		return ethos.Run{}, err
	}
	var err error
	if r.CreatedAt, err = parseTime(created); err != nil {
		return ethos.Run{}, fmt.Errorf("created_at of run %s: %w", r.ID, err)
	}
	if r.UpdatedAt, err = parseTime(updated); err != nil {
		return ethos.Run{}, fmt.Errorf("updated_at of run %s: %w", r.ID, err)
	}
	return r, nil
}

func scanItem(s scanner) (ethos.Item, error) {
	var (
		it               ethos.Item
		parent           sql.NullInt64
		created, updated string
	)
	if err := s.Scan(&it.ID, &it.RunID, &it.Stage, &it.Key, &parent, &it.Attempt, &it.Status, &it.Reason, jsonColumn{&it.Data}, &created, &updated); err != nil {
		return ethos.Item{}, err
	}
	it.ParentID = parent.Int64
	var err error
	if it.CreatedAt, err = parseTime(created); err != nil {
		return ethos.Item{}, fmt.Errorf("created_at of item %d: %w", it.ID, err)
	}
	if it.UpdatedAt, err = parseTime(updated); err != nil {
		return ethos.Item{}, fmt.Errorf("updated_at of item %d: %w", it.ID, err)
	}
	return it, nil
}

// PutItem inserts it unless its run already has an item with its key, in
// which case it loads that item into it and reports created false. On
// insert it sets it.ID, it.Status to pending when empty, it.CreatedAt to
// the current time when zero, and it.UpdatedAt to it.CreatedAt. A run or
// parent that does not exist is NotFound; invalid Data JSON is Invalid.
func (d *DB) PutItem(ctx context.Context, it *ethos.Item) (bool, error) {
	const op = "sqlite: put item"
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
	created := it.CreatedAt.UTC().Round(0)
	if it.CreatedAt.IsZero() {
		created = now()
	}
	at := formatTime(created)

	var (
		id       int64
		existing ethos.Item
		found    bool
	)
	err = d.writeItem(ctx, func(ctx context.Context, t *itemTx) error {
		found = false
		err := t.insertStmt().QueryRowContext(ctx, it.RunID, it.Stage, it.Key, parent, it.Attempt,
			string(status), it.Reason, data, at, at).Scan(&id)
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		// The key was taken, perhaps by a write in this same
		// transaction: read it there.
		found = true
		existing, err = scanItem(t.byKey().QueryRowContext(ctx, it.RunID, it.Key))
		return err
	})
	switch {
	case err != nil:
		e := normalize(op, err)
		if e.Kind == ethos.NotFound && !found {
			e.Msg = fmt.Sprintf("item %s of run %s: the run or parent item %d does not exist", it.Key, it.RunID, it.ParentID)
		}
		return false, e
	case found:
		*it = existing
		return false, nil
	}
	it.ID, it.Status, it.CreatedAt, it.UpdatedAt = id, status, created, created
	return true, nil
}

// UpdateItem saves the status, reason, attempt and data of the item with
// it.ID and sets it.UpdatedAt. An unknown item is NotFound; invalid Data
// JSON is Invalid.
func (d *DB) UpdateItem(ctx context.Context, it *ethos.Item) error {
	const op = "sqlite: update item"
	if it == nil {
		return ethos.Errorf(ethos.Invalid, "%s: nil item", op)
	}
	data, err := jsonText(it.Data)
	if err != nil {
		return ethos.Errorf(ethos.Invalid, "%s %d: data: %w", op, it.ID, err)
	}
	updated := now()
	var n int64
	err = d.writeItem(ctx, func(ctx context.Context, t *itemTx) error {
		res, err := t.updateStmt().ExecContext(ctx, string(it.Status), it.Reason, it.Attempt, data, formatTime(updated), it.ID)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return normalize(op, err)
	}
	if n == 0 {
		return &ethos.Error{Kind: ethos.NotFound, Op: op, Msg: fmt.Sprintf("item %d not found", it.ID)}
	}
	it.UpdatedAt = updated
	return nil
}

// Item returns the item with id, or a NotFound error.
func (d *DB) Item(ctx context.Context, id int64) (ethos.Item, error) {
	const op = "sqlite: item"
	it, err := scanItem(d.read.QueryRowContext(ctx, `SELECT `+itemColumns+` FROM items WHERE id = ?`, id))
	if err != nil {
		e := normalize(op, err)
		if e.Kind == ethos.NotFound {
			e.Msg = fmt.Sprintf("item %d not found", id)
		}
		return ethos.Item{}, e
	}
	return it, nil
}

// Items lists the items matching f in ID order, at most f.Limit of them
// when it is positive.
func (d *DB) Items(ctx context.Context, f ethos.ItemFilter) ([]ethos.Item, error) {
	p := sqlparams.Question()
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
	q := `SELECT ` + itemColumnsFor(f) + ` FROM items` + p.Where() + ` ORDER BY id`
	if f.Limit > 0 {
		q += ` LIMIT ` + p.Next(f.Limit)
	}
	return list(ctx, d.read, "sqlite: items", func(s scanner) (ethos.Item, error) {
		it, err := scanItem(s)
		fixedByFilter(f, &it)
		return it, err
	}, q, p.Args...)
}

// CountItems counts runID's items per stage and status, ordered by stage
// then status. A run without items, or no such run, has no counts.
func (d *DB) CountItems(ctx context.Context, runID string) ([]ethos.ItemCount, error) {
	// item_counts is kept by triggers on items (migration 0005).
	return list(ctx, d.read, "sqlite: count items", func(s scanner) (ethos.ItemCount, error) {
		var c ethos.ItemCount
		err := s.Scan(&c.Stage, &c.Status, &c.Count)
		return c, err
	}, `SELECT stage, status, n FROM item_counts WHERE run_id = ? AND n > 0
		ORDER BY stage, status`, runID)
}

// countByKeySegmentSQL is CountItemsByKeySegment's query; it reads the
// index items_run_stage_status_key alone, not the items' rows. rest is the
// key after its first "/" ("" without one); the segment is rest up to its
// own first "/". instr and substr count characters alike, so a multi-byte
// key splits where Go would split it.
const countByKeySegmentSQL = `SELECT CASE WHEN instr(rest, '/') > 0 THEN substr(rest, 1, instr(rest, '/') - 1) ELSE rest END AS segment, count(*)
	FROM (SELECT CASE WHEN instr(key, '/') > 0 THEN substr(key, instr(key, '/') + 1) ELSE '' END AS rest
		FROM items WHERE run_id = ? AND stage = ? AND status = ?)
	GROUP BY segment`

// CountItemsByKeySegment counts runID's items of stage in status by the
// second "/"-separated segment of their keys.
func (d *DB) CountItemsByKeySegment(ctx context.Context, runID, stage string, status ethos.ItemStatus) (map[string]int, error) {
	counts := map[string]int{}
	_, err := list(ctx, d.read, "sqlite: count items by key segment", func(s scanner) (struct{}, error) {
		var segment string
		var n int
		err := s.Scan(&segment, &n)
		counts[segment] = n
		return struct{}{}, err
	}, countByKeySegmentSQL, runID, stage, string(status))
	if err != nil {
		return nil, err
	}
	return counts, nil
}
