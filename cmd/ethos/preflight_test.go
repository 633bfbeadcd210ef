package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethos-toolkit/ethos/sandbox"
)

// TestRunPreflightDefaultConfig runs ethos run on the project ethos init
// writes, with keys set and every provider pointed at a sandbox: the run
// cannot finish (its evaluation would compare with a -Reference base that
// takes no chat calls, and the fine-tuned model would have no price under
// the budget cap), so it stops with every problem, exit 2, before a single
// request.
func TestRunPreflightDefaultConfig(t *testing.T) {
	t.Parallel()
	sb := startSandbox(t, sandbox.Options{})
	dir := t.TempDir()
	if r := ethosCLI(t, dir, nil, "init"); r.code != 0 {
		t.Fatalf("init: exit %d\n%s", r.code, r.stderr)
	}
	env := map[string]string{"ANTHROPIC_API_KEY": "sk-ant-test-key", "ANTHROPIC_BASE_URL": sb.URL,
		"TOGETHER_API_KEY": "together-test-key", "TOGETHER_BASE_URL": sb.URL + "/v1"}
	r := ethosCLI(t, dir, env, "run")
	if r.code != 2 {
		t.Fatalf("run on the default config: exit %d, want 2\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"ethos.yaml:eval.baseline",
		"together/meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo", // the baseline to set
		"ethos.yaml:prices",
		"nothing was spent",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if n := sb.Server.Stats().Requests; n != 0 {
		t.Errorf("the sandbox got %d requests; a run that cannot finish must make none", n)
	}

	// Keys are checked too, all problems at once: without the Anthropic
	// key, generation and the judge are named alongside the baseline.
	delete(env, "ANTHROPIC_API_KEY")
	r = ethosCLI(t, dir, env, "run")
	if r.code != 2 || !strings.Contains(r.stderr, "ANTHROPIC_API_KEY") || !strings.Contains(r.stderr, "eval.baseline") {
		t.Fatalf("run without the Anthropic key: exit %d\n%s", r.code, r.stderr)
	}
	if n := sb.Server.Stats().Requests; n != 0 {
		t.Errorf("the sandbox got %d requests", n)
	}
}

// TestPreflightProviderMustAnswer: a provider whose endpoint does not
// answer stops ethos generate before its first call, naming the provider.
func TestPreflightProviderMustAnswer(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sandboxProject(t, dir, nil)
	// A loopback port nothing listens on: a listener opened and closed.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	r := ethosCLI(t, dir, map[string]string{"SANDBOX_BASE_URL": dead}, "generate", "--examples", "4")
	if r.code != 2 || !strings.Contains(r.stderr, "providers.sandbox") || !strings.Contains(r.stderr, "does not answer") {
		t.Fatalf("generate against a dead provider: exit %d\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "agora.jsonl")); err == nil {
		t.Fatal("a dataset was written")
	}
}
