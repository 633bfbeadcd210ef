package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethos-toolkit/ethos/internal/pgtest"
)

// TestStoreCopyToPostgres moves a generated project from its SQLite file
// to PostgreSQL and works on it there.
func TestStoreCopyToPostgres(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	dir := t.TempDir()
	sandboxProject(t, dir, nil)
	if r := ethosCLI(t, dir, nil, "generate", "--examples", "4"); r.code != 0 {
		t.Fatalf("generate: exit %d\n%s", r.code, r.stderr)
	}
	mig := ethosCLI(t, dir, nil, "store", "migrate", "--db", url)
	if mig.code != 0 || !strings.Contains(mig.stdout, "applied 0001_llm_calls") {
		t.Fatalf("store migrate: exit %d\n%s%s", mig.code, mig.stdout, mig.stderr)
	}
	if again := ethosCLI(t, dir, nil, "store", "migrate", "--db", url); again.code != 0 || !strings.Contains(again.stdout, "up to date") {
		t.Errorf("store migrate again: exit %d\n%s%s", again.code, again.stdout, again.stderr)
	}
	from := "sqlite:" + filepath.Join(".ethos", "ethos.db")
	cp := ethosCLI(t, dir, nil, "store", "copy", "--from", from, "--to", url)
	if cp.code != 0 || !strings.Contains(cp.stdout, "counts checked") || !strings.Contains(cp.stdout, "items") {
		t.Fatalf("store copy: exit %d\n%s%s", cp.code, cp.stdout, cp.stderr)
	}
	// On PostgreSQL the run is there, done: nothing to call again.
	env := map[string]string{"ETHOS_DATABASE_URL": url}
	if rerun := ethosCLI(t, dir, env, "generate", "--examples", "4"); rerun.code != 0 || !strings.Contains(rerun.stderr, "is done") {
		t.Errorf("generate on the copy: exit %d\n%s", rerun.code, rerun.stderr)
	}
	twice := ethosCLI(t, dir, nil, "store", "copy", "--from", from, "--to", url)
	if twice.code == 0 || !strings.Contains(twice.stderr, "already holds ethos data") {
		t.Errorf("a second copy into the same store: exit %d\n%s", twice.code, twice.stderr)
	}
	if bad := ethosCLI(t, dir, nil, "store", "copy", "--from", "ethos.db", "--to", url); bad.code != 2 {
		t.Errorf("store copy --from without sqlite: exit %d, want 2\n%s", bad.code, bad.stderr)
	}
}
