package jobs

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ethos-toolkit/ethos/internal/pgtest"
)

// refuse is the handler of a client that only enqueues: it must never run.
func refuse(t *testing.T) TaskFunc {
	return func(_ context.Context, task Task) error {
		t.Errorf("task %s %s ran on a client that only enqueues", task.Name, task.Key)
		return nil
	}
}

// TestPostgresOneClientManyRuns: a client that registers the task kinds
// once works the queues of two runs that appear after it started, each
// task with the handlers of its own run, found once per run; a follow-up
// a task enqueues stays in its run's queue.
func TestPostgresOneClientManyRuns(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	url := pgtest.URL(t)
	rec := newRecorder(4)
	var mu sync.Mutex
	resolved := map[string]int{}
	cfg := testConfig(nil)
	cfg.Kinds = []string{"test.step", "test.next"}
	cfg.Resolve = func(_ context.Context, queue string) (Handlers, error) {
		mu.Lock()
		resolved[queue]++
		mu.Unlock()
		return Handlers{Tasks: map[string]TaskFunc{
			"test.step": func(ctx context.Context, task Task) error {
				q, err := FromContext(ctx)
				if err != nil {
					return err
				}
				// Recorded before the follow-up exists, which another
				// worker may start (and record) at once.
				if err := rec.handler(queue+" step")(ctx, task); err != nil {
					return err
				}
				_, _, err = q.Enqueue(ctx, Task{Name: "test.next", RunID: task.RunID, Key: task.Key})
				return err
			},
			"test.next": rec.handler(queue + " next"),
		}}, nil
	}
	worker := newClient(t, openPostgres(t, url), cfg, true)
	for _, run := range []string{"run-a", "run-b"} {
		if err := worker.AddQueue(run); err != nil {
			t.Fatal(err)
		}
		enq := testConfig(nil)
		enq.Queue = run
		enq.Tasks = map[string]TaskFunc{"test.step": refuse(t), "test.next": refuse(t)}
		enqueuer := newClient(t, openPostgres(t, url), enq, false)
		if n, err := enqueuer.LiveWorkers(ctx); err != nil || n != 1 {
			t.Errorf("live workers of %s: %d (%v), want the one worker", run, n, err)
		}
		if _, _, err := enqueuer.Enqueue(ctx, Task{Name: "test.step", RunID: run, Key: "k-" + run}); err != nil {
			t.Fatal(err)
		}
	}
	rec.wait(t, ctx, 4)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	want := map[string][]string{"k-run-a": {"run-a step", "run-a next"}, "k-run-b": {"run-b step", "run-b next"}}
	if diff := cmp.Diff(want, rec.runs); diff != "" {
		t.Errorf("runs (-want +got):\n%s", diff)
	}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff(map[string]int{"run-a": 1, "run-b": 1}, resolved); diff != "" {
		t.Errorf("handlers resolved per queue (-want +got):\n%s", diff)
	}
	if err := worker.AddQueue("run-a"); err == nil {
		t.Error("adding a queue twice: no error")
	}
}

// TestPostgresSweepsJobsOfDeadClients: a running job whose client has
// not beaten for DeadAfter (or never did) is made available again and
// worked by a live client; a job whose client beats is left alone. The
// sweeper's clock is moved, not waited for.
func TestPostgresSweepsJobsOfDeadClients(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	url := pgtest.URL(t)
	b := openPostgres(t, url)
	rec := newRecorder(2)
	cfg := testConfig(nil)
	cfg.Queue = "run"
	cfg.DeadAfter = 40 * time.Second
	cfg.Tasks = map[string]TaskFunc{"test.step": rec.handler("live")}
	sweeper := newClient(t, b, cfg, false)

	t0 := time.Now().Add(time.Hour) // beats no real client writes
	clients := map[string]time.Time{"dead": t0, "beating": t0.Add(50 * time.Second)}
	for key, attemptedBy := range map[string]string{"dead": "dead", "beating": "beating", "unknown": "never-beat"} {
		if _, _, err := sweeper.Enqueue(ctx, Task{Name: "test.step", RunID: "r", Key: key}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.impl.exec(ctx, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = $1, attempted_by = ARRAY['someone-before', $2]
			WHERE args->>'key' = $3`, t0, attemptedBy, key); err != nil {
			t.Fatal(err)
		}
	}
	for id, at := range clients {
		if _, err := b.impl.exec(ctx, `INSERT INTO ethos_worker_beat (id, host, pid, queue, started_at, beat_at) VALUES ($1, 'h', 1, '*', $2, $2)`, id, at); err != nil {
			t.Fatal(err)
		}
	}
	running := func() []string {
		var keys []string
		err := b.impl.query(ctx, `SELECT args->>'key' FROM river_job WHERE state = 'running' ORDER BY 1`, nil, func(scan func(...any) error) error {
			var k string
			err := scan(&k)
			keys = append(keys, k)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return keys
	}

	// 30 s after the dead client's last beat: only the job of the client
	// that never beat is an orphan.
	sweeper.cfg.now = func() time.Time { return t0.Add(30 * time.Second) }
	if n, err := sweeper.SweepDead(ctx); err != nil || n != 1 {
		t.Fatalf("sweep at 30 s: %d jobs (%v), want 1", n, err)
	}
	if diff := cmp.Diff([]string{"beating", "dead"}, running()); diff != "" {
		t.Errorf("running after the sweep at 30 s (-want +got):\n%s", diff)
	}
	// 60 s after: the dead client's job too, not the beating one's.
	sweeper.cfg.now = func() time.Time { return t0.Add(60 * time.Second) }
	if n, err := sweeper.SweepDead(ctx); err != nil || n != 1 {
		t.Fatalf("sweep at 60 s: %d jobs (%v), want 1", n, err)
	}
	if diff := cmp.Diff([]string{"beating"}, running()); diff != "" {
		t.Errorf("running after the sweep at 60 s (-want +got):\n%s", diff)
	}
	var left []string
	if err := b.impl.query(ctx, `SELECT id FROM ethos_worker_beat ORDER BY id`, nil, func(scan func(...any) error) error {
		var id string
		err := scan(&id)
		left = append(left, id)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"beating"}, left); diff != "" {
		t.Errorf("heartbeat rows after the sweeps (-want +got):\n%s", diff)
	}
	if n, err := sweeper.LiveWorkers(ctx); err != nil || n != 1 {
		t.Errorf("live workers at 60 s: %d (%v), want the beating one", n, err)
	}

	// A live client works the two jobs made available.
	startClient(t, newClient(t, openPostgres(t, url), cfg, false))
	rec.wait(t, ctx, 2)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if diff := cmp.Diff(map[string][]string{"dead": {"live"}, "unknown": {"live"}}, rec.runs); diff != "" {
		t.Errorf("runs (-want +got):\n%s", diff)
	}
}
