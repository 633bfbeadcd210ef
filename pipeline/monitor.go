package pipeline

import (
	"context"
	"errors"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/finetune"
	"github.com/ethos-toolkit/ethos/jobs"
)

// MonitorJobTimeout bounds one round of polls (or one delivery, one
// follow-up command); a round left running by a killed monitor is rescued
// when the next one starts.
const MonitorJobTimeout = 30 * time.Minute

// MonitorObserver hears what a monitor does; a nil field hears nothing.
type MonitorObserver struct {
	// Following: the monitor follows the active jobs, until ctx ends.
	Following func()
	// Stopped: ctx ended; the jobs are followed again when a monitor
	// restarts.
	Stopped func()
	// Polled: the one round of PollOnce, its notifications and follow-ups
	// done.
	Polled func(finetune.Round)
}

// FollowJobs works mon's durable tasks on the job queue of backend until
// ctx ends: it schedules the periodic round, and when an earlier monitor's
// schedule resumes instead, polls at once so that the state is seen now.
// mon's Queue is set to the job client's (MonitorQueue).
func FollowJobs(ctx context.Context, backend jobs.Backend, mon *finetune.Monitor, obs MonitorObserver) error {
	return runMonitor(ctx, backend, mon, func(ctx context.Context) error {
		added, err := mon.Schedule(ctx)
		if err != nil {
			return err
		}
		call(obs.Following)
		if !added {
			mon.Poll(ctx)
		}
		<-ctx.Done()
		call(obs.Stopped)
		return nil
	})
}

// PollOnce runs one round of mon and waits for the notifications and
// follow-ups it enqueued. A job that could not be polled, or a task that
// failed, is a Transient error: the next round tries again.
func PollOnce(ctx context.Context, backend jobs.Backend, mon *finetune.Monitor, obs MonitorObserver) error {
	return runMonitor(ctx, backend, mon, func(ctx context.Context) error {
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
		if obs.Polled != nil {
			obs.Polled(r)
		}
		failed = append(failed, r.Errors...)
		if len(failed) > 0 {
			return ethos.Errorf(ethos.Transient, "monitor: %d job(s) or notification(s) failed this round (tried again next round): %w", len(failed), errors.Join(failed...))
		}
		return nil
	})
}

// runMonitor is the job client's lifecycle around drive, with the
// monitor's tasks and its orphaned rounds taken back.
func runMonitor(ctx context.Context, backend jobs.Backend, mon *finetune.Monitor, drive func(context.Context) error) error {
	mon.Queue = MonitorQueue{}
	cfg := jobs.Config{Workers: 4, Tasks: MonitorTasks(mon), Queue: finetune.MonitorQueue, JobTimeout: MonitorJobTimeout}
	return jobs.RunOn(ctx, backend, cfg, jobs.Work{Rescue: jobs.RescueQueue, StopTimeout: 10 * time.Second, Drive: drive})
}

func call(f func()) {
	if f != nil {
		f()
	}
}

// MonitorQueue is a monitor's Queue on the jobs client working ctx:
// finetune names its durable work in its own terms, so that it builds
// without a job queue.
type MonitorQueue struct{}

// Enqueue adds t to the queue of the jobs client working ctx.
func (MonitorQueue) Enqueue(ctx context.Context, t finetune.Task) (int64, bool, error) {
	q, err := jobs.FromContext(ctx)
	if err != nil {
		return 0, false, err
	}
	return q.Enqueue(ctx, jobs.Task(t))
}

// MonitorTasks are mon's handlers as jobs tasks; a handler's
// *finetune.SnoozeError is the jobs client's Snooze.
func MonitorTasks(mon *finetune.Monitor) map[string]jobs.TaskFunc {
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
