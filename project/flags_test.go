package project_test

import (
	"bytes"
	"flag"
	"slices"
	"strings"
	"testing"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/finetune"
	"github.com/ethos-toolkit/ethos/generate"
	"github.com/ethos-toolkit/ethos/jobs"
	"github.com/ethos-toolkit/ethos/project"
)

// TestMonitorSettingsFlags: the flags fill the settings, the interval
// under the name it was registered by; Check refuses a non-positive
// interval and a webhook that is not an http(s) URL, naming where it came
// from, and takes the webhook from the environment when no flag gives it.
func TestMonitorSettingsFlags(t *testing.T) {
	t.Parallel()
	env := func(webhook string) func(string) string {
		return func(k string) string {
			if k == project.MonitorWebhookEnv {
				return webhook
			}
			return ""
		}
	}
	for _, tc := range []struct {
		name, env   string
		args        []string
		want        project.MonitorSettings
		wantErr     string
		wantDefault bool
	}{
		{name: "defaults", wantDefault: true},
		{name: "flags", args: []string{"--monitor-interval", "30s", "--webhook", "https://example.com/h", "--on-complete", "true"},
			want: project.MonitorSettings{Interval: 30e9, Webhook: "https://example.com/h", OnComplete: "true"}},
		{name: "webhook from the environment", env: "http://127.0.0.1:9/h", wantDefault: true},
		{name: "the flag over the environment", env: "http://127.0.0.1:9/env", args: []string{"--webhook", "http://127.0.0.1:9/flag"},
			want: project.MonitorSettings{Interval: finetune.DefaultInterval, Webhook: "http://127.0.0.1:9/flag"}},
		{name: "zero interval", args: []string{"--monitor-interval", "0s"}, wantErr: "worker: --monitor-interval must be positive"},
		{name: "bad webhook flag", args: []string{"--webhook", "ftp://x"}, wantErr: "worker: --webhook must be an http(s) URL"},
		{name: "bad webhook in the environment", env: "not a url", wantErr: "worker: $" + project.MonitorWebhookEnv + " must be an http(s) URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("worker", flag.ContinueOnError)
			var s project.MonitorSettings
			s.RegisterFlags(fs, "monitor-interval")
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			err := s.Check("worker", env(tc.env))
			if tc.wantErr != "" {
				if ethos.KindOf(err) != ethos.Config || err.Error() != tc.wantErr {
					t.Fatalf("Check: %v, want a Config error %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			if tc.wantDefault {
				want = project.MonitorSettings{Interval: finetune.DefaultInterval, Webhook: tc.env}
			}
			if s.Interval != want.Interval || s.Webhook != want.Webhook || s.OnComplete != want.OnComplete {
				t.Errorf("settings %+v, want %+v", s, want)
			}
		})
	}
}

// TestMonitorSettingsObserver: the starting line says what the monitor
// does and how to stop, and never prints the webhook's URL.
func TestMonitorSettingsObserver(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	s := project.MonitorSettings{Interval: 2 * 60e9, Webhook: "https://hooks.example.com/secret-token", OnComplete: "make deploy"}
	obs := s.Observer(&out, "Ctrl-C to stop")
	obs.Following()
	obs.Stopped()
	want := "monitoring active fine-tune jobs every 2m0s, notifying the webhook, running the follow-up on completion; Ctrl-C to stop\nmonitor stopped\n"
	if out.String() != want {
		t.Errorf("observer wrote %q, want %q", out.String(), want)
	}
	if strings.Contains(out.String(), "secret-token") {
		t.Error("the webhook's URL was printed")
	}
}

// TestResumeSettings: --resume reads the settings stored with a run of
// the kind asked for, and refuses a missing run, a run of another kind
// and settings it cannot read.
func TestResumeSettings(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	p := openTemp(t, &bytes.Buffer{})
	for _, r := range []*ethos.Run{
		{ID: "gen-1", Kind: "generate", Status: ethos.RunRunning, Params: []byte(`{"examples": 7, "seed": 3}`)},
		{ID: "gen-bad", Kind: "generate", Status: ethos.RunRunning, Params: []byte(`{"examples": "many"}`)},
	} {
		if err := p.Store().CreateRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	var s generate.Settings
	if err := p.ResumeSettings(ctx, "gen-1", "generate", &s); err != nil || s.Examples != 7 || s.Seed != 3 {
		t.Errorf("ResumeSettings: %+v, %v; want 7 examples, seed 3", s, err)
	}
	for _, tc := range []struct {
		id, kind, want string
		wantKind       ethos.Kind
	}{
		{"gen-missing", "generate", "--resume gen-missing", ethos.Config},
		{"gen-1", ethos.RunKindEval, "--resume gen-1: a generate run, not an evaluation", ethos.Config},
		{"gen-bad", "generate", "run gen-bad: reading its settings", ethos.Internal},
	} {
		err := p.ResumeSettings(ctx, tc.id, tc.kind, &generate.Settings{})
		if ethos.KindOf(err) != tc.wantKind || err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ResumeSettings(%s, %s): %v, want a %v error with %q", tc.id, tc.kind, err, tc.wantKind, tc.want)
		}
	}
}

// TestWorkerOptionsFlags: --queues lists add up, blanks dropped; Check
// refuses no room for a task, no time to stop, and a heartbeat too
// short to tell a busy worker from a dead one.
func TestWorkerOptionsFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		args    []string
		queues  []string
		wantErr string
	}{
		{name: "defaults"},
		{name: "queues", args: []string{"--queues", " gen-1, ,eval-2", "--queues", "gen-3"}, queues: []string{"gen-1", "eval-2", "gen-3"}},
		{name: "no task at once", args: []string{"--max-in-flight", "0"}, wantErr: "--max-in-flight must be at least 1"},
		{name: "no time to stop", args: []string{"--stop-timeout", "0s"}, wantErr: "--stop-timeout positive"},
		{name: "a short heartbeat", args: []string{"--dead-after", "3s"}, wantErr: "--dead-after 3s is too short"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("worker", flag.ContinueOnError)
			var o project.WorkerOptions
			o.RegisterFlags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			err := o.Check()
			if tc.wantErr != "" {
				if ethos.KindOf(err) != ethos.Config || err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Check: %v, want a Config error with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(o.Queues, tc.queues) || o.MaxInFlight != jobs.DefaultWorkers || o.DeadAfter != jobs.DefaultDeadAfter {
				t.Errorf("options %+v, %v; want queues %q and the defaults", o, err, tc.queues)
			}
		})
	}
}
