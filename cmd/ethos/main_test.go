package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/pipeline"
	"github.com/ethos-toolkit/ethos/sandbox"
	"github.com/ethos-toolkit/ethos/sqlite"
)

// result is what one CLI invocation produced.
type result struct {
	stdout, stderr string
	code           int
	err            error
}

// ethosCLI runs the CLI in-process in dir with the given environment,
// exactly as main would, and returns its output and exit code.
func ethosCLI(t testing.TB, dir string, env map[string]string, args ...string) result {
	t.Helper()
	return ethosCLIStdin(t, dir, env, "", args...)
}

// ethosCLIStdin is ethosCLI with stdin reading stdin.
func ethosCLIStdin(t testing.TB, dir string, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	m := &Main{
		Stdin: strings.NewReader(stdin), Stdout: &stdout, Stderr: &stderr, Dir: dir,
		Getenv: func(k string) string { return env[k] },
	}
	err := m.Run(t.Context(), args)
	m.printError(err)
	return result{stdout.String(), stderr.String(), exitCode(err), err}
}

func TestHelpOnEveryCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, c := range NewMain().commands() {
		r := ethosCLI(t, dir, nil, c.name, "--help")
		if r.code != 0 || !strings.Contains(r.stderr, "Usage: ethos "+c.name) {
			t.Errorf("%s --help: exit %d, stderr %q", c.name, r.code, r.stderr)
		}
	}
	if r := ethosCLI(t, dir, nil, "help"); r.code != 0 || !strings.Contains(r.stdout, "complete") {
		t.Errorf("help: exit %d, stdout %q", r.code, r.stdout)
	}
	if r := ethosCLI(t, dir, nil, "frobnicate"); r.code != 2 || !strings.Contains(r.stderr, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := ethosCLI(t, dir, nil, "complete", "--bogus"); r.code != 2 {
		t.Errorf("unknown flag: exit %d, want 2", r.code)
	}
}

func TestInitWritesTemplateAndNeverOverwrites(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := ethosCLI(t, dir, nil, "init", "proj")
	if r.code != 0 {
		t.Fatalf("init: exit %d: %s", r.code, r.stderr)
	}
	path := filepath.Join(dir, "proj", "ethos.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Agora", "collaborative", "inquisitive", "encouraging", "thorough", "budget:", "providers", "finetune:", "eval:"} {
		if !bytes.Contains(data, []byte(want)) {
			t.Errorf("template lacks %q", want)
		}
	}
	os.WriteFile(path, []byte("# edited\n"+string(data)), 0o644)
	r = ethosCLI(t, dir, nil, "init", "proj")
	if r.code != 2 || !strings.Contains(r.stderr, "already exists") {
		t.Fatalf("second init: exit %d, stderr %q", r.code, r.stderr)
	}
	if got, _ := os.ReadFile(path); !bytes.HasPrefix(got, []byte("# edited")) {
		t.Fatal("second init overwrote the edited file")
	}
	if r = ethosCLI(t, dir, nil, "init", "--force", "proj"); r.code != 0 {
		t.Fatalf("init --force: exit %d: %s", r.code, r.stderr)
	}
}

func TestDoctorNamesMissingKeyWithoutPrintingKeys(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ethosCLI(t, dir, nil, "init")
	r := ethosCLI(t, dir, nil, "doctor")
	if r.code != 1 {
		t.Fatalf("doctor without keys: exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "ANTHROPIC_API_KEY is not set") {
		t.Errorf("doctor does not name the missing key variable:\n%s", r.stdout)
	}
	if !strings.Contains(r.stdout, "provider sandbox") {
		t.Errorf("doctor does not list the sandbox:\n%s", r.stdout)
	}

	// With the key set and the endpoint pointed at a sandbox that requires
	// exactly that key, every used provider answers and the key is never shown.
	const secret = "sk-ant-test-0123456789abcdef"
	sb, err := sandbox.Start(t.Context(), "127.0.0.1:0", sandbox.Options{APIKey: secret})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	env := map[string]string{"ANTHROPIC_API_KEY": secret, "ANTHROPIC_BASE_URL": sb.URL,
		"TOGETHER_API_KEY": secret, "TOGETHER_BASE_URL": sb.URL + "/v1"}
	r = ethosCLI(t, dir, env, "doctor", "--json")
	if r.code != 0 {
		t.Fatalf("doctor with keys: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, secret) {
		t.Fatal("doctor printed the API key")
	}
	var report struct {
		OK     bool
		Checks []pipeline.Check
	}
	if err := json.Unmarshal([]byte(r.stdout), &report); err != nil || !report.OK {
		t.Fatalf("doctor --json: %v\n%s", err, r.stdout)
	}

	// A wrong key is an auth failure, reported without the key.
	env["ANTHROPIC_API_KEY"] = "sk-ant-wrong-key-value"
	r = ethosCLI(t, dir, env, "doctor")
	if r.code != 1 || strings.Contains(r.stdout+r.stderr, "sk-ant-wrong-key-value") {
		t.Fatalf("doctor with a wrong key: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestCompleteInProcessSandboxRecordsAndCaches(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := ethosCLI(t, dir, nil, "complete", "--model", "sandbox/writer", "hello")
	if r.code != 0 {
		t.Fatalf("complete: exit %d\n%s", r.code, r.stderr)
	}
	if strings.TrimSpace(r.stdout) == "" || !strings.Contains(r.stderr, "stop: end_turn") || !strings.Contains(r.stderr, "cache: miss") {
		t.Fatalf("complete output:\nstdout %q\nstderr %q", r.stdout, r.stderr)
	}
	again := ethosCLI(t, dir, nil, "complete", "hello", "--model", "sandbox/writer", "--stream")
	if again.code != 0 || again.stdout != r.stdout || !strings.Contains(again.stderr, "cache: hit") {
		t.Fatalf("second identical call should be a cache hit with the same text:\nstdout %q\nstderr %q", again.stdout, again.stderr)
	}

	db, err := sqlite.Open(t.Context(), filepath.Join(dir, ".ethos", "ethos.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	calls, err := db.Calls(context.Background(), ethos.CallFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 2 || !calls[0].CacheHit || calls[1].CacheHit || calls[1].CostUSD <= 0 || calls[0].CostUSD != 0 {
		t.Fatalf("ledger after miss + hit: %+v", calls)
	}

	var res pipeline.CompleteResult
	j := ethosCLI(t, dir, nil, "complete", "--json", "--sample", "1", "--model", "sandbox/writer", "hello")
	if err := json.Unmarshal([]byte(j.stdout), &res); err != nil || res.CacheHit || res.Usage.Out == 0 {
		t.Fatalf("--json --sample 1: %v %+v", err, res)
	}
}

// startSandbox starts a sandbox on a loopback port for the length of the
// test.
func startSandbox(t testing.TB, opts sandbox.Options) *sandbox.Running {
	t.Helper()
	sb, err := sandbox.Start(t.Context(), "127.0.0.1:0", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	return sb
}

func TestCompleteAgainstSeparateSandbox(t *testing.T) {
	t.Parallel()
	sb := startSandbox(t, sandbox.Options{})
	dir := t.TempDir()
	r := ethosCLI(t, dir, map[string]string{"SANDBOX_BASE_URL": sb.URL}, "complete", "--model", "sandbox/writer", "--max-tokens", "20", "hello")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if st := sb.Server.Stats(); st.Requests != 1 {
		t.Fatalf("the external sandbox saw %d requests, want 1", st.Requests)
	}
}

func TestCompleteFailures(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ethosCLI(t, dir, nil, "init")
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string
	}{
		{"missing key", nil, []string{"--model", "anthropic/claude-sonnet-4-5", "hi"}, 2, "ANTHROPIC_API_KEY"},
		{"unknown provider", nil, []string{"--model", "antropic/claude", "hi"}, 2, `unknown provider "antropic"`},
		{"no model", nil, []string{"hi"}, 2, "--model is required"},
		{"auth", nil, []string{"--model", "sandbox/fault-401", "hi"}, 1, "ethos: model call failed after 1 attempt: sandbox: messages: authentication failed"},
		{"not found", nil, []string{"--model", "sandbox/no-such-model", "hi"}, 1, "no-such-model"},
		{"budget", nil, []string{"--model", "sandbox/writer", "--max-cost", "0.0000001", "hi"}, 1, "budget"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ethosCLI(t, dir, tc.env, append([]string{"complete"}, tc.args...)...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("exit %d (want %d), stderr %q (want %q)", r.code, tc.code, r.stderr, tc.want)
			}
		})
	}
}

func TestConfigErrorExitsTwoWithLine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ethosCLI(t, dir, nil, "init")
	path := filepath.Join(dir, "ethos.yaml")
	data, _ := os.ReadFile(path)
	broken := strings.Replace(string(data), "anthropic/claude-opus", "antropic/claude-opus", 1)
	if broken == string(data) {
		t.Fatal("template has no anthropic/claude-opus model to break")
	}
	os.WriteFile(path, []byte(broken), 0o644)
	r := ethosCLI(t, dir, nil, "doctor")
	if r.code != 2 || !strings.Contains(r.stderr, "ethos.yaml:") || !strings.Contains(r.stderr, `unknown provider "antropic"`) {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if r := ethosCLI(t, dir, nil, "doctor", "--config", "missing.yaml"); r.code != 2 || !strings.Contains(r.stderr, "ethos init") {
		t.Fatalf("missing --config file: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestDoctorHidesCredentialsInBaseURLs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ethosCLI(t, dir, nil, "init", "--sandbox")
	// Port 1 on loopback answers nothing, so the endpoint check fails and
	// its error, which names the URL, is printed too.
	env := map[string]string{
		"TOGETHER_API_KEY":  "tg-key-0123456789",
		"TOGETHER_BASE_URL": "http://proxy-user:pa55-word@127.0.0.1:1/v1?api_key=qu3ry-k3y&region=eu",
	}
	for _, args := range [][]string{{"doctor"}, {"doctor", "--json"}} {
		r := ethosCLI(t, dir, env, args...)
		out := strings.ReplaceAll(r.stdout+r.stderr, `\u0026`, "&") // as JSON writes it
		for _, secret := range []string{"pa55-word", "qu3ry-k3y", env["TOGETHER_API_KEY"]} {
			if strings.Contains(out, secret) {
				t.Errorf("%s printed %q:\n%s", strings.Join(args, " "), secret, out)
			}
		}
		if !strings.Contains(out, "proxy-user:xxxxx@127.0.0.1:1/v1?api_key=xxxxx&region=eu") {
			t.Errorf("%s does not show the base URL with its credentials masked:\n%s", strings.Join(args, " "), out)
		}
	}
}

// TestCompleteOutputLimitField: the builtin openai provider sends its
// limit as max_completion_tokens, others as max_tokens; a server that
// writes past the limit draws one warning naming the setting to change.
func TestCompleteOutputLimitField(t *testing.T) {
	t.Parallel()
	bodies := make(chan map[string]any, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		json.NewDecoder(r.Body).Decode(&body)
		bodies <- body
		w.Header().Set("content-type", "application/json")
		io.WriteString(w, `{"id":"c1","object":"chat.completion","created":1,"model":"llama3",
"choices":[{"index":0,"message":{"role":"assistant","content":"One two three four five."},"finish_reason":"stop"}],
"usage":{"prompt_tokens":4,"completion_tokens":5,"total_tokens":9}}`)
	}))
	defer srv.Close()
	env := map[string]string{"OLLAMA_BASE_URL": srv.URL + "/v1", "OPENAI_BASE_URL": srv.URL + "/v1", "OPENAI_API_KEY": "sk-test"}
	for _, tc := range []struct{ model, field string }{
		{"ollama/llama3", "max_tokens"},
		{"openai/gpt-4.1-mini", "max_completion_tokens"},
	} {
		r := ethosCLI(t, t.TempDir(), env, "complete", "--model", tc.model, "--max-tokens", "3", "count")
		if r.code != 0 {
			t.Fatalf("%s: exit %d\n%s", tc.model, r.code, r.stderr)
		}
		body := <-bodies
		if body[tc.field] != float64(3) || len(body) != 3 {
			t.Errorf("%s: request body %v, want model, messages and %s 3", tc.model, body, tc.field)
		}
		provider, _, _ := strings.Cut(tc.model, "/")
		want := "warning: " + tc.model + " wrote 5 output tokens for a limit of 3 sent as " + tc.field
		if !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "providers."+provider+".output_limit") {
			t.Errorf("%s: stderr lacks the overrun warning %q:\n%s", tc.model, want, r.stderr)
		}
	}
}
