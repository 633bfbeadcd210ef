package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/internal/sqlparams"
)

// querier is a database or a transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// list runs a query and scans each of its rows with scan, in order; no
// rows is a nil slice. It is the store's one query-and-scan loop: every
// error, the query's, a row's or scan's own, is normalised under op.
func list[T any](ctx context.Context, q querier, op string, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, normalize(op, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, normalize(op, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, normalize(op, err)
	}
	return out, nil
}

// timeFormat is RFC 3339 with a fixed nine-digit fraction. Stored in UTC,
// its text order is time order, so created_at compares and sorts as text.
const timeFormat = "2006-01-02T15:04:05.000000000Z07:00"

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

// FormatTime is the text the store keeps a time as. Code that writes the
// store's tables itself (a copy from another store) writes times so, or
// they would not sort as times.
func FormatTime(t time.Time) string { return formatTime(t) }

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	return t.UTC(), err
}

// storedRequest is the request as the ledger keeps it. ethos.Request leaves
// Stream and Metadata out of its JSON because they are not part of the
// call's identity, but the ledger shows them: Metadata carries the run,
// stage and item labels.
type storedRequest struct {
	ethos.Request
	Stream   bool              `json:"stream,omitempty"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

const callColumns = `id, key, provider, model, run_id, stage, request, response, stop_reason,
	in_tokens, out_tokens, cache_read_tokens, cache_write_tokens, cost_usd, latency_ns,
	attempts, cache_hit, error_kind, error, created_at`

// prepare compiles the statements on the hot path of every model call:
// the writes on the read-write connection, the cache lookup on the
// read-only pool.
func (d *DB) prepare(ctx context.Context) error {
	var err error
	prep := func(db *sql.DB, query string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var s *sql.Stmt
		if s, err = db.PrepareContext(ctx, query); err != nil {
			err = normalize("sqlite: prepare", err)
		}
		return s
	}
	d.insertCall = prep(d.db, `INSERT INTO llm_calls (key, provider, model, run_id, stage, request, response,
		stop_reason, in_tokens, out_tokens, cache_read_tokens, cache_write_tokens, cost_usd,
		latency_ns, attempts, cache_hit, error_kind, error, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	d.upsertCache = prep(d.db, `INSERT INTO llm_cache (key, call_id) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET call_id = excluded.call_id`)
	d.cachedByKey = prep(d.read, `SELECT c.response FROM llm_cache k JOIN llm_calls c ON c.id = k.call_id WHERE k.key = ?`)
	d.prepareRuns(prep)
	return err
}

// cacheable reports whether c may answer later identical requests: it
// succeeded and was paid for, not itself served from the cache.
func cacheable(c *ethos.Call) bool {
	return c.Response != nil && !c.CacheHit && c.ErrorKind == "" && c.Error == ""
}

// CachedResponse returns the response of the most recent successful,
// non-cache-hit call recorded with key.
func (d *DB) CachedResponse(ctx context.Context, key string) (ethos.Response, bool, error) {
	const op = "sqlite: cached response"
	var raw json.RawMessage
	err := d.cachedByKey.QueryRowContext(ctx, key).Scan(jsonColumn{&raw})
	if errors.Is(err, sql.ErrNoRows) {
		return ethos.Response{}, false, nil
	}
	if err != nil {
		return ethos.Response{}, false, normalize(op, err)
	}
	var resp ethos.Response
	if err := json.Unmarshal(raw, &resp); err != nil {
		return ethos.Response{}, false, ethos.Errorf(ethos.Internal, "%s: decode response for key %s: %w", op, key, err)
	}
	return resp, true, nil
}

// RecordCall appends c to the ledger and sets c.ID. It sets c.CreatedAt to
// the current time when it is zero and keeps it otherwise, in UTC either
// way. A successful paid call also becomes the cache entry for its key.
//
// Concurrent calls are committed together (group commit): a commit costs
// far more than a row, so under load the rows of many callers share one
// transaction. Once queued, a call is written even if ctx is cancelled
// meanwhile, so that a call that was paid for is not lost from the ledger
// because its run is stopping.
func (d *DB) RecordCall(ctx context.Context, c *ethos.Call) error {
	const op = "sqlite: record call"
	if c == nil {
		return ethos.Errorf(ethos.Invalid, "%s: nil call", op)
	}
	if err := ctx.Err(); err != nil {
		return normalize(op, err)
	}
	row := newCallRow(c)
	d.calls.Do(ctx, row, row.done, func(ctx context.Context, batch []*callRow) {
		err := d.writeRows(ctx, batch)
		for _, r := range batch {
			if err != nil && r.err == nil {
				r.err = normalize(op, err)
			}
			close(r.done)
		}
	})

	if row.err != nil {
		return row.err
	}
	c.ID, c.CreatedAt = row.id, row.created
	return nil
}

// callRow is a call waiting to be written to the llm_calls table. The
// writer encodes its request and response as it writes it (a row waiting
// for its commit would otherwise hold a second copy of both, a prompt and
// a whole document, for every call in flight), sets id and err, then
// closes done.
type callRow struct {
	c       *ethos.Call
	created time.Time
	cache   bool

	done chan struct{}
	id   int64
	err  error
}

func newCallRow(c *ethos.Call) *callRow {
	created := c.CreatedAt
	if created.IsZero() {
		created = time.Now()
	}
	return &callRow{c: c, created: created.UTC().Round(0), cache: cacheable(c), done: make(chan struct{})}
}

// callEncoder encodes the JSON columns of the rows of one commit into
// buffers reused from row to row: the store copies bound text, so a
// buffer is free again once its row is written.
type callEncoder struct{ req, resp bytes.Buffer }

// encode is c's request and response JSON, the response nil for NULL. An
// error is an Invalid error of that call alone.
func (e *callEncoder) encode(c *ethos.Call) (req, resp []byte, err error) {
	if req, err = encodeJSON(&e.req, storedRequest{Request: c.Request, Stream: c.Request.Stream, Metadata: c.Request.Metadata}); err != nil {
		return nil, nil, ethos.Errorf(ethos.Invalid, "sqlite: record call: encode request: %w", err)
	}
	if c.Response != nil {
		if resp, err = encodeJSON(&e.resp, c.Response); err != nil {
			return nil, nil, ethos.Errorf(ethos.Invalid, "sqlite: record call: encode response: %w", err)
		}
	}
	return req, resp, nil
}

// encodeJSON is json.Marshal(v) written into buf, which it resets.
func encodeJSON(buf *bytes.Buffer, v any) ([]byte, error) {
	buf.Reset()
	if err := json.NewEncoder(buf).Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// writeRows inserts rows in one transaction, in order, so that IDs follow
// the order of recording and the last success for a key wins the cache.
func (d *DB) writeRows(ctx context.Context, rows []*callRow) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	insert := tx.StmtContext(ctx, d.insertCall)
	upsert := tx.StmtContext(ctx, d.upsertCache)
	var enc callEncoder
	for _, r := range rows {
		c := r.c
		req, resp, err := enc.encode(c)
		if err != nil {
			r.err = err
			continue
		}
		var stop ethos.StopReason
		if c.Response != nil {
			stop = c.Response.StopReason
		}
		res, err := insert.ExecContext(ctx,
			c.Key, c.Provider, c.Model, c.RunID, c.Stage, boundText(req), nullableText(resp), string(stop),
			c.Usage.In, c.Usage.Out, c.Usage.CacheRead, c.Usage.CacheWrite, c.CostUSD,
			int64(c.Latency), c.Attempts, c.CacheHit, string(c.ErrorKind), c.Error, formatTime(r.created))
		if err != nil {
			return err
		}
		if r.id, err = res.LastInsertId(); err != nil {
			return err
		}
		if r.cache {
			if _, err := upsert.ExecContext(ctx, c.Key, r.id); err != nil {
				return err
			}
		}
	}
	return tx.Commit()
}

func nullableText(b []byte) any {
	if b == nil {
		return nil
	}
	return boundText(b)
}

// callFilter gathers f's conditions; Limit is not a condition.
func callFilter(f ethos.CallFilter) *sqlparams.Params {
	p := sqlparams.Question()
	if f.RunID != "" {
		p.Add("run_id = ?", f.RunID)
	}
	if f.Stage != "" {
		p.Add("stage = ?", f.Stage)
	}
	if f.Provider != "" {
		p.Add("provider = ?", f.Provider)
	}
	if !f.Since.IsZero() {
		p.Add("created_at >= ?", formatTime(f.Since))
	}
	return p
}

// Spent is the USD cost of the calls matching f, as recorded; f.Limit is
// ignored.
func (d *DB) Spent(ctx context.Context, f ethos.CallFilter) (float64, error) {
	p := callFilter(f)
	var total float64
	if err := d.read.QueryRowContext(ctx, `SELECT COALESCE(SUM(cost_usd), 0) FROM llm_calls`+p.Where(), p.Args...).Scan(&total); err != nil {
		return 0, normalize("sqlite: spent", err)
	}
	return total, nil
}

// Calls lists the calls matching f, newest first (by CreatedAt, then by
// ID), at most f.Limit of them when it is positive.
func (d *DB) Calls(ctx context.Context, f ethos.CallFilter) ([]ethos.Call, error) {
	p := callFilter(f)
	q := `SELECT ` + callColumns + ` FROM llm_calls` + p.Where() + ` ORDER BY created_at DESC, id DESC`
	if f.Limit > 0 {
		q += ` LIMIT ` + p.Next(f.Limit)
	}
	return list(ctx, d.read, "sqlite: calls", scanCall, q, p.Args...)
}

func scanCall(s scanner) (ethos.Call, error) {
	var (
		c                ethos.Call
		req              []byte
		resp             []byte
		stop             string
		latency          int64
		errKind, created string
	)
	if err := s.Scan(&c.ID, &c.Key, &c.Provider, &c.Model, &c.RunID, &c.Stage, &req, &resp, &stop,
		&c.Usage.In, &c.Usage.Out, &c.Usage.CacheRead, &c.Usage.CacheWrite, &c.CostUSD, &latency,
		&c.Attempts, &c.CacheHit, &errKind, &c.Error, &created); err != nil {
		return c, err
	}
	var sr storedRequest
	if err := json.Unmarshal(req, &sr); err != nil {
		return c, fmt.Errorf("decode request of call %d: %w", c.ID, err)
	}
	c.Request = sr.Request
	c.Request.Stream, c.Request.Metadata = sr.Stream, sr.Metadata
	if resp != nil {
		c.Response = new(ethos.Response)
		if err := json.Unmarshal(resp, c.Response); err != nil {
			return c, fmt.Errorf("decode response of call %d: %w", c.ID, err)
		}
	}
	c.Latency = time.Duration(latency)
	c.ErrorKind = ethos.Kind(errKind)
	t, err := parseTime(created)
	if err != nil {
		return c, fmt.Errorf("created_at of call %d: %w", c.ID, err)
	}
	c.CreatedAt = t
	return c, nil
}

// SummarizeCalls aggregates the calls matching f per provider and model,
// ordered by provider then model; f.Limit is ignored. Latency is the mean
// over all the group's calls, cache hits included.
func (d *DB) SummarizeCalls(ctx context.Context, f ethos.CallFilter) ([]ethos.CallSummary, error) {
	p := callFilter(f)
	// Grouping by error kind too yields the error counts in the same pass;
	// ethos.SummarizeCallGroups folds the groups of one provider and model.
	groups, err := list(ctx, d.read, "sqlite: summarize calls", func(s scanner) (ethos.CallGroup, error) {
		var (
			g       ethos.CallGroup
			latency int64
		)
		err := s.Scan(&g.Provider, &g.Model, &g.ErrorKind, &g.Calls, &g.CacheHits, &g.Usage.In, &g.Usage.Out,
			&g.Usage.CacheRead, &g.Usage.CacheWrite, &g.CostUSD, &latency)
		g.Latency = time.Duration(latency)
		return g, err
	}, `SELECT provider, model, error_kind, COUNT(*), SUM(cache_hit),
		SUM(in_tokens), SUM(out_tokens), SUM(cache_read_tokens), SUM(cache_write_tokens),
		SUM(cost_usd), SUM(latency_ns)
		FROM llm_calls`+p.Where()+`
		GROUP BY provider, model, error_kind
		ORDER BY provider, model, error_kind`, p.Args...)
	if err != nil {
		return nil, err
	}
	return ethos.SummarizeCallGroups(groups), nil
}

// PromptCaching sums the calls matching f that a provider answered or
// failed, leaving out the ledger's cache hits, per run, stage, provider
// and model.
func (d *DB) PromptCaching(ctx context.Context, f ethos.CallFilter) ([]ethos.PromptCacheUse, error) {
	p := callFilter(f)
	p.Add("cache_hit = 0")
	return list(ctx, d.read, "sqlite: prompt caching", func(s scanner) (ethos.PromptCacheUse, error) {
		var u ethos.PromptCacheUse
		err := s.Scan(&u.RunID, &u.Stage, &u.Provider, &u.Model, &u.Calls,
			&u.Usage.In, &u.Usage.Out, &u.Usage.CacheRead, &u.Usage.CacheWrite, &u.CostUSD)
		u.UncachedUSD = u.CostUSD
		return u, err
	}, `SELECT run_id, stage, provider, model, COUNT(*),
		SUM(in_tokens), SUM(out_tokens), SUM(cache_read_tokens), SUM(cache_write_tokens), SUM(cost_usd)
		FROM llm_calls`+p.Where()+`
		GROUP BY run_id, stage, provider, model
		ORDER BY run_id, stage, provider, model`, p.Args...)
}
