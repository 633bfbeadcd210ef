package finetune

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/jobs"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func transitions(ns []Notification) []string {
	var out []string
	for _, n := range ns {
		s := n.JobID + ": " + n.OldStatus + " → " + n.Status
		if n.Model != "" {
			s += " (" + n.Model + ")"
		}
		if n.Error != "" {
			s += " [" + n.Error + "]"
		}
		out = append(out, s)
	}
	return out
}

func TestPollRounds(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	o := e.options(t)
	a := e.create(t, o)
	o.Hyperparameters.Epochs = 7
	e.fake.script = []string{"pending", "running", "error"}
	e.fake.failWith = "user quota exceeded"
	b := e.create(t, o)
	var out strings.Builder
	m := &Monitor{Service: e.svc, Now: e.clock.Now, Out: &out}

	var changes []Notification
	var polled []int
	for range 10 {
		r := m.Poll(t.Context())
		if len(r.Errors) > 0 {
			t.Fatalf("round errors: %v", r.Errors)
		}
		polled = append(polled, r.Polled)
		changes = append(changes, r.Changes...)
		if r.Polled == 0 {
			break
		}
	}
	// Finished jobs drop out of the rounds.
	if diff := cmp.Diff([]int{2, 2, 1, 1, 1, 1, 0}, polled); diff != "" {
		t.Errorf("jobs polled per round (-want +got):\n%s", diff)
	}
	model := "together/acme/meta-llama/Meta-Llama-3.1-8B-Instruct-Reference-agora-" + a.Job.ID
	want := []string{
		// Newest first within a round.
		b.Job.ID + ": pending → running",
		a.Job.ID + ": pending → queued",
		b.Job.ID + ": running → error [user quota exceeded]",
		a.Job.ID + ": queued → running",
		a.Job.ID + ": running → compressing",
		a.Job.ID + ": compressing → uploading",
		a.Job.ID + ": uploading → completed (" + model + ")",
	}
	if diff := cmp.Diff(want, transitions(changes)); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	last := changes[len(changes)-1]
	if last.Event != "finetune.status" || last.Provider != "together" || last.State != ethos.FineTuneCompleted || !last.Time.Equal(e.clock.Now()) {
		t.Errorf("completion notification = %+v", last)
	}
	if _, err := e.store.Model(t.Context(), model); err != nil {
		t.Errorf("completed job's model not registered: %v", err)
	}
	for _, line := range []string{"pending → queued", "running → error: user quota exceeded", "model " + model, "loss"} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("monitor output lacks %q:\n%s", line, out.String())
		}
	}
}

func TestPollRidesOutProviderErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.create(t, e.options(t))
	m := &Monitor{Service: e.svc}
	e.fake.getErrs = []error{ethos.Errorf(ethos.Transient, "a"), ethos.Errorf(ethos.Overloaded, "b"), ethos.Errorf(ethos.Transient, "c")}
	r := m.Poll(t.Context())
	if len(r.Errors) != 1 || ethos.KindOf(r.Errors[0]) != ethos.Transient || len(r.Changes) != 0 {
		t.Fatalf("round through an outage = %+v", r)
	}
	j, _ := e.store.Job(t.Context(), c.Job.ID)
	if j.State != ethos.FineTunePending {
		t.Errorf("an outage moved the job to %s", j.State)
	}
	r = m.Poll(t.Context())
	if len(r.Errors) != 0 || len(r.Changes) != 1 {
		t.Errorf("round after the outage = %+v", r)
	}
}

// receiver is a webhook endpoint that answers with the statuses it is
// given, then 204, and keeps what it received.
type receiver struct {
	mu       sync.Mutex
	statuses []int
	got      []Notification
	bodies   chan Notification
}

func newReceiver(t *testing.T, statuses ...int) (*receiver, *httptest.Server) {
	r := &receiver{statuses: statuses, bodies: make(chan Notification, 100)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "want a JSON POST", http.StatusBadRequest)
			return
		}
		body, _ := io.ReadAll(req.Body)
		var n Notification
		if err := json.Unmarshal(body, &n); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		status := http.StatusNoContent
		if len(r.statuses) > 0 {
			status, r.statuses = r.statuses[0], r.statuses[1:]
		}
		if status < 300 {
			r.got = append(r.got, n)
		}
		r.mu.Unlock()
		w.WriteHeader(status)
		if status < 300 {
			r.bodies <- n
		}
	}))
	t.Cleanup(srv.Close)
	return r, srv
}

func TestDeliver(t *testing.T) {
	t.Parallel()
	n := Notification{Event: "finetune.status", JobID: "ft-1", Provider: "sandbox", OldStatus: "uploading",
		Status: "completed", State: ethos.FineTuneCompleted, Model: "sandbox/ft-1", Time: time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)}
	for _, tc := range []struct {
		name      string
		statuses  []int
		wantErr   string
		wantWaits []time.Duration
	}{
		{"first try", nil, "", nil},
		{"after two failures", []int{500, 503}, "", []time.Duration{2 * time.Second, 4 * time.Second}},
		{"receiver keeps failing", []int{500, 502, 500, 500}, "failed after 3 attempt(s): receiver answered 500", []time.Duration{2 * time.Second, 4 * time.Second}},
		{"receiver refuses", []int{404}, "failed after 1 attempt(s): receiver answered 404", nil},
		{"rate limited receiver is tried again", []int{429}, "", []time.Duration{2 * time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, srv := newReceiver(t, tc.statuses...)
			var waits []time.Duration
			m := &Monitor{Webhook: srv.URL + "/hook/secret-token", Sleep: func(ctx context.Context, d time.Duration) error {
				waits = append(waits, d)
				return nil
			}}
			err := m.Deliver(t.Context(), n)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("Deliver = %v, want %q", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.wantWaits, waits); diff != "" {
				t.Errorf("waits (-want +got):\n%s", diff)
			}
			if tc.wantErr == "" {
				if diff := cmp.Diff([]Notification{n}, r.got); diff != "" {
					t.Errorf("received (-want +got):\n%s", diff)
				}
			}
		})
	}

	// A receiver that is not there: the error names no URL.
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/hook/secret-token"
	srv.Close()
	m := &Monitor{Webhook: url, WebhookAttempts: 1}
	err := m.Deliver(t.Context(), n)
	if err == nil || strings.Contains(err.Error(), "secret-token") || strings.Contains(err.Error(), srv.URL) {
		t.Errorf("Deliver to a closed port = %v; want an error without the URL", err)
	}
}

func TestOnCompleteRunsShell(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.create(t, e.options(t))
	dir := t.TempDir()
	m := &Monitor{Service: e.svc, Dir: dir, Now: e.clock.Now,
		OnComplete: `printf '%s|%s|%s' "$ETHOS_JOB_ID" "$ETHOS_MODEL" "$ETHOS_STATUS" > followup.txt`}
	n := Notification{JobID: c.Job.ID, Model: "together/acme/x", OldStatus: "uploading", Status: "completed"}
	// Not saved yet: the follow-up waits for the store to show the change.
	task := Task{Name: taskOnComplete, RunID: monitorRun, Key: c.Job.ID, Payload: marshal(n)}
	if err := m.onCompleteTask(t.Context(), task); ethos.KindOf(err) != ethos.Transient {
		t.Fatalf("follow-up before its model is registered = %v, want Transient", err)
	}
	if err := e.store.PutModel(t.Context(), &ethos.Model{Name: n.Model, Provider: "together", ProviderModel: "acme/x"}); err != nil {
		t.Fatal(err)
	}
	if err := m.onCompleteTask(t.Context(), Task{Name: taskOnComplete, RunID: monitorRun, Key: c.Job.ID, Payload: marshal(n)}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "followup.txt"))
	if err != nil || string(got) != c.Job.ID+"|together/acme/x|completed" {
		t.Errorf("follow-up wrote %q (%v)", got, err)
	}
	m.OnComplete = "echo evaluation broke >&2; exit 3"
	if err := m.onCompleteTask(t.Context(), Task{Name: taskOnComplete, RunID: monitorRun, Key: c.Job.ID, Payload: marshal(n)}); err != nil {
		t.Fatal(err)
	}
	events, err := e.store.Events(t.Context(), c.Job.ID)
	if err != nil {
		t.Fatal(err)
	}
	var types, messages []string
	for _, ev := range events {
		types = append(types, ev.Type)
		messages = append(messages, ev.Message)
	}
	if diff := cmp.Diff([]string{EventOnComplete, EventOnCompleteFailed}, types); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if !strings.Contains(messages[1], "exit status 3") || !strings.Contains(messages[1], "evaluation broke") {
		t.Errorf("failure event = %q", messages[1])
	}
}

// startMonitor runs m on a jobs client over the env's store, the way
// ethos monitor does, through jobsQueue.
func startMonitor(t *testing.T, e *env, m *Monitor) *jobs.Client {
	t.Helper()
	ctx := t.Context()
	if err := jobs.Migrate(ctx, e.store.SQL()); err != nil {
		t.Fatal(err)
	}
	q, err := jobs.New(e.store.SQL(), jobs.Config{Workers: 4, Tasks: jobsTasks(m), Queue: MonitorQueue,
		FetchCooldown: time.Millisecond, FetchPollInterval: 10 * time.Millisecond,
		Backoff: func(int) time.Duration { return time.Millisecond }})
	if err != nil {
		t.Fatal(err)
	}
	m.Queue = jobsQueue{q}
	if _, err := q.RescueQueueOrphans(ctx); err != nil {
		t.Fatal(err)
	}
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return q
}

// jobsQueue is the Queue of a jobs client, and jobsTasks the monitor's
// handlers as its tasks, as cmd/ethos wires them.
type jobsQueue struct{ c *jobs.Client }

func (q jobsQueue) Enqueue(ctx context.Context, t Task) (int64, bool, error) {
	return q.c.Enqueue(ctx, jobs.Task(t))
}

func jobsTasks(m *Monitor) map[string]jobs.TaskFunc {
	tasks := map[string]jobs.TaskFunc{}
	for name, fn := range m.Tasks() {
		tasks[name] = func(ctx context.Context, t jobs.Task) error {
			var s *SnoozeError
			if err := fn(ctx, Task(t)); !errors.As(err, &s) {
				return err
			}
			return jobs.Snooze(s.After)
		}
	}
	return tasks
}

func stopMonitor(t *testing.T, q *jobs.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := q.Stop(ctx); err != nil {
		t.Errorf("stop: %v", err)
	}
}

// TestMonitorOnQueue follows a job to completion through the durable
// periodic job, with the webhook and the follow-up, then restarts the
// monitor: the same periodic job resumes.
func TestMonitorOnQueue(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	e := newEnv(t)
	e.fake.script = []string{"pending", "running", "uploading", "completed"}
	c := e.create(t, e.options(t))
	rec, srv := newReceiver(t, 500) // the first delivery fails once
	ran := make(chan []string, 1)
	m := &Monitor{Service: e.svc, Interval: time.Millisecond, Webhook: srv.URL, OnComplete: "run the eval",
		Sleep: func(ctx context.Context, d time.Duration) error { return nil },
		Exec: func(ctx context.Context, command, dir string, env []string) ([]byte, error) {
			ran <- append([]string{command}, env...)
			return []byte("eval started\n"), nil
		}}
	q := startMonitor(t, e, m)
	added, err := m.Schedule(ctx)
	if err != nil || !added {
		t.Fatalf("Schedule = %v, %v", added, err)
	}

	model := "together/acme/meta-llama/Meta-Llama-3.1-8B-Instruct-Reference-agora-" + c.Job.ID
	var got []Notification
	for len(got) < 3 {
		select {
		case n := <-rec.bodies:
			got = append(got, n)
		case <-ctx.Done():
			t.Fatalf("notifications received: %v", transitions(got))
		}
	}
	// Deliveries are separate jobs and may arrive in any order.
	sortByTime := cmpopts.SortSlices(func(a, b string) bool { return a < b })
	want := []string{c.Job.ID + ": pending → running", c.Job.ID + ": running → uploading", c.Job.ID + ": uploading → completed (" + model + ")"}
	if diff := cmp.Diff(want, transitions(got), sortByTime); diff != "" {
		t.Errorf("notifications (-want +got):\n%s", diff)
	}
	select {
	case env := <-ran:
		if diff := cmp.Diff([]string{"run the eval", "ETHOS_JOB_ID=" + c.Job.ID, "ETHOS_MODEL=" + model, "ETHOS_STATUS=completed"}, env); diff != "" {
			t.Errorf("follow-up (-want +got):\n%s", diff)
		}
	case <-ctx.Done():
		t.Fatal("the follow-up never ran")
	}
	// The completed job is no longer polled.
	gets := func() int { e.fake.mu.Lock(); defer e.fake.mu.Unlock(); return e.fake.gets }
	before := gets()
	r := m.Poll(ctx)
	if r.Polled != 0 || gets() != before {
		t.Errorf("a round after completion polled %d jobs", r.Polled)
	}
	stopMonitor(t, q)

	// A second monitor on the same store finds the periodic job waiting.
	m2 := &Monitor{Service: e.svc, Interval: time.Millisecond}
	q2 := startMonitor(t, e, m2)
	defer stopMonitor(t, q2)
	added, err = m2.Schedule(ctx)
	if err != nil || added {
		t.Errorf("Schedule after a restart = added %v, %v; want the waiting job resumed", added, err)
	}
}

// TestMonitorRecordsFailedDelivery: a receiver that never accepts costs a
// recorded event, not the monitoring.
func TestMonitorRecordsFailedDelivery(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	e := newEnv(t)
	e.fake.script = []string{"pending", "completed"}
	c := e.create(t, e.options(t))
	_, srv := newReceiver(t, 500, 500, 500)
	m := &Monitor{Service: e.svc, Webhook: srv.URL, Sleep: func(context.Context, time.Duration) error { return nil }}
	q := startMonitor(t, e, m)
	defer stopMonitor(t, q)
	r := m.Poll(ctx)
	if len(r.Changes) != 1 || len(r.Tasks) != 1 {
		t.Fatalf("round = %+v", r)
	}
	if err := q.WaitTask(ctx, r.Tasks[0]); err != nil {
		t.Fatalf("the notification job failed instead of recording the failure: %v", err)
	}
	events, err := e.store.Events(ctx, c.Job.ID)
	if err != nil {
		t.Fatal(err)
	}
	last := events[len(events)-1]
	if last.Type != EventWebhookFailed || last.Level != "error" || !strings.Contains(last.Message, "failed after 3 attempt(s): receiver answered 500") {
		t.Errorf("last event = %+v", last)
	}
	if strings.Contains(last.Message, srv.URL) {
		t.Errorf("the recorded failure shows the webhook URL: %q", last.Message)
	}
	// Detecting the same change again (a crash before it was saved)
	// enqueues nothing new.
	n := r.Changes[0]
	var again Round
	if err := m.enqueueChange(ctx, Update{Job: ethos.FineTuneJob{ID: n.JobID, Provider: n.Provider, Status: n.Status, State: n.State}, OldStatus: n.OldStatus}, &again); err != nil {
		t.Fatal(err)
	}
	if len(again.Tasks) != 1 || again.Tasks[0] != r.Tasks[0] {
		t.Errorf("the same change enqueued task %v, first %v", again.Tasks, r.Tasks)
	}
}
