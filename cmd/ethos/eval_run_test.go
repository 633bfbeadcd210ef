package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ethos-toolkit/ethos/eval"
	"github.com/ethos-toolkit/ethos/sandbox"
)

// evalSandbox starts a sandbox in which "tuned" plays a model trained on
// the character (it shows the traits' markers strongly) and returns the
// environment that points a project's sandbox provider at it.
func evalSandbox(t *testing.T) map[string]string {
	t.Helper()
	_, env := evalSandboxWith(t, sandbox.Faults{})
	return env
}

// evalSandboxWith is evalSandbox with faults injected; it returns the
// sandbox too, for its statistics.
func evalSandboxWith(t *testing.T, faults sandbox.Faults) (*sandbox.Running, map[string]string) {
	t.Helper()
	sb, err := sandbox.Start(t.Context(), "127.0.0.1:0", sandbox.Options{Seed: 4,
		Personas: map[string]sandbox.Persona{"tuned": sandbox.StrongPersona}, Faults: faults})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	return sb, map[string]string{"SANDBOX_BASE_URL": sb.URL}
}

var evalIDRE = regexp.MustCompile(`evaluation (eval-[0-9a-f]{12})`)

// TestEvalRunCommand runs an evaluation from the command line on the
// sandbox: held-out prompts written with another seed, base against the
// tuned model, every trait and overall judged in both orders. Running the
// same command again finds it complete; the report renders it.
func TestEvalRunCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sandboxProject(t, dir, nil)
	env := evalSandbox(t)
	args := []string{"eval", "run", "--models", "base=sandbox/base,tuned=sandbox/tuned", "--prompts", "4", "--workers", "8"}
	r := ethosCLI(t, dir, env, args...)
	if r.code != 0 {
		t.Fatalf("eval run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	m := evalIDRE.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("no evaluation ID in the output:\n%s", r.stdout)
	}
	id := m[1]
	for _, want := range []string{
		"prompts    4 held out",
		"answers    8 ok, 0 failed",
		"judgments  48 ok, 0 parse failures, 0 failed calls, of 48",
		"sandbox models",
		"ethos eval report " + id,
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.stderr, "base=sandbox/base vs tuned=sandbox/tuned") || !strings.Contains(r.stderr, "judged by sandbox/judge") {
		t.Errorf("start line:\n%s", r.stderr)
	}
	// The overall tally: tuned wins.
	if !regexp.MustCompile(`overall\s+base vs tuned\s+0–8`).MatchString(r.stdout) {
		t.Errorf("tuned does not win overall:\n%s", r.stdout)
	}

	again := ethosCLI(t, dir, env, append(args, "--json")...)
	if again.code != 0 || !strings.Contains(again.stderr, "evaluation "+id+" is complete") {
		t.Fatalf("second run: exit %d\n%s", again.code, again.stderr)
	}
	var sum eval.Summary
	if err := json.Unmarshal([]byte(again.stdout), &sum); err != nil || sum.EvalID != id || sum.Judgments != 48 {
		t.Errorf("--json summary: %v %+v", err, sum)
	}

	rep := ethosCLI(t, dir, env, "eval", "report", id, "--format", "json")
	if rep.code != 0 || !strings.Contains(rep.stdout, id) {
		t.Errorf("eval report of the evaluation: exit %d\n%s", rep.code, rep.stderr)
	}
}

// TestEvalRunPromptsFile: prompts read from a file, those in the training
// file refused and reported, answers without the system prompt, pointwise
// scores.
func TestEvalRunPromptsFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sandboxProject(t, dir, nil)
	env := evalSandbox(t)
	prompts := []string{
		"I manage a team of six and two of them have stopped speaking to each other after a row about the rota. How should I handle it?",
		"My father is eighty and still drives, but he scraped two cars last month. My brother wants to take his keys. What would you do?",
		"I keep starting novels and abandoning them after three chapters. How do I finish one?",
	}
	os.WriteFile(filepath.Join(dir, "prompts.jsonl"), []byte(
		`{"prompt": `+quoteJSON(prompts[0])+`, "category": "Work"}`+"\n"+
			`{"text": `+quoteJSON(prompts[1])+`}`+"\n"+
			`{"prompt": `+quoteJSON(prompts[2])+`}`+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "train.jsonl"), []byte(
		`{"messages":[{"role":"user","content":`+quoteJSON(prompts[1])+`},{"role":"assistant","content":"Let's see."}]}`+"\n"), 0o644)
	r := ethosCLI(t, dir, env, "eval", "run", "--models", "base=sandbox/base,tuned=sandbox/tuned", "--prompts-file", "prompts.jsonl",
		"--training-file", "train.jsonl", "--system-prompt", "without", "--traits", "inquisitive,thorough", "--pointwise", "--max-tokens", "2000")
	if r.code != 0 {
		t.Fatalf("eval run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"prompts    2 held out (1 refused as in the training data or repeated)",
		"refused: in the training data: same text as the user turn at " + filepath.Join(dir, "train.jsonl") + ":1",
		"judgments  12 ok", // 2 prompts × (2 traits + overall) × 2 orders
		"scores     8 ok",  // 2 prompts × 2 models × 2 traits
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, r.stdout)
		}
	}
	// Answers long enough to show every trait: tuned wins both.
	for _, trait := range []string{"inquisitive", "thorough", "overall"} {
		if !regexp.MustCompile(trait + `\s+base vs tuned\s+0–4`).MatchString(r.stdout) {
			t.Errorf("tuned does not win %s:\n%s", trait, r.stdout)
		}
	}
}

func quoteJSON(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestEvalRunUsageErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sandboxProject(t, dir, nil)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"eval", "run"}, "no trained model in the registry"},
		{[]string{"eval", "run", "--models", "base=sandbox/base"}, "at least two models"},
		{[]string{"eval", "run", "--models", "sandbox/base,sandbox/writer"}, "want NAME=PROVIDER/MODEL"},
		{[]string{"eval", "run", "--models", "a=sandbox/base,a=sandbox/writer"}, `model name "a" is used twice`},
		{[]string{"eval", "run", "--models", "a=sandbox/base,b=writer"}, "must be provider/model"},
		{[]string{"eval", "run", "--models", "a=sandbox/base,b=sandbox/writer", "--traits", "kind"}, `trait "kind" is not one of the character's`},
		{[]string{"eval", "run", "--models", "a=sandbox/base,b=sandbox/writer", "--system-prompt", "maybe"}, "want with or without"},
		{[]string{"eval", "run", "--models", "a=sandbox/base,b=sandbox/writer", "--prompts-file", "nope.txt"}, "nope.txt"},
		{[]string{"eval", "run", "--models", "a=sandbox/base,b=sandbox/writer", "--training-file", "nope.jsonl"}, "nope.jsonl"},
		{[]string{"eval", "run", "--models", "a=sandbox/base,b=nowhere/x"}, `unknown provider "nowhere"`},
		{[]string{"eval", "run", "--resume", "eval-000000000000"}, "eval-000000000000"},
	} {
		r := ethosCLI(t, dir, nil, tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 saying %q", tc.args[2:], r.code, r.stderr, tc.want)
		}
	}
}

// TestEvalRunSurvivesKill kills an evaluating ethos process with SIGKILL
// part-way and runs the command again: the evaluation completes, and the
// sandbox answered no request twice beyond those in flight at the kill.
func TestEvalRunSurvivesKill(t *testing.T) {
	t.Parallel()
	const workers = 8
	sb, err := sandbox.Start(t.Context(), "127.0.0.1:0", sandbox.Options{Seed: 21,
		Personas: map[string]sandbox.Persona{"tuned": sandbox.StrongPersona},
		Faults:   sandbox.Faults{LatencyMean: 20 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	dir := t.TempDir()
	sandboxProject(t, dir, nil)
	args := []string{"eval", "run", "--models", "base=sandbox/base,tuned=sandbox/tuned", "--prompts", "8", "--workers", "8"}
	child := func() *exec.Cmd { return ethosChild(dir, sb.URL, args...) }
	first := child()
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	// Past the held-out prompts and the answers, into the judging.
	deadline := time.After(60 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for sb.Server.Stats().ByStatus["200"] < 60 {
		select {
		case <-deadline:
			first.Process.Kill()
			t.Fatal("the first process made too few calls to be interrupted")
		case <-tick.C:
		}
	}
	first.Process.Kill()
	first.Wait()
	before := sb.Server.Stats()

	out, err := child().CombinedOutput()
	if err != nil {
		t.Fatalf("second run: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "continuing evaluation") || !strings.Contains(string(out), "judgments  96 ok") {
		t.Errorf("the second process did not continue and finish the evaluation:\n%s", out)
	}
	after := sb.Server.Stats()
	if after.Repeats > workers {
		t.Errorf("the sandbox answered %d requests it had answered before (in flight at the kill: at most %d)", after.Repeats, workers)
	}
	t.Logf("first process: %d answered; second: %d more; repeated: %d", before.ByStatus["200"], after.ByStatus["200"]-before.ByStatus["200"], after.Repeats)
}

// TestEvalRunPromptsFromPipe reads the prompts from stdin ("-") and from a
// FIFO, and refuses an empty prompts file before the evaluation exists,
// so that it leaves no failed evaluation behind.
func TestEvalRunPromptsFromPipe(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sandboxProject(t, dir, nil)
	env := evalSandbox(t)
	prompts := "# held out\nHow do I tell my landlord the boiler has failed again without sounding rude?\n" +
		"My sister wants to borrow money for the third time this year. What should I say?\n"
	args := func(file string) []string {
		return []string{"eval", "run", "--models", "base=sandbox/base,tuned=sandbox/tuned", "--prompts-file", file,
			"--system-prompt", "without", "--traits", "thorough", "--max-tokens", "300"}
	}

	r := ethosCLIStdin(t, dir, env, prompts, args("-")...)
	if r.code != 0 || !strings.Contains(r.stdout, "prompts    2 held out") {
		t.Fatalf("--prompts-file -: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// The same prompts again continue the same evaluation.
	again := ethosCLIStdin(t, dir, env, prompts, args("-")...)
	if again.code != 0 || !strings.Contains(again.stderr, "is complete") {
		t.Fatalf("the same prompts from stdin again: exit %d\n%s%s", again.code, again.stdout, again.stderr)
	}

	fifo := filepath.Join(dir, "prompts.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no FIFOs here: %v", err)
	}
	go func() {
		// Blocks until the command opens the FIFO for reading.
		if f, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
			f.WriteString("Is it fair to ask my team to cover a colleague's shifts while he is on leave?\n")
			f.Close()
		}
	}()
	r = ethosCLI(t, dir, env, args(fifo)...)
	if r.code != 0 || !strings.Contains(r.stdout, "prompts    1 held out") {
		t.Fatalf("--prompts-file FIFO: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	for name, stdin := range map[string]string{"empty": "", "comments only": "# nothing yet\n\n"} {
		r := ethosCLIStdin(t, dir, env, stdin, args("-")...)
		if r.code != 2 || !strings.Contains(r.stderr, "stdin") || !strings.Contains(r.stderr, "no prompts") {
			t.Errorf("%s stdin: exit %d, stderr %q; want 2 and a message naming stdin", name, r.code, r.stderr)
		}
	}
	if r := ethosCLI(t, dir, nil, "status"); r.code != 0 {
		t.Errorf("status after refused prompts files: exit %d, want 0 (nothing failed)\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestEvalRunIncompleteExitsNonZero: against a provider that answers every
// call with a 500, eval run prints the summary as incomplete, says how many
// answers failed and why, and exits 1, and so does ethos status; the same
// command against the provider once it has recovered sends exactly the
// missing requests, completes and exits 0.
func TestEvalRunIncompleteExitsNonZero(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sandboxProject(t, dir, nil)
	prompt := "My sister wants to borrow money for the third time this year. What should I say?"
	if err := os.WriteFile(filepath.Join(dir, "prompts.txt"), []byte(prompt+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"eval", "run", "--models", "base=sandbox/base,tuned=sandbox/tuned", "--prompts-file", "prompts.txt",
		"--traits", "thorough", "--max-tokens", "300", "--workers", "8"}

	// Each answer is tried five times, with the job layer's backoff between.
	_, failing := evalSandboxWith(t, sandbox.Faults{ErrorRates: map[int]float64{500: 1}})
	r := ethosCLI(t, dir, failing, args...)
	if r.code != 1 {
		t.Fatalf("eval run against a failing provider: exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"is incomplete: 2 of 2 answers failed at the provider (transient 2)", "run the same command again"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	for _, want := range []string{"(incomplete)", "answers    0 ok, 2 failed", "to retry   2 answers failed at the provider (transient 2)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, r.stdout)
		}
	}
	m := evalIDRE.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("no evaluation ID in the output:\n%s", r.stdout)
	}
	if st := ethosCLI(t, dir, failing, "status"); st.code != 1 || !strings.Contains(st.stdout, "run "+m[1]) {
		t.Errorf("status with the evaluation incomplete: exit %d, want 1 naming it\n%s", st.code, st.stdout)
	}

	healthy, env := evalSandboxWith(t, sandbox.Faults{})
	again := ethosCLI(t, dir, env, args...)
	if again.code != 0 {
		t.Fatalf("eval run once the provider recovered: exit %d\n%s%s", again.code, again.stdout, again.stderr)
	}
	for _, want := range []string{"evaluation " + m[1] + " (completed)", "answers    2 ok, 0 failed", "judgments  4 ok, 0 parse failures, 0 failed calls, of 4"} {
		if !strings.Contains(again.stdout, want) {
			t.Errorf("summary of the rerun lacks %q:\n%s", want, again.stdout)
		}
	}
	// The two answers and four judgments (thorough and overall, both orders).
	if sent := healthy.Server.Stats().Requests; sent != 6 {
		t.Errorf("the rerun sent %d requests, want 6", sent)
	}
	if st := ethosCLI(t, dir, env, "status"); st.code != 0 {
		t.Errorf("status with the evaluation completed: exit %d\n%s", st.code, st.stdout)
	}
}
