package postgres

import (
	"context"
	"strings"

	"github.com/ethos-toolkit/ethos"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// changesChannel is the channel the store's writes notify, so that a
// dashboard shows a change as soon as it commits instead of at its next
// poll. A notification's payload is the store's schema (stores in other
// schemas of the database share the channel), a space, and what changed:
// "run:ID" (a run or its items), "job:ID", "eval:ID", "models" or
// "overview" (calls, batches).
const changesChannel = "ethos_changes"

// notifyChange is the statement a write sends in its transaction: the
// notification goes out when the transaction commits, and not at all when
// it rolls back.
const notifyChange = `SELECT pg_notify('` + changesChannel + `', current_schema() || ' ' || $1::text)`

// notify queues the notification of topic in tx.
func notify(ctx context.Context, tx pgx.Tx, topic string) error {
	_, err := tx.Exec(ctx, notifyChange, topic)
	return err
}

// execNotify runs one write and the notification of topic as one implicit
// transaction: a batch is sent with one Sync, so the server commits both
// or neither, in one round trip.
func (d *DB) execNotify(ctx context.Context, topic, sql string, args ...any) (pgconn.CommandTag, error) {
	b := &pgx.Batch{}
	b.Queue(sql, args...)
	b.Queue(notifyChange, topic)
	br := d.pool.SendBatch(ctx, b)
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag, err
}

// queryRowNotify is execNotify for a write that returns one row, scanned
// into dest.
func (d *DB) queryRowNotify(ctx context.Context, topic string, dest []any, sql string, args ...any) error {
	b := &pgx.Batch{}
	b.Queue(sql, args...)
	b.Queue(notifyChange, topic)
	br := d.pool.SendBatch(ctx, b)
	err := br.QueryRow().Scan(dest...)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return err
}

// WatchChanges listens, on a connection of its own, for the notifications
// of the store's writes (by any process) and calls changed with what each
// names ("run:ID", "job:ID", "eval:ID", "models", "overview"). It returns
// when ctx ends (nil) or the connection fails (the error), so a caller
// that needs changes pushed can listen again and poll meanwhile.
func (d *DB) WatchChanges(ctx context.Context, changed func(topic string)) error {
	const op = "postgres: watch changes"
	conn, err := pgx.ConnectConfig(ctx, d.pool.Config().ConnConfig.Copy())
	if err != nil {
		return normalize(op, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var schema string
	if err := conn.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return normalize(op, err)
	}
	if _, err := conn.Exec(ctx, `LISTEN `+changesChannel); err != nil {
		return normalize(op, err)
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return &ethos.Error{Kind: ethos.Transient, Op: op, Err: err}
		}
		if s, topic, ok := strings.Cut(n.Payload, " "); ok && s == schema {
			changed(topic)
		}
	}
}
