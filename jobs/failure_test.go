package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/ethos-toolkit/ethos"
)

// TestFailedJobMessage: what reaches the user says what failed in its own
// terms first, then the cause, and the job's internals last.
func TestFailedJobMessage(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, backend Backend) {
		ctx := testContext(t)

		_, completer := newScript(step{err: &ethos.Error{Kind: ethos.Auth, Op: "sandbox: complete", Msg: "invalid x-api-key"}})
		calls := newClient(t, backend, testConfig(completer), true)
		id, err := calls.EnqueueCall(ctx, callArgs("Tell me about yourself."))
		if err != nil {
			t.Fatal(err)
		}
		_, err = calls.WaitCall(ctx, id)
		want := fmt.Sprintf("model call failed after 1 attempt: sandbox: complete: invalid x-api-key (job %d, llm.call, cancelled)", id)
		if err == nil || err.Error() != want {
			t.Errorf("failed call:\n got %v\nwant %s", err, want)
		}

		cfg := testConfig(nil)
		cfg.Queue = "tasks" // out of reach of the client above, which has no such task
		cfg.Tasks = map[string]TaskFunc{"test.step": func(ctx context.Context, task Task) error {
			return ethos.Errorf(ethos.Transient, "store busy")
		}}
		tasks := newClient(t, backend, cfg, true)
		id, _, err = tasks.Enqueue(ctx, Task{Name: "test.step", RunID: "r", Key: "k"})
		if err != nil {
			t.Fatal(err)
		}
		err = tasks.WaitTask(ctx, id)
		want = fmt.Sprintf("task test.step failed after 3 attempts: store busy (job %d, test.step, discarded)", id)
		if err == nil || err.Error() != want {
			t.Errorf("failed task:\n got %v\nwant %s", err, want)
		}
	})
}

// TestWarnHandlerDropsStopNoise: while the process stops (Ctrl-C), River
// reports the work the stop cut short as errors ending in "context
// canceled"; those are not shown, and every other warning and error is.
func TestWarnHandlerDropsStopNoise(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	log := slog.New(warnHandler{slog.NewTextHandler(&b, nil)})
	stopped, cancel := context.WithCancel(t.Context())
	cancel()
	log.ErrorContext(stopped, "Client: Failed to send job insert notification", slog.String("err", context.Canceled.Error()))
	log.ErrorContext(stopped, "jobs: worker", slog.Any("error", fmt.Errorf("insert: %w", context.Canceled)))
	if b.Len() != 0 {
		t.Errorf("a stop's cancellations were logged:\n%s", b.String())
	}
	log.ErrorContext(t.Context(), "live", slog.String("err", context.Canceled.Error()))
	log.WarnContext(stopped, "jobs: graceful stop ran out of time")
	log.InfoContext(t.Context(), "chatter")
	if got := b.String(); !strings.Contains(got, "live") || !strings.Contains(got, "graceful stop") || strings.Contains(got, "chatter") {
		t.Errorf("logged:\n%s\nwant the error under a live context and the warning, not the info", got)
	}
}
