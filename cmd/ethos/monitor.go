package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/finetune"
	"github.com/ethos-toolkit/ethos/pipeline"
	"github.com/ethos-toolkit/ethos/project"
)

// MonitorCommand follows active fine-tune jobs as a durable periodic job
// and notifies on changes.
type MonitorCommand struct{ m *Main }

// Run polls every active job each interval until interrupted, or once.
func (c *MonitorCommand) Run(ctx context.Context, args []string) error {
	flags := c.m.newFlagSet("monitor", "monitor [--interval 2m] [--once] [--webhook URL] [--on-complete CMD] [--config FILE] [--db PATH]")
	var pf projectFlags
	pf.register(flags)
	var ms monitorSettings
	ms.register(flags, "interval")
	once := flags.Bool("once", false, "poll once, deliver what changed, and exit (exit 1 if a job could not be polled)")
	rest, err := parseFlags(flags, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageErrorf("monitor takes no arguments, got %q", rest)
	}
	if err := ms.check("monitor", "interval", c.m.Getenv); err != nil {
		return err
	}

	p, err := c.m.openProject(ctx, flags, pf)
	if err != nil {
		return err
	}
	defer p.Close()
	unlock, err := p.LockMonitor(ctx)
	if err != nil {
		return err
	}
	defer unlock()

	mon := p.Monitor(ms.MonitorSettings, c.m.Stderr)
	if *once {
		return pipeline.PollOnce(ctx, p.Jobs(), mon, pipeline.MonitorObserver{Polled: func(r finetune.Round) {
			fmt.Fprintf(c.m.Stderr, "polled %d active job(s): %d change(s)\n", r.Polled, len(r.Changes))
		}})
	}
	return pipeline.FollowJobs(ctx, p.Jobs(), mon, ms.observer(c.m.Stderr,
		"Ctrl-C to stop (jobs are followed again when the monitor restarts)"))
}

// monitorWebhookEnv is the environment variable a monitor's webhook URL
// may come from instead of --webhook, which other users of the machine
// can read in the process list.
const monitorWebhookEnv = "ETHOS_MONITOR_WEBHOOK"

// monitorSettings are how a process follows fine-tune jobs and notifies of
// their changes. They come from its flags and environment and are never
// stored: a webhook's URL may hold a secret.
type monitorSettings struct{ project.MonitorSettings }

// register adds the settings' flags to flags, the interval's under
// intervalFlag.
func (s *monitorSettings) register(flags *flag.FlagSet, intervalFlag string) {
	flags.DurationVar(&s.Interval, intervalFlag, finetune.DefaultInterval, "how often to poll the active fine-tune jobs")
	flags.StringVar(&s.Webhook, "webhook", "", "POST a JSON notification to this `URL` on every fine-tune status change (default $"+monitorWebhookEnv+")")
	flags.StringVar(&s.OnComplete, "on-complete", "", "run this shell `command` when a fine-tune job completes, with ETHOS_JOB_ID, ETHOS_MODEL and ETHOS_STATUS set")
}

// check validates the settings parsed for command, taking the webhook
// from the environment when no flag gives it.
func (s *monitorSettings) check(command, intervalFlag string, getenv func(string) string) error {
	if s.Interval <= 0 {
		return usageErrorf("%s: --%s must be positive", command, intervalFlag)
	}
	from := "--webhook"
	if s.Webhook == "" {
		s.Webhook, from = getenv(monitorWebhookEnv), "$"+monitorWebhookEnv
	}
	if s.Webhook != "" {
		if _, ok := ethos.HTTPURL(s.Webhook); !ok {
			return usageErrorf("%s: %s must be an http(s) URL", command, from)
		}
	}
	return nil
}

// observer says on out when the monitor starts following the jobs, with
// how to stop, and when it stops.
func (s *monitorSettings) observer(out io.Writer, stopping string) pipeline.MonitorObserver {
	return pipeline.MonitorObserver{
		Following: func() {
			what := []string{fmt.Sprintf("every %s", s.Interval)}
			if s.Webhook != "" {
				what = append(what, "notifying the webhook") // its URL may hold a secret
			}
			if s.OnComplete != "" {
				what = append(what, "running the follow-up on completion")
			}
			fmt.Fprintf(out, "monitoring active fine-tune jobs %s; %s\n", strings.Join(what, ", "), stopping)
		},
		Stopped: func() { fmt.Fprintln(out, "monitor stopped") },
	}
}
