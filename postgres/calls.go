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
	"github.com/jackc/pgx/v5/pgconn"
)

// querier is a pool or a transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// list runs a query and scans each of its rows with scan, in order; no
// rows is a nil slice. It is the store's one query-and-scan loop.
func list[T any](ctx context.Context, q querier, op string, scan func(pgx.Row) (T, error), sql string, args ...any) ([]T, error) {
	rows, _ := q.Query(ctx, sql, args...) // a failed query reports its error through rows
	out, err := pgx.AppendRows([]T(nil), rows, func(r pgx.CollectableRow) (T, error) { return scan(r) })
	if err != nil {
		return nil, normalize(op, err)
	}
	return out, nil
}

// micro is t in UTC at the microsecond precision of timestamptz, without
// a monotonic reading, so that what a caller holds equals what is read
// back.
func micro(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// now is the time the store stamps on rows.
func now() time.Time { return micro(time.Now()) }

// nullTime is a nullable time column's value: NULL for nil or zero.
func nullTime(t *time.Time) any {
	if t == nil || t.IsZero() {
		return nil
	}
	return micro(*t)
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

func encodeRequest(r ethos.Request) ([]byte, error) {
	return json.Marshal(storedRequest{Request: r, Stream: r.Stream, Metadata: r.Metadata})
}

func decodeRequest(raw []byte) (ethos.Request, error) {
	var sr storedRequest
	if err := json.Unmarshal(raw, &sr); err != nil {
		return ethos.Request{}, err
	}
	r := sr.Request
	r.Stream, r.Metadata = sr.Stream, sr.Metadata
	return r, nil
}

// cacheable reports whether c may answer later identical requests: it
// succeeded and was paid for, not itself served from the cache.
func cacheable(c *ethos.Call) bool {
	return c.Response != nil && !c.CacheHit && c.ErrorKind == "" && c.Error == ""
}

const callColumns = `id, key, provider, model, run_id, stage, request, response, stop_reason,
	in_tokens, out_tokens, cache_read_tokens, cache_write_tokens, cost_usd, latency_ns,
	attempts, cache_hit, error_kind, error, created_at`

// CachedResponse returns the response of the most recent successful,
// non-cache-hit call recorded with key.
func (d *DB) CachedResponse(ctx context.Context, key string) (ethos.Response, bool, error) {
	const op = "postgres: cached response"
	var raw []byte
	err := d.pool.QueryRow(ctx, `SELECT c.response FROM llm_cache k JOIN llm_calls c ON c.id = k.call_id WHERE k.key = $1`, key).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
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
// the current time when it is zero and keeps it otherwise, in UTC and
// rounded down to the microsecond either way. A successful paid call also
// becomes the cache entry for its key, unless a call recorded after it
// (with a higher ID) already is.
func (d *DB) RecordCall(ctx context.Context, c *ethos.Call) error {
	const op = "postgres: record call"
	if c == nil {
		return ethos.Errorf(ethos.Invalid, "%s: nil call", op)
	}
	req, err := encodeRequest(c.Request)
	if err != nil {
		return ethos.Errorf(ethos.Invalid, "%s: encode request: %w", op, err)
	}
	var resp []byte // nil stores NULL
	var stop ethos.StopReason
	if c.Response != nil {
		if resp, err = json.Marshal(c.Response); err != nil {
			return ethos.Errorf(ethos.Invalid, "%s: encode response: %w", op, err)
		}
		stop = c.Response.StopReason
	}
	created := now()
	if !c.CreatedAt.IsZero() {
		created = micro(c.CreatedAt)
	}
	// One statement inserts the call and points the cache at it, so the
	// two are written together without a transaction's round trips.
	var id int64
	err = d.queryRowNotify(ctx, "overview", []any{&id}, `WITH c AS (
			INSERT INTO llm_calls (key, provider, model, run_id, stage, request, response, stop_reason,
				in_tokens, out_tokens, cache_read_tokens, cache_write_tokens, cost_usd,
				latency_ns, attempts, cache_hit, error_kind, error, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
			RETURNING id),
		k AS (
			INSERT INTO llm_cache (key, call_id) SELECT $1, id FROM c WHERE $20
			ON CONFLICT (key) DO UPDATE SET call_id = excluded.call_id WHERE llm_cache.call_id < excluded.call_id)
		SELECT id FROM c`,
		c.Key, c.Provider, c.Model, c.RunID, c.Stage, req, resp, string(stop),
		c.Usage.In, c.Usage.Out, c.Usage.CacheRead, c.Usage.CacheWrite, c.CostUSD,
		int64(c.Latency), c.Attempts, c.CacheHit, string(c.ErrorKind), c.Error, created, cacheable(c))
	if err != nil {
		return normalize(op, err)
	}
	c.ID, c.CreatedAt = id, created
	return nil
}

// callFilter renders f's conditions; Limit is not a condition.
func callFilter(f ethos.CallFilter) *sqlparams.Params {
	p := sqlparams.Dollar()
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
		p.Add("created_at >= ?", micro(f.Since))
	}
	return p
}

// Spent is the USD cost of the calls matching f, as recorded; f.Limit is
// ignored.
func (d *DB) Spent(ctx context.Context, f ethos.CallFilter) (float64, error) {
	p := callFilter(f)
	var total float64
	if err := d.pool.QueryRow(ctx, `SELECT COALESCE(SUM(cost_usd), 0) FROM llm_calls`+p.Where(), p.Args...).Scan(&total); err != nil {
		return 0, normalize("postgres: spent", err)
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
	return list(ctx, d.pool, "postgres: calls", scanCall, q, p.Args...)
}

func scanCall(row pgx.Row) (ethos.Call, error) {
	var (
		c         ethos.Call
		req, resp []byte
		stop      string
		latency   int64
		errKind   string
	)
	if err := row.Scan(&c.ID, &c.Key, &c.Provider, &c.Model, &c.RunID, &c.Stage, &req, &resp, &stop,
		&c.Usage.In, &c.Usage.Out, &c.Usage.CacheRead, &c.Usage.CacheWrite, &c.CostUSD, &latency,
		&c.Attempts, &c.CacheHit, &errKind, &c.Error, &c.CreatedAt); err != nil {
		return c, err
	}
	var err error
	if c.Request, err = decodeRequest(req); err != nil {
		return c, fmt.Errorf("decode request of call %d: %w", c.ID, err)
	}
	if resp != nil {
		c.Response = new(ethos.Response)
		if err := json.Unmarshal(resp, c.Response); err != nil {
			return c, fmt.Errorf("decode response of call %d: %w", c.ID, err)
		}
	}
	c.Latency = time.Duration(latency)
	c.ErrorKind = ethos.Kind(errKind)
	return c, nil
}

// SummarizeCalls aggregates the calls matching f per provider and model,
// ordered by provider then model; f.Limit is ignored. Latency is the mean
// over all the group's calls, cache hits included.
func (d *DB) SummarizeCalls(ctx context.Context, f ethos.CallFilter) ([]ethos.CallSummary, error) {
	p := callFilter(f)
	// Grouping by error kind too yields the error counts in the same pass;
	// ethos.SummarizeCallGroups folds the groups of one provider and model.
	groups, err := list(ctx, d.pool, "postgres: summarize calls", func(row pgx.Row) (ethos.CallGroup, error) {
		var (
			g       ethos.CallGroup
			latency int64
		)
		err := row.Scan(&g.Provider, &g.Model, &g.ErrorKind, &g.Calls, &g.CacheHits, &g.Usage.In, &g.Usage.Out,
			&g.Usage.CacheRead, &g.Usage.CacheWrite, &g.CostUSD, &latency)
		g.Latency = time.Duration(latency)
		return g, err
	}, `SELECT provider, model, error_kind, COUNT(*), COUNT(*) FILTER (WHERE cache_hit),
		SUM(in_tokens)::bigint, SUM(out_tokens)::bigint, SUM(cache_read_tokens)::bigint, SUM(cache_write_tokens)::bigint,
		SUM(cost_usd), SUM(latency_ns)::bigint
		FROM llm_calls`+p.Where()+`
		GROUP BY provider, model, error_kind
		ORDER BY provider COLLATE "C", model COLLATE "C", error_kind COLLATE "C"`, p.Args...)
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
	p.Add("NOT cache_hit")
	return list(ctx, d.pool, "postgres: prompt caching", func(row pgx.Row) (ethos.PromptCacheUse, error) {
		var u ethos.PromptCacheUse
		err := row.Scan(&u.RunID, &u.Stage, &u.Provider, &u.Model, &u.Calls,
			&u.Usage.In, &u.Usage.Out, &u.Usage.CacheRead, &u.Usage.CacheWrite, &u.CostUSD)
		u.UncachedUSD = u.CostUSD
		return u, err
	}, `SELECT run_id, stage, provider, model, COUNT(*),
		SUM(in_tokens)::bigint, SUM(out_tokens)::bigint, SUM(cache_read_tokens)::bigint, SUM(cache_write_tokens)::bigint, SUM(cost_usd)
		FROM llm_calls`+p.Where()+`
		GROUP BY run_id, stage, provider, model
		ORDER BY run_id COLLATE "C", stage COLLATE "C", provider COLLATE "C", model COLLATE "C"`, p.Args...)
}
