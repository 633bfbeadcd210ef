package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/config"
	"github.com/ethos-toolkit/ethos/generate"
	"github.com/ethos-toolkit/ethos/internal/pgtest"
	"github.com/ethos-toolkit/ethos/pipeline"
	"github.com/ethos-toolkit/ethos/sandbox"
)

// TestMain lets a test run the ethos binary itself as a child process
// (for the crash test): with ETHOS_TEST_AS_MAIN set, the test binary is
// ethos.
func TestMain(m *testing.M) {
	if os.Getenv("ETHOS_TEST_AS_MAIN") == "1" {
		main()
	}
	// A PostgreSQL server for the tests of a store on it, started on
	// first use and stopped at the end.
	pgtest.Main(m)
}

// ethosChild is the ethos binary as a child process working in dir, its
// sandbox models served by the sandbox at sandboxURL.
func ethosChild(dir, sandboxURL string, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "ETHOS_TEST_AS_MAIN=1", "SANDBOX_BASE_URL="+sandboxURL)
	return cmd
}

// slowSandbox starts a sandbox that takes about 5 s over every call, so
// that a test can act while many calls are in flight.
func slowSandbox(t *testing.T, seed int64) *sandbox.Running {
	t.Helper()
	return startSandbox(t, sandbox.Options{Seed: seed, Faults: sandbox.Faults{LatencyMean: 5 * time.Second, LatencyJitter: time.Second}})
}

// sandboxProject writes an ethos.yaml whose every model is a sandbox model.
func sandboxProject(t testing.TB, dir string, extra map[string]string) {
	t.Helper()
	if r := ethosCLI(t, dir, nil, "init", "--sandbox"); r.code != 0 {
		t.Fatalf("init: %s", r.stderr)
	}
	path := filepath.Join(dir, "ethos.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	for old, repl := range extra {
		if !strings.Contains(s, old) {
			t.Fatalf("template has no %q to replace", old)
		}
		s = strings.Replace(s, old, repl, 1)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestGenerateWithoutConfig runs generate where there is no ethos.yaml:
// the offline defaults make it work with no keys.
func TestGenerateWithoutConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := ethosCLI(t, dir, nil, "generate", "--examples", "20")
	if r.code != 0 {
		t.Fatalf("generate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if n := countLines(t, filepath.Join(dir, "data", "agora.jsonl")); n != 20 {
		t.Fatalf("%d records, want 20", n)
	}
	if r := ethosCLI(t, dir, nil, "doctor"); r.code != 0 || !strings.Contains(r.stdout, "offline defaults") {
		t.Fatalf("doctor without ethos.yaml: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestGenerateCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sandboxProject(t, dir, nil)

	plan := ethosCLI(t, dir, nil, "generate", "--examples", "20", "--dry-run")
	if plan.code != 0 || !strings.Contains(plan.stdout, "nothing was spent") || !strings.Contains(plan.stdout, "sandbox/writer") {
		t.Fatalf("--dry-run: exit %d\n%s%s", plan.code, plan.stdout, plan.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, ".ethos", "ethos.db")); err == nil {
		// The store may exist (doctor-style open), but nothing was called.
		if r := ethosCLI(t, dir, nil, "calls", "--json"); strings.Contains(r.stdout, `"stage": "document"`) {
			t.Fatal("--dry-run made calls")
		}
	}

	r := ethosCLI(t, dir, nil, "generate", "--examples", "20", "--output", "out/set.jsonl", "--system-prompt", "You are Agora, a test persona.")
	if r.code != 0 {
		t.Fatalf("generate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, f := range []string{"set.jsonl", "set.detailed.jsonl", "set.metadata.json"} {
		if _, err := os.Stat(filepath.Join(dir, "out", f)); err != nil {
			t.Fatalf("missing output %s: %v", f, err)
		}
	}
	lines := countLines(t, filepath.Join(dir, "out", "set.jsonl"))
	if lines != 20 {
		t.Fatalf("%d records, want 20", lines)
	}
	var first generate.Record
	data, _ := os.ReadFile(filepath.Join(dir, "out", "set.jsonl"))
	json.Unmarshal([]byte(strings.SplitN(string(data), "\n", 2)[0]), &first)
	if first.Messages[0].Content != "You are Agora, a test persona." {
		t.Errorf("--system-prompt did not reach the records: %q", first.Messages[0].Content)
	}
	var meta generate.Metadata
	mdata, _ := os.ReadFile(filepath.Join(dir, "out", "set.metadata.json"))
	if err := json.Unmarshal(mdata, &meta); err != nil || meta.Examples != 20 || len(meta.PromptVersions) == 0 || meta.ConfigHash == "" {
		t.Fatalf("metadata: %v %+v", err, meta)
	}

	// The same command again: the run is complete and its files exist, so
	// it is done, as ethos run and demo say, and says where the files are.
	args := []string{"generate", "--examples", "20", "--output", "out/set.jsonl", "--system-prompt", "You are Agora, a test persona."}
	again := ethosCLI(t, dir, nil, args...)
	if again.code != 0 || !strings.Contains(again.stderr, "is done") || !strings.Contains(again.stdout, filepath.Join(dir, "out", "set.jsonl")) ||
		!strings.Contains(again.stdout, "20 examples") {
		t.Fatalf("second run: exit %d\n%s%s", again.code, again.stdout, again.stderr)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "out", "set.jsonl")); string(got) != string(data) {
		t.Fatal("the second run changed the dataset")
	}
	calls := func() string { return ethosCLI(t, dir, nil, "calls", "--limit", "100000", "--json").stdout }
	before := calls()

	// Outputs gone: they are written again from the store, with no call.
	os.Remove(filepath.Join(dir, "out", "set.jsonl"))
	os.Remove(filepath.Join(dir, "out", "set.metadata.json"))
	rewrite := ethosCLI(t, dir, nil, args...)
	if rewrite.code != 0 || countLines(t, filepath.Join(dir, "out", "set.jsonl")) != 20 {
		t.Fatalf("run with its outputs removed: exit %d\n%s%s", rewrite.code, rewrite.stdout, rewrite.stderr)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "out", "set.jsonl")); string(got) != string(data) {
		t.Error("the dataset written again from the store differs from the first")
	}
	if _, err := os.Stat(filepath.Join(dir, "out", "set.metadata.json")); err != nil {
		t.Errorf("metadata not written again: %v", err)
	}
	// --force writes them again too.
	if r := ethosCLI(t, dir, nil, append(args, "--force")...); r.code != 0 || !strings.Contains(r.stdout, "20 examples written") {
		t.Fatalf("--force: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if after := calls(); after != before {
		t.Error("writing a completed run's files again made model calls")
	}

	// Another run's files at the output path are still not replaced.
	other := ethosCLI(t, dir, nil, "generate", "--examples", "10", "--output", "out/set.jsonl")
	if other.code != 2 || !strings.Contains(other.stderr, "already exists") {
		t.Fatalf("another run onto the same output: exit %d, stderr %q", other.code, other.stderr)
	}
	// A bad model in the config is found before anything is spent.
	bad := ethosCLI(t, dir, nil, "generate", "--examples", "0", "--resume", "gen-nosuchrun")
	if bad.code != 2 || !strings.Contains(bad.stderr, "gen-nosuchrun") {
		t.Fatalf("--resume unknown: exit %d, stderr %q", bad.code, bad.stderr)
	}
}

func countLines(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		n++
	}
	return n
}

// TestGenerateSurvivesKill kills a generating ethos process with SIGKILL
// part-way and runs the command again: the dataset completes, and the
// sandbox saw no completed call made twice beyond those in flight at the
// kill.
func TestGenerateSurvivesKill(t *testing.T) {
	t.Parallel()
	const examples, workers = 30, 8
	sb, err := sandbox.Start(t.Context(), "127.0.0.1:0", sandbox.Options{Seed: 11,
		Faults: sandbox.Faults{LatencyMean: 40 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	dir := t.TempDir()
	sandboxProject(t, dir, nil)
	args := []string{"generate", "--examples", "30", "--workers", "8"}
	child := func() *exec.Cmd { return ethosChild(dir, sb.URL, args...) }

	first := child()
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(60 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for sb.Server.Stats().ByStatus["200"] < 40 {
		select {
		case <-deadline:
			first.Process.Kill()
			t.Fatal("the first process made too few calls to be interrupted")
		case <-tick.C:
		}
	}
	first.Process.Kill() // SIGKILL: no cleanup of any kind
	first.Wait()
	before := sb.Server.Stats()

	second := child()
	out, err := second.CombinedOutput()
	if err != nil {
		t.Fatalf("second run: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "continuing run") {
		t.Errorf("the second process did not continue the run:\n%s", out)
	}
	if n := countLines(t, filepath.Join(dir, "data", "agora.jsonl")); n != examples {
		t.Fatalf("%d records after the restart, want %d", n, examples)
	}
	after := sb.Server.Stats()
	if after.Repeats > int64(workers) {
		t.Errorf("the sandbox answered %d requests it had answered before (in flight at the kill: at most %d)", after.Repeats, workers)
	}
	t.Logf("first process: %d answered; second: %d more; repeated: %d", before.ByStatus["200"], after.ByStatus["200"]-before.ByStatus["200"], after.Repeats)
}

// TestGenerateSurvivesKillWithManyInFlight kills ethos generate while the
// default configuration has many calls in flight at a slow sandbox (no
// fixed worker or concurrency cap holds them back), then runs it again: the
// dataset has exactly the examples asked for, and no request the sandbox
// had answered is answered again beyond the calls in flight at the kill.
func TestGenerateSurvivesKillWithManyInFlight(t *testing.T) {
	t.Parallel()
	const examples = 100
	sb := slowSandbox(t, 12)
	dir := t.TempDir()
	sandboxProject(t, dir, nil)
	child := func() *exec.Cmd { return ethosChild(dir, sb.URL, "generate", "--examples", "100") }

	first := child()
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(90 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	var atKill sandbox.Stats
	for {
		atKill = sb.Server.Stats()
		// Idea batches answered, documents in flight: slow start allows
		// 16 calls in flight plus one per answer so far, and at 5 s a call
		// even a slow machine (the race detector, other tests) keeps
		// dozens waiting at the sandbox.
		if atKill.InFlight >= 30 && atKill.ByStatus["200"] >= 20 {
			break
		}
		select {
		case <-deadline:
			first.Process.Kill()
			t.Fatalf("the first process never had 30 calls in flight after 20 answers: %+v", atKill)
		case <-tick.C:
		}
	}
	first.Process.Kill() // SIGKILL: no cleanup of any kind
	first.Wait()
	// The calls waiting at the sandbox are dropped with the connection and
	// never answered; a repeat can only be a call answered in the instant
	// before the kill and not yet recorded, and there are fewer of those
	// than calls in flight.
	inFlight := atKill.InFlight

	second := child()
	out, err := second.CombinedOutput()
	if err != nil {
		t.Fatalf("second run: %v\n%s", err, out)
	}
	if n := countLines(t, filepath.Join(dir, "data", "agora.jsonl")); n != examples {
		t.Fatalf("%d records after the restart, want %d", n, examples)
	}
	after := sb.Server.Stats()
	if after.Repeats > inFlight {
		t.Errorf("the sandbox answered %d requests it had answered before; %d were in flight at the kill", after.Repeats, inFlight)
	}
	t.Logf("at the kill: %d answered, %d in flight; after: %d more answered, %d repeated", atKill.ByStatus["200"], inFlight, after.ByStatus["200"]-atKill.ByStatus["200"], after.Repeats)
}

// TestGenerateInterrupted sends SIGINT (Ctrl-C) to ethos generate while
// calls are in flight at a slow sandbox: the process says in one line how
// to continue (and not "context canceled"), the run is interrupted, not
// running, ethos status says so without counting it a failure, the calls
// cut short are interrupted, not errors, and the same command continues
// the run to its end.
func TestGenerateInterrupted(t *testing.T) {
	t.Parallel()
	slow := slowSandbox(t, 13)
	dir := t.TempDir()
	sandboxProject(t, dir, nil)
	args := []string{"generate", "--examples", "10"}
	cmd := ethosChild(dir, slow.URL, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(60 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for slow.Server.Stats().InFlight < 3 {
		select {
		case <-deadline:
			cmd.Process.Kill()
			t.Fatalf("never 3 calls in flight: %+v", slow.Server.Stats())
		case <-tick.C:
		}
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 130 {
		t.Errorf("interrupted generate: %v, want exit status 130\n%s", err, stderr.String())
	}
	if got := stderr.String(); !strings.Contains(got, "interrupted: run the same command again") || strings.Contains(got, "context canceled") {
		t.Errorf("stderr of the interrupted run, want one line on how to continue and no \"context canceled\":\n%s", got)
	}

	env := map[string]string{"SANDBOX_BASE_URL": slow.URL}
	st := ethosCLI(t, dir, env, "status", "--json")
	var rep statusReport
	if err := json.Unmarshal([]byte(st.stdout), &rep); err != nil || st.code != 0 {
		t.Fatalf("status: exit %d, %v\n%s%s", st.code, err, st.stdout, st.stderr)
	}
	if len(rep.Runs) != 1 || rep.Runs[0].Status != ethos.RunInterrupted || len(rep.Interrupted) != 1 || len(rep.Failed) != 0 {
		t.Errorf("status after the interrupt: runs %+v, interrupted %v, failed %v; want the run interrupted and nothing failed", rep.Runs, rep.Interrupted, rep.Failed)
	}
	if text := ethosCLI(t, dir, env, "status"); !strings.Contains(text.stdout, "1 interrupted") || !strings.Contains(text.stdout, "nothing failed") {
		t.Errorf("status text:\n%s", text.stdout)
	}
	var calls struct {
		Summary []ethos.CallSummary `json:"summary"`
	}
	c := ethosCLI(t, dir, env, "calls", "--json")
	if err := json.Unmarshal([]byte(c.stdout), &calls); err != nil {
		t.Fatalf("calls: %v\n%s%s", err, c.stdout, c.stderr)
	}
	interrupted := 0
	for _, s := range calls.Summary {
		if len(s.Errors) > 0 {
			t.Errorf("%s: errors %v after an interrupt, want none", s.Model, s.Errors)
		}
		interrupted += s.Interrupted
	}
	if interrupted == 0 {
		t.Errorf("no call recorded as interrupted: %+v", calls.Summary)
	}

	// The same command continues the run, here at a quick sandbox.
	quick := startSandbox(t, sandbox.Options{Seed: 13})
	if out, err := ethosChild(dir, quick.URL, args...).CombinedOutput(); err != nil || !strings.Contains(string(out), "continuing run") {
		t.Fatalf("the same command again: %v\n%s", err, out)
	}
	if n := countLines(t, filepath.Join(dir, "data", "agora.jsonl")); n != 10 {
		t.Fatalf("%d records after continuing, want 10", n)
	}
}

// killWhen starts cmd, waits until ready says the moment has come (looked
// at every few milliseconds, for at most limit), and kills it with SIGKILL:
// no cleanup of any kind. It fails the test, saying what never happened,
// when ready never does.
func killWhen(t *testing.T, cmd *exec.Cmd, limit time.Duration, never string, ready func() bool) {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	awaitOther(t, limit, func() string { return never }, ready)
}

// awaitOther returns once ready says what another process (a child, a
// sandbox) was to do has happened, looking every 10 ms; it fails tb with
// never's message if that takes more than limit. The other process runs on
// the real clock, so this is a bounded wait, not a measure of time.
func awaitOther(tb testing.TB, limit time.Duration, never func() string, ready func() bool) {
	tb.Helper()
	deadline := time.After(limit)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !ready() {
		select {
		case <-deadline:
			tb.Fatal(never())
		case <-tick.C:
		}
	}
}

// sandboxProcess runs `ethos sandbox` as a process of its own and returns
// its URL; it is stopped when the test ends.
func sandboxProcess(t *testing.T, args ...string) string {
	t.Helper()
	cmd := ethosChild(t.TempDir(), "", append([]string{"sandbox", "--addr", "127.0.0.1:0"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("ethos sandbox printed no address: %v", err)
	}
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "ethos sandbox listening on ")
	if !ok {
		t.Fatalf("ethos sandbox said %q", line)
	}
	go io.Copy(io.Discard, stdout)
	return url
}

// sandboxStats reads a sandbox's counters over HTTP.
func sandboxStats(t *testing.T, url string) sandbox.Stats {
	t.Helper()
	resp, err := http.Get(url + "/_sandbox/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st sandbox.Stats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestGenerateByBatchSurvivesKill kills `ethos generate --batch` with
// SIGKILL while its batches are in flight at an `ethos sandbox` process,
// whose batches outlive the client, and runs it again: the dataset has
// exactly the examples asked for, every batch ended, and the sandbox saw no
// request submitted again while a batch held it.
func TestGenerateByBatchSurvivesKill(t *testing.T) {
	t.Parallel()
	const examples = 16
	url := sandboxProcess(t, "--batch-time", "2s", "--seed", "21")
	dir := t.TempDir()
	sandboxProject(t, dir, nil)
	f, err := os.OpenFile(filepath.Join(dir, "ethos.yaml"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, "batch: {window: 300ms, poll: 200ms}")
	f.Close()
	child := func() *exec.Cmd {
		return ethosChild(dir, url, "generate", "--examples", fmt.Sprint(examples), "--batch")
	}

	var atKill sandbox.Stats
	// Idea batches answered and document batches submitted: requests of
	// several batches are at the sandbox, some still processing.
	killWhen(t, child(), 90*time.Second, "the first process never had its document batches submitted", func() bool {
		atKill = sandboxStats(t, url)
		return atKill.BatchesCreated["anthropic"] >= 2 && atKill.BatchRequests >= int64(examples)
	})

	second := child()
	out, err := second.CombinedOutput()
	if err != nil {
		t.Fatalf("second run: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "continuing run") {
		t.Errorf("the second process did not continue the run:\n%s", out)
	}
	if n := countLines(t, filepath.Join(dir, "data", "agora.jsonl")); n != examples {
		t.Fatalf("%d records after the restart, want %d", n, examples)
	}
	after := sandboxStats(t, url)
	if after.BatchResubmissions != 0 {
		t.Errorf("the sandbox saw %d requests submitted again while a batch held them", after.BatchResubmissions)
	}
	r := ethosCLI(t, dir, map[string]string{"SANDBOX_BASE_URL": url}, "batches", "--json")
	var batches []ethos.Batch
	if err := json.Unmarshal([]byte(r.stdout), &batches); err != nil || r.code != 0 {
		t.Fatalf("ethos batches --json: exit %d, %v\n%s", r.code, err, r.stderr)
	}
	created := 0
	for _, b := range batches {
		if !b.State.Done() {
			t.Errorf("batch %d is %s after the run", b.ID, b.State)
		}
		if b.ProviderID != "" {
			created++
		} else if b.State != ethos.BatchFailed {
			// Only a batch recorded by a process killed before it could
			// submit it may lack an ID, and it ends as never created.
			t.Errorf("batch %d has no provider ID and is %s", b.ID, b.State)
		}
	}
	if int64(created) != after.BatchesCreated["anthropic"] {
		t.Errorf("the store knows %d batches at the sandbox; the sandbox created %d", created, after.BatchesCreated["anthropic"])
	}
	t.Logf("at the kill: %d batches, %d requests; after: %d batches, %d requests, %d resubmitted",
		atKill.BatchesCreated["anthropic"], atKill.BatchRequests, after.BatchesCreated["anthropic"], after.BatchRequests, after.BatchResubmissions)
}

// TestGenerateDryRunShowsBatchCost checks that the plan prices every
// stage online and by batch, side by side, and follows --batch and auto.
func TestGenerateDryRunShowsBatchCost(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sandboxProject(t, dir, nil)
	var plan struct {
		Stages []struct {
			Stage     string  `json:"stage"`
			Mode      string  `json:"mode"`
			Calls     int     `json:"calls"`
			CostUSD   float64 `json:"cost_usd_expected"`
			OnlineUSD float64 `json:"cost_usd_online_expected"`
			BatchUSD  float64 `json:"cost_usd_batch_expected"`
		} `json:"stages"`
	}
	read := func(args ...string) {
		t.Helper()
		r := ethosCLI(t, dir, nil, append([]string{"generate", "--dry-run", "--json"}, args...)...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, r.code, r.stderr)
		}
		if err := json.Unmarshal([]byte(r.stdout), &plan); err != nil {
			t.Fatal(err)
		}
	}
	read("--examples", "400", "--batch")
	for _, s := range plan.Stages {
		if s.Mode != "batch" || s.OnlineUSD <= 0 || s.BatchUSD != s.OnlineUSD*0.5 || s.CostUSD != s.BatchUSD {
			t.Errorf("--batch: %+v; want batch mode at half the online cost", s)
		}
	}
	read("--examples", "400")
	for _, s := range plan.Stages {
		if s.Mode != "online" || s.CostUSD != s.OnlineUSD {
			t.Errorf("default: %+v; want online", s)
		}
	}
	r := ethosCLI(t, dir, nil, "generate", "--examples", "400", "--dry-run")
	if !strings.Contains(r.stdout, "every stage by batch") || !strings.Contains(r.stdout, "ONLINE / BATCH") {
		t.Errorf("the plan does not show both costs:\n%s", r.stdout)
	}
	if r := ethosCLI(t, dir, nil, "generate", "--batch", "--online", "--dry-run"); r.code != 2 {
		t.Errorf("--batch with --online: exit %d, want 2", r.code)
	}
}

func TestResolveModes(t *testing.T) {
	t.Parallel()
	b := config.Batch{MinRequests: 300}
	for _, tt := range []struct {
		examples            int
		override            string
		ideas, docs, review string
	}{
		{400, "", "online", "batch", "online"}, // ideas: 80 calls, under the threshold
		{100, "", "online", "online", "online"},
		{100, "batch", "batch", "batch", "batch"},
		{4000, "online", "online", "online", "online"},
	} {
		g := config.Generate{Ideas: config.Ideas{PerCall: 5, Mode: "auto"}, Documents: config.Documents{Mode: "auto"},
			Responses: config.Responses{Mode: "online"}, Review: config.Review{Mode: "online"}}
		pipeline.ResolveModes(&g, b, tt.examples, tt.override)
		if g.Ideas.Mode != tt.ideas || g.Documents.Mode != tt.docs || g.Review.Mode != tt.review {
			t.Errorf("%d examples, override %q: ideas %s, documents %s, review %s; want %s, %s, %s",
				tt.examples, tt.override, g.Ideas.Mode, g.Documents.Mode, g.Review.Mode, tt.ideas, tt.docs, tt.review)
		}
	}
}

// TestAnotherProcessFinishesAKilledRun kills ethos generate part-way and
// finishes the run from another directory, with nothing but the store and
// the run's ID: a run's settings live in the store, not in the ethos.yaml
// or the process that started it.
func TestAnotherProcessFinishesAKilledRun(t *testing.T) {
	t.Parallel()
	const examples = 20
	sb := startSandbox(t, sandbox.Options{Seed: 17, Faults: sandbox.Faults{LatencyMean: 40 * time.Millisecond}})
	dir := t.TempDir()
	sandboxProject(t, dir, nil)
	first := ethosChild(dir, sb.URL, "generate", "--examples", fmt.Sprint(examples))
	var stderr strings.Builder
	first.Stderr = &stderr
	killWhen(t, first, 60*time.Second, "the first process made too few calls to be interrupted",
		func() bool { return sb.Server.Stats().ByStatus["200"] >= 25 })
	line, _, _ := strings.Cut(stderr.String(), "\n")
	id, _, ok := strings.Cut(strings.TrimPrefix(line, "run "), ":")
	if !ok || !strings.HasPrefix(id, "gen-") {
		t.Fatalf("no run ID in the first process's output: %q", stderr.String())
	}

	elsewhere := t.TempDir() // no ethos.yaml here
	second := ethosChild(elsewhere, sb.URL, "generate", "--db", filepath.Join(dir, ".ethos", "ethos.db"), "--resume", id)
	out, err := second.CombinedOutput()
	if err != nil {
		t.Fatalf("second process: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "continuing run "+id) {
		t.Errorf("the second process did not continue run %s:\n%s", id, out)
	}
	if n := countLines(t, filepath.Join(dir, "data", "agora.jsonl")); n != examples {
		t.Fatalf("%d records, want %d", n, examples)
	}
}

// TestGeneratePairsSurvivesKill kills ethos generate with the pairs stage
// on part-way and runs it again: the dataset and its pairs are complete,
// and the sandbox answered no request it had answered before beyond those
// in flight at the kill.
func TestGeneratePairsSurvivesKill(t *testing.T) {
	t.Parallel()
	const examples, workers = 20, 8
	sb := startSandbox(t, sandbox.Options{Seed: 23, Faults: sandbox.Faults{LatencyMean: 40 * time.Millisecond}})
	dir := t.TempDir()
	sandboxProject(t, dir, map[string]string{"generate:\n": "generate:\n  pairs: {student: sandbox/base}\n"})
	child := func() *exec.Cmd {
		return ethosChild(dir, sb.URL, "generate", "--examples", fmt.Sprint(examples), "--workers", fmt.Sprint(workers))
	}
	// Ideas, documents and replies answered: the pairs stage is under way.
	killWhen(t, child(), 60*time.Second, "the first process made too few calls to be interrupted",
		func() bool { return sb.Server.Stats().ByStatus["200"] >= 45 })

	out, err := child().CombinedOutput()
	if err != nil {
		t.Fatalf("second run: %v\n%s", err, out)
	}
	for _, f := range []string{"agora.jsonl", "agora.pairs.jsonl"} {
		if n := countLines(t, filepath.Join(dir, "data", f)); n != examples {
			t.Errorf("%s has %d lines after the restart, want %d", f, n, examples)
		}
	}
	if after := sb.Server.Stats(); after.Repeats > int64(workers) {
		t.Errorf("the sandbox answered %d requests it had answered before (in flight at the kill: at most %d)", after.Repeats, workers)
	}
}

// TestCommandsOnPostgres runs a generation and the commands that read it
// on a PostgreSQL store named by --db and by $ETHOS_DATABASE_URL: the same
// run, the same files, the ledger and the status from the database.
func TestCommandsOnPostgres(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	dir := t.TempDir()
	sandboxProject(t, dir, nil)
	r := ethosCLI(t, dir, nil, "generate", "--examples", "8", "--db", url)
	if r.code != 0 {
		t.Fatalf("generate on postgres: exit %d\n%s", r.code, r.stderr)
	}
	if n := countLines(t, filepath.Join(dir, "data", "agora.jsonl")); n != 8 {
		t.Fatalf("%d records, want 8", n)
	}
	env := map[string]string{"ETHOS_DATABASE_URL": url}
	st := ethosCLI(t, dir, env, "status", "--json")
	if st.code != 0 || !strings.Contains(st.stdout, `"status": "completed"`) {
		t.Fatalf("status on postgres: exit %d\n%s%s", st.code, st.stdout, st.stderr)
	}
	calls := ethosCLI(t, dir, env, "calls", "--json")
	var ledger struct {
		Summary []ethos.CallSummary `json:"summary"`
	}
	if err := json.Unmarshal([]byte(calls.stdout), &ledger); err != nil || len(ledger.Summary) == 0 {
		t.Fatalf("calls on postgres: %v\n%s", err, calls.stdout)
	}
	// Run again: done, from the database, no call made.
	again := ethosCLI(t, dir, env, "generate", "--examples", "8")
	if again.code != 0 || !strings.Contains(again.stderr, "is done") {
		t.Errorf("rerun on postgres: exit %d\n%s", again.code, again.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, ".ethos", "ethos.db")); err == nil {
		t.Error("a SQLite store was made beside a PostgreSQL one")
	}
}
