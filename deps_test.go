package ethos_test

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// The packages that check, describe and train on a dataset are libraries
// a tool or a test can use without the job queue: what they need of it
// (the fine-tune monitor's tasks) comes through an interface the caller
// satisfies. This test fails when River creeps back into their
// dependencies, and when the pure packages import anything beyond the
// standard library and the domain.
func TestDependencyCut(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		pkgs    []string
		allowed func(dep string) bool
	}{
		{
			pkgs:    []string{"./dataset", "./finetune"},
			allowed: func(dep string) bool { return !strings.HasPrefix(dep, "github.com/riverqueue/") },
		},
		{
			pkgs: []string{"./review", "./dedup"},
			allowed: func(dep string) bool {
				return slices.Contains([]string{module, module + "/review", module + "/dedup", module + "/internal/prompttext"}, dep)
			},
		},
	} {
		for _, dep := range deps(t, tt.pkgs...) {
			if !tt.allowed(dep) {
				t.Errorf("%s depend on %s", strings.Join(tt.pkgs, " and "), dep)
			}
		}
	}
}

const module = "github.com/ethos-toolkit/ethos"

// deps lists the packages outside the standard library that pkgs depend
// on, themselves included.
func deps(t *testing.T, pkgs ...string) []string {
	t.Helper()
	return goList(t, append([]string{"-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}"}, pkgs...)...)
}

// goList runs go list with args and returns the words it prints.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	gocmd := "go"
	if root := runtime.GOROOT(); root != "" {
		gocmd = filepath.Join(root, "bin", "go")
	}
	out, err := exec.Command(gocmd, append([]string{"list"}, args...)...).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	return strings.Fields(string(out))
}

// TestOnlyProjectWiresAdapters: package project is the one place that
// builds adapters and opens store drivers; the workflows (pipeline) and
// the command line (cmd/ethos) reach them only through it.
func TestOnlyProjectWiresAdapters(t *testing.T) {
	t.Parallel()
	wiring := []string{"/anthropic", "/openai", "/together", "/sqlite", "/postgres"}
	for _, pkg := range []string{"./pipeline", "./cmd/ethos"} {
		for _, imp := range imports(t, pkg) {
			for _, w := range wiring {
				if imp == module+w {
					t.Errorf("%s imports %s; build it in package project instead", pkg, imp)
				}
			}
		}
	}
}

// imports lists the packages pkg imports directly.
func imports(t *testing.T, pkg string) []string {
	t.Helper()
	return goList(t, "-f", `{{join .Imports "\n"}}`, pkg)
}
