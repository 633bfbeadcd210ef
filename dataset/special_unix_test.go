//go:build unix

package dataset_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/dataset"
)

// A pipe or a device is not a dataset: reading /dev/zero never ends and a
// pipe blocks until its writer goes, past any interrupt. Both are refused
// before they are read.
func TestCheckFileRefusesSpecialFiles(t *testing.T) {
	t.Parallel()
	fifo := filepath.Join(t.TempDir(), "pipe.jsonl")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	// A writer that gives the pipe one valid line and closes it, so that a
	// checker that does read the pipe ends instead of waiting.
	go func() {
		w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		w.WriteString(`{"text":"The tide comes in twice a day."}` + "\n")
		w.Close()
	}()
	t.Cleanup(func() {
		// Lets the writer's open return if the checker never opened the
		// pipe.
		if r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
			r.Close()
		}
	})
	paths := []string{fifo}
	if _, err := os.Stat("/dev/zero"); err == nil {
		paths = append(paths, "/dev/zero")
	}
	for _, path := range paths {
		rep, err := dataset.CheckFile(t.Context(), path, "together")
		if ethos.KindOf(err) != ethos.Invalid || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("CheckFile(%s) = %+v, %v; want an invalid error saying it is not a regular file", path, rep, err)
		}
	}
}
