package jobs

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/ethos-toolkit/ethos"
)

// TestRunChainsTasksThroughTheirContext runs a chain of tasks in which
// each enqueues the next on the client its context carries, prepared and
// driven by Run: Prepare enqueues the first, Drive waits for the last.
func TestRunChainsTasksThroughTheirContext(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, backend Backend) {
		ctx := testContext(t)
		const length = 5
		var worked atomic.Int64
		done := make(chan struct{})
		cfg := testConfig(nil)
		cfg.Queue = "chain"
		cfg.Tasks = map[string]TaskFunc{"step": func(ctx context.Context, task Task) error {
			n, _ := strconv.Atoi(task.Key)
			worked.Add(1)
			if n == length {
				close(done)
				return nil
			}
			q, err := FromContext(ctx)
			if err != nil {
				return err
			}
			_, _, err = q.Enqueue(ctx, Task{Name: "step", RunID: "r", Key: strconv.Itoa(n + 1)})
			return err
		}}
		prepared := false
		err := RunOn(ctx, backend, cfg, Work{
			Rescue: RescueAll,
			Prepare: func(ctx context.Context, rescued int64) (bool, error) {
				prepared = true
				q, err := FromContext(ctx)
				if err != nil {
					return false, err
				}
				_, _, err = q.Enqueue(ctx, Task{Name: "step", RunID: "r", Key: "1"})
				return true, err
			},
			Drive: func(ctx context.Context) error {
				select {
				case <-done:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			},
		})
		if err != nil || !prepared {
			t.Fatalf("Run = %v (prepared %v)", err, prepared)
		}
		if n := worked.Load(); n != length {
			t.Errorf("%d tasks worked, want %d", n, length)
		}
	})
}

// TestRunPrepareDeclines: nothing is started or driven when Prepare says
// there is nothing to work, and its error is Run's.
func TestRunPrepareDeclines(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, backend Backend) {
		ctx := testContext(t)
		cfg := testConfig(nil)
		cfg.Queue = "idle"
		cfg.Tasks = map[string]TaskFunc{"never": func(context.Context, Task) error { return nil }}
		drove := false
		err := RunOn(ctx, backend, cfg, Work{
			Prepare: func(context.Context, int64) (bool, error) { return false, nil },
			Drive:   func(context.Context) error { drove = true; return nil },
		})
		if err != nil || drove {
			t.Fatalf("declined: Run = %v, drove %v", err, drove)
		}
		boom := ethos.Errorf(ethos.Config, "no run")
		if err := RunOn(ctx, backend, cfg, Work{Prepare: func(context.Context, int64) (bool, error) { return false, boom }}); err != boom {
			t.Errorf("Run = %v, want Prepare's error", err)
		}
		if _, err := FromContext(ctx); ethos.KindOf(err) != ethos.Internal {
			t.Errorf("FromContext outside Run = %v, want an internal error", err)
		}
	})
}
