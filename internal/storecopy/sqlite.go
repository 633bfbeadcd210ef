package storecopy

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/sqlite"
)

// sqliteEnd is a SQLite store, through its one read-write connection. Its
// transactions take the write lock at BEGIN, so while a copy reads the
// source no other process writes it.
type sqliteEnd struct{ db *sql.DB }

func sqliteError(op string, err error) error {
	return &ethos.Error{Kind: ethos.Internal, Op: "storecopy: sqlite: " + op, Err: err}
}

func (e *sqliteEnd) tables(ctx context.Context) ([]table, error) {
	rows, err := e.db.QueryContext(ctx, `SELECT name, wr FROM pragma_table_list
		WHERE schema = 'main' AND type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name`)
	if err != nil {
		return nil, sqliteError("tables", err)
	}
	var ts []table
	withoutRowID := map[string]bool{}
	for rows.Next() {
		var name string
		var wr bool
		if err := rows.Scan(&name, &wr); err != nil {
			rows.Close()
			return nil, sqliteError("tables", err)
		}
		if !skipped(name) {
			ts = append(ts, table{name: name})
			withoutRowID[name] = wr
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, sqliteError("tables", err)
	}
	for i := range ts {
		t := &ts[i]
		var pk []string
		err := e.each(ctx, `SELECT name, pk FROM pragma_table_info(?) ORDER BY cid`, []any{t.name}, func(s func(...any) error) error {
			var name string
			var pkPos int
			if err := s(&name, &pkPos); err != nil {
				return err
			}
			t.columns = append(t.columns, column{name: name})
			if pkPos > 0 {
				pk = append(pk, name)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		err = e.each(ctx, `SELECT DISTINCT "table" FROM pragma_foreign_key_list(?)`, []any{t.name}, func(s func(...any) error) error {
			var ref string
			if err := s(&ref); err != nil {
				return err
			}
			t.refs = append(t.refs, ref)
			return nil
		})
		if err != nil {
			return nil, err
		}
		// A rowid table's rowids are its insertion order, which the store
		// breaks ties by; a table without one is ordered by its key.
		t.order = []string{"rowid"}
		if withoutRowID[t.name] {
			t.order = pk
		}
	}
	return ts, nil
}

// each runs query and calls fn with a scanner for each row.
func (e *sqliteEnd) each(ctx context.Context, query string, args []any, fn func(scan func(...any) error) error) error {
	rows, err := e.db.QueryContext(ctx, query, args...)
	if err != nil {
		return sqliteError("schema", err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows.Scan); err != nil {
			return sqliteError("schema", err)
		}
	}
	if err := rows.Err(); err != nil {
		return sqliteError("schema", err)
	}
	return nil
}

func (e *sqliteEnd) beginRead(ctx context.Context) (readTx, error) {
	tx, err := e.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, sqliteError("begin", err)
	}
	return &sqliteTx{tx: tx}, nil
}

func (e *sqliteEnd) beginWrite(ctx context.Context) (writeTx, error) {
	tx, err := e.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, sqliteError("begin", err)
	}
	return &sqliteTx{tx: tx}, nil
}

// sqliteTx is a transaction on a SQLite store, read or written.
type sqliteTx struct{ tx *sql.Tx }

func (x *sqliteTx) count(ctx context.Context, table string) (int64, error) {
	var n int64
	if err := x.tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+quote(table)).Scan(&n); err != nil {
		return 0, sqliteError("count "+table, err)
	}
	return n, nil
}

func (x *sqliteTx) rows(ctx context.Context, t table, columns []string, copy func(next func() ([]any, bool, error)) error) error {
	query := fmt.Sprintf(`SELECT %s FROM %s ORDER BY %s`, quoteAll(columns), quote(t.name), quoteAll(t.order))
	rows, err := x.tx.QueryContext(ctx, query)
	if err != nil {
		return sqliteError("read "+t.name, err)
	}
	defer rows.Close()
	next := func() ([]any, bool, error) {
		if !rows.Next() {
			return nil, false, rows.Err()
		}
		vals := make([]any, len(columns))
		ptrs := make([]any, len(columns))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, false, err
		}
		return vals, true, nil
	}
	return copy(next)
}

func (x *sqliteTx) insert(ctx context.Context, t table, columns []string, next func() ([]any, bool, error)) error {
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(columns)), ", ")
	stmt, err := x.tx.PrepareContext(ctx, fmt.Sprintf(`INSERT INTO %s (%s) VALUES (%s)`, quote(t.name), quoteAll(columns), marks))
	if err != nil {
		return sqliteError("insert "+t.name, err)
	}
	defer stmt.Close()
	for {
		vals, ok, err := next()
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		for i, v := range vals {
			vals[i] = sqliteValue(v)
		}
		if _, err := stmt.ExecContext(ctx, vals...); err != nil {
			return sqliteError("insert "+t.name, err)
		}
	}
}

// sqliteValue is v as the SQLite store keeps it: times as fixed-width
// text, booleans as 0 or 1.
func sqliteValue(v any) any {
	switch v := v.(type) {
	case time.Time:
		return sqlite.FormatTime(v)
	case bool:
		if v {
			return int64(1)
		}
		return int64(0)
	}
	return v
}

func (x *sqliteTx) itemCounts(ctx context.Context) ([]itemCount, error) {
	rows, err := x.tx.QueryContext(ctx, itemCountsQuery)
	if err != nil {
		return nil, sqliteError("item counts", err)
	}
	defer rows.Close()
	var cs []itemCount
	for rows.Next() {
		var c itemCount
		if err := rows.Scan(&c.run, &c.stage, &c.status, &c.n); err != nil {
			return nil, sqliteError("item counts", err)
		}
		cs = append(cs, c)
	}
	sortItemCounts(cs)
	return cs, rows.Err()
}

func (x *sqliteTx) commit(context.Context) error {
	if err := x.tx.Commit(); err != nil {
		return sqliteError("commit", err)
	}
	return nil
}

func (x *sqliteTx) rollback() { x.tx.Rollback() }
func (x *sqliteTx) close()    { x.tx.Rollback() }

// quote makes name an SQL identifier, in SQLite and PostgreSQL alike.
func quote(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = quote(n)
	}
	return strings.Join(q, ", ")
}
