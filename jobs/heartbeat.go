package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/ethos-toolkit/ethos"
)

// On PostgreSQL, clients in many processes work the same queues, and a
// process may die (SIGKILL, a lost machine) holding running jobs. River
// alone takes those back only after RescueStuckJobsAfter, hours here. So
// every started client beats: it keeps a row of its own in ethos_worker_beat
// fresh, and sweeps: a running job whose attempting client (the last of
// River's attempted_by) has no row fresher than DeadAfter is made
// available again, for a live client to take. The interrupted attempt
// stays counted.

// beatTable holds one row per started client: its ID, as River records it
// in attempted_by, and when it last beat.
const beatTable = `CREATE TABLE IF NOT EXISTS ethos_worker_beat (
	id         text PRIMARY KEY,
	host       text NOT NULL,
	pid        integer NOT NULL,
	queue      text NOT NULL, -- the client's own queue, or * for a client of every run's
	started_at timestamptz NOT NULL,
	beat_at    timestamptz NOT NULL
)`

// anyQueue is the queue a heartbeat row names for a client that resolves
// the handlers of every run's queue (Config.Resolve).
const anyQueue = "*"

// heartbeat is a started client's beating.
type heartbeat struct {
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// newClientID names a client: host, process and a random part, so that two
// clients never share an ID.
func newClientID() string {
	host, _ := os.Hostname()
	host = strings.NewReplacer(".", "_", " ", "_").Replace(host)
	if len(host) > 40 {
		host = host[:40]
	}
	var b [4]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s_%d_%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// startHeartbeat writes the client's row and sweeps once, before River
// fetches its first job, then beats and sweeps every DeadAfter/4 until
// stopHeartbeat. Backends of one process (SQLite) have no heartbeats.
func (c *Client) startHeartbeat(ctx context.Context) error {
	if !c.backend.heartbeats() {
		return nil
	}
	if err := c.beat(ctx, true); err != nil {
		return err
	}
	if _, err := c.SweepDead(ctx); err != nil {
		return err
	}
	h := &heartbeat{stop: make(chan struct{}), done: make(chan struct{})}
	c.heart = h
	go func() {
		defer close(h.done)
		t := time.NewTicker(c.cfg.DeadAfter / 4)
		defer t.Stop()
		for {
			select {
			case <-h.stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			// A failed beat or sweep is tried again at the next tick; a
			// client that cannot beat for DeadAfter is taken for dead, and
			// its jobs go to others, which is what should happen.
			if err := c.beat(ctx, false); err != nil {
				c.cfg.Logger.WarnContext(ctx, "jobs: heartbeat", "err", err)
			}
			if _, err := c.SweepDead(ctx); err != nil {
				c.cfg.Logger.WarnContext(ctx, "jobs: sweep of dead clients' jobs", "err", err)
			}
		}
	}()
	return nil
}

// stopHeartbeat ends the beating and deletes the client's row: a stopped
// client holds no job.
func (c *Client) stopHeartbeat(ctx context.Context) {
	h := c.heart
	if h == nil {
		return
	}
	h.once.Do(func() {
		close(h.stop)
		<-h.done
		c.backend.exec(ctx, `DELETE FROM ethos_worker_beat WHERE id = $1`, c.cfg.ID)
	})
}

// beat writes the client's row with the time now.
func (c *Client) beat(ctx context.Context, first bool) error {
	now := c.cfg.now()
	host, _ := os.Hostname()
	queue := c.cfg.Queue
	if c.cfg.Resolve != nil {
		queue = anyQueue
	}
	_, err := c.backend.exec(ctx, `INSERT INTO ethos_worker_beat (id, host, pid, queue, started_at, beat_at) VALUES ($1, $2, $3, $4, $5, $5)
		ON CONFLICT (id) DO UPDATE SET beat_at = excluded.beat_at`, c.cfg.ID, host, os.Getpid(), queue, c.backend.timeArg(now))
	if err != nil {
		return ethos.Errorf(ethos.Internal, "jobs: heartbeat of client %s: %w", c.cfg.ID, err)
	}
	return nil
}

// SweepDead makes every running job whose attempting client has not beaten
// for DeadAfter available again, and deletes those clients' rows. It
// returns how many jobs it made available. Started clients on PostgreSQL
// call it on every beat; it is safe to call from any number of processes.
func (c *Client) SweepDead(ctx context.Context) (int64, error) {
	if !c.backend.heartbeats() {
		return 0, nil
	}
	// Beats are written and judged by the clients' clocks, which must
	// agree to well within DeadAfter (NTP does).
	cutoff := c.backend.timeArg(c.cfg.now().Add(-c.cfg.DeadAfter))
	// The job's errors say why its attempt ended, as River's own rescue
	// of a stuck job does.
	n, err := c.backend.exec(ctx, `UPDATE river_job SET state = 'available', scheduled_at = now(),
			errors = array_append(errors, jsonb_build_object('at', now(), 'attempt', attempt,
				'error', 'Stuck job rescued: its client ' || coalesce(attempted_by[cardinality(attempted_by)], '(none)') || ' stopped beating for ' || $2, 'trace', ''))
		WHERE state = 'running' AND NOT EXISTS (
			SELECT 1 FROM ethos_worker_beat b
			WHERE b.id = river_job.attempted_by[cardinality(river_job.attempted_by)] AND b.beat_at >= $1)`,
		cutoff, c.cfg.DeadAfter.String())
	if err != nil {
		return 0, ethos.Errorf(ethos.Internal, "jobs: sweep of dead clients' jobs: %w", err)
	}
	if _, err := c.backend.exec(ctx, `DELETE FROM ethos_worker_beat WHERE beat_at < $1`, cutoff); err != nil {
		return n, ethos.Errorf(ethos.Internal, "jobs: sweep of dead clients: %w", err)
	}
	if n > 0 {
		c.cfg.Logger.WarnContext(ctx, fmt.Sprintf("jobs: %d jobs of clients silent for %s made available again", n, c.cfg.DeadAfter))
	}
	return n, nil
}

// LiveWorkers counts the started clients, in any process, that beat within
// DeadAfter and work the client's queue: a client of that queue, or of
// every run's. A process that leaves its tasks to others (Work.NoWork)
// uses it to say when none is there. It is 0 on SQLite, whose clients do
// not beat.
func (c *Client) LiveWorkers(ctx context.Context) (int, error) {
	if !c.backend.heartbeats() {
		return 0, nil
	}
	var n int
	err := c.backend.query(ctx, `SELECT count(*) FROM ethos_worker_beat WHERE beat_at >= $1 AND queue IN ($2, $3)`,
		[]any{c.backend.timeArg(c.cfg.now().Add(-c.cfg.DeadAfter)), c.cfg.Queue, anyQueue},
		func(scan func(...any) error) error { return scan(&n) })
	if err != nil {
		return 0, ethos.Errorf(ethos.Internal, "jobs: live workers: %w", err)
	}
	return n, nil
}
