package jobs

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"
)

// TestSnoozeRunsAgain: a periodic task snoozes itself after each round,
// without losing attempts or being capped like rate-limit snoozes.
func TestSnoozeRunsAgain(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, backend Backend) {
		ctx := testContext(t)
		rounds := MaxSnoozes + 3
		var calls atomic.Int32
		done := make(chan struct{})
		cfg := testConfig(nil)
		cfg.Queue = "periodic"
		cfg.Tasks = map[string]TaskFunc{"test.poll": func(ctx context.Context, task Task) error {
			if int(calls.Add(1)) == rounds {
				close(done)
				return nil
			}
			return Snooze(time.Millisecond)
		}}
		c := newClient(t, backend, cfg, true)
		id, _, err := c.Enqueue(ctx, Task{Name: "test.poll", RunID: "monitor", Key: "poll"})
		if err != nil {
			t.Fatal(err)
		}
		// While it waits between rounds, enqueueing it again adds nothing.
		again, added, err := c.Enqueue(ctx, Task{Name: "test.poll", RunID: "monitor", Key: "poll"})
		if err != nil || added || again != id {
			t.Fatalf("Enqueue of the waiting task: id %d (first %d) added=%v err=%v", again, id, added, err)
		}
		select {
		case <-done:
		case <-ctx.Done():
			t.Fatalf("task ran %d times, want %d", calls.Load(), rounds)
		}
		if err := c.WaitTask(ctx, id); err != nil {
			t.Fatal(err)
		}
		if row := jobRow(t, c, id); row.State != rivertype.JobStateCompleted || len(row.Errors) != 0 {
			t.Errorf("job state %s with errors %+v, want completed without errors", row.State, row.Errors)
		}
	})
}

// TestTaskClientLeavesCallsAlone: a client with tasks of its own and no
// Completer (a monitor) must not take llm.call jobs it cannot work.
func TestTaskClientLeavesCallsAlone(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, backend Backend) {
		ctx := testContext(t)
		ran := make(chan Task, 1)
		cfg := testConfig(nil)
		cfg.Queue = "monitor"
		cfg.Tasks = map[string]TaskFunc{"test.step": func(ctx context.Context, task Task) error {
			ran <- task
			return nil
		}}
		c := newClient(t, backend, cfg, true)
		callID, err := c.EnqueueCall(ctx, callArgs("left for another process"))
		if err != nil {
			t.Fatal(err)
		}
		// The task enqueued after the call runs; by then the call, had this
		// client fetched the default queue, would have been taken first.
		id, _, err := c.Enqueue(ctx, Task{Name: "test.step", RunID: "r", Key: "k"})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.WaitTask(ctx, id); err != nil {
			t.Fatal(err)
		}
		<-ran
		if row := jobRow(t, c, callID); row.State != rivertype.JobStateAvailable {
			t.Errorf("llm.call job is %s, want available for a client with a Completer", row.State)
		}
	})
}

func TestRescueQueueOrphans(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, backend Backend) {
		ctx := testContext(t)
		handler := map[string]TaskFunc{"test.step": func(ctx context.Context, task Task) error { return nil }}
		cfgA := testConfig(nil)
		cfgA.Tasks, cfgA.Queue = handler, "monitor"
		a := newClient(t, backend, cfgA, false)
		cfgB := testConfig(nil)
		cfgB.Tasks, cfgB.Queue = handler, "run-b"
		b := newClient(t, backend, cfgB, false)
		idA, _, err := a.Enqueue(ctx, Task{Name: "test.step", RunID: "a", Key: "k"})
		if err != nil {
			t.Fatal(err)
		}
		idB, _, err := b.Enqueue(ctx, Task{Name: "test.step", RunID: "b", Key: "k"})
		if err != nil {
			t.Fatal(err)
		}
		execSQL(t, backend, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = $1`, backend.impl.timeArg(time.Now()))
		if n, err := a.RescueQueueOrphans(ctx); err != nil || n != 1 {
			t.Fatalf("RescueQueueOrphans = %d, %v; want 1", n, err)
		}
		if row := jobRow(t, a, idA); row.State != rivertype.JobStateAvailable {
			t.Errorf("own job is %s, want available", row.State)
		}
		if row := jobRow(t, a, idB); row.State != rivertype.JobStateRunning {
			t.Errorf("other queue's job is %s, want left running", row.State)
		}
		// RescueOrphans takes the default queue and its own, and leaves the
		// monitor's queue alone.
		execSQL(t, backend, `UPDATE river_job SET state = 'running'`)
		if n, err := b.RescueOrphans(ctx); err != nil || n != 1 {
			t.Fatalf("RescueOrphans = %d, %v; want 1", n, err)
		}
		if row := jobRow(t, a, idA); row.State != rivertype.JobStateRunning {
			t.Errorf("the monitor's job is %s after another queue's rescue, want left running", row.State)
		}
	})
}
