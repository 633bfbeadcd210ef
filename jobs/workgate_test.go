package jobs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/ethos-toolkit/ethos"
)

// TestWorkGateServesReturningTasksFirst: with every slot taken, a task
// coming back from a model call gets the next free slot before tasks that
// have not started, which are then served in arrival order.
func TestWorkGateServesReturningTasksFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newWorkGate(1)
		if err := g.acquire(t.Context(), false); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var order []string
		start := func(name string, returning bool) {
			go func() {
				if err := g.acquire(context.Background(), returning); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				order = append(order, name)
				mu.Unlock()
				g.release()
			}()
			synctest.Wait() // queued before the next one arrives
		}
		start("fresh 1", false)
		start("fresh 2", false)
		start("back", true)
		g.release()
		synctest.Wait()
		want := []string{"back", "fresh 1", "fresh 2"}
		if len(order) != len(want) {
			t.Fatalf("served %v, want %v", order, want)
		}
		for i := range want {
			if order[i] != want[i] {
				t.Fatalf("served %v, want %v", order, want)
			}
		}
		if g.free != 1 {
			t.Errorf("free slots at the end = %d, want 1", g.free)
		}
	})
}

// TestWorkGateCancelledWait: a task whose context ends while it waits
// leaves the queue, and the slot it would have had goes to the next.
func TestWorkGateCancelledWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newWorkGate(1)
		if err := g.acquire(t.Context(), false); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error, 1)
		go func() { errc <- g.acquire(ctx, false) }()
		synctest.Wait()
		got := make(chan struct{})
		go func() {
			if err := g.acquire(context.Background(), false); err != nil {
				t.Error(err)
			}
			close(got)
		}()
		synctest.Wait()
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled wait returned %v, want context.Canceled", err)
		}
		g.release()
		<-got
		if len(g.fresh) != 0 || g.free != 0 {
			t.Errorf("queue %d, free %d after the hand-over; want 0, 0", len(g.fresh), g.free)
		}
	})
}

// TestWorkSlotLentDuringWaits: a task's slot is free for others while its
// calls wait (however many it makes at once), taken back when the last
// wait ends, and given back once at the task's end.
func TestWorkSlotLentDuringWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newWorkGate(1)
		s := &workSlot{gate: g}
		if err := s.take(t.Context()); err != nil {
			t.Fatal(err)
		}
		ctx := ethos.WithAway(t.Context(), s.lend)
		back1 := ethos.Away(ctx)
		back2 := ethos.Away(ctx)
		if g.free != 1 {
			t.Fatalf("free slots during two waits = %d, want 1 (lent once)", g.free)
		}
		// Another task takes the lent slot.
		if err := g.acquire(t.Context(), false); err != nil {
			t.Fatal(err)
		}
		back1()
		back1() // a second call changes nothing
		if s.held {
			t.Fatal("slot taken back while a wait is still in progress")
		}
		done := make(chan struct{})
		go func() { back2(); close(done) }()
		synctest.Wait()
		select {
		case <-done:
			t.Fatal("the last wait's end took a slot that another task holds")
		default:
		}
		g.release() // the other task ends
		<-done
		if !s.held || g.free != 0 {
			t.Fatalf("held %v, free %d after the waits; want true, 0", s.held, g.free)
		}
		s.done()
		s.done()
		if g.free != 1 {
			t.Errorf("free slots after the task's end = %d, want 1", g.free)
		}
	})
}

// TestAwayWithoutSlot: outside a job, Away is a no-op.
func TestAwayWithoutSlot(t *testing.T) {
	back := ethos.Away(context.Background())
	back()
}

// TestTaskLendsItsSlotWhileAway: with one slot for local work, a task
// waiting on a model call (an Away span) does not keep another task from
// running to its end; once the wait is over it finishes too.
func TestTaskLendsItsSlotWhileAway(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	waiting := make(chan struct{})
	answer := make(chan struct{})
	cfg := testConfig(nil)
	cfg.LocalWork = 1
	cfg.Tasks = map[string]TaskFunc{
		"test.call": func(ctx context.Context, task Task) error {
			back := ethos.Away(ctx)
			close(waiting)
			<-answer // the provider has not answered yet
			back()
			return nil
		},
		"test.local": func(ctx context.Context, task Task) error { return nil },
	}
	c := newClient(t, SQLite(openDB(t)), cfg, true)
	slow, _, err := c.Enqueue(ctx, Task{Name: "test.call", RunID: "run", Key: "slow"})
	if err != nil {
		t.Fatal(err)
	}
	<-waiting
	quick, _, err := c.Enqueue(ctx, Task{Name: "test.local", RunID: "run", Key: "quick"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WaitTask(ctx, quick); err != nil {
		t.Fatalf("the local task, while the other waited on its call: %v", err)
	}
	close(answer)
	if err := c.WaitTask(ctx, slow); err != nil {
		t.Fatal(err)
	}
	c.work.mu.Lock()
	defer c.work.mu.Unlock()
	if c.work.free != 1 {
		t.Errorf("free slots at the end = %d, want 1", c.work.free)
	}
}

// TestFetchFollowsTheWorkGate: River locks no more tasks than the work
// gate can soon take — not all it has workers for — and every task still
// runs once the gate frees up.
func TestFetchFollowsTheWorkGate(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	const tasks, slots = 50, 2
	entered := make(chan struct{}, tasks)
	release := make(chan struct{})
	cfg := testConfig(nil)
	cfg.Workers = 100
	cfg.LocalWork = slots
	cfg.Tasks = map[string]TaskFunc{"test.local": func(ctx context.Context, task Task) error {
		entered <- struct{}{}
		<-release // local work that takes a while
		return nil
	}}
	backend := SQLite(openDB(t))
	c := newClient(t, backend, cfg, false)
	var ts []Task
	for i := range tasks {
		ts = append(ts, Task{Name: "test.local", RunID: "run", Key: fmt.Sprint(i)})
	}
	if _, err := c.EnqueueMany(ctx, ts); err != nil {
		t.Fatal(err)
	}
	startClient(t, c)
	for range slots {
		<-entered
	}
	var running int
	if err := backend.impl.query(ctx, `SELECT count(*) FROM river_job WHERE state = 'running'`, nil, func(scan func(...any) error) error {
		return scan(&running)
	}); err != nil {
		t.Fatal(err)
	}
	// Two slots and two waiting per fetch; a fetch or two more may run
	// before the tasks of the last reach the gate.
	if running > 4*2*slots {
		t.Errorf("%d of %d tasks taken from the queue with %d slots for local work", running, tasks, slots)
	}
	close(release)
	for range tasks - slots {
		<-entered
	}
}
