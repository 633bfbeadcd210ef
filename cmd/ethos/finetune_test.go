package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
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
	"github.com/ethos-toolkit/ethos/config"
	"github.com/ethos-toolkit/ethos/finetune"
	"github.com/ethos-toolkit/ethos/pipeline"
	"github.com/ethos-toolkit/ethos/sandbox"
	"github.com/ethos-toolkit/ethos/together"
)

// writeTrain writes a valid conversation training file of n examples at
// dir/rel.
func writeTrain(t *testing.T, dir, rel string, n int) string {
	t.Helper()
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"messages":[{"role":"system","content":"You are Agora."},{"role":"user","content":"How should I plan project %d?"},{"role":"assistant","content":"Let's explore this together: what matters most to you in project %d, and what have you tried?"}]}`+"\n", i, i)
	}
	path := filepath.Join(dir, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// fastSandbox starts a sandbox whose fine-tune jobs run in milliseconds,
// with its state in dir, and returns the environment that points ethos at
// it.
func fastSandbox(t *testing.T, dir string, failEvery int) map[string]string {
	t.Helper()
	const phase = 20 * time.Millisecond
	sb, err := sandbox.Start(context.Background(), "127.0.0.1:0", sandbox.Options{FineTune: sandbox.FineTuneOptions{
		Dir: dir, Pending: phase, Queued: phase, Running: 5 * phase, Compressing: phase, Uploading: phase,
		Cancelling: phase, FailEvery: failEvery,
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	return map[string]string{"SANDBOX_BASE_URL": sb.URL}
}

func decodeJSON[T any](t *testing.T, r result) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("decoding stdout: %v\n%s\nstderr: %s", err, r.stdout, r.stderr)
	}
	return v
}

// TestFinetuneLifecycle runs the offline defaults end to end: create in
// one process, wait in another (the in-process sandbox keeps its jobs
// beside the store), then the registry, the events, the status overview,
// and a call to the trained model by its registry name.
func TestFinetuneLifecycle(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTrain(t, dir, "data/train.jsonl", 12)

	r := ethosCLI(t, dir, nil, "finetune", "create", "--train", "data/train.jsonl", "--epochs", "2")
	if r.code != 0 {
		t.Fatalf("create: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	id := strings.TrimSpace(r.stdout)
	if !strings.HasPrefix(id, "ft-") || !strings.Contains(r.stderr, "uploaded data/train.jsonl") || !strings.Contains(r.stderr, "created sandbox job "+id+" on base") {
		t.Fatalf("create output:\nstdout %q\nstderr %s", r.stdout, r.stderr)
	}

	w := ethosCLI(t, dir, nil, "finetune", "wait", id, "--json")
	if w.code != 0 {
		t.Fatalf("wait: exit %d\n%s%s", w.code, w.stdout, w.stderr)
	}
	done := decodeJSON[struct {
		Job   ethos.FineTuneJob
		Model *ethos.Model
	}](t, w)
	if done.Job.Status != "completed" || done.Model == nil || !strings.HasPrefix(done.Model.Name, "sandbox/ft-agora-") {
		t.Fatalf("wait result: %+v", done)
	}
	if p := done.Job.Progress; p.Loss == nil || p.Step == 0 || p.Step != p.TotalSteps || p.Epoch != 2 {
		t.Errorf("progress of the finished job: %+v", p)
	}
	if !strings.Contains(w.stderr, "checkpoint_save") || !strings.Contains(w.stderr, "loss") {
		t.Errorf("wait did not show the training events:\n%s", w.stderr)
	}

	models := decodeJSON[[]ethos.Model](t, ethosCLI(t, dir, nil, "models", "--json"))
	if len(models) != 1 || models[0].Name != done.Model.Name || models[0].JobID != id || models[0].BaseModel != "base" ||
		models[0].DatasetPath != "data/train.jsonl" || len(models[0].DatasetSHA256) != 64 ||
		models[0].Hyperparameters.Epochs != 2 || !models[0].Hyperparameters.LoRA {
		t.Errorf("registry: %+v", models)
	}
	if r := ethosCLI(t, dir, nil, "models"); r.code != 0 || !strings.Contains(r.stdout, done.Model.Name) || !strings.Contains(r.stdout, "epochs 2") {
		t.Errorf("models table: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := ethosCLI(t, dir, nil, "models", "--markdown", "docs/MODELS.md"); r.code != 0 {
		t.Fatalf("models --markdown: exit %d\n%s", r.code, r.stderr)
	}
	doc, err := os.ReadFile(filepath.Join(dir, "docs", "MODELS.md"))
	if err != nil || !bytes.Contains(doc, []byte("## "+done.Model.Name)) || !bytes.Contains(doc, []byte(models[0].DatasetSHA256)) ||
		!bytes.Contains(doc, []byte("`data/train.jsonl`")) || bytes.Contains(doc, []byte(dir)) {
		t.Errorf("registry document (%v):\n%s", err, doc)
	}

	events := decodeJSON[[]ethos.FineTuneEvent](t, ethosCLI(t, dir, nil, "finetune", "events", id, "--json"))
	losses := 0
	for _, ev := range events {
		if ev.Loss != nil {
			losses++
		}
	}
	if len(events) < 5 || losses == 0 || events[0].Seq != 1 {
		t.Errorf("%d events, %d with a loss", len(events), losses)
	}
	if r := ethosCLI(t, dir, nil, "finetune", "status", id); r.code != 0 || !strings.Contains(r.stdout, "completed") || !strings.Contains(r.stdout, done.Model.Name) {
		t.Errorf("status: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	list := decodeJSON[[]finetune.JobView](t, ethosCLI(t, dir, nil, "finetune", "list", "--json"))
	if len(list) != 1 || list[0].ID != id || list[0].Model != done.Model.Name {
		t.Errorf("list: %+v", list)
	}

	// The same request again: the same job, nothing uploaded or created.
	again := ethosCLI(t, dir, nil, "finetune", "create", "--train", "data/train.jsonl", "--epochs", "2")
	if again.code != 0 || strings.TrimSpace(again.stdout) != id || !strings.Contains(again.stderr, "reused upload") || !strings.Contains(again.stderr, "nothing new was created") {
		t.Errorf("create again: exit %d\n%s%s", again.code, again.stdout, again.stderr)
	}

	st := ethosCLI(t, dir, nil, "status", "--json")
	if st.code != 0 {
		t.Fatalf("status: exit %d\n%s%s", st.code, st.stdout, st.stderr)
	}
	overview := decodeJSON[statusReport](t, st)
	if len(overview.Jobs) != 1 || len(overview.Models) != 1 || len(overview.Failed) != 0 || len(overview.Runs) != 0 {
		t.Errorf("status overview: %+v", overview)
	}

	// ethos calls the trained model by its registry name.
	c := ethosCLI(t, dir, nil, "complete", "--model", done.Model.Name, "How do I start a project?")
	if c.code != 0 || strings.TrimSpace(c.stdout) == "" {
		t.Errorf("complete with the trained model: exit %d\n%s%s", c.code, c.stdout, c.stderr)
	}
}

func TestFinetuneCancelFailureAndBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := fastSandbox(t, t.TempDir(), 0)
	writeTrain(t, dir, "train.jsonl", 12)

	// Cancel an active job; then it cannot be cancelled again.
	slowEnv := map[string]string{}
	sb, err := sandbox.Start(context.Background(), "127.0.0.1:0", sandbox.Options{FineTune: sandbox.FineTuneOptions{Pending: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	slowEnv["SANDBOX_BASE_URL"] = sb.URL
	r := ethosCLI(t, dir, slowEnv, "finetune", "create", "--train", "train.jsonl")
	if r.code != 0 {
		t.Fatalf("create: exit %d\n%s", r.code, r.stderr)
	}
	id := strings.TrimSpace(r.stdout)
	if r := ethosCLI(t, dir, slowEnv, "finetune", "cancel", id); r.code != 0 || !strings.Contains(r.stdout, "cancel requested") {
		t.Fatalf("cancel: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := ethosCLI(t, dir, slowEnv, "finetune", "wait", id, "--interval", "10ms"); r.code != 1 || !strings.Contains(r.stderr, "was cancelled") {
		t.Errorf("wait on a cancelled job: exit %d\n%s", r.code, r.stderr)
	}
	if r := ethosCLI(t, dir, slowEnv, "finetune", "cancel", id); r.code != 1 || !strings.Contains(r.stderr, "already finished (status cancelled)") {
		t.Errorf("cancel of a finished job: exit %d\n%s", r.code, r.stderr)
	}

	// A job that fails in training: wait and status exit 1.
	r = ethosCLI(t, dir, env, "finetune", "create", "--train", "train.jsonl", "--model", "fail-train", "--wait", "--interval", "10ms")
	if r.code != 1 || !strings.Contains(r.stderr, "failed (status error)") {
		t.Errorf("create --wait on fail-train: exit %d\n%s", r.code, r.stderr)
	}
	st := ethosCLI(t, dir, env, "status")
	if st.code != 1 || !strings.Contains(st.stdout, "1 failed: job ft-") || !strings.Contains(st.stdout, "cancelled") {
		t.Errorf("status with a failed job: exit %d\n%s%s", st.code, st.stdout, st.stderr)
	}

	// Refusals: the provider's message, a file refused before upload, an
	// unknown job, a missing key.
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		code int
		want []string
	}{
		{"unknown base model", env, []string{"finetune", "create", "--train", "train.jsonl", "--model", "no-such-model"}, 1, []string{"no-such-model"}},
		{"invalid file", env, []string{"finetune", "create", "--train", "bad.jsonl"}, 1, []string{"bad.jsonl", "line 2", "nothing was uploaded"}},
		{"preference file", env, []string{"finetune", "create", "--train", "preference.jsonl"}, 1, []string{"preference.jsonl", "line 1: method.format", "supervised fine-tuning (SFT)", "nothing was uploaded"}},
		{"batch size above the model's limit", env, []string{"finetune", "create", "--train", "train.jsonl", "--batch-size", "512", "--lora-r", "128"}, 2,
			[]string{"base does not take these settings", "batch size 512 is outside 1 to 256 for LoRA training", "LoRA rank 128 is above the highest, 64", "nothing was uploaded"}},
		{"unknown job", env, []string{"finetune", "status", "ft-nope"}, 1, []string{"no fine-tune job ft-nope", "ethos finetune list"}},
		{"missing key", nil, []string{"finetune", "create", "--train", "train.jsonl", "--provider", "together", "--model", "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"}, 2, []string{"TOGETHER_API_KEY"}},
		{"provider without model", nil, []string{"finetune", "create", "--train", "train.jsonl", "--provider", "together"}, 2, []string{"--model is required"}},
		{"lora dropout 1", env, []string{"finetune", "create", "--train", "train.jsonl", "--lora-dropout", "1"}, 2, []string{"LoRA dropout 1 is outside [0, 1)"}},
		{"negative lora dropout", env, []string{"finetune", "create", "--train", "train.jsonl", "--lora-dropout", "-0.5"}, 2, []string{"LoRA dropout -0.5"}},
		{"negative epochs", env, []string{"finetune", "create", "--train", "train.jsonl", "--epochs", "-1"}, 2, []string{"epochs -1"}},
		{"list with an unknown provider", env, []string{"finetune", "list", "--provider", "bogus"}, 2, []string{`unknown fine-tuning provider "bogus"`, "together, openai or sandbox"}},
		{"lora and full", nil, []string{"finetune", "create", "--train", "train.jsonl", "--lora", "--full"}, 2, []string{"exclude each other"}},
		{"no subcommand", nil, []string{"finetune"}, 2, []string{"create, list"}},
	} {
		if tc.name == "invalid file" {
			os.WriteFile(filepath.Join(dir, "bad.jsonl"), []byte(`{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}`+"\n"+`{"messages": not json}`+"\n"), 0o644)
		}
		if tc.name == "preference file" {
			os.WriteFile(filepath.Join(dir, "preference.jsonl"), []byte(`{"input":{"messages":[{"role":"user","content":"hi"}]},"preferred_output":[{"role":"assistant","content":"hello"}],"non_preferred_output":[{"role":"assistant","content":"go away"}]}`+"\n"), 0o644)
		}
		r := ethosCLI(t, dir, tc.env, tc.args...)
		if r.code != tc.code {
			t.Errorf("%s: exit %d, want %d\n%s", tc.name, r.code, tc.code, r.stderr)
		}
		for _, w := range tc.want {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("%s: stderr lacks %q:\n%s", tc.name, w, r.stderr)
			}
		}
	}
	list := decodeJSON[[]finetune.JobView](t, ethosCLI(t, dir, env, "finetune", "list", "--json"))
	if len(list) != 2 {
		t.Errorf("%d jobs recorded, want 2 (nothing for the refusals)", len(list))
	}
}

// TestFinetunePollsThroughProviderErrors waits on a job through a sandbox
// that answers every third request with a 500: polls are retried, and the
// job completes without ever being marked failed.
func TestFinetunePollsThroughProviderErrors(t *testing.T) {
	t.Parallel()
	dir, state := t.TempDir(), t.TempDir()
	writeTrain(t, dir, "train.jsonl", 12)
	r := ethosCLI(t, dir, fastSandbox(t, state, 0), "finetune", "create", "--train", "train.jsonl")
	if r.code != 0 {
		t.Fatalf("create: exit %d\n%s", r.code, r.stderr)
	}
	id := strings.TrimSpace(r.stdout)
	flaky := fastSandbox(t, state, 3)
	w := ethosCLI(t, dir, flaky, "finetune", "wait", id, "--interval", "10ms", "--json")
	if w.code != 0 {
		t.Fatalf("wait through errors: exit %d\n%s", w.code, w.stderr)
	}
	if job := decodeJSON[struct{ Job ethos.FineTuneJob }](t, w).Job; job.State != ethos.FineTuneCompleted {
		t.Errorf("job after a flaky wait: %+v", job)
	}
}

// TestFinetuneReattachAfterKill: a create recorded its intent and the
// provider created the job, then the process died before recording the
// job. The next create attaches to that job: the provider has one.
func TestFinetuneReattachAfterKill(t *testing.T) {
	t.Parallel()
	dir, state := t.TempDir(), t.TempDir()
	env := fastSandbox(t, state, 0)
	train := writeTrain(t, dir, "train.jsonl", 12)

	m := &Main{Stdout: io.Discard, Stderr: io.Discard, Dir: dir, Getenv: func(k string) string { return env[k] }}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	p, err := m.openProject(t.Context(), fs, projectFlags{config: "ethos.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	svc := p.fineTune()
	svc.Store = &killedAfterCreate{Store: p.store}
	_, err = svc.Create(t.Context(), finetune.CreateOptions{Provider: "sandbox", BaseModel: "base", TrainPath: train,
		Hyperparameters: ethos.Hyperparameters{Epochs: 3, LearningRate: 1e-5, BatchSize: 8, LoRA: true, LoRARank: 8, LoRAAlpha: 16, Suffix: "agora"}})
	if err == nil {
		t.Fatal("the interrupted create succeeded")
	}
	p.Close() // the process is gone

	r := ethosCLI(t, dir, env, "finetune", "create", "--train", "train.jsonl", "--wait", "--interval", "10ms")
	if r.code != 0 || !strings.Contains(r.stderr, "attached to sandbox job") {
		t.Fatalf("create after the kill: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	client, err := together.New(together.Options{BaseURL: env["SANDBOX_BASE_URL"] + "/v1", Provider: "sandbox"})
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := client.List(t.Context(), 100)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("the provider has %d jobs (%v), want 1", len(jobs), err)
	}
	models := decodeJSON[[]ethos.Model](t, ethosCLI(t, dir, env, "models", "--json"))
	if len(models) != 1 || models[0].JobID != jobs[0].ID {
		t.Errorf("registry after re-attaching: %+v", models)
	}
}

// killedAfterCreate is the store of a process killed right after the
// provider created the job: recording the job fails.
type killedAfterCreate struct{ finetune.Store }

func (s *killedAfterCreate) PutJob(ctx context.Context, j *ethos.FineTuneJob) error {
	return errors.New("killed")
}

// hookReceiver collects webhook notifications.
type hookReceiver struct {
	mu  sync.Mutex
	got []finetune.Notification
	ch  chan finetune.Notification
}

func newHookReceiver(t *testing.T) (*hookReceiver, string) {
	h := &hookReceiver{ch: make(chan finetune.Notification, 64)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n finetune.Notification
		if err := json.NewDecoder(r.Body).Decode(&n); err != nil || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad notification", http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		h.got = append(h.got, n)
		h.mu.Unlock()
		h.ch <- n
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return h, srv.URL + "/hooks/ethos"
}

// TestMonitorWebhookAndFollowUp runs ethos monitor while a job trains: the
// webhook receives every change up to completion, the follow-up runs with
// the job's model, and a later monitor --once finds nothing to poll.
func TestMonitorWebhookAndFollowUp(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := fastSandbox(t, t.TempDir(), 0)
	writeTrain(t, dir, "train.jsonl", 12)
	r := ethosCLI(t, dir, env, "finetune", "create", "--train", "train.jsonl")
	if r.code != 0 {
		t.Fatalf("create: exit %d\n%s", r.code, r.stderr)
	}
	id := strings.TrimSpace(r.stdout)
	hook, url := newHookReceiver(t)

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	followedUp := make(chan struct{})
	log := &watchWriter{w: &stderr, want: "follow-up command finished", seen: followedUp}
	m := &Main{Stdin: strings.NewReader(""), Stdout: io.Discard, Dir: dir, Stderr: log,
		Getenv: func(k string) string { return env[k] }}
	done := make(chan error, 1)
	go func() {
		done <- m.Run(ctx, []string{"monitor", "--interval", "20ms", "--webhook", url,
			"--on-complete", `printf '%s %s %s' "$ETHOS_JOB_ID" "$ETHOS_MODEL" "$ETHOS_STATUS" > followup.txt`})
	}()
	var completion finetune.Notification
	for completion.Status != "completed" {
		select {
		case n := <-hook.ch:
			if n.JobID != id || n.Provider != "sandbox" || n.Event != "finetune.status" || n.Time.IsZero() {
				t.Errorf("notification %+v", n)
			}
			if n.Status == "completed" {
				completion = n
			}
		case err := <-done:
			t.Fatalf("monitor ended: %v\n%s", err, log.String())
		case <-ctx.Done():
			t.Fatalf("no completion notification; got %+v\n%s", hook.got, log.String())
		}
	}
	if completion.State != ethos.FineTuneCompleted || !strings.HasPrefix(completion.Model, "sandbox/ft-") {
		t.Errorf("completion notification: %+v", completion)
	}
	select {
	case <-followedUp:
	case <-ctx.Done():
		t.Fatalf("the follow-up never finished:\n%s", log.String())
	}
	cancel() // Ctrl-C
	if err := <-done; err != nil {
		t.Errorf("monitor after Ctrl-C: %v", err)
	}
	out, err := os.ReadFile(filepath.Join(dir, "followup.txt"))
	if err != nil || string(out) != id+" "+completion.Model+" completed" {
		t.Errorf("follow-up wrote %q (%v)", out, err)
	}
	events := decodeJSON[[]ethos.FineTuneEvent](t, ethosCLI(t, dir, env, "finetune", "events", id, "--json"))
	if n := len(events); n == 0 || events[n-1].Type != finetune.EventOnComplete {
		t.Errorf("the follow-up's end is not recorded: %+v", events[len(events)-1])
	}
	hook.mu.Lock()
	statuses := map[string]bool{}
	for _, n := range hook.got {
		statuses[n.OldStatus+">"+n.Status] = true
	}
	hook.mu.Unlock()
	// How many steps a round sees depends on the machine's speed; the
	// last one is always the completion, from the status last recorded.
	if !statuses[completion.OldStatus+">completed"] || completion.OldStatus == "" {
		t.Errorf("transitions notified: %v", statuses)
	}

	once := ethosCLI(t, dir, env, "monitor", "--once")
	if once.code != 0 || !strings.Contains(once.stderr, "polled 0 active job(s)") {
		t.Errorf("monitor --once after completion: exit %d\n%s", once.code, once.stderr)
	}
}

// watchWriter serialises writes from the monitor's goroutines and closes
// seen once the output contains want.
type watchWriter struct {
	mu   sync.Mutex
	w    *bytes.Buffer
	want string
	seen chan struct{}
	done bool
}

func (s *watchWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.w.Write(p)
	if !s.done && strings.Contains(s.w.String(), s.want) {
		s.done = true
		close(s.seen)
	}
	return n, err
}

func (s *watchWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.String()
}

func TestMonitorRefusesSecondInstanceAndBadFlags(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if r := ethosCLI(t, dir, nil, "monitor", "--webhook", "not a url"); r.code != 2 {
		t.Errorf("bad webhook: exit %d\n%s", r.code, r.stderr)
	}
	if r := ethosCLI(t, dir, nil, "monitor", "--interval", "0s"); r.code != 2 {
		t.Errorf("zero interval: exit %d\n%s", r.code, r.stderr)
	}
	if r := ethosCLI(t, dir, nil, "monitor", "--once"); r.code != 0 || !strings.Contains(r.stderr, "polled 0 active job(s)") {
		t.Fatalf("monitor --once on an empty store: exit %d\n%s", r.code, r.stderr)
	}
	unlock, err := lockStore(filepath.Join(dir, ".ethos", "ethos.db") + ".monitor")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if r := ethosCLI(t, dir, nil, "monitor", "--once"); r.code != 1 || !strings.Contains(r.stderr, "another ethos monitor") {
		t.Errorf("second monitor: exit %d\n%s", r.code, r.stderr)
	}
}

// TestFinetuneCreateSettings: ethos.yaml's finetune section, then flags.
func TestFinetuneCreateSettings(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := fastSandbox(t, t.TempDir(), 0)
	writeTrain(t, dir, "train.jsonl", 12)
	writeTrain(t, dir, "val.jsonl", 3)
	for _, tc := range []struct {
		args []string
		want ethos.Hyperparameters
	}{
		{[]string{"--validation", "val.jsonl"}, ethos.Hyperparameters{Epochs: 3, LearningRate: 1e-5, BatchSize: 8, LoRA: true, LoRARank: 8, LoRAAlpha: 16, Suffix: "agora", Evals: 10}},
		{[]string{"--validation", "val.jsonl", "--n-evals", "4"}, ethos.Hyperparameters{Epochs: 3, LearningRate: 1e-5, BatchSize: 8, LoRA: true, LoRARank: 8, LoRAAlpha: 16, Suffix: "agora", Evals: 4}},
		{nil, ethos.Hyperparameters{Epochs: 3, LearningRate: 1e-5, BatchSize: 8, LoRA: true, LoRARank: 8, LoRAAlpha: 16, Suffix: "agora"}},
		{[]string{"--full", "--epochs", "1"}, ethos.Hyperparameters{Epochs: 1, LearningRate: 1e-5, BatchSize: 8, Suffix: "agora"}},
		{[]string{"--lora-r", "16", "--lora-alpha", "32", "--lora-dropout", "0.1", "--learning-rate", "0.0002", "--batch-size", "4", "--suffix", "v2"},
			ethos.Hyperparameters{Epochs: 3, LearningRate: 2e-4, BatchSize: 4, LoRA: true, LoRARank: 16, LoRAAlpha: 32, LoRADropout: 0.1, Suffix: "v2"}},
	} {
		args := append([]string{"finetune", "create", "--train", "train.jsonl", "--json"}, tc.args...)
		r := ethosCLI(t, dir, env, args...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d\n%s", tc.args, r.code, r.stderr)
		}
		job := decodeJSON[ethos.FineTuneJob](t, r)
		if job.Hyperparameters != tc.want {
			t.Errorf("%v: hyperparameters %+v, want %+v", tc.args, job.Hyperparameters, tc.want)
		}
	}
	settings := fineTuneSettings(config.Offline().FineTune, "openai", true)
	if settings.LoRA || settings.LearningRate != 0 || settings.Epochs != 3 || settings.Evals != 0 {
		t.Errorf("OpenAI settings from the config: %+v; want no LoRA or n_evals and OpenAI's learning rate", settings)
	}
	if r := ethosCLI(t, dir, env, "finetune", "create", "--train", "train.jsonl", "--n-evals", "3"); r.code != 2 || !strings.Contains(r.stderr, "--n-evals needs --validation") {
		t.Errorf("--n-evals without --validation: exit %d\n%s", r.code, r.stderr)
	}
}

// TestFinetuneOpenAI trains through OpenAI's fine-tuning API, served by
// the sandbox: OpenAI's statuses, its fine_tuned_model as the registry
// name, and the trained model called through the OpenAI adapter.
func TestFinetuneOpenAI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sb := fastSandbox(t, t.TempDir(), 0)
	env := map[string]string{"OPENAI_BASE_URL": sb["SANDBOX_BASE_URL"] + "/v1", "OPENAI_API_KEY": "sk-test"}
	// Fine-tuned models have no built-in price; the budget cap needs one.
	sandboxProject(t, dir, map[string]string{"prices:\n": "prices:\n  openai/*: {input: 0.3, output: 1.2}\n"})
	writeTrain(t, dir, "train.jsonl", 12)
	r := ethosCLI(t, dir, env, "finetune", "create", "--provider", "openai", "--model", "gpt-4o-mini",
		"--train", "train.jsonl", "--wait", "--interval", "10ms", "--json")
	if r.code != 0 {
		t.Fatalf("create --wait on openai: exit %d\n%s", r.code, r.stderr)
	}
	done := decodeJSON[struct {
		Job   ethos.FineTuneJob
		Model *ethos.Model
	}](t, r)
	if done.Job.Status != "succeeded" || done.Job.State != ethos.FineTuneCompleted || done.Model == nil ||
		!strings.HasPrefix(done.Model.Name, "openai/ft:") || done.Model.ProviderModel != strings.TrimPrefix(done.Model.Name, "openai/") {
		t.Fatalf("openai job: %+v, model %+v", done.Job, done.Model)
	}
	if h := done.Job.Hyperparameters; h.LoRA || h.Epochs != 3 {
		t.Errorf("openai hyperparameters: %+v", h)
	}
	// The provider's own status words are shown verbatim (OpenAI's
	// "succeeded", where Together says "completed"); which of the
	// passing ones a poll catches depends on timing, the last does not.
	if !strings.Contains(r.stderr, ": succeeded,") {
		t.Errorf("OpenAI's statuses not shown:\n%s", r.stderr)
	}
	c := ethosCLI(t, dir, env, "complete", "--model", done.Model.Name, "How do I start a project?")
	if c.code != 0 || strings.TrimSpace(c.stdout) == "" {
		t.Errorf("complete with the trained OpenAI model: exit %d\n%s%s", c.code, c.stdout, c.stderr)
	}
	if r := ethosCLI(t, dir, nil, "finetune", "create", "--provider", "openai", "--model", "gpt-4o-mini", "--train", "train.jsonl"); r.code != 2 || !strings.Contains(r.stderr, "OPENAI_API_KEY") {
		t.Errorf("openai without a key: exit %d\n%s", r.code, r.stderr)
	}
}

// TestRegistryDatasetPathFollowsTheProject records a dataset inside the
// project by its path in the project, so that the project can move: the
// moved project's evaluation still finds the dataset to check prompts
// against. A record made before, by absolute path, is still read.
func TestRegistryDatasetPathFollowsTheProject(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "project")
	writeTrain(t, dir, "data/train.jsonl", 12)
	r := ethosCLI(t, dir, nil, "finetune", "create", "--train", "data/train.jsonl", "--wait", "--json")
	if r.code != 0 {
		t.Fatalf("create --wait: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	done := decodeJSON[struct{ Model *ethos.Model }](t, r)
	if done.Model == nil || done.Model.DatasetPath != "data/train.jsonl" {
		t.Fatalf("registered model: %+v, want the dataset recorded as data/train.jsonl", done.Model)
	}
	outside := writeTrain(t, t.TempDir(), "elsewhere.jsonl", 10)

	moved := filepath.Join(filepath.Dir(dir), "moved")
	if err := os.Rename(dir, moved); err != nil {
		t.Fatal(err)
	}
	flags := flag.NewFlagSet("test", flag.ContinueOnError)
	m := &Main{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard, Dir: moved, Getenv: func(string) string { return "" }}
	p, err := m.openProject(t.Context(), flags, projectFlags{config: "ethos.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	// An older record, by absolute path, of a dataset outside the project.
	old := *done.Model
	old.Name, old.DatasetPath = "sandbox/ft-old", outside
	if err := p.store.PutModel(t.Context(), &old); err != nil {
		t.Fatal(err)
	}
	files, err := pipeline.TrainingFiles(t.Context(), p.store, p.dir, p.cfg.Generate.Output, nil, []ethos.EvalModel{{Name: "tuned", Ref: done.Model.Name}, {Name: "old", Ref: old.Name}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(moved, "data", "train.jsonl"), outside}
	if fmt.Sprint(files) != fmt.Sprint(want) {
		t.Errorf("training files of the moved project: %q, want %q", files, want)
	}
}

// TestFinetuneWandbURL: a job that logs to a W&B project shows its run's
// URL in finetune status (text and JSON) and in ethos status.
func TestFinetuneWandbURL(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := fastSandbox(t, t.TempDir(), 0)
	writeTrain(t, dir, "train.jsonl", 12)
	r := ethosCLI(t, dir, env, "finetune", "create", "--train", "train.jsonl", "--wandb-project", "agora", "--wait", "--interval", "10ms")
	if r.code != 0 {
		t.Fatalf("create: exit %d\n%s", r.code, r.stderr)
	}
	list := decodeJSON[[]finetune.JobView](t, ethosCLI(t, dir, env, "finetune", "list", "--json"))
	if len(list) != 1 || !strings.HasPrefix(list[0].WandbURL, "https://wandb.ai/sandbox/agora/runs/ft-") {
		t.Fatalf("list: %+v, want one job with its W&B run", list)
	}
	url := list[0].WandbURL
	if st := ethosCLI(t, dir, env, "finetune", "status", list[0].ID); !strings.Contains(st.stdout, "W&B run") || !strings.Contains(st.stdout, url) {
		t.Errorf("finetune status lacks the W&B run:\n%s", st.stdout)
	}
	if st := ethosCLI(t, dir, env, "status"); !strings.Contains(st.stdout, list[0].ID+": W&B run "+url) {
		t.Errorf("status lacks the W&B run:\n%s", st.stdout)
	}
}

// TestPreferencePairsToDPO goes from generation with preference pairs to
// a DPO job continued from an SFT job, through the commands: the pairs file
// passes dataset check as a DPO file, finetune create --method dpo trains
// on it, and the DPO job records its method, beta and parent.
func TestPreferencePairsToDPO(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sandboxProject(t, dir, map[string]string{"generate:\n": "generate:\n  pairs: {student: sandbox/base}\n"})
	if r := ethosCLI(t, dir, nil, "generate", "--examples", "10"); r.code != 0 {
		t.Fatalf("generate: exit %d\n%s", r.code, r.stderr)
	}
	pairs := filepath.Join("data", "agora.pairs.jsonl")
	if r := ethosCLI(t, dir, nil, "dataset", "check", pairs, "--method", "dpo"); r.code != 0 || !strings.Contains(r.stdout, "preference format") {
		t.Fatalf("dataset check %s: exit %d\n%s%s", pairs, r.code, r.stdout, r.stderr)
	}
	if r := ethosCLI(t, dir, nil, "dataset", "check", pairs, "--method", "auto"); r.code != 0 {
		t.Errorf("a pairs file checked as what it holds: exit %d, want 0", r.code)
	}
	if r := ethosCLI(t, dir, nil, "dataset", "check", pairs); r.code != 1 {
		t.Errorf("a pairs file checked for SFT, the default: exit %d, want 1", r.code)
	}
	sft := ethosCLI(t, dir, nil, "finetune", "create", "--train", "data/agora.jsonl", "--wait", "--json")
	if sft.code != 0 {
		t.Fatalf("SFT job: exit %d\n%s", sft.code, sft.stderr)
	}
	var sftOut struct {
		Job   ethos.FineTuneJob `json:"job"`
		Model ethos.Model       `json:"model"`
	}
	if err := json.Unmarshal([]byte(sft.stdout), &sftOut); err != nil || sftOut.Job.ID == "" {
		t.Fatalf("SFT job output: %v\n%s", err, sft.stdout)
	}
	if r := ethosCLI(t, dir, nil, "finetune", "create", "--train", "data/agora.jsonl", "--dpo-beta", "0.2"); r.code != 2 {
		t.Errorf("--dpo-beta on a conversation file: exit %d, want 2\n%s", r.code, r.stderr)
	}
	dpo := ethosCLI(t, dir, nil, "finetune", "create", "--train", pairs, "--method", "dpo", "--from-checkpoint", sftOut.Job.ID, "--dpo-beta", "0.2", "--wait", "--json")
	if dpo.code != 0 {
		t.Fatalf("DPO job: exit %d\n%s", dpo.code, dpo.stderr)
	}
	var dpoOut struct {
		Job   ethos.FineTuneJob `json:"job"`
		Model ethos.Model       `json:"model"`
	}
	if err := json.Unmarshal([]byte(dpo.stdout), &dpoOut); err != nil {
		t.Fatal(err)
	}
	h := dpoOut.Job.Hyperparameters
	if h.Method != ethos.FineTuneDPO || h.DPOBeta != 0.2 || dpoOut.Job.FromCheckpoint != sftOut.Job.ID || dpoOut.Model.Name == "" {
		t.Errorf("DPO job: method %q, beta %g, from %q, model %q", h.Method, h.DPOBeta, dpoOut.Job.FromCheckpoint, dpoOut.Model.Name)
	}
	if want := sftOut.Model.Name; dpoOut.Model.Parent != want || want == "" {
		t.Errorf("the DPO model's parent is %q, want the SFT model %q", dpoOut.Model.Parent, want)
	}
	if r := ethosCLI(t, dir, nil, "models"); !strings.Contains(r.stdout, "DPO beta=0.2") {
		t.Errorf("ethos models does not show the DPO settings:\n%s", r.stdout)
	}
}
