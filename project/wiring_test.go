package project_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/project"
)

// openTemp opens the offline defaults in a temporary directory, logging
// to log.
func openTemp(t *testing.T, log *bytes.Buffer) *project.Project {
	t.Helper()
	p, err := project.Open(t.Context(), project.Options{Dir: t.TempDir(), Getenv: noEnv, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// TestPromptsFile: a regular file is read where it is; piped prompts are
// kept beside the store under their hash, and the same prompts piped
// again name the same file; a pipe with no prompt is refused before
// anything is kept.
func TestPromptsFile(t *testing.T) {
	t.Parallel()
	var log bytes.Buffer
	p := openTemp(t, &log)
	file := filepath.Join(t.TempDir(), "prompts.txt")
	if err := os.WriteFile(file, []byte("What do you value?\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := p.PromptsFile(file, nil); err != nil || got != file {
		t.Fatalf("a regular file: %q, %v; want it as given", got, err)
	}

	const piped = "# held out\nWhat do you value?\nWhen would you refuse?\n"
	kept, err := p.PromptsFile("-", strings.NewReader(piped))
	if err != nil {
		t.Fatal(err)
	}
	if dir := filepath.Join(p.LocalDir(), "prompts"); filepath.Dir(kept) != dir {
		t.Errorf("kept in %s, want %s", kept, dir)
	}
	if data, err := os.ReadFile(kept); err != nil || string(data) != piped {
		t.Errorf("kept %q (%v), want the piped prompts", data, err)
	}
	again, err := p.PromptsFile("-", strings.NewReader(piped))
	if err != nil || again != kept {
		t.Errorf("the same prompts again: %q, %v; want %q", again, err, kept)
	}
	if !strings.Contains(log.String(), "prompts from stdin kept in "+kept) {
		t.Errorf("log = %q, want where the prompts were kept", log.String())
	}

	if _, err := p.PromptsFile("-", strings.NewReader("# only a comment\n")); ethos.KindOf(err) != ethos.Config {
		t.Errorf("no prompts: %v, want a Config error", err)
	}
	if _, err := p.PromptsFile("missing.txt", nil); ethos.KindOf(err) != ethos.Config || !strings.Contains(err.Error(), "--prompts-file") {
		t.Errorf("a missing file: %v, want a Config error naming --prompts-file", err)
	}
}

// TestRunHandlersRefusesWhatNoWorkerWorks: a worker asked for the tasks of
// an unknown run, or of a run kind with no tasks, gets an error saying so,
// never empty handlers.
func TestRunHandlersRefusesWhatNoWorkerWorks(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	p := openTemp(t, &bytes.Buffer{})
	if _, err := p.RunHandlers(ctx, nil, "gen-missing"); ethos.KindOf(err) != ethos.NotFound {
		t.Errorf("an unknown run: %v, want NotFound", err)
	}
	run := &ethos.Run{ID: "pipeline-1", Kind: "pipeline", Status: ethos.RunRunning, Params: []byte("{}")}
	if err := p.Store().CreateRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	if _, err := p.RunHandlers(ctx, nil, run.ID); ethos.KindOf(err) != ethos.Invalid || !strings.Contains(err.Error(), "pipeline run") {
		t.Errorf("a pipeline run: %v, want an Invalid error naming its kind", err)
	}
	bad := &ethos.Run{ID: "gen-bad", Kind: "generate", Status: ethos.RunRunning, Params: []byte(`{"examples": "many"}`)}
	if err := p.Store().CreateRun(ctx, bad); err != nil {
		t.Fatal(err)
	}
	if _, err := p.RunHandlers(ctx, nil, bad.ID); ethos.KindOf(err) != ethos.Internal || !strings.Contains(err.Error(), "reading its settings") {
		t.Errorf("unreadable settings: %v, want an Internal error", err)
	}
}

// TestFineTuneBackendUnknownProvider: a provider with no fine-tuning API
// is refused by name.
func TestFineTuneBackendUnknownProvider(t *testing.T) {
	t.Parallel()
	p := openTemp(t, &bytes.Buffer{})
	if _, err := p.FineTuneBackend("anthropic"); err == nil || !strings.Contains(err.Error(), "anthropic") {
		t.Errorf("anthropic: %v, want an error naming it", err)
	}
}
