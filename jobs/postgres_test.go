package jobs

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/internal/pgtest"
)

// neverPoll is a FetchPollInterval no test outlives: a job worked within
// the test's timeout was fetched because its insert was announced.
const neverPoll = time.Hour

// recorder is a task handler that counts how often each task ran and by
// which client.
type recorder struct {
	mu   sync.Mutex
	runs map[string][]string // task key → the clients that ran it
	done chan string         // each key as it runs
}

func newRecorder(n int) *recorder {
	return &recorder{runs: map[string][]string{}, done: make(chan string, n)}
}

func (r *recorder) handler(client string) TaskFunc {
	return func(ctx context.Context, task Task) error {
		r.mu.Lock()
		r.runs[task.Key] = append(r.runs[task.Key], client)
		r.mu.Unlock()
		r.done <- task.Key
		return nil
	}
}

// wait returns once n tasks have run, failing the test if ctx ends first.
func (r *recorder) wait(t *testing.T, ctx context.Context, n int) {
	t.Helper()
	for i := range n {
		select {
		case <-r.done:
		case <-ctx.Done():
			t.Fatalf("%d of %d tasks ran before the test's timeout", i, n)
		}
	}
}

// TestPostgresInsertWakesWorkers: with polling out of the picture, a task
// is worked because its insert is announced through LISTEN/NOTIFY, both
// when another process enqueues it and when the worker's own client does.
func TestPostgresInsertWakesWorkers(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	url := pgtest.URL(t)
	rec := newRecorder(2)
	cfg := testConfig(nil)
	cfg.FetchPollInterval = neverPoll
	cfg.Tasks = map[string]TaskFunc{"test.step": rec.handler("worker")}
	worker := newClient(t, openPostgres(t, url), cfg, true)

	// The enqueuer is another pool, as another process's would be, and
	// never started.
	enqueuer := newClient(t, openPostgres(t, url), cfg, false)
	if _, _, err := enqueuer.Enqueue(ctx, Task{Name: "test.step", RunID: "r", Key: "from-another-process"}); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, ctx, 1)
	if _, _, err := worker.Enqueue(ctx, Task{Name: "test.step", RunID: "r", Key: "from-the-worker"}); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, ctx, 1)
	want := map[string][]string{"from-another-process": {"worker"}, "from-the-worker": {"worker"}}
	if diff := cmp.Diff(want, rec.runs); diff != "" {
		t.Errorf("runs (-want +got):\n%s", diff)
	}
}

// TestPostgresClientsShareAQueue: two processes working one queue run
// every task exactly once between them.
func TestPostgresClientsShareAQueue(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	url := pgtest.URL(t)
	const n = 200
	rec := newRecorder(n)
	var clients []*Client
	for _, name := range []string{"one", "two"} {
		cfg := testConfig(nil)
		cfg.Queue = "shared"
		cfg.Tasks = map[string]TaskFunc{"test.step": rec.handler(name)}
		clients = append(clients, newClient(t, openPostgres(t, url), cfg, true))
	}
	tasks := make([]Task, n)
	for i := range tasks {
		tasks[i] = Task{Name: "test.step", RunID: "r", Key: fmt.Sprint("k", i)}
	}
	// The first client enqueues three quarters, the second the last three
	// quarters: the middle half again, which adds nothing.
	if added, err := clients[0].EnqueueMany(ctx, tasks[:3*n/4]); err != nil || added != 3*n/4 {
		t.Fatalf("first client added %d tasks (%v), want %d", added, err, 3*n/4)
	}
	if added, err := clients[1].EnqueueMany(ctx, tasks[n/4:]); err != nil || added != n/4 {
		t.Fatalf("second client added %d tasks (%v), want %d", added, err, n/4)
	}
	rec.wait(t, ctx, n)
	// Wait for River to record every completion, so that the statistics
	// are final; enqueueing a finished task again finds its job.
	for _, task := range tasks {
		id, added, err := clients[0].Enqueue(ctx, task)
		if err != nil || added {
			t.Fatalf("enqueue of finished task %s: added=%v, %v", task.Key, added, err)
		}
		if err := clients[0].WaitTask(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	byClient := map[string]int{}
	for _, task := range tasks {
		runs := rec.runs[task.Key]
		if len(runs) != 1 {
			t.Errorf("task %s ran %d times (%v), want once", task.Key, len(runs), runs)
			continue
		}
		byClient[runs[0]]++
	}
	t.Logf("tasks run per client: %v", byClient)
	stats, err := clients[1].Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(QueueStats{Completed: n}, stats); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
}

// TestPostgresSchemasKeepQueuesApart: two stores in one database, each in
// its own schema, have a job queue each, even under the same queue name.
func TestPostgresSchemasKeepQueuesApart(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	rec := newRecorder(2)
	newStore := func(name string, start bool) *Client {
		cfg := testConfig(nil)
		cfg.Queue = "same-name"
		cfg.Tasks = map[string]TaskFunc{"test.step": rec.handler(name)}
		return newClient(t, openPostgres(t, pgtest.URL(t)), cfg, start)
	}
	a := newStore("a", false)
	b := newStore("b", true)
	if _, _, err := a.Enqueue(ctx, Task{Name: "test.step", RunID: "a", Key: "k"}); err != nil {
		t.Fatal(err)
	}
	idB, _, err := b.Enqueue(ctx, Task{Name: "test.step", RunID: "b", Key: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.WaitTask(ctx, idB); err != nil {
		t.Fatal(err)
	}
	if stats, err := a.Stats(ctx); err != nil || stats != (QueueStats{Available: 1}) {
		t.Errorf("store a: stats %+v (%v), want its one task available", stats, err)
	}
	if stats, err := b.Stats(ctx); err != nil || stats != (QueueStats{Completed: 1}) {
		t.Errorf("store b: stats %+v (%v), want its one task completed", stats, err)
	}
	if busy, err := a.Busy(ctx); err != nil || !busy {
		t.Errorf("store a: busy=%v (%v), want its task waiting", busy, err)
	}
	startClient(t, a)
	rec.wait(t, ctx, 2)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	// Both tasks have the key k: each store's client ran its own.
	if runs := rec.runs["k"]; len(runs) != 2 || runs[0] == runs[1] {
		t.Errorf("task k ran in %v, want once in each store", runs)
	}
}

// TestPostgresRefusesSQLiteTransactions: the enqueues inside a *sql.Tx
// are SQLite's; on PostgreSQL they are a Config error, not a panic.
func TestPostgresRefusesSQLiteTransactions(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	cfg := testConfig(nil)
	cfg.Tasks = map[string]TaskFunc{"test.step": func(context.Context, Task) error { return nil }}
	c := newClient(t, openPostgres(t, pgtest.URL(t)), cfg, false)
	var tx *sql.Tx // never used: the backend is refused first
	if _, _, err := c.EnqueueTx(ctx, tx, Task{Name: "test.step", RunID: "r", Key: "k"}); ethos.KindOf(err) != ethos.Config {
		t.Errorf("EnqueueTx: %v, want a config error", err)
	}
	if _, err := c.EnqueueCallTx(ctx, tx, callArgs("hi")); ethos.KindOf(err) != ethos.Config {
		t.Errorf("EnqueueCallTx: %v, want a config error", err)
	}
	if _, err := NewOn(Backend{}, cfg); ethos.KindOf(err) != ethos.Config {
		t.Errorf("NewOn without a database: %v, want a config error", err)
	}
}
