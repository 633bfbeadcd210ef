package storecopy

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgEnd is a PostgreSQL store, in the first schema of its search_path.
type pgEnd struct{ pool *pgxpool.Pool }

func pgError(op string, err error) error {
	return &ethos.Error{Kind: ethos.Internal, Op: "storecopy: postgres: " + op, Err: err}
}

// pgTablesQuery lists the store's tables with their columns (how each is
// kept, whether the table numbers it), the tables their foreign keys name
// and their primary keys.
const pgTablesQuery = `SELECT c.relname::text,
	ARRAY(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum),
	ARRAY(SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum),
	ARRAY(SELECT a.attidentity <> '' FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum),
	ARRAY(SELECT DISTINCT f.confrelid::regclass::text FROM pg_constraint f WHERE f.conrelid = c.oid AND f.contype = 'f'),
	ARRAY(SELECT a.attname::text FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
		WHERE i.indrelid = c.oid AND i.indisprimary ORDER BY array_position(i.indkey::int2[], a.attnum))
FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r' ORDER BY c.relname`

func (e *pgEnd) tables(ctx context.Context) ([]table, error) {
	rows, err := e.pool.Query(ctx, pgTablesQuery)
	if err != nil {
		return nil, pgError("tables", err)
	}
	defer rows.Close()
	var ts []table
	for rows.Next() {
		var (
			t                table
			cols, types, pks []string
			identity         []bool
		)
		if err := rows.Scan(&t.name, &cols, &types, &identity, &t.refs, &pks); err != nil {
			return nil, pgError("tables", err)
		}
		if skipped(t.name) {
			continue
		}
		hasSeq := false
		for i, name := range cols {
			t.columns = append(t.columns, column{name: name, kind: pgKind(types[i]), identity: identity[i]})
			hasSeq = hasSeq || name == "seq"
		}
		// seq is the insertion order where the table's key is not.
		t.order = pks
		if hasSeq {
			t.order = []string{"seq"}
		}
		ts = append(ts, t)
	}
	return ts, rows.Err()
}

// pgKind says how a column of PostgreSQL type typ is converted.
func pgKind(typ string) kind {
	switch typ {
	case "timestamp with time zone":
		return kindTime
	case "boolean":
		return kindBool
	case "json", "jsonb":
		return kindJSON
	}
	return kindOther
}

func (e *pgEnd) beginRead(ctx context.Context) (readTx, error) {
	tx, err := e.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, pgError("begin", err)
	}
	return &pgTx{tx: tx}, nil
}

func (e *pgEnd) beginWrite(ctx context.Context) (writeTx, error) {
	tx, err := e.pool.Begin(ctx)
	if err != nil {
		return nil, pgError("begin", err)
	}
	return &pgTx{tx: tx}, nil
}

// pgTx is a transaction on a PostgreSQL store, read or written.
type pgTx struct{ tx pgx.Tx }

func (x *pgTx) count(ctx context.Context, table string) (int64, error) {
	var n int64
	if err := x.tx.QueryRow(ctx, `SELECT COUNT(*) FROM `+quote(table)).Scan(&n); err != nil {
		return 0, pgError("count "+table, err)
	}
	return n, nil
}

// rows reads JSON as the text it was written as, and the rest as pgx
// decodes it (times as time.Time, booleans as bool).
func (x *pgTx) rows(ctx context.Context, t table, columns []string, copy func(next func() ([]any, bool, error)) error) error {
	sel := make([]string, len(columns))
	for i, c := range columns {
		sel[i] = quote(c)
		if t.columnNamed(c).kind == kindJSON {
			sel[i] += "::text"
		}
	}
	rows, err := x.tx.Query(ctx, fmt.Sprintf(`SELECT %s FROM %s ORDER BY %s`, strings.Join(sel, ", "), quote(t.name), quoteAll(t.order)))
	if err != nil {
		return pgError("read "+t.name, err)
	}
	defer rows.Close()
	next := func() ([]any, bool, error) {
		if !rows.Next() {
			return nil, false, rows.Err()
		}
		vals, err := rows.Values()
		return vals, err == nil, err
	}
	return copy(next)
}

// insert writes the rows by COPY, then sets each identity column's
// sequence past the largest value copied, so that the store's next row
// does not take a copied row's number.
func (x *pgTx) insert(ctx context.Context, t table, columns []string, next func() ([]any, bool, error)) error {
	kinds := make([]kind, len(columns))
	for i, c := range columns {
		kinds[i] = t.columnNamed(c).kind
	}
	src := &pgSource{next: next, kinds: kinds}
	if _, err := x.tx.CopyFrom(ctx, pgx.Identifier{t.name}, columns, src); err != nil {
		if src.err != nil {
			return src.err
		}
		return pgError("insert "+t.name, err)
	}
	for _, c := range t.columns {
		if !c.identity {
			continue
		}
		_, err := x.tx.Exec(ctx, fmt.Sprintf(`SELECT setval(pg_get_serial_sequence($1, $2), m) FROM (SELECT MAX(%s) AS m FROM %s) x WHERE m IS NOT NULL`,
			quote(c.name), quote(t.name)), quote(t.name), c.name)
		if err != nil {
			return pgError("renumber "+t.name, err)
		}
	}
	return nil
}

// pgSource feeds COPY, converting values from SQLite as it goes.
type pgSource struct {
	next  func() ([]any, bool, error)
	kinds []kind
	vals  []any
	err   error
}

func (s *pgSource) Next() bool {
	if s.err != nil {
		return false
	}
	vals, ok, err := s.next()
	if err != nil || !ok {
		s.err = err
		return false
	}
	for i, v := range vals {
		if vals[i], err = pgValue(v, s.kinds[i]); err != nil {
			s.err = err
			return false
		}
	}
	s.vals = vals
	return true
}

func (s *pgSource) Values() ([]any, error) { return s.vals, nil }
func (s *pgSource) Err() error             { return s.err }

// pgValue converts v for a column of kind k: SQLite's time text to a time
// (to the microsecond, which PostgreSQL keeps), its 0 or 1 to a boolean.
// JSON text goes as written.
func pgValue(v any, k kind) (any, error) {
	switch k {
	case kindTime:
		switch v := v.(type) {
		case string:
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return nil, ethos.Errorf(ethos.Internal, "storecopy: a time that does not parse: %q: %w", v, err)
			}
			return t.UTC().Truncate(time.Microsecond), nil
		case time.Time:
			return v.UTC().Truncate(time.Microsecond), nil
		}
	case kindBool:
		if n, ok := v.(int64); ok {
			return n != 0, nil
		}
	}
	return v, nil
}

func (x *pgTx) itemCounts(ctx context.Context) ([]itemCount, error) {
	rows, err := x.tx.Query(ctx, itemCountsQuery)
	if err != nil {
		return nil, pgError("item counts", err)
	}
	defer rows.Close()
	var cs []itemCount
	for rows.Next() {
		var c itemCount
		if err := rows.Scan(&c.run, &c.stage, &c.status, &c.n); err != nil {
			return nil, pgError("item counts", err)
		}
		cs = append(cs, c)
	}
	sortItemCounts(cs)
	return cs, rows.Err()
}

func (x *pgTx) commit(ctx context.Context) error {
	if err := x.tx.Commit(ctx); err != nil {
		return pgError("commit", err)
	}
	return nil
}

func (x *pgTx) rollback() { x.tx.Rollback(context.Background()) }
func (x *pgTx) close()    { x.tx.Rollback(context.Background()) }
