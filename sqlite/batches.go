package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/internal/sqlparams"
)

const batchItemColumns = `key, provider, model, run_id, stage, request, state, batch_id, submissions,
	outcome, response, error_kind, error, queued_at, answered_at`

const batchColumns = `b.id, b.provider, b.model, b.provider_id, b.state, b.status, b.counts, b.requests,
	b.bytes, b.error, b.created_at, b.submitted_at, b.ended_at, b.collected_at,
	(SELECT COALESCE(GROUP_CONCAT(DISTINCT i.run_id), '') FROM batch_items i WHERE i.batch_id = b.id AND i.run_id <> ''),
	(SELECT COALESCE(GROUP_CONCAT(DISTINCT i.stage), '') FROM batch_items i WHERE i.batch_id = b.id AND i.stage <> '')`

// QueueBatchItem records it as queued unless its key is already recorded,
// and returns the item as stored.
func (d *DB) QueueBatchItem(ctx context.Context, it ethos.BatchItem) (ethos.BatchItem, error) {
	const op = "sqlite: queue batch item"
	if it.Key == "" || it.Provider == "" || it.Model == "" {
		return ethos.BatchItem{}, ethos.Errorf(ethos.Invalid, "%s: an item needs a key, a provider and a model", op)
	}
	req, err := json.Marshal(storedRequest{Request: it.Request, Stream: it.Request.Stream, Metadata: it.Request.Metadata})
	if err != nil {
		return ethos.BatchItem{}, ethos.Errorf(ethos.Invalid, "%s %s: encode request: %w", op, it.Key, err)
	}
	if _, err := d.db.ExecContext(ctx, `INSERT INTO batch_items (key, provider, model, run_id, stage, request, bytes, state, queued_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING`,
		it.Key, it.Provider, it.Model, it.RunID, it.Stage, string(req), len(req), ethos.BatchItemQueued, formatTime(now())); err != nil {
		return ethos.BatchItem{}, normalize(op, err)
	}
	stored, ok, err := d.batchItem(ctx, d.db, it.Key)
	if err != nil {
		return ethos.BatchItem{}, err
	}
	if !ok {
		return ethos.BatchItem{}, ethos.Errorf(ethos.Internal, "%s %s: not found after insert", op, it.Key)
	}
	return stored, nil
}

// BatchItem returns the item with key.
func (d *DB) BatchItem(ctx context.Context, key string) (ethos.BatchItem, bool, error) {
	return d.batchItem(ctx, d.read, key)
}

func (d *DB) batchItem(ctx context.Context, db *sql.DB, key string) (ethos.BatchItem, bool, error) {
	it, err := scanBatchItem(db.QueryRowContext(ctx, `SELECT `+batchItemColumns+` FROM batch_items WHERE key = ?`, key))
	if errors.Is(err, sql.ErrNoRows) {
		return ethos.BatchItem{}, false, nil
	}
	if err != nil {
		return ethos.BatchItem{}, false, normalize("sqlite: batch item", err)
	}
	return it, true, nil
}

// ForgetBatchItem removes an answered item, so that the same request asked
// again is queued afresh.
func (d *DB) ForgetBatchItem(ctx context.Context, key string) error {
	if _, err := d.db.ExecContext(ctx, `DELETE FROM batch_items WHERE key = ? AND state = ?`, key, ethos.BatchItemAnswered); err != nil {
		return normalize("sqlite: forget batch item", err)
	}
	return nil
}

// QueuedBatchModels lists the models with queued items.
func (d *DB) QueuedBatchModels(ctx context.Context) ([]ethos.QueuedBatchModel, error) {
	return list(ctx, d.read, "sqlite: queued batch models", func(s scanner) (ethos.QueuedBatchModel, error) {
		var (
			q      ethos.QueuedBatchModel
			oldest string
		)
		if err := s.Scan(&q.Provider, &q.Model, &q.Count, &q.Bytes, &oldest); err != nil {
			return q, err
		}
		var err error
		if q.Oldest, err = parseTime(oldest); err != nil {
			return q, fmt.Errorf("queued_at %q: %w", oldest, err)
		}
		return q, nil
	}, `SELECT provider, model, COUNT(*), SUM(bytes), MIN(queued_at)
		FROM batch_items WHERE state = ? GROUP BY provider, model ORDER BY MIN(queued_at)`, ethos.BatchItemQueued)
}

// CreateBatch records a batch of the oldest queued items of model, in one
// transaction with marking them submitted.
func (d *DB) CreateBatch(ctx context.Context, model string, maxRequests int, maxBytes int64) (ethos.Batch, []ethos.BatchItem, error) {
	const op = "sqlite: create batch"
	if maxRequests <= 0 || maxBytes <= 0 {
		return ethos.Batch{}, nil, ethos.Errorf(ethos.Invalid, "%s: limits must be positive (%d requests, %d bytes)", op, maxRequests, maxBytes)
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return ethos.Batch{}, nil, normalize(op, err)
	}
	defer tx.Rollback()

	type sized struct {
		it    ethos.BatchItem
		bytes int64
	}
	queued, err := list(ctx, tx, op, func(s scanner) (sized, error) {
		var q sized
		var err error
		q.it, err = scanBatchItemExtra(s, &q.bytes)
		return q, err
	}, `SELECT `+batchItemColumns+`, bytes FROM batch_items
		WHERE state = ? AND model = ? ORDER BY queued_at, key LIMIT ?`, ethos.BatchItemQueued, model, maxRequests)
	if err != nil {
		return ethos.Batch{}, nil, err
	}
	var (
		items []ethos.BatchItem
		bytes int64
	)
	for _, q := range queued {
		if len(items) > 0 && bytes+q.bytes > maxBytes {
			break
		}
		bytes += q.bytes
		items = append(items, q.it)
	}
	if len(items) == 0 {
		return ethos.Batch{}, nil, nil
	}

	created := now()
	b := ethos.Batch{Provider: items[0].Provider, Model: model, State: ethos.BatchPreparing,
		Requests: len(items), Bytes: bytes, CreatedAt: created}
	res, err := tx.ExecContext(ctx, `INSERT INTO batches (provider, model, state, requests, bytes, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`, b.Provider, b.Model, b.State, b.Requests, b.Bytes, formatTime(created))
	if err != nil {
		return ethos.Batch{}, nil, normalize(op, err)
	}
	if b.ID, err = res.LastInsertId(); err != nil {
		return ethos.Batch{}, nil, normalize(op, err)
	}
	b.Label = batchLabel(b.ID)
	mark, err := tx.PrepareContext(ctx, `UPDATE batch_items SET state = ?, batch_id = ?, submissions = submissions + 1 WHERE key = ?`)
	if err != nil {
		return ethos.Batch{}, nil, normalize(op, err)
	}
	defer mark.Close()
	runs, stages := map[string]bool{}, map[string]bool{}
	for i := range items {
		if _, err := mark.ExecContext(ctx, ethos.BatchItemSubmitted, b.ID, items[i].Key); err != nil {
			return ethos.Batch{}, nil, normalize(op, err)
		}
		items[i].State, items[i].BatchID = ethos.BatchItemSubmitted, b.ID
		items[i].Submissions++
		if r := items[i].RunID; r != "" && !runs[r] {
			runs[r] = true
			b.RunIDs = append(b.RunIDs, r)
		}
		if s := items[i].Stage; s != "" && !stages[s] {
			stages[s] = true
			b.Stages = append(b.Stages, s)
		}
	}
	if err := tx.Commit(); err != nil {
		return ethos.Batch{}, nil, normalize(op, err)
	}
	return b, items, nil
}

// batchLabel is the name ethos gives batch id at the provider.
func batchLabel(id int64) string { return fmt.Sprintf("ethos-batch-%d", id) }

// UpdateBatch stores what the provider said of b.
func (d *DB) UpdateBatch(ctx context.Context, b ethos.Batch) error {
	const op = "sqlite: update batch"
	counts, err := json.Marshal(b.Counts)
	if err != nil {
		return ethos.Errorf(ethos.Invalid, "%s %d: counts: %w", op, b.ID, err)
	}
	res, err := d.db.ExecContext(ctx, `UPDATE batches SET provider_id = ?, state = ?, status = ?, counts = ?, error = ?,
		submitted_at = ?, ended_at = ?, collected_at = ? WHERE id = ?`,
		b.ProviderID, b.State, b.Status, string(counts), b.Error,
		nullTime(&b.SubmittedAt), nullTime(&b.EndedAt), nullTime(&b.CollectedAt), b.ID)
	if err != nil {
		return normalize(op, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return normalize(op, err)
	} else if n == 0 {
		return ethos.Errorf(ethos.NotFound, "%s: no batch %d in the store", op, b.ID)
	}
	return nil
}

// AnswerBatchItems stores the results of batch. Results for items the
// batch no longer holds (answered already, or moved to another batch) are
// ignored, so collecting the same results twice changes nothing.
func (d *DB) AnswerBatchItems(ctx context.Context, batch int64, results []ethos.BatchItem, maxSubmissions int) error {
	const op = "sqlite: answer batch items"
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return normalize(op, err)
	}
	defer tx.Rollback()
	answered := formatTime(now())
	answer, err := tx.PrepareContext(ctx, `UPDATE batch_items SET state = ?, outcome = ?, response = ?, error_kind = ?, error = ?,
		answered_at = ? WHERE key = ? AND batch_id = ? AND state = ?`)
	if err != nil {
		return normalize(op, err)
	}
	defer answer.Close()
	requeue, err := tx.PrepareContext(ctx, `UPDATE batch_items SET state = ?, batch_id = 0, outcome = ?, queued_at = ?
		WHERE key = ? AND batch_id = ? AND state = ? AND submissions < ?`)
	if err != nil {
		return normalize(op, err)
	}
	defer requeue.Close()
	for _, r := range results {
		if r.Outcome == ethos.BatchExpired || r.Outcome == ethos.BatchCancelled {
			res, err := requeue.ExecContext(ctx, ethos.BatchItemQueued, r.Outcome, answered, r.Key, batch, ethos.BatchItemSubmitted, maxSubmissions)
			if err != nil {
				return normalize(op, err)
			}
			if n, _ := res.RowsAffected(); n > 0 {
				continue
			}
		}
		var resp []byte
		if r.Response != nil {
			if resp, err = json.Marshal(r.Response); err != nil {
				return ethos.Errorf(ethos.Invalid, "%s %s: encode response: %w", op, r.Key, err)
			}
		}
		if _, err := answer.ExecContext(ctx, ethos.BatchItemAnswered, r.Outcome, nullableText(resp), r.ErrorKind, r.Error,
			answered, r.Key, batch, ethos.BatchItemSubmitted); err != nil {
			return normalize(op, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return normalize(op, err)
	}
	return nil
}

// BatchItems lists the items batch holds or answered, by key.
func (d *DB) BatchItems(ctx context.Context, batch int64) ([]ethos.BatchItem, error) {
	return list(ctx, d.read, "sqlite: batch items", scanBatchItem,
		`SELECT `+batchItemColumns+` FROM batch_items WHERE batch_id = ? ORDER BY key`, batch)
}

// RequeueBatch puts the items batch still holds back in the queue.
func (d *DB) RequeueBatch(ctx context.Context, batch int64) error {
	if _, err := d.db.ExecContext(ctx, `UPDATE batch_items SET state = ?, batch_id = 0 WHERE batch_id = ? AND state = ?`,
		ethos.BatchItemQueued, batch, ethos.BatchItemSubmitted); err != nil {
		return normalize("sqlite: requeue batch", err)
	}
	return nil
}

// Batches lists batches matching f, newest first.
func (d *DB) Batches(ctx context.Context, f ethos.BatchFilter) ([]ethos.Batch, error) {
	p := sqlparams.Question()
	if f.Provider != "" {
		p.Add("b.provider = ?", f.Provider)
	}
	if f.Active {
		p.Add("b.state NOT IN (?, ?)", ethos.BatchEnded, ethos.BatchFailed)
	}
	if f.RunID != "" {
		p.Add("b.id IN (SELECT batch_id FROM batch_items WHERE run_id = ?)", f.RunID)
	}
	q := `SELECT ` + batchColumns + ` FROM batches b` + p.Where() + ` ORDER BY b.id DESC`
	if f.Limit > 0 {
		q += ` LIMIT ` + p.Next(f.Limit)
	}
	return list(ctx, d.read, "sqlite: batches", scanBatch, q, p.Args...)
}

// GetBatch returns batch id, or a NotFound error.
func (d *DB) GetBatch(ctx context.Context, id int64) (ethos.Batch, error) {
	const op = "sqlite: batch"
	b, err := scanBatch(d.read.QueryRowContext(ctx, `SELECT `+batchColumns+` FROM batches b WHERE b.id = ?`, id))
	if err != nil {
		ne := normalize(op, err)
		if ne.Kind == ethos.NotFound {
			ne.Msg = fmt.Sprintf("no batch %d in the store; \"ethos batches\" lists them", id)
		}
		return ethos.Batch{}, ne
	}
	return b, nil
}

func scanBatch(s scanner) (ethos.Batch, error) {
	var (
		b                           ethos.Batch
		counts, created             string
		submitted, ended, collected sql.NullString
		runs, stages                string
	)
	if err := s.Scan(&b.ID, &b.Provider, &b.Model, &b.ProviderID, &b.State, &b.Status, &counts, &b.Requests,
		&b.Bytes, &b.Error, &created, &submitted, &ended, &collected, &runs, &stages); err != nil {
		return ethos.Batch{}, err
	}
	b.Label = batchLabel(b.ID)
	if err := json.Unmarshal([]byte(counts), &b.Counts); err != nil {
		return ethos.Batch{}, fmt.Errorf("counts of batch %d: %w", b.ID, err)
	}
	var err error
	if b.CreatedAt, err = parseTime(created); err != nil {
		return ethos.Batch{}, fmt.Errorf("created_at of batch %d: %w", b.ID, err)
	}
	for _, t := range []struct {
		v   sql.NullString
		dst *time.Time
	}{{submitted, &b.SubmittedAt}, {ended, &b.EndedAt}, {collected, &b.CollectedAt}} {
		if !t.v.Valid {
			continue
		}
		if *t.dst, err = parseTime(t.v.String); err != nil {
			return ethos.Batch{}, fmt.Errorf("time of batch %d: %w", b.ID, err)
		}
	}
	if runs != "" {
		b.RunIDs = strings.Split(runs, ",")
	}
	if stages != "" {
		b.Stages = strings.Split(stages, ",")
	}
	return b, nil
}

func scanBatchItem(s scanner) (ethos.BatchItem, error) {
	return scanBatchItemExtra(s)
}

// scanBatchItemExtra scans batchItemColumns and then extra.
func scanBatchItemExtra(s scanner, extra ...any) (ethos.BatchItem, error) {
	var (
		it               ethos.BatchItem
		req, queued      string
		resp, answeredAt sql.NullString
	)
	dest := []any{&it.Key, &it.Provider, &it.Model, &it.RunID, &it.Stage, &req, &it.State, &it.BatchID,
		&it.Submissions, &it.Outcome, &resp, &it.ErrorKind, &it.Error, &queued, &answeredAt}
	if err := s.Scan(append(dest, extra...)...); err != nil {
		return ethos.BatchItem{}, err
	}
	var stored storedRequest
	if err := json.Unmarshal([]byte(req), &stored); err != nil {
		return ethos.BatchItem{}, fmt.Errorf("request of batch item %s: %w", it.Key, err)
	}
	it.Request = stored.Request
	it.Request.Stream, it.Request.Metadata = stored.Stream, stored.Metadata
	if resp.Valid {
		it.Response = new(ethos.Response)
		if err := json.Unmarshal([]byte(resp.String), it.Response); err != nil {
			return ethos.BatchItem{}, fmt.Errorf("response of batch item %s: %w", it.Key, err)
		}
	}
	var err error
	if it.QueuedAt, err = parseTime(queued); err != nil {
		return ethos.BatchItem{}, fmt.Errorf("queued_at of batch item %s: %w", it.Key, err)
	}
	if answeredAt.Valid {
		if it.AnsweredAt, err = parseTime(answeredAt.String); err != nil {
			return ethos.BatchItem{}, fmt.Errorf("answered_at of batch item %s: %w", it.Key, err)
		}
	}
	return it, nil
}
