package sqlite

import (
	linked "container/list"
	"context"
	"database/sql"
	"database/sql/driver"
	"reflect"
	"sync"

	msqlite "modernc.org/sqlite"
)

// stmtCacheSize bounds the statements each connection keeps prepared. The
// store and the job queue together run a few dozen distinct statements.
const stmtCacheSize = 128

// openCached opens dsn with every connection keeping its statements
// prepared by SQL text. The job queue's driver, like database/sql's plain
// Query and Exec, prepares each statement again for every call, and on a
// busy queue parsing its large statements costs more CPU than running
// them.
func openCached(dsn string) (*sql.DB, error) {
	base, err := msqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(cachingConnector{base}), nil
}

type cachingConnector struct{ base driver.Connector }

func (c cachingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.base.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return newCachingConn(conn), nil
}

func (c cachingConnector) Driver() driver.Driver { return c.base.Driver() }

// The interfaces every connection of the driver implements, which a
// wrapper must forward (see msqlite.NewConnector).
type fullConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// cachingConn is a connection whose QueryContext and ExecContext run
// statements kept prepared, least recently used first out. database/sql
// never uses one connection from two goroutines at once, but a statement
// whose rows are still open cannot run again: such a call prepares a
// statement of its own, as the driver would.
type cachingConn struct {
	fullConn
	mu    sync.Mutex
	stmts map[string]*linked.Element // of *cachedStmt
	lru   linked.List                // front: most recently used
}

type cachedStmt struct {
	query string
	stmt  driver.Stmt
	busy  bool // running, or its rows are open
}

func newCachingConn(c driver.Conn) driver.Conn {
	full, ok := c.(fullConn)
	if !ok {
		// A driver version without one of the interfaces: no cache
		// rather than a wrapper that hides what it has.
		return c
	}
	return &cachingConn{fullConn: full, stmts: map[string]*linked.Element{}}
}

// Unwrap returns the driver's own connection (see msqlite.NewConnector).
func (c *cachingConn) Unwrap() driver.Conn { return c.fullConn }

// take returns the cached statement for query, marked busy, preparing it
// when there is none; nil when the cached one is busy.
func (c *cachingConn) take(ctx context.Context, query string) (*cachedStmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.stmts[query]; ok {
		cs := e.Value.(*cachedStmt)
		if cs.busy {
			return nil, nil
		}
		cs.busy = true
		c.lru.MoveToFront(e)
		return cs, nil
	}
	s, err := c.fullConn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	cs := &cachedStmt{query: query, stmt: s, busy: true}
	c.stmts[query] = c.lru.PushFront(cs)
	for e := c.lru.Back(); c.lru.Len() > stmtCacheSize && e != nil; {
		prev := e.Prev()
		if old := e.Value.(*cachedStmt); !old.busy {
			c.lru.Remove(e)
			delete(c.stmts, old.query)
			old.stmt.Close()
		}
		e = prev
	}
	return cs, nil
}

// release ends a use of cs. After an error the statement is dropped: the
// next call prepares it afresh rather than trust its state.
func (c *cachingConn) release(cs *cachedStmt, failed bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cs.busy = false
	if !failed {
		return
	}
	if e, ok := c.stmts[cs.query]; ok && e.Value == cs {
		c.lru.Remove(e)
		delete(c.stmts, cs.query)
	}
	cs.stmt.Close()
}

func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cs, err := c.take(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.fullConn.QueryContext(ctx, query, args)
	}
	rows, err := cs.stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		c.release(cs, true)
		return nil, err
	}
	return &cachedRows{Rows: rows, conn: c, stmt: cs}, nil
}

func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	cs, err := c.take(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.fullConn.ExecContext(ctx, query, args)
	}
	res, err := cs.stmt.(driver.StmtExecContext).ExecContext(ctx, args)
	c.release(cs, err != nil)
	return res, err
}

// Close closes every cached statement, then the connection.
func (c *cachingConn) Close() error {
	c.mu.Lock()
	for e := c.lru.Front(); e != nil; e = e.Next() {
		e.Value.(*cachedStmt).stmt.Close()
	}
	c.stmts, c.lru = map[string]*linked.Element{}, linked.List{}
	c.mu.Unlock()
	return c.fullConn.Close()
}

// cachedRows gives its statement back when closed.
type cachedRows struct {
	driver.Rows
	conn   *cachingConn
	stmt   *cachedStmt
	closed bool
}

func (r *cachedRows) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	err := r.Rows.Close()
	r.conn.release(r.stmt, err != nil)
	return err
}

// The column-type interfaces the driver's rows implement, forwarded.

func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	return r.Rows.(driver.RowsColumnTypeDatabaseTypeName).ColumnTypeDatabaseTypeName(i)
}

func (r *cachedRows) ColumnTypeLength(i int) (int64, bool) {
	return r.Rows.(driver.RowsColumnTypeLength).ColumnTypeLength(i)
}

func (r *cachedRows) ColumnTypeNullable(i int) (bool, bool) {
	return r.Rows.(driver.RowsColumnTypeNullable).ColumnTypeNullable(i)
}

func (r *cachedRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	return r.Rows.(driver.RowsColumnTypePrecisionScale).ColumnTypePrecisionScale(i)
}

func (r *cachedRows) ColumnTypeScanType(i int) reflect.Type {
	return r.Rows.(driver.RowsColumnTypeScanType).ColumnTypeScanType(i)
}
