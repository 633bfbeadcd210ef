package project

import (
	"cmp"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/finetune"
	"github.com/ethos-toolkit/ethos/pipeline"
)

// MonitorWebhookEnv is the environment variable a monitor's webhook URL
// may come from instead of --webhook, which other users of the machine
// can read in the process list.
const MonitorWebhookEnv = "ETHOS_MONITOR_WEBHOOK"

// RegisterFlags adds the settings' flags to fs, the interval's under
// intervalFlag (ethos monitor's --interval, ethos worker's
// --monitor-interval).
func (s *MonitorSettings) RegisterFlags(fs *flag.FlagSet, intervalFlag string) {
	s.intervalFlag = intervalFlag
	fs.DurationVar(&s.Interval, intervalFlag, finetune.DefaultInterval, "how often to poll the active fine-tune jobs")
	fs.StringVar(&s.Webhook, "webhook", "", "POST a JSON notification to this `URL` on every fine-tune status change (default $"+MonitorWebhookEnv+")")
	fs.StringVar(&s.OnComplete, "on-complete", "", "run this shell `command` when a fine-tune job completes, with ETHOS_JOB_ID, ETHOS_MODEL and ETHOS_STATUS set")
}

// Check validates the settings parsed by the flags of command (see
// RegisterFlags), taking the webhook from the environment when no flag
// gives it.
func (s *MonitorSettings) Check(command string, getenv func(string) string) error {
	if s.Interval <= 0 {
		return ethos.Errorf(ethos.Config, "%s: --%s must be positive", command, cmp.Or(s.intervalFlag, "interval"))
	}
	from := "--webhook"
	if s.Webhook == "" {
		s.Webhook, from = getenv(MonitorWebhookEnv), "$"+MonitorWebhookEnv
	}
	if s.Webhook != "" {
		if _, ok := ethos.HTTPURL(s.Webhook); !ok {
			return ethos.Errorf(ethos.Config, "%s: %s must be an http(s) URL", command, from)
		}
	}
	return nil
}

// Observer says on out when the monitor starts following the jobs, with
// how to stop (stopping), and when it stops.
func (s MonitorSettings) Observer(out io.Writer, stopping string) pipeline.MonitorObserver {
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
