package sqlite

import (
	"context"
	"database/sql"
)

// maxItemBatch bounds the item writes committed together.
const maxItemBatch = 256

// itemWrite is one PutItem or UpdateItem waiting to be written. run does
// its statements inside tx and keeps what the caller needs in its closure;
// it may run twice (see flushItems), so it sets rather than accumulates.
type itemWrite struct {
	run  func(ctx context.Context, tx *itemTx) error
	err  error
	done chan struct{}
}

// itemTx is a write transaction with the item statements bound to it.
type itemTx struct {
	ctx                      context.Context
	tx                       *sql.Tx
	d                        *DB
	insert, update, byKeyStm *sql.Stmt
}

func (t *itemTx) insertStmt() *sql.Stmt {
	if t.insert == nil {
		t.insert = t.tx.StmtContext(t.ctx, t.d.insertItem)
	}
	return t.insert
}

func (t *itemTx) updateStmt() *sql.Stmt {
	if t.update == nil {
		t.update = t.tx.StmtContext(t.ctx, t.d.updateItem)
	}
	return t.update
}

func (t *itemTx) byKey() *sql.Stmt {
	if t.byKeyStm == nil {
		t.byKeyStm = t.tx.StmtContext(t.ctx, t.d.itemByKeyW)
	}
	return t.byKeyStm
}

// writeItem queues a write and returns once it is committed or has
// failed. Item writes are a group commit (DB.items): with thousands of
// tasks writing items at once, one transaction of many inserts costs far
// less of the one read-write connection than as many transactions of one,
// and River's own queries wait behind one writer, not thousands.
func (d *DB) writeItem(ctx context.Context, run func(ctx context.Context, tx *itemTx) error) error {
	w := &itemWrite{run: run, done: make(chan struct{})}
	d.items.Do(ctx, w, w.done, d.flushItems)
	return w.err
}

// flushItems commits batch in one transaction. When one write fails the
// transaction is rolled back and each write runs in a transaction of its
// own, so a bad item (a missing parent) fails alone; when the transaction
// itself cannot begin or commit, every write fails with that error.
func (d *DB) flushItems(ctx context.Context, batch []*itemWrite) {
	failed := false // a write failed, not the transaction around them
	err := d.itemTx(ctx, func(t *itemTx) error {
		for _, w := range batch {
			if err := w.run(ctx, t); err != nil {
				failed = true
				return err
			}
		}
		return nil
	})
	if failed && len(batch) > 1 {
		for _, w := range batch {
			w.err = d.itemTx(ctx, func(t *itemTx) error { return w.run(ctx, t) })
			close(w.done)
		}
		return
	}
	for _, w := range batch {
		w.err = err
		close(w.done)
	}
}

// itemTx runs f in a write transaction and commits it unless f fails.
func (d *DB) itemTx(ctx context.Context, f func(*itemTx) error) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(&itemTx{ctx: ctx, tx: tx, d: d}); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
