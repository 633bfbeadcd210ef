package llm_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/llm"
	"github.com/ethos-toolkit/ethos/sqlite"
)

// scriptedBatches is a provider batch API whose batches end when the test
// says, with the outcomes it sets per request, and whose failures are
// injected at the points where a real provider's (or a killed client's)
// would leave ethos unsure: a create that succeeded but whose answer was
// lost, a batch the provider forgot.
type scriptedBatches struct {
	mu        sync.Mutex
	batches   []*scriptedBatch
	labels    bool // the provider keeps labels (OpenAI metadata); Anthropic does not
	lostReply bool // the next create succeeds but reports a transient error
	refuse    error
	submitted map[string]int // custom ID → submissions
	outcome   func(id string) ethos.BatchOutcome
	now       func() time.Time
}

type scriptedBatch struct {
	info ethos.BatchInfo
	reqs []ethos.BatchRequest
}

func newScripted(now func() time.Time) *scriptedBatches {
	return &scriptedBatches{submitted: map[string]int{}, now: now,
		outcome: func(string) ethos.BatchOutcome { return ethos.BatchSucceeded }}
}

func (s *scriptedBatches) BatchLimits() ethos.BatchLimits {
	return ethos.BatchLimits{MaxRequests: 3, MaxBytes: 1 << 20}
}

func (s *scriptedBatches) SubmitBatch(ctx context.Context, b ethos.BatchSubmission) (ethos.BatchInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refuse != nil {
		return ethos.BatchInfo{}, s.refuse
	}
	info := ethos.BatchInfo{ID: fmt.Sprintf("msgbatch_%d", len(s.batches)+1), State: ethos.BatchInProgress,
		ProviderStatus: "in_progress", Counts: ethos.BatchCounts{Total: len(b.Requests), Processing: len(b.Requests)}, CreatedAt: s.now()}
	if s.labels {
		info.Label = b.Label
	}
	s.batches = append(s.batches, &scriptedBatch{info: info, reqs: b.Requests})
	for _, r := range b.Requests {
		s.submitted[r.CustomID]++
	}
	if s.lostReply {
		s.lostReply = false
		return ethos.BatchInfo{}, ethos.Errorf(ethos.Transient, "connection reset after the request was sent")
	}
	return info, nil
}

func (s *scriptedBatches) find(id string) (*scriptedBatch, error) {
	for _, b := range s.batches {
		if b.info.ID == id {
			return b, nil
		}
	}
	return nil, ethos.Errorf(ethos.NotFound, "no batch %s", id)
}

func (s *scriptedBatches) GetBatch(ctx context.Context, id string) (ethos.BatchInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.find(id)
	if err != nil {
		return ethos.BatchInfo{}, err
	}
	return b.info, nil
}

// end ends every batch in progress.
func (s *scriptedBatches) end() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.batches {
		if b.info.State == ethos.BatchInProgress {
			b.info.State, b.info.ProviderStatus, b.info.Counts.Processing = ethos.BatchEnded, "ended", 0
			b.info.Counts.Succeeded = len(b.reqs)
		}
	}
}

func (s *scriptedBatches) BatchResults(ctx context.Context, id string, each func(ethos.BatchResult) error) error {
	s.mu.Lock()
	b, err := s.find(id)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	for _, r := range b.reqs {
		res := ethos.BatchResult{CustomID: r.CustomID, Outcome: s.outcome(r.CustomID)}
		switch res.Outcome {
		case ethos.BatchSucceeded:
			res.Response = &ethos.Response{Text: "answer to " + r.Request.Messages[0].Content, StopReason: ethos.StopEnd,
				Usage: ethos.Usage{In: 1000, Out: 1000}, Model: r.Request.Model}
		case ethos.BatchErrored:
			res.Err = &ethos.Error{Kind: ethos.Overloaded, Msg: "overloaded_error: Overloaded"}
		}
		if err := each(res); err != nil {
			return err
		}
	}
	return nil
}

func (s *scriptedBatches) CancelBatch(ctx context.Context, id string) (ethos.BatchInfo, error) {
	return ethos.BatchInfo{}, ethos.Errorf(ethos.Invalid, "not scripted")
}

func (s *scriptedBatches) ListBatches(ctx context.Context, since time.Time) ([]ethos.BatchInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ethos.BatchInfo
	for i := len(s.batches) - 1; i >= 0; i-- {
		if !s.batches[i].info.CreatedAt.Before(since) {
			out = append(out, s.batches[i].info)
		}
	}
	return out, nil
}

func (s *scriptedBatches) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.batches)
}

// batchRig is a ledger over a batcher over a counting online completer,
// on a real store, with a clock the test moves.
type batchRig struct {
	store   *sqlite.DB
	api     *scriptedBatches
	batcher *llm.Batcher
	chain   ethos.Completer
	online  int
	clock   time.Time
	mu      sync.Mutex
}

func newBatchRig(t *testing.T) *batchRig {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "ethos.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	r := &batchRig{store: db, clock: time.Now()}
	r.api = newScripted(r.now)
	r.batcher = &llm.Batcher{Store: db, Window: 10 * time.Second, Poll: time.Second, MaxSubmissions: 2, Now: r.now,
		API: func(provider string) (ethos.BatchAPI, bool, error) { return r.api, provider == "anthropic", nil },
		Next: ethos.CompleterFunc(func(ctx context.Context, req ethos.Request) (ethos.Response, error) {
			r.mu.Lock()
			r.online++
			r.mu.Unlock()
			return ethos.Response{Text: "online answer", StopReason: ethos.StopEnd, Usage: ethos.Usage{In: 1000, Out: 1000}}, nil
		})}
	pricer := halfPricer{}
	r.chain = &llm.Ledger{Store: db, Pricer: pricer, Next: llm.NewBudget(10, 0, pricer, r.batcher)}
	return r
}

func (r *batchRig) now() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.clock
}

func (r *batchRig) advance(d time.Duration) {
	r.mu.Lock()
	r.clock = r.clock.Add(d)
	r.mu.Unlock()
}

func (r *batchRig) step(t *testing.T) {
	t.Helper()
	if err := r.batcher.Step(t.Context()); err != nil {
		t.Fatalf("Step: %v", err)
	}
}

// halfPricer prices a million tokens in or out at $1, and a batch at half.
type halfPricer struct{}

func (halfPricer) Cost(model string, u ethos.Usage) (float64, bool) {
	return float64(u.In+u.Out) / 1e6, true
}

func (halfPricer) BatchMultiplier(string) float64 { return 0.5 }

func batchReq(i int, attempt string) ethos.Request {
	return ethos.Request{Model: "anthropic/claude-haiku-4-5", MaxTokens: 100,
		Messages: []ethos.Message{{Role: ethos.RoleUser, Content: fmt.Sprintf("question %d", i)}},
		Metadata: map[string]string{"run": "r1", "stage": "document", "attempt": attempt}}
}

func batchCtx(t *testing.T) context.Context { return llm.WithMode(t.Context(), llm.ModeBatch) }

func wantPending(t *testing.T, err error) {
	t.Helper()
	if ethos.KindOf(err) != ethos.Pending {
		t.Fatalf("err = %v, want pending", err)
	}
	if ethos.RetryAfterOf(err) < time.Second {
		t.Errorf("retry after %s, want at least a second", ethos.RetryAfterOf(err))
	}
}

func TestBatcherAnswersFromAnEndedBatchAtTheBatchPrice(t *testing.T) {
	r := newBatchRig(t)
	ctx := batchCtx(t)
	for i := range 4 {
		_, err := r.chain.Complete(ctx, batchReq(i, "1"))
		wantPending(t, err)
	}
	r.step(t) // 4 queued, limit 3: one full batch goes at once, one waits
	if n := r.api.count(); n != 1 {
		t.Fatalf("batches after the first step = %d, want 1 (full)", n)
	}
	r.advance(11 * time.Second)
	r.step(t) // the window has passed: the rest goes
	if n := r.api.count(); n != 2 {
		t.Fatalf("batches after the window = %d, want 2", n)
	}
	_, err := r.chain.Complete(ctx, batchReq(0, "1"))
	wantPending(t, err)

	r.api.end()
	r.advance(2 * time.Second)
	r.step(t)
	for i := range 4 {
		resp, err := r.chain.Complete(ctx, batchReq(i, "1"))
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if resp.Batch == "" || resp.Text != fmt.Sprintf("answer to question %d", i) {
			t.Errorf("request %d: %+v", i, resp)
		}
	}
	calls, err := r.store.Calls(t.Context(), ethos.CallFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 4 {
		t.Fatalf("ledger has %d calls, want 4 (a pending call is not a call)", len(calls))
	}
	for _, c := range calls {
		if c.CostUSD != 0.001 {
			t.Errorf("call %s cost $%g, want $0.001 (half of $0.002)", c.Key[:8], c.CostUSD)
		}
	}
	if r.online != 0 {
		t.Errorf("%d calls went online", r.online)
	}
	for id, n := range r.api.submitted {
		if n != 1 {
			t.Errorf("request %s submitted %d times", id[:8], n)
		}
	}
	// Asked again, the ledger answers.
	if _, err := r.chain.Complete(ctx, batchReq(0, "1")); err != nil {
		t.Fatal(err)
	}
	if r.api.count() != 2 {
		t.Error("a repeated request made another batch")
	}
}

func TestBatcherOnlineCallsPassThrough(t *testing.T) {
	r := newBatchRig(t)
	if _, err := r.chain.Complete(t.Context(), batchReq(1, "1")); err != nil {
		t.Fatal(err)
	}
	// A provider without a batch API is called online even in batch mode.
	req := batchReq(2, "1")
	req.Model = "openai/gpt-4o-mini"
	if _, err := r.chain.Complete(batchCtx(t), req); err != nil {
		t.Fatal(err)
	}
	if r.online != 2 || r.api.count() != 0 {
		t.Errorf("online calls %d, batches %d; want 2 and 0", r.online, r.api.count())
	}
}

func TestBatcherErroredAnswerIsReturnedOnceThenRetriedOnline(t *testing.T) {
	r := newBatchRig(t)
	ctx := batchCtx(t)
	r.api.outcome = func(string) ethos.BatchOutcome { return ethos.BatchErrored }
	_, err := r.chain.Complete(ctx, batchReq(1, "1"))
	wantPending(t, err)
	r.advance(11 * time.Second)
	r.step(t)
	r.api.end()
	r.advance(2 * time.Second)
	r.step(t)
	_, err = r.chain.Complete(ctx, batchReq(1, "1"))
	if ethos.KindOf(err) != ethos.Overloaded {
		t.Fatalf("err = %v, want the batch's overloaded error", err)
	}
	// The job layer's next attempt goes online: the run waits on it.
	resp, err := r.chain.Complete(ctx, batchReq(1, "2"))
	if err != nil || resp.Batch != "" || r.online != 1 {
		t.Fatalf("retry: %+v, %v; %d online calls", resp, err, r.online)
	}
	calls, _ := r.store.Calls(t.Context(), ethos.CallFilter{})
	if len(calls) != 2 || calls[1].ErrorKind != ethos.Overloaded || calls[0].Response == nil || calls[0].Response.Batch != "" {
		t.Errorf("ledger: %d calls; want the batch's error and the online answer", len(calls))
	}
}

func TestBatcherResendsExpiredRequestsThenGoesOnline(t *testing.T) {
	r := newBatchRig(t)
	ctx := batchCtx(t)
	r.api.outcome = func(string) ethos.BatchOutcome { return ethos.BatchExpired }
	_, err := r.chain.Complete(ctx, batchReq(1, "1"))
	wantPending(t, err)
	for round := 1; round <= 2; round++ {
		r.advance(11 * time.Second)
		r.step(t) // submit
		r.api.end()
		r.advance(2 * time.Second)
		r.step(t) // collect: expired
		if r.api.count() != round {
			t.Fatalf("round %d: %d batches", round, r.api.count())
		}
	}
	// Expired in MaxSubmissions (2) batches: online now.
	resp, err := r.chain.Complete(ctx, batchReq(1, "1"))
	if err != nil || resp.Text != "online answer" || r.online != 1 {
		t.Fatalf("after two expiries: %+v, %v, %d online", resp, err, r.online)
	}
}

func TestBatcherFindsABatchWhoseCreateAnswerWasLost(t *testing.T) {
	for _, labels := range []bool{true, false} {
		t.Run(fmt.Sprintf("labels=%v", labels), func(t *testing.T) {
			r := newBatchRig(t)
			ctx := batchCtx(t)
			r.api.labels = labels
			r.api.lostReply = true
			for i := range 2 {
				_, err := r.chain.Complete(ctx, batchReq(i, "1"))
				wantPending(t, err)
			}
			r.advance(11 * time.Second)
			if err := r.batcher.Step(t.Context()); ethos.KindOf(err) != ethos.Transient {
				t.Fatalf("Step = %v, want the transient create error", err)
			}
			b, _ := r.store.Batches(t.Context(), ethos.BatchFilter{})
			if len(b) != 1 || b[0].State != ethos.BatchPreparing {
				t.Fatalf("batches %+v, want one preparing", b)
			}
			r.step(t) // recover: found at the provider, not submitted again
			b, _ = r.store.Batches(t.Context(), ethos.BatchFilter{})
			if b[0].ProviderID != "msgbatch_1" || b[0].State != ethos.BatchInProgress {
				t.Fatalf("after recovery: %+v", b[0])
			}
			r.api.end()
			r.advance(2 * time.Second)
			r.step(t)
			for i := range 2 {
				if _, err := r.chain.Complete(ctx, batchReq(i, "1")); err != nil {
					t.Fatal(err)
				}
			}
			if r.api.count() != 1 {
				t.Errorf("%d batches created, want 1", r.api.count())
			}
		})
	}
}

func TestBatcherResendsABatchNeverCreated(t *testing.T) {
	r := newBatchRig(t)
	ctx := batchCtx(t)
	_, err := r.chain.Complete(ctx, batchReq(1, "1"))
	wantPending(t, err)
	// Recorded, then the process died before submitting: nothing at the
	// provider. The next process's step sends it again.
	if _, _, err := r.store.CreateBatch(t.Context(), "anthropic/claude-haiku-4-5", 3, 1<<20); err != nil {
		t.Fatal(err)
	}
	r.step(t) // recover: not found, queued again
	r.advance(11 * time.Second)
	r.step(t) // submitted
	if r.api.count() != 1 {
		t.Fatalf("%d batches created, want 1", r.api.count())
	}
	b, _ := r.store.Batches(t.Context(), ethos.BatchFilter{})
	if len(b) != 2 || b[1].State != ethos.BatchFailed || b[0].State != ethos.BatchInProgress {
		t.Errorf("batches: %+v", b)
	}
}

func TestBatcherRequeuesWhatTheProviderForgot(t *testing.T) {
	r := newBatchRig(t)
	ctx := batchCtx(t)
	_, err := r.chain.Complete(ctx, batchReq(1, "1"))
	wantPending(t, err)
	r.advance(11 * time.Second)
	r.step(t)
	r.api.mu.Lock()
	r.api.batches = nil // a sandbox restarted without its directory
	r.api.mu.Unlock()
	r.advance(2 * time.Second)
	r.step(t)
	it, _, _ := r.store.BatchItem(t.Context(), llm.Key(batchReq(1, "1")))
	if it.State != ethos.BatchItemQueued {
		t.Errorf("item %s, want queued again", it.State)
	}
}

func TestBatcherRefusedBatchAnswersEveryRequest(t *testing.T) {
	r := newBatchRig(t)
	ctx := batchCtx(t)
	r.api.refuse = ethos.Errorf(ethos.Auth, "invalid x-api-key")
	_, err := r.chain.Complete(ctx, batchReq(1, "1"))
	wantPending(t, err)
	r.advance(11 * time.Second)
	r.step(t)
	if _, err := r.chain.Complete(ctx, batchReq(1, "1")); ethos.KindOf(err) != ethos.Auth {
		t.Fatalf("err = %v, want auth", err)
	}
}

func TestBudgetKeepsAPendingRequestReserved(t *testing.T) {
	r := newBatchRig(t)
	pricer := halfPricer{}
	// Each request's worst case is about $0.0001: a cap of $0.00025 takes
	// two in flight, not three.
	budget := llm.NewBudget(0.00025, 0, pricer, r.batcher)
	ctx := batchCtx(t)
	for i := range 2 {
		_, err := budget.Complete(ctx, batchReq(i, "1"))
		wantPending(t, err)
	}
	// Asking again for a pending one does not reserve it twice.
	_, err := budget.Complete(ctx, batchReq(0, "1"))
	wantPending(t, err)
	if _, err := budget.Complete(ctx, batchReq(2, "1")); ethos.KindOf(err) != ethos.Budget {
		t.Fatalf("third request: %v, want budget", err)
	}
}
