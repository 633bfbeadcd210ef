package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/internal/sqlparams"
	"github.com/jackc/pgx/v5"
)

const batchItemColumns = `key, provider, model, run_id, stage, request, state, batch_id, submissions,
	outcome, response, error_kind, error, queued_at, answered_at`

// batchColumns lists a batch with the runs and stages of its items, in
// the order of their keys.
const batchColumns = `b.id, b.provider, b.model, b.provider_id, b.state, b.status, b.counts, b.requests,
	b.bytes, b.error, b.created_at, b.submitted_at, b.ended_at, b.collected_at,
	ARRAY(SELECT i.run_id FROM batch_items i WHERE i.batch_id = b.id AND i.run_id <> '' GROUP BY i.run_id ORDER BY MIN(i.key COLLATE "C")),
	ARRAY(SELECT i.stage FROM batch_items i WHERE i.batch_id = b.id AND i.stage <> '' GROUP BY i.stage ORDER BY MIN(i.key COLLATE "C"))`

// QueueBatchItem records it as queued unless its key is already recorded,
// and returns the item as stored.
func (d *DB) QueueBatchItem(ctx context.Context, it ethos.BatchItem) (ethos.BatchItem, error) {
	const op = "postgres: queue batch item"
	if it.Key == "" || it.Provider == "" || it.Model == "" {
		return ethos.BatchItem{}, ethos.Errorf(ethos.Invalid, "%s: an item needs a key, a provider and a model", op)
	}
	req, err := encodeRequest(it.Request)
	if err != nil {
		return ethos.BatchItem{}, ethos.Errorf(ethos.Invalid, "%s %s: encode request: %w", op, it.Key, err)
	}
	if _, err := d.pool.Exec(ctx, `INSERT INTO batch_items (key, provider, model, run_id, stage, request, bytes, state, queued_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (key) DO NOTHING`,
		it.Key, it.Provider, it.Model, it.RunID, it.Stage, string(req), len(req), ethos.BatchItemQueued, now()); err != nil {
		return ethos.BatchItem{}, normalize(op, err)
	}
	stored, ok, err := d.BatchItem(ctx, it.Key)
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
	it, err := scanBatchItem(d.pool.QueryRow(ctx, `SELECT `+batchItemColumns+` FROM batch_items WHERE key = $1`, key))
	if errors.Is(err, pgx.ErrNoRows) {
		return ethos.BatchItem{}, false, nil
	}
	if err != nil {
		return ethos.BatchItem{}, false, normalize("postgres: batch item", err)
	}
	return it, true, nil
}

// ForgetBatchItem removes an answered item, so that the same request asked
// again is queued afresh.
func (d *DB) ForgetBatchItem(ctx context.Context, key string) error {
	if _, err := d.pool.Exec(ctx, `DELETE FROM batch_items WHERE key = $1 AND state = $2`, key, ethos.BatchItemAnswered); err != nil {
		return normalize("postgres: forget batch item", err)
	}
	return nil
}

// QueuedBatchModels lists the models with queued items.
func (d *DB) QueuedBatchModels(ctx context.Context) ([]ethos.QueuedBatchModel, error) {
	return list(ctx, d.pool, "postgres: queued batch models", func(row pgx.Row) (ethos.QueuedBatchModel, error) {
		var q ethos.QueuedBatchModel
		err := row.Scan(&q.Provider, &q.Model, &q.Count, &q.Bytes, &q.Oldest)
		return q, err
	}, `SELECT provider, model, COUNT(*), SUM(bytes)::bigint, MIN(queued_at)
		FROM batch_items WHERE state = $1 GROUP BY provider, model ORDER BY MIN(queued_at)`, ethos.BatchItemQueued)
}

// CreateBatch records a batch of the oldest queued items of model, in one
// transaction with marking them submitted. The items are locked as they
// are chosen and items another process is batching are passed over, so
// two processes making batches at once never put an item in both.
func (d *DB) CreateBatch(ctx context.Context, model string, maxRequests int, maxBytes int64) (ethos.Batch, []ethos.BatchItem, error) {
	const op = "postgres: create batch"
	if maxRequests <= 0 || maxBytes <= 0 {
		return ethos.Batch{}, nil, ethos.Errorf(ethos.Invalid, "%s: limits must be positive (%d requests, %d bytes)", op, maxRequests, maxBytes)
	}
	var (
		b     ethos.Batch
		items []ethos.BatchItem
	)
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		type sized struct {
			it    ethos.BatchItem
			bytes int64
		}
		queued, err := list(ctx, tx, op, func(row pgx.Row) (sized, error) {
			var s sized
			var err error
			s.it, err = scanBatchItemExtra(row, &s.bytes)
			return s, err
		}, `SELECT `+batchItemColumns+`, bytes FROM batch_items
			WHERE state = $1 AND model = $2 ORDER BY queued_at, key COLLATE "C" LIMIT $3
			FOR UPDATE SKIP LOCKED`, ethos.BatchItemQueued, model, maxRequests)
		if err != nil {
			return err
		}
		items = items[:0]
		var bytes int64
		keys := []string{}
		for _, q := range queued {
			if len(items) > 0 && bytes+q.bytes > maxBytes {
				break
			}
			bytes += q.bytes
			items = append(items, q.it)
			keys = append(keys, q.it.Key)
		}
		if len(items) == 0 {
			return nil
		}
		b = ethos.Batch{Provider: items[0].Provider, Model: model, State: ethos.BatchPreparing,
			Requests: len(items), Bytes: bytes, CreatedAt: now()}
		if err := tx.QueryRow(ctx, `INSERT INTO batches (provider, model, state, requests, bytes, created_at)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`, b.Provider, b.Model, b.State, b.Requests, b.Bytes, b.CreatedAt).Scan(&b.ID); err != nil {
			return err
		}
		b.Label = batchLabel(b.ID)
		if _, err := tx.Exec(ctx, `UPDATE batch_items SET state = $1, batch_id = $2, submissions = submissions + 1 WHERE key = ANY($3)`,
			ethos.BatchItemSubmitted, b.ID, keys); err != nil {
			return err
		}
		runs, stages := map[string]bool{}, map[string]bool{}
		for i := range items {
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
		return nil
	})
	if err != nil {
		return ethos.Batch{}, nil, normalize(op, err)
	}
	if len(items) == 0 {
		return ethos.Batch{}, nil, nil
	}
	return b, items, nil
}

// batchLabel is the name ethos gives batch id at the provider.
func batchLabel(id int64) string { return fmt.Sprintf("ethos-batch-%d", id) }

// UpdateBatch stores what the provider said of b.
func (d *DB) UpdateBatch(ctx context.Context, b ethos.Batch) error {
	const op = "postgres: update batch"
	counts, err := json.Marshal(b.Counts)
	if err != nil {
		return ethos.Errorf(ethos.Invalid, "%s %d: counts: %w", op, b.ID, err)
	}
	tag, err := d.execNotify(ctx, "overview", `UPDATE batches SET provider_id = $1, state = $2, status = $3, counts = $4, error = $5,
		submitted_at = $6, ended_at = $7, collected_at = $8 WHERE id = $9`,
		b.ProviderID, b.State, b.Status, string(counts), b.Error,
		nullTime(&b.SubmittedAt), nullTime(&b.EndedAt), nullTime(&b.CollectedAt), b.ID)
	if err != nil {
		return normalize(op, err)
	}
	if tag.RowsAffected() == 0 {
		return ethos.Errorf(ethos.NotFound, "%s: no batch %d in the store", op, b.ID)
	}
	return nil
}

// AnswerBatchItems stores the results of batch. Results for items the
// batch no longer holds (answered already, or moved to another batch) are
// ignored, so collecting the same results twice changes nothing.
func (d *DB) AnswerBatchItems(ctx context.Context, batch int64, results []ethos.BatchItem, maxSubmissions int) error {
	const op = "postgres: answer batch items"
	answered := now()
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		for _, r := range results {
			if r.Outcome == ethos.BatchExpired || r.Outcome == ethos.BatchCancelled {
				tag, err := tx.Exec(ctx, `UPDATE batch_items SET state = $1, batch_id = 0, outcome = $2, queued_at = $3
					WHERE key = $4 AND batch_id = $5 AND state = $6 AND submissions < $7`,
					ethos.BatchItemQueued, r.Outcome, answered, r.Key, batch, ethos.BatchItemSubmitted, maxSubmissions)
				if err != nil {
					return err
				}
				if tag.RowsAffected() > 0 {
					continue
				}
			}
			var resp []byte
			if r.Response != nil {
				var err error
				if resp, err = json.Marshal(r.Response); err != nil {
					return ethos.Errorf(ethos.Invalid, "%s %s: encode response: %w", op, r.Key, err)
				}
			}
			if _, err := tx.Exec(ctx, `UPDATE batch_items SET state = $1, outcome = $2, response = $3, error_kind = $4, error = $5,
				answered_at = $6 WHERE key = $7 AND batch_id = $8 AND state = $9`,
				ethos.BatchItemAnswered, r.Outcome, resp, r.ErrorKind, r.Error,
				answered, r.Key, batch, ethos.BatchItemSubmitted); err != nil {
				return err
			}
		}
		return nil
	})
	var e *ethos.Error
	if errors.As(err, &e) {
		return e
	}
	if err != nil {
		return normalize(op, err)
	}
	return nil
}

// BatchItems lists the items batch holds or answered, by key.
func (d *DB) BatchItems(ctx context.Context, batch int64) ([]ethos.BatchItem, error) {
	return list(ctx, d.pool, "postgres: batch items", scanBatchItem,
		`SELECT `+batchItemColumns+` FROM batch_items WHERE batch_id = $1 ORDER BY key COLLATE "C"`, batch)
}

// RequeueBatch puts the items batch still holds back in the queue.
func (d *DB) RequeueBatch(ctx context.Context, batch int64) error {
	if _, err := d.pool.Exec(ctx, `UPDATE batch_items SET state = $1, batch_id = 0 WHERE batch_id = $2 AND state = $3`,
		ethos.BatchItemQueued, batch, ethos.BatchItemSubmitted); err != nil {
		return normalize("postgres: requeue batch", err)
	}
	return nil
}

// Batches lists batches matching f, newest first.
func (d *DB) Batches(ctx context.Context, f ethos.BatchFilter) ([]ethos.Batch, error) {
	p := sqlparams.Dollar()
	if f.Provider != "" {
		p.Add("b.provider = ?", f.Provider)
	}
	if f.Active {
		p.Add("b.state <> ALL(?)", []string{string(ethos.BatchEnded), string(ethos.BatchFailed)})
	}
	if f.RunID != "" {
		p.Add("b.id IN (SELECT batch_id FROM batch_items WHERE run_id = ?)", f.RunID)
	}
	q := `SELECT ` + batchColumns + ` FROM batches b` + p.Where() + ` ORDER BY b.id DESC`
	if f.Limit > 0 {
		q += ` LIMIT ` + p.Next(f.Limit)
	}
	return list(ctx, d.pool, "postgres: batches", scanBatch, q, p.Args...)
}

// GetBatch returns batch id, or a NotFound error.
func (d *DB) GetBatch(ctx context.Context, id int64) (ethos.Batch, error) {
	b, err := scanBatch(d.pool.QueryRow(ctx, `SELECT `+batchColumns+` FROM batches b WHERE b.id = $1`, id))
	if err != nil {
		return ethos.Batch{}, notFound(normalize("postgres: batch", err), "no batch %d in the store; \"ethos batches\" lists them", id)
	}
	return b, nil
}

func scanBatch(row pgx.Row) (ethos.Batch, error) {
	var (
		b                           ethos.Batch
		counts                      []byte
		submitted, ended, collected *time.Time
	)
	if err := row.Scan(&b.ID, &b.Provider, &b.Model, &b.ProviderID, &b.State, &b.Status, &counts, &b.Requests,
		&b.Bytes, &b.Error, &b.CreatedAt, &submitted, &ended, &collected, &b.RunIDs, &b.Stages); err != nil {
		return ethos.Batch{}, err
	}
	b.Label = batchLabel(b.ID)
	if err := json.Unmarshal(counts, &b.Counts); err != nil {
		return ethos.Batch{}, fmt.Errorf("counts of batch %d: %w", b.ID, err)
	}
	for _, t := range []struct {
		v   *time.Time
		dst *time.Time
	}{{submitted, &b.SubmittedAt}, {ended, &b.EndedAt}, {collected, &b.CollectedAt}} {
		if t.v != nil {
			*t.dst = *t.v
		}
	}
	if len(b.RunIDs) == 0 {
		b.RunIDs = nil
	}
	if len(b.Stages) == 0 {
		b.Stages = nil
	}
	return b, nil
}

func scanBatchItem(row pgx.Row) (ethos.BatchItem, error) {
	return scanBatchItemExtra(row)
}

// scanBatchItemExtra scans batchItemColumns and then extra.
func scanBatchItemExtra(row pgx.Row, extra ...any) (ethos.BatchItem, error) {
	var (
		it         ethos.BatchItem
		req, resp  []byte
		answeredAt *time.Time
	)
	dest := []any{&it.Key, &it.Provider, &it.Model, &it.RunID, &it.Stage, &req, &it.State, &it.BatchID,
		&it.Submissions, &it.Outcome, &resp, &it.ErrorKind, &it.Error, &it.QueuedAt, &answeredAt}
	if err := row.Scan(append(dest, extra...)...); err != nil {
		return ethos.BatchItem{}, err
	}
	var err error
	if it.Request, err = decodeRequest(req); err != nil {
		return ethos.BatchItem{}, fmt.Errorf("request of batch item %s: %w", it.Key, err)
	}
	if resp != nil {
		it.Response = new(ethos.Response)
		if err := json.Unmarshal(resp, it.Response); err != nil {
			return ethos.BatchItem{}, fmt.Errorf("response of batch item %s: %w", it.Key, err)
		}
	}
	if answeredAt != nil {
		it.AnsweredAt = *answeredAt
	}
	return it, nil
}
