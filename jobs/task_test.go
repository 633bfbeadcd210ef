package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"

	"github.com/ethos-toolkit/ethos"
)

func TestTaskRunsOnceAndIsIdempotent(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, backend Backend) {
		ctx := testContext(t)
		var mu sync.Mutex
		var seen []Task
		cfg := testConfig(nil)
		cfg.Tasks = map[string]TaskFunc{"test.step": func(ctx context.Context, task Task) error {
			mu.Lock()
			seen = append(seen, task)
			mu.Unlock()
			return nil
		}}
		c := newClient(t, backend, cfg, true)
		task := Task{Name: "test.step", RunID: "run-1", Key: "item/1", Payload: json.RawMessage(`{"n":1}`)}
		id, added, err := c.Enqueue(ctx, task)
		if err != nil || !added {
			t.Fatalf("Enqueue: %v added=%v", err, added)
		}
		if err := c.WaitTask(ctx, id); err != nil {
			t.Fatal(err)
		}
		// The same task again — even once completed, even with another payload —
		// is the same job: a resumed run can enqueue its plan again.
		again, added, err := c.Enqueue(ctx, Task{Name: "test.step", RunID: "run-1", Key: "item/1"})
		if err != nil || added || again != id {
			t.Fatalf("second Enqueue: id %d (first %d) added=%v err=%v", again, id, added, err)
		}
		other, added, err := c.Enqueue(ctx, Task{Name: "test.step", RunID: "run-2", Key: "item/1"})
		if err != nil || !added || other == id {
			t.Fatalf("same key in another run: id %d added=%v err=%v", other, added, err)
		}
		if err := c.WaitTask(ctx, other); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		// PostgreSQL keeps the payload as jsonb: the same JSON, not the same bytes.
		var payload struct{ N int }
		if len(seen) != 2 || json.Unmarshal(seen[0].Payload, &payload) != nil || payload.N != 1 || seen[1].RunID != "run-2" {
			t.Fatalf("handler saw %+v", seen)
		}
	})
}

func TestTaskOutcomes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		errs      []error // returned by successive attempts; nil afterwards
		wantState rivertype.JobState
		wantCalls int32
	}{
		{"transient then ok", []error{ethos.Errorf(ethos.Transient, "reset")}, rivertype.JobStateCompleted, 2},
		{"rate limited snoozes", []error{&ethos.Error{Kind: ethos.RateLimited, RetryAfter: time.Millisecond}}, rivertype.JobStateCompleted, 2},
		{"auth cancels at once", []error{ethos.Errorf(ethos.Auth, "bad key"), nil}, rivertype.JobStateCancelled, 1},
		{"parse quarantines", []error{ethos.Errorf(ethos.Parse, "not JSON"), nil}, rivertype.JobStateCancelled, 1},
		{"endless 429s give up", repeat(&ethos.Error{Kind: ethos.RateLimited, RetryAfter: time.Millisecond}, MaxSnoozes+5), rivertype.JobStateCancelled, MaxSnoozes + 1},
		// Waiting for a batch answer snoozes without spending an attempt.
		{"waits then ok", repeat(&ethos.Error{Kind: ethos.Pending, RetryAfter: time.Millisecond}, 3), rivertype.JobStateCompleted, 4},
		{"always transient is discarded", []error{ethos.Errorf(ethos.Transient, "a"), ethos.Errorf(ethos.Transient, "b"), ethos.Errorf(ethos.Transient, "c")}, rivertype.JobStateDiscarded, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			forEachBackend(t, func(t *testing.T, backend Backend) {
				ctx := testContext(t)
				var calls atomic.Int32
				cfg := testConfig(nil)
				cfg.Tasks = map[string]TaskFunc{"test.step": func(ctx context.Context, task Task) error {
					n := int(calls.Add(1))
					if n <= len(tc.errs) {
						return tc.errs[n-1]
					}
					return nil
				}}
				c := newClient(t, backend, cfg, true)
				id, _, err := c.Enqueue(ctx, Task{Name: "test.step", RunID: "r", Key: "k"})
				if err != nil {
					t.Fatal(err)
				}
				err = c.WaitTask(ctx, id)
				row := jobRow(t, c, id)
				if row.State != tc.wantState || calls.Load() != tc.wantCalls {
					t.Fatalf("state %s after %d calls, want %s after %d (wait: %v)", row.State, calls.Load(), tc.wantState, tc.wantCalls, err)
				}
				if (tc.wantState == rivertype.JobStateCompleted) != (err == nil) {
					t.Fatalf("WaitTask = %v for state %s", err, row.State)
				}
				if err != nil && !strings.Contains(err.Error(), string(row.State)) {
					t.Fatalf("WaitTask error %q does not name the state", err)
				}
			})
		})
	}
}

func TestTaskEnqueueTxRollsBack(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	db := openDB(t)
	cfg := testConfig(nil)
	cfg.Tasks = map[string]TaskFunc{"test.step": func(ctx context.Context, task Task) error { return nil }}
	c := newClient(t, SQLite(db), cfg, false)
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.EnqueueTx(ctx, tx, Task{Name: "test.step", RunID: "r", Key: "k"}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	st, err := c.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Available != 0 {
		t.Fatalf("rolled-back task left %d available jobs", st.Available)
	}
}

func TestTaskValidation(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, backend Backend) {
		cfg := testConfig(nil)
		cfg.Tasks = map[string]TaskFunc{"test.step": func(ctx context.Context, task Task) error { return nil }}
		c := newClient(t, backend, cfg, false)
		for _, task := range []Task{{Name: "other", RunID: "r", Key: "k"}, {Name: "test.step", Key: "k"}, {Name: "test.step", RunID: "r"}} {
			if _, _, err := c.Enqueue(testContext(t), task); ethos.KindOf(err) != ethos.Invalid {
				t.Errorf("Enqueue(%+v): got %v, want invalid", task, err)
			}
		}
		bad := testConfig(nil)
		bad.Tasks = map[string]TaskFunc{KindCall: func(context.Context, Task) error { return nil }}
		if _, err := NewOn(backend, bad); ethos.KindOf(err) != ethos.Config {
			t.Errorf("a task named %s: got %v, want a config error", KindCall, err)
		}
	})
}

func repeat(err error, n int) []error {
	errs := make([]error, n)
	for i := range errs {
		errs[i] = err
	}
	return errs
}

func TestRescueOrphans(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, backend Backend) {
		ctx := testContext(t)
		ran := make(chan Task, 1)
		cfg := testConfig(nil)
		cfg.Tasks = map[string]TaskFunc{"test.step": func(ctx context.Context, task Task) error {
			ran <- task
			return nil
		}}
		// A killed process left a job running.
		c := newClient(t, backend, cfg, false)
		id, _, err := c.Enqueue(ctx, Task{Name: "test.step", RunID: "r", Key: "k"})
		if err != nil {
			t.Fatal(err)
		}
		execSQL(t, backend, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = $1 WHERE id = $2`,
			backend.impl.timeArg(time.Now()), id)
		n, err := c.RescueOrphans(ctx)
		if err != nil || n != 1 {
			t.Fatalf("RescueOrphans = %d, %v; want 1", n, err)
		}
		startClient(t, c)
		select {
		case <-ran:
		case <-ctx.Done():
			t.Fatal("the rescued task never ran")
		}
		if err := c.WaitTask(ctx, id); err != nil {
			t.Fatal(err)
		}
	})
}

func TestTaskQueuesKeepRunsApart(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, backend Backend) {
		ctx := testContext(t)
		ran := make(chan Task, 4)
		handler := map[string]TaskFunc{"test.step": func(ctx context.Context, task Task) error {
			ran <- task
			return nil
		}}
		cfgA := testConfig(nil)
		cfgA.Tasks, cfgA.Queue = handler, "run-a"
		a := newClient(t, backend, cfgA, false)
		if _, _, err := a.Enqueue(ctx, Task{Name: "test.step", RunID: "a", Key: "k"}); err != nil {
			t.Fatal(err)
		}
		// A process working run b's queue leaves run a's task alone.
		cfgB := testConfig(nil)
		cfgB.Tasks, cfgB.Queue = handler, "run-b"
		b := newClient(t, backend, cfgB, true)
		idB, _, err := b.Enqueue(ctx, Task{Name: "test.step", RunID: "b", Key: "k"})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.WaitTask(ctx, idB); err != nil {
			t.Fatal(err)
		}
		if got := <-ran; got.RunID != "b" {
			t.Fatalf("run b's process worked a task of run %s", got.RunID)
		}
		if busy, err := b.Busy(ctx); err != nil || busy {
			t.Fatalf("run b's queue busy=%v (%v), want idle", busy, err)
		}
		if busy, err := a.Busy(ctx); err != nil || !busy {
			t.Fatalf("run a's queue busy=%v (%v), want its task waiting", busy, err)
		}
		select {
		case task := <-ran:
			t.Fatalf("task of run %s ran in the wrong process", task.RunID)
		default:
		}
	})
}

// TestTaskPriorities: with one worker and a backlog, the tasks given
// PriorityFirst run before the ones enqueued earlier at PriorityLast.
func TestTaskPriorities(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, backend Backend) {
		ctx := testContext(t)
		var mu sync.Mutex
		var order []string
		cfg := testConfig(nil)
		cfg.Workers = 1
		cfg.Priorities = map[string]int{"test.finish": PriorityFirst, "test.start": PriorityLast}
		record := func(ctx context.Context, task Task) error {
			mu.Lock()
			order = append(order, task.Key)
			mu.Unlock()
			return nil
		}
		cfg.Tasks = map[string]TaskFunc{"test.start": record, "test.finish": record}
		c := newClient(t, backend, cfg, false)
		var ids []int64
		for _, task := range []Task{
			{Name: "test.start", RunID: "r", Key: "start-1"},
			{Name: "test.start", RunID: "r", Key: "start-2"},
			{Name: "test.finish", RunID: "r", Key: "finish-1"},
		} {
			id, _, err := c.Enqueue(ctx, task)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		startClient(t, c)
		for _, id := range ids {
			if err := c.WaitTask(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if strings.Join(order, ",") != "finish-1,start-1,start-2" {
			t.Fatalf("order %v, want the finishing task first", order)
		}
	})
}

// TestLastTry: a handler learns which failure ends its job, so it can
// record the failure on its item instead of leaving it pending.
func TestLastTry(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, backend Backend) {
		ctx := testContext(t)
		var mu sync.Mutex
		var seen []bool
		cfg := testConfig(nil)
		cfg.Tasks = map[string]TaskFunc{"test.step": func(ctx context.Context, task Task) error {
			err := ethos.Errorf(ethos.Transient, "502 from the provider")
			mu.Lock()
			seen = append(seen, LastTry(ctx, err))
			mu.Unlock()
			return err
		}}
		c := newClient(t, backend, cfg, true) // MaxAttempts 3
		id, _, err := c.Enqueue(ctx, Task{Name: "test.step", RunID: "r", Key: "k"})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.WaitTask(ctx, id); err == nil {
			t.Fatal("a task that always fails completed")
		}
		mu.Lock()
		defer mu.Unlock()
		if fmt.Sprint(seen) != "[false false true]" {
			t.Fatalf("LastTry per attempt = %v, want [false false true]", seen)
		}
		if LastTry(context.Background(), ethos.Errorf(ethos.Auth, "bad key")) {
			t.Error("LastTry outside a task is true")
		}
	})
}

// TestDropLeavesTheTaskToEnqueueAgain: a dropped task is cancelled, not
// completed, so the same task enqueued later runs.
func TestDropLeavesTheTaskToEnqueueAgain(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, backend Backend) {
		ctx := testContext(t)
		var runs atomic.Int32
		cfg := testConfig(nil)
		cfg.Tasks = map[string]TaskFunc{"test.step": func(ctx context.Context, task Task) error {
			if runs.Add(1) == 1 {
				return Drop("the run is stopped")
			}
			return nil
		}}
		c := newClient(t, backend, cfg, true)
		task := Task{Name: "test.step", RunID: "r", Key: "k"}
		id, _, err := c.Enqueue(ctx, task)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.WaitTask(ctx, id); err == nil || !strings.Contains(err.Error(), "the run is stopped") {
			t.Fatalf("dropped task: %v, want its job cancelled with the reason", err)
		}
		again, added, err := c.Enqueue(ctx, task)
		if err != nil || !added {
			t.Fatalf("enqueue after the drop: added=%v err=%v, want a new job", added, err)
		}
		if err := c.WaitTask(ctx, again); err != nil {
			t.Fatal(err)
		}
		if runs.Load() != 2 {
			t.Fatalf("the task ran %d times, want 2", runs.Load())
		}
	})
}

func TestEnqueueManyAddsOnlyMissingTasks(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, backend Backend) {
		ctx := testContext(t)
		ran := make(chan string, 8)
		cfg := testConfig(nil)
		cfg.Tasks = map[string]TaskFunc{"test.step": func(ctx context.Context, task Task) error {
			ran <- task.Key
			return nil
		}}
		c := newClient(t, backend, cfg, true)
		if _, _, err := c.Enqueue(ctx, Task{Name: "test.step", RunID: "r", Key: "k1"}); err != nil {
			t.Fatal(err)
		}
		// k3 twice in one batch is one task.
		batch := []Task{{Name: "test.step", RunID: "r", Key: "k1"}, {Name: "test.step", RunID: "r", Key: "k2"}, {Name: "test.step", RunID: "r", Key: "k3"}, {Name: "test.step", RunID: "r", Key: "k3"}}
		added, err := c.EnqueueMany(ctx, batch)
		if err != nil || added != 2 {
			t.Fatalf("EnqueueMany = %d, %v; want 2 added (k1 existed, k3 named twice)", added, err)
		}
		if added, err := c.EnqueueMany(ctx, batch); err != nil || added != 0 {
			t.Fatalf("EnqueueMany again = %d, %v; want 0", added, err)
		}
		seen := map[string]bool{}
		for range 3 {
			select {
			case k := <-ran:
				if seen[k] {
					t.Errorf("task %s ran twice", k)
				}
				seen[k] = true
			case <-ctx.Done():
				t.Fatalf("only %v ran", seen)
			}
		}
		if _, err := c.EnqueueMany(ctx, []Task{{Name: "nope", RunID: "r", Key: "x"}}); ethos.KindOf(err) != ethos.Invalid {
			t.Errorf("an unknown task: %v, want invalid", err)
		}
	})
}

// Concurrent Enqueue calls (which share inserts on SQLite, and race on
// PostgreSQL): each gets its own job's ID, and the same task enqueued by
// many at once is added once, all of them getting that job's ID.
func TestConcurrentEnqueuesShareInserts(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, backend Backend) {
		ctx := testContext(t)
		cfg := testConfig(nil)
		cfg.Tasks = map[string]TaskFunc{"test.step": func(ctx context.Context, task Task) error { return nil }}
		c := newClient(t, backend, cfg, false)
		const n = 200
		ids := make([]int64, n)
		added := make([]bool, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				var err error
				ids[i], added[i], err = c.Enqueue(ctx, Task{Name: "test.step", RunID: "r", Key: fmt.Sprint("k", i%50)})
				if err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		byKey := map[int]int64{}
		addedPerKey := map[int]int{}
		for i := range n {
			k := i % 50
			if id, ok := byKey[k]; ok && id != ids[i] {
				t.Errorf("key k%d got jobs %d and %d", k, id, ids[i])
			}
			byKey[k] = ids[i]
			if added[i] {
				addedPerKey[k]++
			}
		}
		seen := map[int64]bool{}
		for k, id := range byKey {
			if seen[id] {
				t.Errorf("job %d given to two keys", id)
			}
			seen[id] = true
			if addedPerKey[k] != 1 {
				t.Errorf("key k%d added %d times", k, addedPerKey[k])
			}
		}
	})
}

// TestWaitsAreNotRateLimitSnoozes: River counts every snooze; those that
// waited for an answer on its way are counted apart (ethos_waits), so a
// job that waited more than MaxSnoozes times still snoozes for a 429, and
// gives up only after MaxSnoozes of those.
func TestWaitsAreNotRateLimitSnoozes(t *testing.T) {
	t.Parallel()
	limited := &ethos.Error{Kind: ethos.RateLimited, RetryAfter: time.Second}
	backoff := func(int) time.Duration { return time.Second }
	waited := []byte(fmt.Sprintf(`{"snoozes": %d, "ethos_waits": %d}`, MaxSnoozes+10, MaxSnoozes+8))
	if n := snoozes(waited); n != 2 {
		t.Fatalf("rate-limit snoozes = %d, want 2", n)
	}
	var snooze *rivertype.JobSnoozeError
	if err := riverOutcome(context.Background(), limited, waited, backoff); !errors.As(err, &snooze) {
		t.Errorf("a 429 after many waits: %v, want a snooze", err)
	}
	spent := []byte(fmt.Sprintf(`{"snoozes": %d, "ethos_waits": 3}`, MaxSnoozes+3))
	var cancel *rivertype.JobCancelError
	if err := riverOutcome(context.Background(), limited, spent, backoff); !errors.As(err, &cancel) {
		t.Errorf("a 429 after MaxSnoozes rate-limit snoozes: %v, want cancelled", err)
	}
	if n := waits([]byte(`{"ethos_waits": 7}`)); n != 7 {
		t.Errorf("waits = %d, want 7", n)
	}
}

// TestWaitsAreRecorded: each wait for an answer on its way is counted in
// the job's metadata, where the rate-limit cap leaves it out.
func TestWaitsAreRecorded(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, backend Backend) {
		ctx := testContext(t)
		var calls atomic.Int32
		cfg := testConfig(nil)
		cfg.Tasks = map[string]TaskFunc{"test.wait": func(ctx context.Context, task Task) error {
			if calls.Add(1) <= 2 {
				return &ethos.Error{Kind: ethos.Pending, RetryAfter: time.Millisecond}
			}
			return nil
		}}
		c := newClient(t, backend, cfg, true)
		id, _, err := c.Enqueue(ctx, Task{Name: "test.wait", RunID: "r", Key: "k"})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.WaitTask(ctx, id); err != nil {
			t.Fatal(err)
		}
		row := jobRow(t, c, id)
		if n := waits(row.Metadata); n != 2 || snoozes(row.Metadata) != 0 {
			t.Errorf("metadata %s: %d waits and %d rate-limit snoozes, want 2 and 0", row.Metadata, n, snoozes(row.Metadata))
		}
	})
}
