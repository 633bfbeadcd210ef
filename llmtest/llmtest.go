// Package llmtest is the conformance suite every LLM adapter passes: it
// starts the sandbox emulator on a loopback port and checks, through the
// adapter's real SDK, that JSON and streamed calls agree, that answers are
// deterministic, and that each injected fault comes back as the right
// ethos error kind.
package llmtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/sandbox"
)

// NewCompleterFunc builds the adapter under test for a base URL.
type NewCompleterFunc func(t *testing.T, baseURL string) ethos.Completer

// RunConformance runs the suite. newCompleter builds the adapter for a
// base URL; baseURLFor turns a sandbox root ("http://127.0.0.1:NNNN") into
// the base URL that adapter expects (the root itself for Anthropic, root
// plus "/v1" for OpenAI-compatible adapters).
func RunConformance(t *testing.T, newCompleter NewCompleterFunc, baseURLFor func(sandboxURL string) string) {
	t.Helper()
	start := func(t *testing.T, opts sandbox.Options) ethos.Completer {
		t.Helper()
		// The sandbox serves until its context ends: the test's.
		srv, err := sandbox.Start(t.Context(), "127.0.0.1:0", opts)
		if err != nil {
			t.Fatalf("start sandbox: %v", err)
		}
		t.Cleanup(func() { srv.Close() })
		return newCompleter(t, baseURLFor(srv.URL))
	}
	shared := func(t *testing.T) ethos.Completer { return start(t, sandbox.Options{Seed: 7}) }

	t.Run("JSONAndStreamAgree", func(t *testing.T) {
		t.Parallel()
		c := shared(t)
		req := request("writer", "Describe a lighthouse keeper.", 400)
		plain := complete(t, c, req)
		req.Stream = true
		streamed := complete(t, c, req)
		if plain.Text == "" {
			t.Fatal("empty answer")
		}
		if diff := cmp.Diff(plain, streamed, ignoreTransport); diff != "" {
			t.Errorf("streamed answer differs from JSON answer (-json +stream):\n%s", diff)
		}
		if plain.StopReason != ethos.StopEnd {
			t.Errorf("stop reason %q, want %q", plain.StopReason, ethos.StopEnd)
		}
		if plain.Usage.In <= 0 || plain.Usage.Out <= 0 {
			t.Errorf("usage not reported: %+v", plain.Usage)
		}
		if plain.Model != "writer" {
			t.Errorf("model %q, want writer", plain.Model)
		}
		if plain.RequestID == "" || streamed.RequestID == "" {
			t.Errorf("request ids missing: %q %q", plain.RequestID, streamed.RequestID)
		}
	})

	t.Run("PromptCache", func(t *testing.T) {
		t.Parallel()
		// A long system prompt that repeats, marked for the providers that
		// cache only where told: the second call reads it from the cache,
		// JSON or streamed, and no input token is counted twice.
		c := start(t, sandbox.Options{Seed: 7})
		system := strings.Repeat("Keep every answer plain and short. ", 150) // about 1,300 tokens
		ask := func(prompt string, stream bool) ethos.Response {
			req := request("writer", prompt, 50)
			req.System, req.CachePrefix, req.Stream = system, 1, stream
			return complete(t, c, req)
		}
		first := ask("Name a river.", false)
		if first.Usage.CacheRead != 0 {
			t.Errorf("first call read %d tokens from an empty cache", first.Usage.CacheRead)
		}
		for _, stream := range []bool{false, true} {
			again := ask("Name a mountain.", stream)
			if again.Usage.CacheRead < 1024 {
				t.Errorf("stream=%v: %d tokens read from the cache, want the system prompt's (at least 1,024): %+v", stream, again.Usage.CacheRead, again.Usage)
			}
			total := func(u ethos.Usage) int { return u.In + u.CacheRead + u.CacheWrite }
			if d := total(again.Usage) - total(first.Usage); d < -2 || d > 2 {
				t.Errorf("stream=%v: input counted %d tokens apart for prompts of one length: %+v vs %+v", stream, d, again.Usage, first.Usage)
			}
		}
	})

	t.Run("Deterministic", func(t *testing.T) {
		t.Parallel()
		a := complete(t, shared(t), request("base", "Name three rivers.", 200))
		b := complete(t, shared(t), request("base", "Name three rivers.", 200))
		if diff := cmp.Diff(a, b, ignoreTransport); diff != "" {
			t.Errorf("same request, different answers (-first +second):\n%s", diff)
		}
		other := complete(t, shared(t), request("base", "Name three mountains.", 200))
		if other.Text == a.Text {
			t.Errorf("different prompts got the same text %q; the check proves nothing", a.Text)
		}
	})

	t.Run("MaxTokensTruncates", func(t *testing.T) {
		t.Parallel()
		c := shared(t)
		for _, stream := range []bool{false, true} {
			req := request("writer", "Write a long story about the sea.", 3)
			req.Stream = stream
			resp := complete(t, c, req)
			if resp.StopReason != ethos.StopMaxTokens {
				t.Errorf("stream=%v: stop reason %q, want %q", stream, resp.StopReason, ethos.StopMaxTokens)
			}
			if resp.Usage.Out > 3 {
				t.Errorf("stream=%v: %d output tokens, limit 3", stream, resp.Usage.Out)
			}
			if ethos.KindOf(ethos.CheckStop(resp)) != ethos.Truncated {
				t.Errorf("stream=%v: CheckStop does not report truncation", stream)
			}
		}
	})

	t.Run("Refusal", func(t *testing.T) {
		t.Parallel()
		c := shared(t)
		for _, stream := range []bool{false, true} {
			req := request("fault-refuse", "Do something you should not.", 200)
			req.Stream = stream
			resp := complete(t, c, req)
			if resp.StopReason != ethos.StopRefusal {
				t.Errorf("stream=%v: stop reason %q, want %q", stream, resp.StopReason, ethos.StopRefusal)
			}
			if ethos.KindOf(ethos.CheckStop(resp)) != ethos.Refused {
				t.Errorf("stream=%v: CheckStop does not report the refusal", stream)
			}
		}
	})

	t.Run("FaultStatuses", func(t *testing.T) {
		t.Parallel()
		c := shared(t)
		for status, kind := range map[int]ethos.Kind{
			400: ethos.Invalid, 401: ethos.Auth, 403: ethos.Auth, 404: ethos.NotFound,
			429: ethos.RateLimited, 500: ethos.Transient, 502: ethos.Transient,
			503: ethos.Overloaded, 504: ethos.Transient, 529: ethos.Overloaded,
		} {
			for _, stream := range []bool{false, true} {
				req := request(fmt.Sprintf("fault-%d", status), "Hello.", 100)
				req.Stream = stream
				e := failure(t, c, req)
				if e.Kind != kind || e.Status != status {
					t.Errorf("fault-%d stream=%v: kind %q status %d, want %q %d (%v)", status, stream, e.Kind, e.Status, kind, status, e)
				}
				if status == 429 && e.RetryAfter <= 0 {
					t.Errorf("fault-429 stream=%v: no retry-after", stream)
				}
				if e.RequestID == "" {
					t.Errorf("fault-%d stream=%v: no request id", status, stream)
				}
			}
		}
	})

	t.Run("OutOfCredit", func(t *testing.T) {
		t.Parallel()
		// An account out of credit: Anthropic answers 402 billing_error,
		// OpenAI a 429 with insufficient_quota. Both are Quota, which
		// stops the run instead of waiting on a 429 that never clears.
		for _, stream := range []bool{false, true} {
			req := request("fault-402", "Hello.", 100)
			req.Stream = stream
			if e := failure(t, shared(t), req); e.Kind != ethos.Quota || (e.Status != 402 && e.Status != 429) {
				t.Errorf("fault-402 stream=%v: kind %q status %d, want quota from a 402 or 429 (%v)", stream, e.Kind, e.Status, e)
			}
		}
	})

	t.Run("UnknownModel", func(t *testing.T) {
		t.Parallel()
		e := failure(t, shared(t), request("no-such-model", "Hello.", 100))
		if e.Kind != ethos.NotFound {
			t.Errorf("kind %q, want %q (%v)", e.Kind, ethos.NotFound, e)
		}
	})

	t.Run("BrokenStreams", func(t *testing.T) {
		t.Parallel()
		c := shared(t)
		for _, tc := range []struct {
			model  string
			stream bool
			kind   ethos.Kind
		}{
			{"fault-cut", true, ethos.Transient},
			{"fault-cut", false, ethos.Transient},
			{"fault-overloaded-stream", true, ethos.Overloaded},
		} {
			req := request(tc.model, "Tell me about bridges and rivers and the people who build them.", 400)
			req.Stream = tc.stream
			if e := failure(t, c, req); e.Kind != tc.kind {
				t.Errorf("%s stream=%v: kind %q, want %q (%v)", tc.model, tc.stream, e.Kind, tc.kind, e)
			}
		}
	})

	t.Run("RateLimitHeaders", func(t *testing.T) {
		t.Parallel()
		c := start(t, sandbox.Options{Seed: 7, Faults: sandbox.Faults{RPM: 1, TPM: 1_000_000}})
		first := complete(t, c, request("writer", "One.", 50))
		if !first.RateLimit.HasRequests || first.RateLimit.RequestsLimit != 1 {
			t.Errorf("request limit not read from headers: %+v", first.RateLimit)
		}
		if !first.RateLimit.HasTokens || first.RateLimit.TokensLimit != 1_000_000 {
			t.Errorf("token limit not read from headers: %+v", first.RateLimit)
		}
		e := failure(t, c, request("writer", "Two.", 50))
		if e.Kind != ethos.RateLimited || e.RetryAfter <= 0 {
			t.Errorf("over the RPM: kind %q retry-after %s, want rate_limited with a wait (%v)", e.Kind, e.RetryAfter, e)
		}
	})

	t.Run("CanceledContext", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := shared(t).Complete(ctx, request("writer", "Hello.", 50))
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error %v does not wrap context.Canceled", err)
		}
	})
}

// ignoreTransport leaves out what differs between two calls for the same
// answer: timing, request ids and rate-limit state.
var ignoreTransport = cmpopts.IgnoreFields(ethos.Response{}, "Latency", "RequestID", "RateLimit")

func request(model, prompt string, maxTokens int) ethos.Request {
	return ethos.Request{
		Model:     model,
		System:    "You are a careful writer.",
		Messages:  []ethos.Message{{Role: ethos.RoleUser, Content: prompt}},
		MaxTokens: maxTokens,
	}
}

func complete(t *testing.T, c ethos.Completer, req ethos.Request) ethos.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	resp, err := c.Complete(ctx, req)
	if err != nil {
		t.Fatalf("%s (stream=%v): %v", req.Model, req.Stream, err)
	}
	return resp
}

func failure(t *testing.T, c ethos.Completer, req ethos.Request) *ethos.Error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := c.Complete(ctx, req)
	if err == nil {
		t.Fatalf("%s (stream=%v): no error", req.Model, req.Stream)
	}
	var e *ethos.Error
	if !errors.As(err, &e) {
		t.Fatalf("%s (stream=%v): %T %v is not an *ethos.Error", req.Model, req.Stream, err, err)
	}
	return e
}
