package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/generate"
	"github.com/ethos-toolkit/ethos/internal/pgtest"
	"github.com/ethos-toolkit/ethos/postgres"
	"github.com/ethos-toolkit/ethos/sandbox"
)

// workerProcess is an ethos worker child process and what it printed.
type workerProcess struct {
	cmd *exec.Cmd
	log *os.File
}

// startWorkers starts n ethos worker processes on the store at url, each
// holding at most maxInFlight tasks and taking a worker silent for 12 s
// for dead (the default is 40 s; the tests need not wait that long); they
// are killed when the test ends if still running.
func startWorkers(t testing.TB, n int, dir, sandboxURL, url string, maxInFlight int) []*workerProcess {
	t.Helper()
	var ws []*workerProcess
	for i := range n {
		log, err := os.Create(filepath.Join(t.TempDir(), fmt.Sprintf("worker%d.log", i)))
		if err != nil {
			t.Fatal(err)
		}
		cmd := ethosChild(dir, sandboxURL, "worker", "--db", url, "--max-in-flight", fmt.Sprint(maxInFlight), "--dead-after", "12s")
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		w := &workerProcess{cmd: cmd, log: log}
		t.Cleanup(func() {
			if w.cmd.ProcessState == nil {
				w.cmd.Process.Kill()
				w.cmd.Wait()
			}
			w.log.Close()
		})
		ws = append(ws, w)
	}
	return ws
}

// output is what the worker printed so far.
func (w *workerProcess) output() string {
	data, _ := os.ReadFile(w.log.Name())
	return string(data)
}

// stop sends SIGTERM and waits for the worker to exit, returning its error.
func (w *workerProcess) stop() error {
	w.cmd.Process.Signal(syscall.SIGTERM)
	return w.cmd.Wait()
}

// TestWorkersFinishARunDespiteAKill: on PostgreSQL, three ethos worker
// processes make the calls of one ethos generate --no-work of 300 examples
// against a sandbox enforcing 600 RPM at 1 s a call; one worker is killed
// with SIGKILL mid-run. The others take over its tasks once its heartbeat
// goes silent: the run has exactly 300 examples, no item twice, no answered
// request repeated beyond what the killed worker had in flight, and fewer
// than 2% of requests answered 429.
func TestWorkersFinishARunDespiteAKill(t *testing.T) {
	t.Parallel()
	const examples, maxInFlight = 300, 16
	url := pgtest.URL(t)
	sb := startSandbox(t, sandbox.Options{Seed: 29, Faults: sandbox.Faults{RPM: 600, LatencyMean: time.Second}})
	dir := t.TempDir()
	sandboxProject(t, dir, nil)
	workers := startWorkers(t, 3, dir, sb.URL, url, maxInFlight)

	gen := ethosChild(dir, sb.URL, "generate", "--examples", fmt.Sprint(examples), "--db", url, "--no-work")
	var genOut strings.Builder
	gen.Stdout, gen.Stderr = &genOut, &genOut
	if err := gen.Start(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- gen.Wait() }()

	// Mid-run: a good share of the calls answered.
	deadline := time.After(3 * time.Minute)
	for sb.Server.Stats().ByStatus["200"] < 300 {
		select {
		case err := <-done:
			t.Fatalf("generate ended before the kill: %v\n%s", err, genOut.String())
		case <-deadline:
			t.Fatalf("too few calls to kill a worker mid-run: %+v\n%s", sb.Server.Stats(), genOut.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	killed := workers[0]
	killed.cmd.Process.Kill()
	killed.cmd.Wait()
	t.Logf("killed worker 0 at %s, %d requests in flight at the sandbox", time.Since(start).Round(time.Second), sb.Server.Stats().InFlight)

	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("generate: %v\n%s", err, genOut.String())
		}
	case <-time.After(5 * time.Minute):
		gen.Process.Kill()
		t.Fatalf("generate did not finish in 5 minutes after the kill\n%s", genOut.String())
	}
	t.Logf("generate done at %s", time.Since(start).Round(time.Second))
	for i, w := range workers[1:] {
		for _, line := range strings.Split(w.output(), "\n") {
			if strings.Contains(line, "made available again") {
				t.Logf("worker %d: %s", i+1, line)
			}
		}
		if err := w.stop(); err != nil {
			t.Errorf("worker %d on SIGTERM: %v\n%s", i+1, err, w.output())
		}
	}

	// Exactly the examples asked for, none twice.
	f, err := os.Open(filepath.Join(dir, "data", "agora.detailed.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ids, ideas := map[int64]bool{}, map[string]bool{}
	lines := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<22)
	for sc.Scan() {
		var d generate.Detailed
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatal(err)
		}
		lines++
		idea := d.Idea.Summary + "\n" + d.Idea.Situation
		if ids[d.ExampleID] || ideas[idea] {
			t.Errorf("example %d (idea %q) twice", d.ExampleID, d.Idea.Summary)
		}
		ids[d.ExampleID], ideas[idea] = true, true
	}
	if lines != examples {
		t.Errorf("%d examples, want %d", lines, examples)
	}
	st := sb.Server.Stats()
	var total int64
	for _, n := range st.ByStatus {
		total += n
	}
	share := float64(st.ByStatus["429"]) / float64(max(total, 1))
	t.Logf("sandbox: %d requests, by status %v, %d repeats; 429 share %.2f%%", total, st.ByStatus, st.Repeats, 100*share)
	if st.Repeats > maxInFlight {
		t.Errorf("the sandbox answered %d requests it had answered before (the killed worker held at most %d)", st.Repeats, maxInFlight)
	}
	if share >= 0.02 {
		t.Errorf("%.2f%% of requests answered 429, want under 2%%", 100*share)
	}
}

// TestWorkerNeedsPostgres: on a SQLite store, ethos worker and generate
// --no-work say what they need instead of waiting for ever.
func TestWorkerNeedsPostgres(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sandboxProject(t, dir, nil)
	for _, args := range [][]string{{"worker"}, {"generate", "--examples", "5", "--no-work"}, {"eval", "run", "--prompts", "4", "--no-work"}} {
		r := ethosCLI(t, dir, nil, args...)
		if r.code != 2 || !strings.Contains(r.stderr, "PostgreSQL") {
			t.Errorf("%s on SQLite: exit %d, %s", strings.Join(args, " "), r.code, r.stderr)
		}
	}
}

// waitFor returns once w has printed want, failing b if it exits first
// or takes more than a minute.
func (w *workerProcess) waitFor(tb testing.TB, want string) {
	tb.Helper()
	awaitOther(tb, time.Minute, func() string { return fmt.Sprintf("worker never printed %q:\n%s", want, w.output()) },
		func() bool { return strings.Contains(w.output(), want) })
}

// BenchmarkWorkers: one ethos generate --no-work of benchExamples examples
// on PostgreSQL, its calls made by 1, 2 and 4 ethos worker processes, each
// holding at most benchInFlight tasks, against a sandbox answering in 1 s
// under a rate limit far above what they use. Each call waits out its
// second, so the figures show the workers' capacity adding up, not two
// CPU cores: about benchInFlight calls a second per worker at best.
func BenchmarkWorkers(b *testing.B) {
	const benchExamples, benchInFlight = 120, 8
	for _, n := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("workers=%d", n), func(b *testing.B) {
			var calls, secs float64
			for range b.N {
				url := pgtest.URL(b)
				sb := startSandbox(b, sandbox.Options{Seed: 31, Faults: sandbox.Faults{RPM: 100_000, LatencyMean: time.Second}})
				dir := b.TempDir()
				sandboxProject(b, dir, nil)
				for _, w := range startWorkers(b, n, dir, sb.URL, url, benchInFlight) {
					w.waitFor(b, "working every running run")
				}
				start := time.Now()
				out, err := ethosChild(dir, sb.URL, "generate", "--examples", fmt.Sprint(benchExamples), "--db", url, "--no-work").CombinedOutput()
				if err != nil {
					b.Fatalf("generate: %v\n%s", err, out)
				}
				secs += time.Since(start).Seconds()
				calls += float64(sb.Server.Stats().ByStatus["200"])
			}
			b.ReportMetric(calls/secs, "calls/s")
			b.ReportMetric(float64(b.N*benchExamples)/secs, "examples/s")
		})
	}
}

// TestWorkerWorksAnEvaluation: on PostgreSQL, ethos eval run --no-work
// queues an evaluation (its held-out prompts written by the generation
// stages, the answers, the judgments) and an ethos worker, started before
// it and told nothing of it, makes every call.
func TestWorkerWorksAnEvaluation(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	sb, env := evalSandboxWith(t, sandbox.Faults{})
	dir := t.TempDir()
	sandboxProject(t, dir, nil)
	w := startWorkers(t, 1, dir, sb.URL, url, 8)[0]
	w.waitFor(t, "working every running run")
	env["ETHOS_DATABASE_URL"] = url
	// A cap on what this process spends means nothing when it spends
	// nothing.
	if r := ethosCLI(t, dir, env, "generate", "--examples", "5", "--no-work", "--max-cost", "1"); r.code != 2 || !strings.Contains(r.stderr, "--max-cost caps") {
		t.Errorf("generate --no-work --max-cost: exit %d, %s", r.code, r.stderr)
	}
	r := ethosCLI(t, dir, env, "eval", "run", "--models", "base=sandbox/base,tuned=sandbox/tuned", "--prompts", "4", "--no-work")
	if r.code != 0 {
		t.Fatalf("eval run --no-work: exit %d\n%s%s\nworker:\n%s", r.code, r.stdout, r.stderr, w.output())
	}
	if !strings.Contains(r.stderr, "queued for the 1 ethos worker(s)") {
		t.Errorf("eval run --no-work did not see the worker:\n%s", r.stderr)
	}
	for _, want := range []string{"prompts    4 held out", "answers    8 ok, 0 failed", "judgments  48 ok, 0 parse failures, 0 failed calls, of 48"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, r.stdout)
		}
	}
	if err := w.stop(); err != nil {
		t.Errorf("worker on SIGTERM: %v\n%s", err, w.output())
	}
	if out := w.output(); !strings.Contains(out, "(eval)") {
		t.Errorf("the worker did not take up the evaluation:\n%s", out)
	}
	// The process that ran the command made no call: the worker made them
	// all, through its own chain, into the same ledger.
	calls := ethosCLI(t, dir, env, "calls", "--json")
	if calls.code != 0 || !strings.Contains(calls.stdout, "sandbox/judge") {
		t.Errorf("calls: exit %d\n%s%s", calls.code, calls.stdout, calls.stderr)
	}
}

// TestWorkerWorksARun: ethos run --no-work on PostgreSQL drives the whole
// pipeline — generation, fine-tune, evaluation, report — while an ethos
// worker makes the generation's and the evaluation's calls. It is refused
// beside --max-cost, and on SQLite.
func TestWorkerWorksARun(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	sb := startSandbox(t, sandbox.Options{Seed: 43})
	dir := t.TempDir()
	sandboxProject(t, dir, map[string]string{"  examples: 50": "  examples: 12", "  prompts: 50": "  prompts: 4", "  validation: 0.1": "  validation: 0"})
	if r := ethosCLI(t, dir, nil, "run", "--no-work"); r.code != 2 || !strings.Contains(r.stderr, "PostgreSQL") {
		t.Errorf("run --no-work on SQLite: exit %d, %s", r.code, r.stderr)
	}
	env := map[string]string{"SANDBOX_BASE_URL": sb.URL, "ETHOS_DATABASE_URL": url}
	if r := ethosCLI(t, dir, env, "run", "--no-work", "--max-cost", "1"); r.code != 2 || !strings.Contains(r.stderr, "--max-cost caps") {
		t.Errorf("run --no-work --max-cost: exit %d, %s", r.code, r.stderr)
	}
	w := startWorkers(t, 1, dir, sb.URL, url, 8)[0]
	w.waitFor(t, "working every running run")
	r := ethosCLI(t, dir, env, "run", "--no-work", "--json")
	if r.code != 0 {
		t.Fatalf("run --no-work: exit %d\n%s%s\nworker:\n%s", r.code, r.stdout, r.stderr, w.output())
	}
	if n := strings.Count(r.stderr, "queued for the 1 ethos worker(s)"); n != 2 {
		t.Errorf("run --no-work left %d runs to the worker, want 2 (the generation and the evaluation):\n%s", n, r.stderr)
	}
	var res pipelineResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("run --json: %v\n%s", err, r.stdout)
	}
	if len(res.Trained) != 1 || res.Trained[0].Model.Name == "" || res.EvalID == "" || res.Counts.Prompts != 4 || len(res.Reports) != 3 {
		t.Errorf("run --no-work made %+v", res)
	}
	if err := w.stop(); err != nil {
		t.Errorf("worker on SIGTERM: %v\n%s", err, w.output())
	}
	for _, want := range []string{"working run " + res.GenerateRun + " (generate)", "working run " + res.EvalID + " (eval)"} {
		if out := w.output(); !strings.Contains(out, want) {
			t.Errorf("the worker did not print %q:\n%s", want, out)
		}
	}
}

// TestWorkerStopsCleanly: a worker sent SIGTERM while its calls are in
// flight lets them finish and record their answers before it exits 0, and
// another worker finishes the run without asking any of them again.
func TestWorkerStopsCleanly(t *testing.T) {
	t.Parallel()
	const examples = 10
	url := pgtest.URL(t)
	sb := startSandbox(t, sandbox.Options{Seed: 37, Faults: sandbox.Faults{LatencyMean: 2 * time.Second}})
	dir := t.TempDir()
	sandboxProject(t, dir, nil)
	first := startWorkers(t, 1, dir, sb.URL, url, 8)[0]
	first.waitFor(t, "working every running run")
	gen := ethosChild(dir, sb.URL, "generate", "--examples", fmt.Sprint(examples), "--db", url, "--no-work")
	var genOut strings.Builder
	gen.Stdout, gen.Stderr = &genOut, &genOut
	if err := gen.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if gen.ProcessState == nil {
			gen.Process.Kill()
			gen.Wait()
		}
	}()
	awaitOther(t, time.Minute, func() string {
		return fmt.Sprintf("no call in flight within a minute:\n%s\n%s", genOut.String(), first.output())
	}, func() bool { return sb.Server.Stats().InFlight > 0 })
	before := sb.Server.Stats()
	if err := first.stop(); err != nil {
		t.Fatalf("worker on SIGTERM: %v\n%s", err, first.output())
	}
	after := sb.Server.Stats()
	if after.InFlight != 0 || after.ByStatus["200"] < before.ByStatus["200"]+before.InFlight {
		t.Errorf("the worker exited with calls unanswered: %d answered and %d in flight at SIGTERM, %d answered and %d in flight at its exit",
			before.ByStatus["200"], before.InFlight, after.ByStatus["200"], after.InFlight)
	}
	if !strings.Contains(first.output(), "stopped") {
		t.Errorf("the worker did not say it stopped:\n%s", first.output())
	}

	startWorkers(t, 1, dir, sb.URL, url, 8)
	if err := gen.Wait(); err != nil {
		t.Fatalf("generate: %v\n%s", err, genOut.String())
	}
	if n := countLines(t, filepath.Join(dir, "data", "agora.jsonl")); n != examples {
		t.Errorf("%d examples, want %d", n, examples)
	}
	if st := sb.Server.Stats(); st.Repeats != 0 {
		t.Errorf("the sandbox answered %d requests twice", st.Repeats)
	}
}

// TestWorkerFollowsFineTunes: on PostgreSQL, with no ethos monitor
// running, an ethos worker follows a fine-tune job to completion and
// registers its model; while it does, it holds the monitor's lock, so an
// ethos monitor is refused.
func TestWorkerFollowsFineTunes(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	dir := t.TempDir()
	env := fastSandbox(t, t.TempDir(), 0)
	writeTrain(t, dir, "train.jsonl", 12)
	r := ethosCLI(t, dir, env, "finetune", "create", "--train", "train.jsonl", "--db", url)
	if r.code != 0 {
		t.Fatalf("create: exit %d\n%s", r.code, r.stderr)
	}
	id := strings.TrimSpace(r.stdout)

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	following := make(chan struct{})
	log := &watchWriter{w: &bytes.Buffer{}, want: "monitoring active fine-tune jobs", seen: following}
	m := &Main{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: log, Dir: dir,
		Getenv: func(k string) string { return env[k] }}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx, []string{"worker", "--db", url, "--monitor-interval", "20ms"}) }()
	select {
	case <-following:
	case err := <-done:
		t.Fatalf("worker ended: %v\n%s", err, log.String())
	case <-ctx.Done():
		t.Fatalf("the worker never followed the jobs:\n%s", log.String())
	}
	if r := ethosCLI(t, dir, env, "monitor", "--once", "--db", url); r.code != 1 || !strings.Contains(r.stderr, "an ethos worker following the jobs") {
		t.Errorf("ethos monitor beside the worker: exit %d\n%s", r.code, r.stderr)
	}

	db, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The monitor saves the completed job, then registers its model: wait
	// for both.
	var (
		job    ethos.FineTuneJob
		models []ethos.Model
	)
	for job.State != ethos.FineTuneCompleted || len(models) == 0 {
		select {
		case err := <-done:
			t.Fatalf("worker ended: %v\n%s", err, log.String())
		case <-ctx.Done():
			t.Fatalf("job %s not completed and registered: %+v, models %+v\n%s", id, job, models, log.String())
		case <-time.After(20 * time.Millisecond):
		}
		if job, err = db.Job(ctx, id); err != nil {
			t.Fatal(err)
		}
		if models, err = db.Models(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if len(models) != 1 || models[0].JobID != id || models[0].Name != "sandbox/"+job.OutputModel {
		t.Errorf("registry after the job completed: %+v (job %+v)", models, job)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("worker after Ctrl-C: %v\n%s", err, log.String())
	}
}
