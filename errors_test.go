package ethos_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ethos-toolkit/ethos"
)

func TestErrorfWrapsCause(t *testing.T) {
	t.Parallel()
	err := ethos.Errorf(ethos.Transient, "reading stream: %w", context.DeadlineExceeded)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Error("the cause is not reachable with errors.Is")
	}
	if got, want := err.Error(), "reading stream: context deadline exceeded"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	wrapped := fmt.Errorf("job 7: %w", err)
	if ethos.KindOf(wrapped) != ethos.Transient {
		t.Errorf("KindOf through wrapping = %q", ethos.KindOf(wrapped))
	}
	if ethos.KindOf(nil) != "" || ethos.KindOf(errors.New("x")) != ethos.Internal {
		t.Error("KindOf(nil) must be empty and KindOf(untyped) internal")
	}
	e := &ethos.Error{Kind: ethos.RateLimited, Op: "anthropic: messages", Msg: "slow down", RequestID: "req_1", RetryAfter: 3 * time.Second}
	if got, want := e.Error(), "anthropic: messages: slow down (request-id req_1)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if ethos.RetryAfterOf(fmt.Errorf("x: %w", e)) != 3*time.Second {
		t.Error("RetryAfterOf lost the retry-after")
	}
}

func TestOutcomeOfEveryKind(t *testing.T) {
	t.Parallel()
	for kind, want := range map[ethos.Kind]ethos.Outcome{
		ethos.Invalid: ethos.Cancel, ethos.Auth: ethos.Cancel, ethos.NotFound: ethos.Cancel,
		ethos.RateLimited: ethos.Snooze, ethos.Quota: ethos.Cancel, ethos.Overloaded: ethos.Snooze, ethos.Transient: ethos.Retry,
		ethos.Refused: ethos.Quarantine, ethos.Truncated: ethos.Quarantine, ethos.Parse: ethos.Quarantine,
		ethos.Config: ethos.Cancel, ethos.Budget: ethos.Cancel, ethos.Conflict: ethos.Quarantine, ethos.Internal: ethos.Cancel,
		ethos.Interrupted: ethos.Retry, ethos.Pending: ethos.Wait,
	} {
		if got := ethos.OutcomeOf(kind); got != want {
			t.Errorf("OutcomeOf(%s) = %s, want %s", kind, got, want)
		}
	}
}

func TestCheckStop(t *testing.T) {
	t.Parallel()
	for reason, want := range map[ethos.StopReason]ethos.Kind{
		ethos.StopEnd: "", ethos.StopSequence: "", ethos.StopMaxTokens: ethos.Truncated, ethos.StopRefusal: ethos.Refused,
		// Cut by the context window, or paused: as incomplete as max_tokens.
		ethos.StopContextWindow: ethos.Truncated, ethos.StopPaused: ethos.Truncated,
	} {
		if got := ethos.KindOf(ethos.CheckStop(ethos.Response{StopReason: reason})); got != want {
			t.Errorf("CheckStop(%s) kind %q, want %q", reason, got, want)
		}
	}
}

func TestSplitModel(t *testing.T) {
	t.Parallel()
	if p, m, ok := ethos.SplitModel("together/meta-llama/L-3"); !ok || p != "together" || m != "meta-llama/L-3" {
		t.Errorf("got %q %q %v", p, m, ok)
	}
	for _, bad := range []string{"", "x", "/m", "p/"} {
		if _, _, ok := ethos.SplitModel(bad); ok {
			t.Errorf("SplitModel(%q) ok", bad)
		}
	}
}
