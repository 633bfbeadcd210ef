package postgres

import (
	"context"

	"github.com/ethos-toolkit/ethos"
)

// TryLock takes the advisory lock name (per schema) on a connection of its
// own and holds it until unlock is called or the process ends: the server
// releases a session's advisory locks when its connection closes, however
// the process ended. It is the store's worker lock on PostgreSQL, as a
// file lock is on SQLite, and fails at once with a Conflict error when
// another session holds it.
func (d *DB) TryLock(ctx context.Context, name string) (unlock func(), err error) {
	const op = "postgres: lock"
	conn, err := d.pool.Acquire(ctx)
	if err != nil {
		return nil, normalize(op, err)
	}
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtextextended(current_schema() || '/' || $1, 0))`, name).Scan(&ok); err != nil {
		conn.Release()
		return nil, normalize(op, err)
	}
	if !ok {
		conn.Release()
		return nil, ethos.Errorf(ethos.Conflict, "another ethos process holds %s on this database; wait for it to finish or stop it", name)
	}
	return func() {
		ctx := context.WithoutCancel(ctx)
		if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock(hashtextextended(current_schema() || '/' || $1, 0))`, name); err != nil {
			// The session's locks go with its connection.
			conn.Conn().Close(ctx)
		}
		conn.Release()
	}, nil
}
