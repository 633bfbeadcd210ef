package llmtest

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/sandbox"
)

// BatchAdapter is an adapter that answers online and by batch.
type BatchAdapter interface {
	ethos.Completer
	ethos.BatchAPI
}

// RunBatchConformance checks an adapter's batch API against the sandbox's
// emulation of its provider's: a batch's answers are the online answers,
// its label (where the provider keeps one) and state read back, the listing
// finds it, and injected errors and expiries come back as their outcomes.
// keepsLabel says whether the provider lets a batch's label be read back.
func RunBatchConformance(t *testing.T, newAdapter func(t *testing.T, baseURL string) BatchAdapter, baseURLFor func(sandboxURL string) string, keepsLabel bool) {
	t.Helper()
	start := func(t *testing.T, opts sandbox.Options) BatchAdapter {
		t.Helper()
		srv, err := sandbox.Start(t.Context(), "127.0.0.1:0", opts)
		if err != nil {
			t.Fatalf("start sandbox: %v", err)
		}
		t.Cleanup(func() { srv.Close() })
		return newAdapter(t, baseURLFor(srv.URL))
	}
	requests := func(n int) []ethos.BatchRequest {
		out := make([]ethos.BatchRequest, n)
		for i := range out {
			out[i] = ethos.BatchRequest{CustomID: fmt.Sprintf("%064x", i+1), Request: request("writer", fmt.Sprintf("Describe lighthouse number %d.", i), 300)}
		}
		return out
	}
	// A negative processing time ends every batch as it is created, so the
	// suite needs no clock.
	instant := sandbox.BatchOptions{ProcessingTime: -1}

	t.Run("AnswersAreTheOnlineAnswers", func(t *testing.T) {
		t.Parallel()
		c := start(t, sandbox.Options{Seed: 7, Batch: instant})
		reqs := requests(3)
		info, err := c.SubmitBatch(t.Context(), ethos.BatchSubmission{Label: "ethos-batch-1", Requests: reqs})
		if err != nil {
			t.Fatal(err)
		}
		if info.ID == "" || info.CreatedAt.IsZero() {
			t.Fatalf("created batch: %+v", info)
		}
		got, err := c.GetBatch(t.Context(), info.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != ethos.BatchEnded || got.ProviderStatus == "" {
			t.Fatalf("batch after its processing time: %+v", got)
		}
		if keepsLabel && got.Label != "ethos-batch-1" {
			t.Errorf("label read back %q", got.Label)
		}
		results := map[string]ethos.BatchResult{}
		if err := c.BatchResults(t.Context(), info.ID, func(r ethos.BatchResult) error {
			results[r.CustomID] = r
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(results) != len(reqs) {
			t.Fatalf("%d results for %d requests", len(results), len(reqs))
		}
		for _, r := range reqs {
			res := results[r.CustomID]
			if res.Outcome != ethos.BatchSucceeded || res.Response == nil {
				t.Fatalf("%s: %+v", r.CustomID[:8], res)
			}
			online := complete(t, c, r.Request)
			if diff := cmp.Diff(online, *res.Response, ignoreTransport, cmpopts.IgnoreFields(ethos.Response{}, "Usage.CacheRead", "Usage.CacheWrite")); diff != "" {
				t.Errorf("%s: batch answer differs from the online one (-online +batch):\n%s", r.CustomID[:8], diff)
			}
		}
		listed, err := c.ListBatches(t.Context(), info.CreatedAt.Add(-time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, b := range listed {
			found = found || b.ID == info.ID
		}
		if !found {
			t.Errorf("ListBatches does not list %s: %+v", info.ID, listed)
		}
		if later, err := c.ListBatches(t.Context(), info.CreatedAt.Add(time.Hour)); err != nil || len(later) != 0 {
			t.Errorf("ListBatches after the batch's creation: %d batches, %v", len(later), err)
		}
	})

	t.Run("ErroredAndExpired", func(t *testing.T) {
		t.Parallel()
		for _, tt := range []struct {
			name string
			opts sandbox.BatchOptions
			want ethos.BatchOutcome
		}{
			{"errored", sandbox.BatchOptions{ProcessingTime: -1, ErrorRate: 1}, ethos.BatchErrored},
			{"expired", sandbox.BatchOptions{ProcessingTime: -1, ExpireRate: 1}, ethos.BatchExpired},
		} {
			c := start(t, sandbox.Options{Seed: 7, Batch: tt.opts})
			info, err := c.SubmitBatch(t.Context(), ethos.BatchSubmission{Label: "ethos-batch-2", Requests: requests(2)})
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			if err := c.BatchResults(t.Context(), info.ID, func(r ethos.BatchResult) error {
				n++
				if r.Outcome != tt.want {
					t.Errorf("%s: outcome %s, want %s", tt.name, r.Outcome, tt.want)
				}
				if tt.want == ethos.BatchErrored && (r.Err == nil || !ethos.IsFailure(r.Err.Kind)) {
					t.Errorf("%s: error %+v, want a typed failure", tt.name, r.Err)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if n != 2 {
				t.Errorf("%s: %d results, want 2", tt.name, n)
			}
		}
	})

	t.Run("Cancel", func(t *testing.T) {
		t.Parallel()
		c := start(t, sandbox.Options{Seed: 7, Batch: sandbox.BatchOptions{ProcessingTime: time.Hour}})
		info, err := c.SubmitBatch(t.Context(), ethos.BatchSubmission{Label: "ethos-batch-3", Requests: requests(2)})
		if err != nil {
			t.Fatal(err)
		}
		if info.State != ethos.BatchInProgress {
			t.Errorf("a batch of an hour starts %s", info.State)
		}
		got, err := c.CancelBatch(t.Context(), info.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != ethos.BatchCancelling && got.State != ethos.BatchEnded {
			t.Errorf("cancelled batch is %s", got.State)
		}
		if _, err := c.GetBatch(t.Context(), "batch_unknown"); ethos.KindOf(err) != ethos.NotFound {
			t.Errorf("GetBatch(unknown) = %v, want not found", err)
		}
	})
}
