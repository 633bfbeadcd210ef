package finetune

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/ethos-toolkit/ethos"
)

// The monitor's durable work, on the queue MonitorQueue:
//
//	finetune.poll         one round over every active job, then snoozes for
//	                      the interval: the periodic job (one, unique)
//	finetune.notify       posts one status change to the webhook
//	finetune.on_complete  runs the follow-up command of a completed job
//
// A round enqueues a change's notification before it saves the change, and
// notifications are unique per job and transition, so a crash in between
// repeats the detection, not the notification. Deliveries and commands run
// as their own jobs: a slow receiver or a long follow-up never holds up
// polling.
const (
	MonitorQueue   = "finetune_monitor"
	taskPoll       = "finetune.poll"
	taskNotify     = "finetune.notify"
	taskOnComplete = "finetune.on_complete"
	monitorRun     = "monitor" // the RunID of the monitor's tasks
)

// Monitor defaults.
const (
	DefaultInterval        = 2 * time.Minute
	DefaultWebhookAttempts = 3
	webhookRetryWait       = 2 * time.Second
	webhookTimeout         = 10 * time.Second
	// notSavedWait is how long a notification waits for its change to be
	// saved.
	notSavedWait = 200 * time.Millisecond
	// maxOutputInEvent bounds the command output kept in a job's event.
	maxOutputInEvent = 500
)

// Types of the events the monitor adds to a job's own event log, beside
// the provider's.
const (
	EventWebhookFailed     = "ethos.webhook_failed"
	EventOnComplete        = "ethos.on_complete"
	EventOnCompleteFailed  = "ethos.on_complete_failed"
	notificationEventValue = "finetune.status"
)

// Notification is what the webhook receives, as JSON, on each status
// change of a job, completion and failure included.
type Notification struct {
	Event     string              `json:"event"` // always "finetune.status"
	JobID     string              `json:"job_id"`
	Provider  string              `json:"provider"`
	OldStatus string              `json:"old_status"`
	Status    string              `json:"status"` // the provider's, verbatim
	State     ethos.FineTuneState `json:"state"`
	Model     string              `json:"model,omitempty"` // the registered model of a completed job
	Error     string              `json:"error,omitempty"` // the provider's message for a failed job
	Time      time.Time           `json:"time"`
}

// Monitor follows every active fine-tune job: it refreshes each one every
// Interval (see Service.Refresh), and on each status change posts a
// Notification to Webhook and, when a job completes, runs OnComplete. The
// webhook URL and the command live only in the process, never in the
// store, since either may carry a secret.
type Monitor struct {
	Service *Service
	// Queue is what the monitor enqueues its tasks with: one named
	// MonitorQueue that runs Tasks. Without one a round only polls.
	Queue    Queue
	Interval time.Duration // default DefaultInterval
	// Webhook is the URL notifications are posted to; empty for none.
	Webhook string
	// OnComplete is a shell command run (sh -c) when a job completes, with
	// ETHOS_JOB_ID, ETHOS_MODEL and ETHOS_STATUS in its environment;
	// empty for none.
	OnComplete string
	// Dir is the working directory of OnComplete; empty for the process's.
	Dir string
	// WebhookAttempts is how many times a notification is posted before
	// its failure is recorded; default DefaultWebhookAttempts.
	WebhookAttempts int
	HTTPClient      *http.Client
	// Now stamps notifications and the monitor's events; default time.Now.
	Now func() time.Time
	// Sleep waits between webhook attempts; default a real timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// Exec runs OnComplete; the default runs it with sh -c and returns its
	// combined output.
	Exec func(ctx context.Context, command, dir string, env []string) ([]byte, error)
	// Out receives a line per change, new event and failure; default
	// nowhere.
	Out io.Writer

	mu sync.Mutex // serialises lines to Out
}

// Round is what one poll found and did.
type Round struct {
	Polled  int            // active jobs polled
	Changes []Notification // status changes, in the order found
	// Tasks are the notification and follow-up jobs enqueued.
	Tasks []int64
	// Errors are the jobs that could not be polled this round; they are
	// tried again next round and never marked failed for it.
	Errors []error
}

// Tasks are the monitor's task handlers, by task name, for the queue
// behind Queue to run.
func (m *Monitor) Tasks() map[string]TaskFunc {
	return map[string]TaskFunc{
		taskPoll:       m.pollTask,
		taskNotify:     m.notifyTask,
		taskOnComplete: m.onCompleteTask,
	}
}

// Schedule enqueues the periodic poll unless it is already waiting (a
// monitor ran before: it resumes). added says which.
func (m *Monitor) Schedule(ctx context.Context) (added bool, err error) {
	q := m.Queue
	if q == nil {
		return false, ethos.Errorf(ethos.Internal, "finetune: monitor has no Queue")
	}
	_, added, err = q.Enqueue(ctx, Task{Name: taskPoll, RunID: monitorRun, Key: "poll"})
	return added, err
}

func (m *Monitor) interval() time.Duration {
	if m.Interval > 0 {
		return m.Interval
	}
	return DefaultInterval
}

func (m *Monitor) now() time.Time {
	if m.Now != nil {
		return m.Now().UTC()
	}
	return time.Now().UTC()
}

func (m *Monitor) logf(format string, args ...any) {
	if m.Out == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	fmt.Fprintf(m.Out, "%s %s\n", m.now().Local().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// pollTask is the periodic job: a round, then a snooze for the interval.
// Failures are the round's to report; the job itself never fails, or the
// monitoring would stop.
func (m *Monitor) pollTask(ctx context.Context, t Task) error {
	m.Poll(ctx)
	if err := ctx.Err(); err != nil {
		return err
	}
	return snooze(m.interval())
}

// Poll runs one round: it refreshes every active job (never a finished
// one), records status changes and new events, and enqueues a notification
// for each change and the follow-up of each completion.
func (m *Monitor) Poll(ctx context.Context) Round {
	var r Round
	active, err := m.Service.Store.Jobs(ctx, ethos.FineTuneFilter{Active: true})
	if err != nil {
		r.Errors = append(r.Errors, err)
		m.logf("listing active jobs: %v", err)
		return r
	}
	for _, j := range active {
		if ctx.Err() != nil {
			r.Errors = append(r.Errors, ctx.Err())
			return r
		}
		r.Polled++
		u, err := m.Service.refresh(ctx, j.ID, func(u Update) error { return m.enqueueChange(ctx, u, &r) })
		if err != nil {
			r.Errors = append(r.Errors, err)
			m.logf("job %s: %v (tried again next round)", j.ID, err)
			continue
		}
		for _, ev := range u.NewEvents {
			m.logf("job %s: %s", j.ID, describeEvent(ev))
		}
		if u.Changed() {
			line := fmt.Sprintf("job %s (%s): %s → %s", j.ID, j.Provider, u.OldStatus, u.Job.Status)
			if u.Model != nil {
				line += ", model " + u.Model.Name
			}
			if u.Job.Error != "" {
				line += ": " + u.Job.Error
			}
			m.logf("%s", line)
		}
	}
	return r
}

// describeEvent is one line for an event.
func describeEvent(ev ethos.FineTuneEvent) string {
	s := ev.Message
	if ev.Type != "" {
		s = ev.Type + ": " + s
	}
	if ev.Loss != nil && !strings.Contains(ev.Message, "loss") {
		s += fmt.Sprintf(" (loss %.4f)", *ev.Loss)
	}
	return s
}

// enqueueChange records a change in the round and enqueues its
// notification and follow-up. It runs before the change is saved.
func (m *Monitor) enqueueChange(ctx context.Context, u Update, r *Round) error {
	if !u.Changed() {
		return nil
	}
	n := Notification{Event: notificationEventValue, JobID: u.Job.ID, Provider: u.Job.Provider,
		OldStatus: u.OldStatus, Status: u.Job.Status, State: u.Job.State, Error: u.Job.Error, Time: m.now()}
	if u.Job.State == ethos.FineTuneCompleted {
		n.Model = ModelName(u.Job)
	}
	r.Changes = append(r.Changes, n)
	q := m.Queue
	if q == nil {
		return nil
	}
	payload := marshal(n)
	if m.Webhook != "" {
		id, _, err := q.Enqueue(ctx, Task{Name: taskNotify, RunID: monitorRun,
			Key: fmt.Sprintf("%s/%s>%s", n.JobID, n.OldStatus, n.Status), Payload: payload})
		if err != nil {
			return err
		}
		r.Tasks = append(r.Tasks, id)
	}
	if m.OnComplete != "" && n.State == ethos.FineTuneCompleted {
		id, _, err := q.Enqueue(ctx, Task{Name: taskOnComplete, RunID: monitorRun, Key: n.JobID, Payload: payload})
		if err != nil {
			return err
		}
		r.Tasks = append(r.Tasks, id)
	}
	return nil
}

// saved holds a task back until the store shows the change n and has
// registered its model: a round enqueues a change's tasks just before it
// saves the change, and a receiver or a follow-up that looks at the store
// must find it there. A change not saved yet snoozes the task briefly; a
// model not registered is a Transient error, retried a few times.
func (m *Monitor) saved(ctx context.Context, n Notification) error {
	j, err := m.Service.Store.Job(ctx, n.JobID)
	if err != nil {
		return err
	}
	if j.Status == n.OldStatus && n.OldStatus != n.Status {
		// The round saves it in a moment, or, after a crash, the next
		// round does.
		return snooze(notSavedWait)
	}
	if n.Model != "" {
		if _, err := m.Service.Store.Model(ctx, n.Model); ethos.KindOf(err) == ethos.NotFound {
			return ethos.Errorf(ethos.Transient, "finetune: job %s: model %s not registered yet", n.JobID, n.Model)
		} else if err != nil {
			return err
		}
	}
	return nil
}

// notifyTask delivers one notification. A delivery that fails every
// attempt is recorded in the job's events and dropped; it is never retried
// by the queue, which would hold a worker on a dead receiver.
func (m *Monitor) notifyTask(ctx context.Context, t Task) error {
	if m.Webhook == "" {
		return nil // restarted without a webhook
	}
	var n Notification
	if err := json.Unmarshal(t.Payload, &n); err != nil {
		return ethos.Errorf(ethos.Internal, "finetune: notification %s: %w", t.Key, err)
	}
	if err := m.saved(ctx, n); err != nil {
		return err
	}
	err := m.Deliver(ctx, n)
	if err == nil {
		m.logf("job %s: webhook notified (%s → %s)", n.JobID, n.OldStatus, n.Status)
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err() // stopping: delivered by the next monitor
	}
	m.logf("job %s: %v", n.JobID, err)
	m.recordEvent(ctx, n.JobID, "error", EventWebhookFailed, err.Error())
	return nil
}

// Deliver posts n to the webhook, trying WebhookAttempts times with
// growing waits. A receiver's 4xx answer (other than 408 and 429) is not
// tried again. The error never shows the URL, which may hold a secret.
func (m *Monitor) Deliver(ctx context.Context, n Notification) error {
	attempts := m.WebhookAttempts
	if attempts <= 0 {
		attempts = DefaultWebhookAttempts
	}
	body := marshal(n)
	wait := webhookRetryWait
	for i := 1; ; i++ {
		err := m.post(ctx, body)
		if err == nil {
			return nil
		}
		var perm *permanentError
		if i >= attempts || errors.As(err, &perm) || ctx.Err() != nil {
			return ethos.Errorf(ethos.Transient, "webhook delivery of %s → %s failed after %d attempt(s): %w", n.OldStatus, n.Status, i, err)
		}
		if err := m.sleep(ctx, wait); err != nil {
			return err
		}
		wait *= 2
	}
}

// permanentError is a receiver's refusal that another try will not change.
type permanentError struct{ status int }

func (e *permanentError) Error() string { return fmt.Sprintf("receiver answered %d", e.status) }

func (m *Monitor) post(ctx context.Context, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, webhookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.Webhook, bytes.NewReader(body))
	if err != nil {
		return &permanentError{} // a malformed URL; its text stays out of the message
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "ethos-monitor")
	client := m.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			return uerr.Err // without the URL
		}
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusRequestTimeout && resp.StatusCode != http.StatusTooManyRequests:
		return &permanentError{status: resp.StatusCode}
	}
	return fmt.Errorf("receiver answered %d", resp.StatusCode)
}

func (m *Monitor) sleep(ctx context.Context, d time.Duration) error {
	if m.Sleep != nil {
		return m.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// onCompleteTask runs the follow-up command of a completed job once and
// records how it ended in the job's events. A command that fails is not
// run again: it may have done part of its work.
func (m *Monitor) onCompleteTask(ctx context.Context, t Task) error {
	if m.OnComplete == "" {
		return nil
	}
	var n Notification
	if err := json.Unmarshal(t.Payload, &n); err != nil {
		return ethos.Errorf(ethos.Internal, "finetune: follow-up %s: %w", t.Key, err)
	}
	if err := m.saved(ctx, n); err != nil {
		return err
	}
	env := []string{"ETHOS_JOB_ID=" + n.JobID, "ETHOS_MODEL=" + n.Model, "ETHOS_STATUS=" + n.Status}
	m.logf("job %s: running the follow-up command", n.JobID)
	run := m.Exec
	if run == nil {
		run = runShell
	}
	out, err := run(ctx, m.OnComplete, m.Dir, env)
	if err != nil && ctx.Err() != nil {
		return ctx.Err() // stopped mid-way: run again by the next monitor
	}
	tail := strings.TrimSpace(string(out))
	if len(tail) > maxOutputInEvent {
		tail = "…" + tail[len(tail)-maxOutputInEvent:]
	}
	if len(out) > 0 {
		m.logf("job %s: follow-up output:\n%s", n.JobID, strings.TrimRight(string(out), "\n"))
	}
	if err != nil {
		msg := fmt.Sprintf("follow-up command failed: %v", err)
		if tail != "" {
			msg += ": " + tail
		}
		m.logf("job %s: %s", n.JobID, msg)
		m.recordEvent(ctx, n.JobID, "error", EventOnCompleteFailed, msg)
		return nil
	}
	m.recordEvent(ctx, n.JobID, "info", EventOnComplete, "follow-up command finished")
	m.logf("job %s: follow-up command finished", n.JobID)
	return nil
}

// runShell runs command with sh -c, its environment the process's plus env.
func runShell(ctx context.Context, command, dir string, env []string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "sh", "-c", command)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	return cmd.CombinedOutput()
}

// recordEvent adds one of the monitor's own events to a job's log.
func (m *Monitor) recordEvent(ctx context.Context, jobID, level, typ, msg string) {
	ev := ethos.FineTuneEvent{CreatedAt: m.now(), Level: level, Type: typ, Message: msg}
	if _, err := m.Service.Store.AddEvents(context.WithoutCancel(ctx), jobID, []ethos.FineTuneEvent{ev}); err != nil {
		m.logf("job %s: recording %s: %v", jobID, typ, err)
	}
}
