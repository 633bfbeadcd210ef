package project_test

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/generate"
	"github.com/ethos-toolkit/ethos/internal/pgtest"
	"github.com/ethos-toolkit/ethos/project"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// noEnv is an empty environment: no keys, no SANDBOX_BASE_URL, no
// $ETHOS_DB, so a project resolves everything from its options.
func noEnv(string) string { return "" }

// TestOpenDefaultsCallsThroughSandbox opens a directory with no
// ethos.yaml: the built-in offline defaults are in use, the store is
// created beside them, a call through the chain reaches the in-process
// sandbox and is recorded in the ledger, and Close stops the sandbox.
func TestOpenDefaultsCallsThroughSandbox(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	var log bytes.Buffer
	p, err := project.Open(ctx, project.Options{Dir: dir, Getenv: noEnv, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if !p.Defaults() || p.Dir() != dir || p.Shared() {
		t.Errorf("Defaults %v, Dir %q, Shared %v; want the offline defaults in %s on SQLite", p.Defaults(), p.Dir(), p.Shared(), dir)
	}
	if want := filepath.Join(dir, ".ethos", "ethos.db"); p.StoreName() != want {
		t.Errorf("StoreName = %q, want %q", p.StoreName(), want)
	}
	if !strings.Contains(p.Describe(), "built-in offline defaults") || p.ConfigFile() != "ethos.yaml" {
		t.Errorf("Describe %q, ConfigFile %q", p.Describe(), p.ConfigFile())
	}

	c, err := p.Completer(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Complete(ctx, ethos.Request{Model: "sandbox/writer", MaxTokens: 16,
		Messages: []ethos.Message{{Role: ethos.RoleUser, Content: "hello"}}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Text == "" {
		t.Error("the sandbox answered nothing")
	}
	calls, err := p.Store().Calls(ctx, ethos.CallFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 1 || calls[0].Model != "sandbox/writer" || calls[0].Response == nil {
		t.Fatalf("the ledger holds %+v, want the one call to sandbox/writer", calls)
	}

	url, err := p.StartSandbox() // the running one: started once
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	if r, err := client.Get(url + "/_sandbox/stats"); err == nil {
		r.Body.Close()
		t.Errorf("the sandbox at %s still answers after Close (%s)", url, r.Status)
	}
	if log.Len() != 0 {
		t.Errorf("warnings on the log: %s", log.String())
	}
}

// TestOpenMissingExplicitConfig: a config file named explicitly must
// exist; its absence is a Config error naming the file and how to write
// one.
func TestOpenMissingExplicitConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, err := project.Open(t.Context(), project.Options{Config: "agora.yaml", ConfigExplicit: true, Dir: dir, Getenv: noEnv})
	if ethos.KindOf(err) != ethos.Config || !strings.Contains(err.Error(), "agora.yaml") || !strings.Contains(err.Error(), "ethos init") {
		t.Fatalf("err = %v (kind %v), want a Config error naming agora.yaml", err, ethos.KindOf(err))
	}
	if _, err := os.Stat(filepath.Join(dir, ".ethos")); !os.IsNotExist(err) {
		t.Errorf("a failed open made a store: %v", err)
	}
}

// TestOpenPostgres opens a project on PostgreSQL: the store is shared,
// its name hides the password, files kept beside it go to .ethos in the
// project, and --no-work is allowed there but refused on SQLite.
func TestOpenPostgres(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	p, err := project.Open(ctx, project.Options{DB: pgtest.URL(t), Dir: dir, Getenv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if !p.Shared() || !strings.HasPrefix(p.StoreName(), "postgres") {
		t.Errorf("Shared %v, StoreName %q; want a shared PostgreSQL store", p.Shared(), p.StoreName())
	}
	if p.LocalDir() != filepath.Join(dir, ".ethos") {
		t.Errorf("LocalDir = %q", p.LocalDir())
	}
	if err := p.CheckNoWork("generate", true, 0); err != nil {
		t.Errorf("--no-work on PostgreSQL: %v", err)
	}
	if err := p.CheckNoWork("generate", true, 5); ethos.KindOf(err) != ethos.Config {
		t.Errorf("--no-work with --max-cost: %v, want a Config error", err)
	}
	if _, err := p.Store().SchemaVersion(ctx); err != nil {
		t.Fatal(err)
	}

	sq, err := project.Open(ctx, project.Options{Dir: t.TempDir(), Getenv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	defer sq.Close()
	if err := sq.CheckNoWork("generate", true, 0); ethos.KindOf(err) != ethos.Config || !strings.Contains(err.Error(), "SQLite") {
		t.Errorf("--no-work on SQLite: %v, want a Config error", err)
	}
	if _, err := sq.Worker(ctx, 1, time.Minute); ethos.KindOf(err) != ethos.Config || !strings.Contains(err.Error(), "PostgreSQL") {
		t.Errorf("a worker on SQLite: %v, want a Config error", err)
	}
}

// TestLockMonitor: one process at a time follows the fine-tune jobs; a
// second taker is told who holds the lock, and the lock is free again
// once released.
func TestLockMonitor(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	p, err := project.Open(ctx, project.Options{Dir: t.TempDir(), Getenv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	unlock, err := p.LockMonitor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// flock locks are per open file, so a second open in this process
	// conflicts as another process's would.
	if _, err := project.LockFile(p.StoreName() + project.MonitorLock); ethos.KindOf(err) != ethos.Conflict {
		t.Errorf("second lock: %v, want a Conflict", err)
	}
	unlock()
	again, err := p.LockMonitor(ctx)
	if err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	again()
}

// TestMemorySettingsYieldToTheEnvironment: a generation's memory limit and
// collector pacing are set unless the user set GOMEMLIMIT or GOGC.
func TestMemorySettingsYieldToTheEnvironment(t *testing.T) {
	for _, tc := range []struct {
		env       map[string]string
		limit     int64
		gcPercent int
	}{
		{nil, generate.MemoryLimit, generate.GCPercent},
		{map[string]string{"GOGC": "100"}, generate.MemoryLimit, 0},
		{map[string]string{"GOMEMLIMIT": "1GiB"}, 0, 0},
	} {
		p, err := project.Open(t.Context(), project.Options{Dir: t.TempDir(), Getenv: func(k string) string { return tc.env[k] }})
		if err != nil {
			t.Fatal(err)
		}
		if got, gc := p.MemoryLimit(), p.GCPercent(); got != tc.limit || gc != tc.gcPercent {
			t.Errorf("env %v: memory limit %d, GC percent %d; want %d, %d", tc.env, got, gc, tc.limit, tc.gcPercent)
		}
		p.Close()
	}
}
