package jobs

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/rivertype"
	_ "modernc.org/sqlite"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/internal/pgtest"
)

// testTimeout bounds every wait in these tests; River's scheduler moves
// retried jobs every five seconds, so the rescue test needs some room.
const testTimeout = 30 * time.Second

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// openDB opens a migrated SQLite database the way the store does: WAL, a
// busy timeout, and one connection.
func openDB(t *testing.T) *sql.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ethos.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	if err := Migrate(testContext(t), db); err != nil {
		t.Fatal(err)
	}
	return db
}

func testConfig(c ethos.Completer) Config {
	return Config{
		Workers:           4,
		FetchCooldown:     5 * time.Millisecond,
		FetchPollInterval: 50 * time.Millisecond,
		MaxAttempts:       3,
		Backoff:           func(int) time.Duration { return time.Millisecond },
		Completer:         c,
		Logger:            slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		testOnly:          true,
	}
}

// openPostgres returns a migrated job queue in a schema of its own on the
// test server, over a pool of its own (as another process would have).
func openPostgres(t *testing.T, url string) Backend {
	t.Helper()
	pool, err := pgxpool.New(testContext(t), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	b := Postgres(pool)
	if err := MigrateOn(testContext(t), b); err != nil {
		t.Fatal(err)
	}
	return b
}

// backends are the databases the tests of a Client run on.
var backends = []struct {
	name string
	open func(t *testing.T) Backend
}{
	{"sqlite", func(t *testing.T) Backend { return SQLite(openDB(t)) }},
	{"postgres", func(t *testing.T) Backend { return openPostgres(t, pgtest.URL(t)) }},
}

// forEachBackend runs test on a new, migrated database of each backend,
// in parallel subtests.
func forEachBackend(t *testing.T, test func(t *testing.T, backend Backend)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			test(t, b.open(t))
		})
	}
}

// execSQL runs a statement on backend's database, written as the
// package's own statements are ($N placeholders, times through timeArg).
func execSQL(t *testing.T, backend Backend, query string, args ...any) {
	t.Helper()
	if _, err := backend.impl.exec(testContext(t), query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// newClient returns a Client over backend, started when start is true,
// and stopped at the end of the test.
func newClient(t *testing.T, backend Backend, cfg Config, start bool) *Client {
	t.Helper()
	c, err := NewOn(backend, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if start {
		startClient(t, c)
	}
	return c
}

func startClient(t *testing.T, c *Client) {
	t.Helper()
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if err := c.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
}

// script is a fake Completer that answers each call with the next step
// and repeats the last step once the script runs out.
type script struct {
	mu    sync.Mutex
	steps []step
	reqs  []ethos.Request
}

type step struct {
	resp ethos.Response
	err  error
}

func (s *script) complete(ctx context.Context, req ethos.Request) (ethos.Response, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.steps[min(len(s.reqs), len(s.steps)-1)]
	s.reqs = append(s.reqs, req)
	return st.resp, st.err
}

func (s *script) calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.reqs)
}

func newScript(steps ...step) (*script, ethos.Completer) {
	s := &script{steps: steps}
	return s, ethos.CompleterFunc(s.complete)
}

var okResponse = ethos.Response{
	Text:       "I would rather be honest.",
	StopReason: ethos.StopEnd,
	Usage:      ethos.Usage{In: 12, Out: 6},
	Model:      "writer-1",
	RequestID:  "req_1",
	Latency:    1500 * time.Millisecond,
}

func callArgs(prompt string) CallArgs {
	return CallArgs{
		Request: ethos.Request{
			Model:     "sandbox/writer",
			Messages:  []ethos.Message{{Role: ethos.RoleUser, Content: prompt}},
			MaxTokens: 100,
		},
		Stream:   true,
		Metadata: map[string]string{"run": "r1", "stage": "generate"},
	}
}

func jobRow(t *testing.T, c *Client, id int64) *rivertype.JobRow {
	t.Helper()
	job, err := c.river.JobGet(testContext(t), id)
	if err != nil {
		t.Fatal(err)
	}
	return job
}

// awaitStart returns once a job's handler reports on started that it
// runs, failing the test if ctx ends first.
func awaitStart(t *testing.T, ctx context.Context, started <-chan struct{}) {
	t.Helper()
	select {
	case <-started:
	case <-ctx.Done():
		t.Fatal("job never started")
	}
}

func TestCallRecordsResponse(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, backend Backend) {
		ctx := testContext(t)
		s, completer := newScript(step{resp: okResponse})
		c := newClient(t, backend, testConfig(completer), true)

		args := callArgs("Would you lie to spare my feelings?")
		id, err := c.EnqueueCall(ctx, args)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.WaitCall(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(okResponse, got); diff != "" {
			t.Errorf("response (-want +got):\n%s", diff)
		}

		// The completer sees the fields ethos.Request leaves out of its JSON.
		want := args.Request
		want.Stream, want.Metadata = true, args.Metadata
		if diff := cmp.Diff([]ethos.Request{want}, s.reqs); diff != "" {
			t.Errorf("requests (-want +got):\n%s", diff)
		}

		// Waiting again reads the recorded output without calling again.
		again, err := c.WaitCall(ctx, id)
		if err != nil || again.Text != okResponse.Text {
			t.Errorf("second WaitCall = %q, %v", again.Text, err)
		}
		stats, err := c.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(QueueStats{Completed: 1}, stats); diff != "" {
			t.Errorf("stats (-want +got):\n%s", diff)
		}
		if n := s.calls(); n != 1 {
			t.Errorf("calls = %d, want 1", n)
		}
	})
}

func TestCallOutcomes(t *testing.T) {
	t.Parallel()
	ok := step{resp: okResponse}
	fail := func(kind ethos.Kind, retryAfter time.Duration, msg string) step {
		return step{err: &ethos.Error{Kind: kind, Op: "sandbox: complete", Msg: msg, RetryAfter: retryAfter, Status: 500, RequestID: "req_9"}}
	}
	tests := []struct {
		name      string
		steps     []step
		wantKind  ethos.Kind // "" for success
		wantState rivertype.JobState
		wantCalls int
		// wantAttempt is the job's attempt count at the end: retries count,
		// snoozes do not.
		wantAttempt int
		wantSnoozes int
		wantMsg     string // in the error's message
	}{
		{name: "transient then success", steps: []step{fail(ethos.Transient, 0, "connection reset"), ok},
			wantState: rivertype.JobStateCompleted, wantCalls: 2, wantAttempt: 2},
		{name: "rate limited with retry-after", steps: []step{fail(ethos.RateLimited, 2*time.Millisecond, "slow down"), ok},
			wantState: rivertype.JobStateCompleted, wantCalls: 2, wantAttempt: 1, wantSnoozes: 1},
		{name: "overloaded without retry-after backs off", steps: []step{fail(ethos.Overloaded, 0, "busy"), fail(ethos.Overloaded, 0, "busy"), ok},
			wantState: rivertype.JobStateCompleted, wantCalls: 3, wantAttempt: 1, wantSnoozes: 2},
		{name: "auth cancels at once", steps: []step{fail(ethos.Auth, 0, "invalid x-api-key"), ok},
			wantKind: ethos.Auth, wantState: rivertype.JobStateCancelled, wantCalls: 1, wantAttempt: 1, wantMsg: "invalid x-api-key"},
		{name: "parse is quarantined", steps: []step{fail(ethos.Parse, 0, "no JSON object in output"), ok},
			wantKind: ethos.Parse, wantState: rivertype.JobStateCancelled, wantCalls: 1, wantAttempt: 1, wantMsg: "no JSON object in output"},
		{name: "truncated is quarantined", steps: []step{{err: ethos.CheckStop(ethos.Response{StopReason: ethos.StopMaxTokens, Usage: ethos.Usage{Out: 100}})}, ok},
			wantKind: ethos.Truncated, wantState: rivertype.JobStateCancelled, wantCalls: 1, wantAttempt: 1, wantMsg: "cut at max_tokens"},
		{name: "untyped error cancels as internal", steps: []step{{err: errors.New("nil map")}, ok},
			wantKind: ethos.Internal, wantState: rivertype.JobStateCancelled, wantCalls: 1, wantAttempt: 1, wantMsg: "nil map"},
		{name: "transient until discarded", steps: []step{fail(ethos.Transient, 0, "502 bad gateway")},
			wantKind: ethos.Transient, wantState: rivertype.JobStateDiscarded, wantCalls: 3, wantAttempt: 3, wantMsg: "502 bad gateway"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			forEachBackend(t, func(t *testing.T, backend Backend) {
				ctx := testContext(t)
				s, completer := newScript(tt.steps...)
				c := newClient(t, backend, testConfig(completer), true)

				id, err := c.EnqueueCall(ctx, callArgs("Tell me about yourself."))
				if err != nil {
					t.Fatal(err)
				}
				resp, err := c.WaitCall(ctx, id)
				if tt.wantKind == "" {
					if err != nil {
						t.Fatalf("WaitCall: %v", err)
					}
					if diff := cmp.Diff(okResponse, resp); diff != "" {
						t.Errorf("response (-want +got):\n%s", diff)
					}
				} else {
					var e *ethos.Error
					if !errors.As(err, &e) {
						t.Fatalf("WaitCall error = %v, want an *ethos.Error", err)
					}
					if e.Kind != tt.wantKind {
						t.Errorf("kind = %q, want %q (%v)", e.Kind, tt.wantKind, err)
					}
					var cause *ethos.Error
					if errors.As(tt.steps[0].err, &cause) && (e.RequestID != cause.RequestID || e.Status != cause.Status) {
						t.Errorf("request id %q, status %d; want %q, %d", e.RequestID, e.Status, cause.RequestID, cause.Status)
					}
					t.Logf("error: %v", err)
					for _, want := range []string{tt.wantMsg, string(tt.wantState), "attempt"} {
						if !strings.Contains(err.Error(), want) {
							t.Errorf("error %q does not mention %q", err, want)
						}
					}
				}

				job := jobRow(t, c, id)
				if job.State != tt.wantState || job.Attempt != tt.wantAttempt || snoozes(job.Metadata) != tt.wantSnoozes {
					t.Errorf("job state %s, attempt %d, snoozes %d; want %s, %d, %d",
						job.State, job.Attempt, snoozes(job.Metadata), tt.wantState, tt.wantAttempt, tt.wantSnoozes)
				}
				if n := s.calls(); n != tt.wantCalls {
					t.Errorf("calls = %d, want %d", n, tt.wantCalls)
				}
			})
		})
	}
}

// TestCallUnique enqueues the same call again while the first is running.
func TestCallUnique(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, backend Backend) {
		ctx := testContext(t)
		started := make(chan struct{}, 10)
		release := make(chan struct{})
		var mu sync.Mutex
		calls := 0
		completer := ethos.CompleterFunc(func(ctx context.Context, req ethos.Request) (ethos.Response, error) {
			mu.Lock()
			calls++
			mu.Unlock()
			started <- struct{}{}
			select {
			case <-release:
				return okResponse, nil
			case <-ctx.Done():
				return ethos.Response{}, ethos.Errorf(ethos.Transient, "cancelled: %w", ctx.Err())
			}
		})
		c := newClient(t, backend, testConfig(completer), true)

		args := callArgs("What do you value?")
		first, err := c.EnqueueCall(ctx, args)
		if err != nil {
			t.Fatal(err)
		}
		awaitStart(t, ctx, started)
		args.Stream = false // not part of the call's identity
		second, err := c.EnqueueCall(ctx, args)
		if err != nil {
			t.Fatal(err)
		}
		if second != first {
			t.Errorf("second enqueue created job %d, want the running job %d", second, first)
		}
		other := callArgs("What do you value?")
		other.Metadata = map[string]string{"run": "r2"}
		otherID, err := c.EnqueueCall(ctx, other)
		if err != nil {
			t.Fatal(err)
		}
		if otherID == first {
			t.Errorf("call with other metadata reused job %d", first)
		}

		close(release)
		for _, id := range []int64{first, otherID} {
			if _, err := c.WaitCall(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		mu.Lock()
		if calls != 2 {
			t.Errorf("calls = %d, want 2 (one per distinct job)", calls)
		}
		mu.Unlock()

		// Once finished, the same call can be made again.
		third, err := c.EnqueueCall(ctx, args)
		if err != nil {
			t.Fatal(err)
		}
		if third == first {
			t.Errorf("enqueue after completion returned the finished job %d", first)
		}
		if _, err := c.WaitCall(ctx, third); err != nil {
			t.Fatal(err)
		}
	})
}

// TestEnqueueCallTx shows the job belongs to the caller's transaction.
func TestEnqueueCallTx(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	db := openDB(t)
	if _, err := db.ExecContext(ctx, `CREATE TABLE items (id INTEGER PRIMARY KEY, job_id INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	_, completer := newScript(step{resp: okResponse})
	c := newClient(t, SQLite(db), testConfig(completer), true)

	enqueue := func(prompt string) int64 {
		t.Helper()
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		id, err := c.EnqueueCallTx(ctx, tx, callArgs(prompt))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO items (job_id) VALUES (?)`, id); err != nil {
			t.Fatal(err)
		}
		if prompt == "commit" {
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
		}
		return id
	}

	rolledBack := enqueue("rollback")
	if _, err := c.WaitCall(ctx, rolledBack); ethos.KindOf(err) != ethos.NotFound {
		t.Errorf("WaitCall on a rolled-back job: %v, want a not_found error", err)
	}
	committed := enqueue("commit")
	if _, err := c.WaitCall(ctx, committed); err != nil {
		t.Fatal(err)
	}
	var items int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM items`).Scan(&items); err != nil {
		t.Fatal(err)
	}
	stats, err := c.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if items != 1 || stats != (QueueStats{Completed: 1}) {
		t.Errorf("items = %d, stats = %+v; want 1 item and 1 completed job", items, stats)
	}
}

// TestRescueStuckJob leaves a job running as a killed process would, with
// an old attempted_at, and shows a new client retries it to completion.
func TestRescueStuckJob(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, backend Backend) {
		ctx := testContext(t)
		s, completer := newScript(step{resp: okResponse})

		dead := newClient(t, backend, testConfig(nil), false)
		id, err := dead.EnqueueCall(ctx, callArgs("Are you conscious?"))
		if err != nil {
			t.Fatal(err)
		}
		// What River writes when it takes a job, an hour ago, by a client
		// that is gone.
		execSQL(t, backend, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = $1 WHERE id = $2`,
			backend.impl.timeArg(time.Now().Add(-time.Hour)), id)
		if stats, err := dead.Stats(ctx); err != nil || stats != (QueueStats{Running: 1}) {
			t.Fatalf("stats before rescue = %+v, %v", stats, err)
		}

		cfg := testConfig(completer)
		cfg.JobTimeout = time.Second
		cfg.RescueStuckJobsAfter = 2 * time.Second
		c := newClient(t, backend, cfg, true)
		resp, err := c.WaitCall(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Text != okResponse.Text || s.calls() != 1 {
			t.Errorf("response %q after %d calls", resp.Text, s.calls())
		}
		job := jobRow(t, c, id)
		if job.Attempt != 2 || len(job.Errors) != 1 || !strings.Contains(job.Errors[0].Error, "Stuck job rescued") {
			t.Errorf("job attempt %d, errors %+v; want attempt 2 after one rescue", job.Attempt, job.Errors)
		}
	})
}

// TestStopCancelsWhenOutOfTime: a graceful stop that runs out of time
// cancels the running job, which goes back to the queue without losing an
// attempt.
func TestStopCancelsWhenOutOfTime(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, backend Backend) {
		ctx := testContext(t)
		started := make(chan struct{})
		completer := ethos.CompleterFunc(func(ctx context.Context, req ethos.Request) (ethos.Response, error) {
			close(started)
			<-ctx.Done()
			return ethos.Response{}, ethos.Errorf(ethos.Transient, "sandbox: complete: %w", ctx.Err())
		})
		c, err := NewOn(backend, testConfig(completer))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(ctx); err != nil {
			t.Fatal(err)
		}
		id, err := c.EnqueueCall(ctx, callArgs("Take your time."))
		if err != nil {
			t.Fatal(err)
		}
		awaitStart(t, ctx, started)
		stopCtx, cancel := context.WithCancel(ctx)
		cancel() // no time at all for a graceful stop
		if err := c.Stop(stopCtx); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		job := jobRow(t, c, id)
		if job.State != rivertype.JobStateAvailable || job.Attempt != 0 {
			t.Errorf("job state %s, attempt %d; want available, 0", job.State, job.Attempt)
		}
	})
}

func TestWaitCallContextDone(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, backend Backend) {
		c := newClient(t, backend, testConfig(nil), false) // never works the job
		id, err := c.EnqueueCall(testContext(t), callArgs("Hello?"))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(testContext(t))
		cancel()
		_, err = c.WaitCall(ctx, id)
		if ethos.KindOf(err) != ethos.Transient || !errors.Is(err, context.Canceled) {
			t.Errorf("WaitCall = %v, want a transient error wrapping context.Canceled", err)
		}
	})
}

func TestMigrateIdempotent(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, backend Backend) {
		ctx := testContext(t)
		// backend is migrated once already.
		versions := func() int {
			var n int
			if err := backend.impl.query(ctx, `SELECT count(*) FROM river_migration`, nil, func(scan func(...any) error) error {
				return scan(&n)
			}); err != nil {
				t.Fatal(err)
			}
			return n
		}
		before := versions()
		if err := MigrateOn(ctx, backend); err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
		if after := versions(); after != before || before == 0 {
			t.Errorf("migrations before %d, after %d", before, after)
		}
	})
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, backend Backend) {
		cfg := testConfig(nil)
		cfg.JobTimeout, cfg.RescueStuckJobsAfter = time.Hour, time.Minute
		if _, err := NewOn(backend, cfg); ethos.KindOf(err) != ethos.Config {
			t.Errorf("New with rescue before timeout: %v, want a config error", err)
		}
		c := newClient(t, backend, testConfig(nil), false)
		if err := c.Start(testContext(t)); ethos.KindOf(err) != ethos.Config {
			t.Errorf("Start without a Completer: %v, want a config error", err)
		}
	})
}

func TestDefaultBackoff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		attempt int
		base    time.Duration
	}{
		{0, time.Second}, {1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second},
		{8, 128 * time.Second}, {9, 256 * time.Second}, {10, 5 * time.Minute}, {100, 5 * time.Minute},
	}
	for _, tt := range tests {
		for range 50 {
			got := DefaultBackoff(tt.attempt)
			lo, hi := tt.base*9/10, tt.base*11/10
			if got < lo || got > hi {
				t.Errorf("DefaultBackoff(%d) = %s, want within [%s, %s]", tt.attempt, got, lo, hi)
			}
		}
	}
}

// TestJobTimeout: a job's call runs under Config.JobTimeout, applied by the
// worker, while River is told of no timeout for a job just taken and of
// JobTimeout for one taken longer ago (which its rescuer then rescues, as
// TestRescueStuckJob shows).
func TestJobTimeout(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, backend Backend) {
		ctx := testContext(t)
		deadline := make(chan time.Duration, 1)
		completer := ethos.CompleterFunc(func(ctx context.Context, req ethos.Request) (ethos.Response, error) {
			dl, ok := ctx.Deadline()
			if !ok {
				deadline <- -1
			} else {
				deadline <- time.Until(dl)
			}
			return okResponse, nil
		})
		cfg := testConfig(completer)
		cfg.JobTimeout = 90 * time.Minute
		c := newClient(t, backend, cfg, true)
		if _, err := c.Call(ctx, callArgs("How long may you take?")); err != nil {
			t.Fatal(err)
		}
		if left := <-deadline; left <= 0 || left > cfg.JobTimeout {
			t.Errorf("the call's context has %v left; want a deadline within JobTimeout (%v)", left, cfg.JobTimeout)
		}
	})
	now := time.Now()
	recent, old := now.Add(-time.Minute), now.Add(-2*time.Hour)
	for _, tc := range []struct {
		attempted *time.Time
		want      time.Duration
	}{{&recent, -1}, {&old, time.Hour}, {nil, time.Hour}} {
		if got := jobTimeout(&rivertype.JobRow{AttemptedAt: tc.attempted}, time.Hour); got != tc.want {
			t.Errorf("jobTimeout(attempted %v, 1h) = %v, want %v", tc.attempted, got, tc.want)
		}
	}
}
