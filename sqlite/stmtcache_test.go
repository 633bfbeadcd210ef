package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
)

// cachedConn opens a one-connection database with the statement cache and
// returns it with its pinned connection.
func cachedConn(t *testing.T) (*sql.Conn, *cachingConn) {
	t.Helper()
	db, err := openCached(filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	var cc *cachingConn
	if err := conn.Raw(func(c any) error { cc = c.(*cachingConn); return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), `CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	return conn, cc
}

func cacheLen(cc *cachingConn) int {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.lru.Len()
}

func TestStmtCacheReusesStatements(t *testing.T) {
	ctx := context.Background()
	conn, cc := cachedConn(t)
	before := cacheLen(cc)
	for i := range 5 {
		if _, err := conn.ExecContext(ctx, `INSERT INTO t (k, v) VALUES (?, ?)`, i, fmt.Sprint("v", i)); err != nil {
			t.Fatal(err)
		}
	}
	if got := cacheLen(cc) - before; got != 1 {
		t.Errorf("five runs of one insert left %d new statements in the cache, want 1", got)
	}
	var n int
	for range 3 {
		if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM t WHERE k >= ?`, 0).Scan(&n); err != nil {
			t.Fatal(err)
		}
	}
	if n != 5 {
		t.Errorf("count = %d, want 5", n)
	}
	if got := cacheLen(cc) - before; got != 2 {
		t.Errorf("cache holds %d new statements, want 2", got)
	}
}

func TestStmtCacheNestedUseOfOneStatement(t *testing.T) {
	ctx := context.Background()
	conn, _ := cachedConn(t)
	for i := range 3 {
		if _, err := conn.ExecContext(ctx, `INSERT INTO t (k, v) VALUES (?, ?)`, i, fmt.Sprint("v", i)); err != nil {
			t.Fatal(err)
		}
	}
	const q = `SELECT k, v FROM t WHERE k >= ? ORDER BY k`
	outer, err := conn.QueryContext(ctx, q, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for outer.Next() {
		var k int
		var v string
		if err := outer.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		// The same statement again while its rows are open.
		var inner string
		if err := conn.QueryRowContext(ctx, q, k).Scan(new(int), &inner); err != nil {
			t.Fatal(err)
		}
		got = append(got, v+"/"+inner)
	}
	if err := outer.Close(); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[v0/v0 v1/v1 v2/v2]" {
		t.Errorf("nested reads = %v", got)
	}
}

func TestStmtCacheDropsAFailedStatement(t *testing.T) {
	ctx := context.Background()
	conn, cc := cachedConn(t)
	const ins = `INSERT INTO t (k, v) VALUES (?, ?)`
	if _, err := conn.ExecContext(ctx, ins, 1, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, ins, 1, "b"); err == nil {
		t.Fatal("a duplicate key was accepted")
	}
	cc.mu.Lock()
	_, kept := cc.stmts[ins]
	cc.mu.Unlock()
	if kept {
		t.Error("the statement that failed is still cached")
	}
	if _, err := conn.ExecContext(ctx, ins, 2, "c"); err != nil {
		t.Fatalf("the statement after a failure: %v", err)
	}
	var v string
	if err := conn.QueryRowContext(ctx, `SELECT v FROM t WHERE k = ?`, 1).Scan(&v); err != nil || v != "a" {
		t.Errorf("row 1 = %q, %v; want a", v, err)
	}
}

func TestStmtCacheEvictsLeastRecentlyUsed(t *testing.T) {
	ctx := context.Background()
	conn, cc := cachedConn(t)
	for i := range stmtCacheSize + 20 {
		var n int
		if err := conn.QueryRowContext(ctx, fmt.Sprintf(`SELECT %d`, i)).Scan(&n); err != nil || n != i {
			t.Fatalf("SELECT %d = %d, %v", i, n, err)
		}
	}
	if got := cacheLen(cc); got != stmtCacheSize {
		t.Errorf("cache holds %d statements, want the bound %d", got, stmtCacheSize)
	}
	cc.mu.Lock()
	_, first := cc.stmts[`SELECT 0`]
	_, last := cc.stmts[fmt.Sprintf(`SELECT %d`, stmtCacheSize+19)]
	cc.mu.Unlock()
	if first || !last {
		t.Errorf("after the bound: oldest kept %v, newest kept %v; want false, true", first, last)
	}
}

// The pool hands the one connection to many goroutines in turn; run with
// -race this checks the cache's bookkeeping.
func TestStmtCacheSharedByGoroutines(t *testing.T) {
	ctx := context.Background()
	db, err := openCached(filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				k := g*1000 + i
				if _, err := db.ExecContext(ctx, `INSERT INTO t (k, v) VALUES (?, ?)`, k, "x"); err != nil {
					t.Error(err)
					return
				}
				rows, err := db.QueryContext(ctx, `SELECT v FROM t WHERE k = ?`, k)
				if err != nil {
					t.Error(err)
					return
				}
				for rows.Next() {
				}
				rows.Close()
			}
		})
	}
	wg.Wait()
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil || n != 400 {
		t.Errorf("count = %d, %v; want 400", n, err)
	}
}
