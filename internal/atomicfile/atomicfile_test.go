package atomicfile_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/ethos-toolkit/ethos/internal/atomicfile"
)

// entries lists the names in dir, temporary files included.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteReplacesWithMode(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "out.json")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := atomicfile.Write(path, []byte("new\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != "new\n" {
		t.Fatalf("read %q (%v), want %q", got, err, "new\n")
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("mode = %v (%v), want 0644", fi.Mode().Perm(), err)
	}
	if names := entries(t, dir); len(names) != 1 {
		t.Errorf("directory holds %q, want only out.json", names)
	}
}

// Until Commit, the path keeps its old content; Abort leaves nothing
// behind, and after Commit it does nothing.
func TestCommitAndAbort(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "data.jsonl")
	if err := os.WriteFile(path, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	aborted, err := atomicfile.Create(path, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	aborted.Write([]byte("half a fi"))
	aborted.Abort()
	if got, _ := os.ReadFile(path); string(got) != "old\n" {
		t.Errorf("after Abort the file holds %q, want the old content", got)
	}
	if names := entries(t, dir); len(names) != 1 {
		t.Errorf("after Abort the directory holds %q, want only data.jsonl", names)
	}

	f, err := atomicfile.Create(path, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if f.Path() != path {
		t.Errorf("Path() = %q, want %q", f.Path(), path)
	}
	f.Write([]byte("line 1\n"))
	f.Write([]byte("line 2\n"))
	if got, _ := os.ReadFile(path); string(got) != "old\n" {
		t.Errorf("before Commit the file holds %q, want the old content", got)
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	f.Abort()
	if got, _ := os.ReadFile(path); string(got) != "line 1\nline 2\n" {
		t.Errorf("after Commit the file holds %q", got)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	if names := entries(t, dir); len(names) != 1 {
		t.Errorf("after Commit the directory holds %q, want only data.jsonl", names)
	}
}

func TestCreateInMissingDirectory(t *testing.T) {
	t.Parallel()
	if _, err := atomicfile.Create(filepath.Join(t.TempDir(), "missing", "x"), 0o644); err == nil {
		t.Error("Create in a missing directory succeeded")
	}
	if err := atomicfile.Write(filepath.Join(t.TempDir(), "missing", "x"), nil, 0o644); err == nil {
		t.Error("Write in a missing directory succeeded")
	}
}

func TestWriteNewRefusesAnExistingFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "job.json")
	if err := atomicfile.WriteNew(path, []byte("first"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := atomicfile.WriteNew(path, []byte("second"), 0o644)
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second WriteNew: %v, want fs.ErrExist", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "first" {
		t.Errorf("the file holds %q after a refused WriteNew, want the first write", b)
	}
	if got := entries(t, dir); len(got) != 1 {
		t.Errorf("directory holds %v, want only job.json (no temporary file left)", got)
	}
}
