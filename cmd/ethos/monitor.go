package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/finetune"
	"github.com/ethos-toolkit/ethos/jobs"
	"github.com/ethos-toolkit/ethos/pipeline"
)

// MonitorCommand follows active fine-tune jobs as a durable periodic job
// and notifies on changes.
type MonitorCommand struct{ m *Main }

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
	if *once {
		return pipeline.PollOnce(ctx, p.jobs, mon, pipeline.MonitorObserver{Polled: func(r finetune.Round) {
			fmt.Fprintf(c.m.Stderr, "polled %d active job(s): %d change(s)\n", r.Polled, len(r.Changes))
		}})
	}
	return pipeline.FollowJobs(ctx, p.jobs, mon, pipeline.MonitorObserver{
		Following: func() {
			what := []string{fmt.Sprintf("every %s", *interval)}
			if *webhook != "" {
				what = append(what, "notifying the webhook") // its URL may hold a secret
			}
			if *onComplete != "" {
				what = append(what, "running the follow-up on completion")
			}
			fmt.Fprintf(c.m.Stderr, "monitoring active fine-tune jobs %s; Ctrl-C to stop (jobs are followed again when the monitor restarts)\n", strings.Join(what, ", "))
		},
		Stopped: func() { fmt.Fprintln(c.m.Stderr, "monitor stopped") },
	})
}

// monitorQueue is the monitor's Queue on the jobs client working ctx (see
// pipeline.MonitorQueue).
type monitorQueue = pipeline.MonitorQueue

// monitorTasks are the monitor's handlers as jobs tasks (see
// pipeline.MonitorTasks).
func monitorTasks(mon *finetune.Monitor) map[string]jobs.TaskFunc {
	return pipeline.MonitorTasks(mon)
}
