package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/finetune"
	"github.com/ethos-toolkit/ethos/jobs"
)

// MonitorCommand follows active fine-tune jobs as a durable periodic job
// and notifies on changes.
type MonitorCommand struct{ m *Main }

// monitorJobTimeout bounds one round of polls (or one delivery, one
// follow-up command); a round left running by a killed monitor is rescued
// when the next one starts.
const monitorJobTimeout = 30 * time.Minute

// Run polls every active job each interval until interrupted, or once.
func (c *MonitorCommand) Run(ctx context.Context, args []string) error {
	flags := c.m.newFlagSet("monitor", "monitor [--interval 2m] [--once] [--webhook URL] [--on-complete CMD] [--config FILE] [--db PATH]")
	var pf projectFlags
	pf.register(flags)
	interval := flags.Duration("interval", finetune.DefaultInterval, "how often to poll the active jobs")
	once := flags.Bool("once", false, "poll once, deliver what changed, and exit (exit 1 if a job could not be polled)")
	webhook := flags.String("webhook", "", "POST a JSON notification to this `URL` on every status change")
	onComplete := flags.String("on-complete", "", "run this shell `command` when a job completes, with ETHOS_JOB_ID, ETHOS_MODEL and ETHOS_STATUS set")
	rest, err := parseFlags(flags, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageErrorf("monitor takes no arguments, got %q", rest)
	}
	if *interval <= 0 {
		return usageErrorf("monitor: --interval must be positive")
	}
	if *webhook != "" {
		if _, ok := ethos.HTTPURL(*webhook); !ok {
			return usageErrorf("monitor: --webhook must be an http(s) URL")
		}
	}

	p, err := c.m.openProject(ctx, flags, pf)
	if err != nil {
		return err
	}
	defer p.Close()
	// One monitor per store: the lock proves that a round left running is
	// the leftover of a monitor that is gone.
	unlock, err := p.lock(ctx, ".monitor")
	if ethos.KindOf(err) == ethos.Conflict {
		return ethos.Errorf(ethos.Conflict, "another ethos monitor is running on %s; stop it first (it already follows every active job)", p.dbPath)
	}
	if err != nil {
		return err
	}
	defer unlock()

	mon := &finetune.Monitor{Service: p.fineTune(), Interval: *interval, Webhook: *webhook,
		OnComplete: *onComplete, Dir: p.dir, Out: c.m.Stderr, Queue: monitorQueue{}}
	cfg := jobs.Config{Workers: 4, Tasks: monitorTasks(mon), Queue: finetune.MonitorQueue, JobTimeout: monitorJobTimeout}
	return jobs.RunOn(ctx, p.jobs, cfg, jobs.Work{
		Rescue:      jobs.RescueQueue,
		StopTimeout: 10 * time.Second,
		Drive: func(ctx context.Context) error {
			if *once {
				return c.once(ctx, mon)
			}
			added, err := mon.Schedule(ctx)
			if err != nil {
				return err
			}
			what := []string{fmt.Sprintf("every %s", *interval)}
			if *webhook != "" {
				what = append(what, "notifying the webhook") // its URL may hold a secret
			}
			if *onComplete != "" {
				what = append(what, "running the follow-up on completion")
			}
			fmt.Fprintf(c.m.Stderr, "monitoring active fine-tune jobs %s; Ctrl-C to stop (jobs are followed again when the monitor restarts)\n", strings.Join(what, ", "))
			if !added {
				// An earlier monitor's periodic job resumes on its own
				// schedule; look now so the state is shown at once.
				mon.Poll(ctx)
			}
			<-ctx.Done()
			fmt.Fprintln(c.m.Stderr, "monitor stopped")
			return nil
		},
	})
}

// once runs one round and waits for its notifications and follow-ups.
func (c *MonitorCommand) once(ctx context.Context, mon *finetune.Monitor) error {
	queue, err := jobs.FromContext(ctx)
	if err != nil {
		return err
	}
	r := mon.Poll(ctx)
	var failed []error
	for _, id := range r.Tasks {
		if err := queue.WaitTask(ctx, id); err != nil {
			failed = append(failed, err)
		}
	}
	fmt.Fprintf(c.m.Stderr, "polled %d active job(s): %d change(s)\n", r.Polled, len(r.Changes))
	failed = append(failed, r.Errors...)
	if len(failed) > 0 {
		return ethos.Errorf(ethos.Transient, "monitor: %d job(s) or notification(s) failed this round (tried again next round): %w", len(failed), errors.Join(failed...))
	}
	return nil
}

// monitorQueue is the monitor's Queue on the jobs client working ctx:
// finetune names its durable work in its own terms, so that it builds
// without a job queue.
type monitorQueue struct{}

func (monitorQueue) Enqueue(ctx context.Context, t finetune.Task) (int64, bool, error) {
	q, err := jobs.FromContext(ctx)
	if err != nil {
		return 0, false, err
	}
	return q.Enqueue(ctx, jobs.Task(t))
}

// monitorTasks are the monitor's handlers as jobs tasks; a handler's
// *finetune.SnoozeError is the jobs client's Snooze.
func monitorTasks(mon *finetune.Monitor) map[string]jobs.TaskFunc {
	tasks := map[string]jobs.TaskFunc{}
	for name, fn := range mon.Tasks() {
		tasks[name] = func(ctx context.Context, t jobs.Task) error {
			err := fn(ctx, finetune.Task(t))
			if s, ok := errors.AsType[*finetune.SnoozeError](err); ok {
				return jobs.Snooze(s.After)
			}
			return err
		}
	}
	return tasks
}
