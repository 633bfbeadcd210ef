package storecopy_test

import (
	"context"
	"errors"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ethos-toolkit/ethos/internal/storecopy"
)

func TestWriteMigrated(t *testing.T) {
	t.Parallel()
	loc := "sqlite:" + filepath.Join(t.TempDir(), "ethos.db")
	var b strings.Builder
	if err := open(t, loc).WriteMigrated(t.Context(), &b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), loc+": applied 0001_llm_calls\n") || !regexp.MustCompile(`: now at schema version \d+\n$`).MatchString(b.String()) {
		t.Errorf("a new store:\n%s", b.String())
	}
	b.Reset()
	if err := open(t, loc).WriteMigrated(t.Context(), &b); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^sqlite:.*: up to date at schema version \d+\n$`).MatchString(b.String()) {
		t.Errorf("the store opened again:\n%s", b.String())
	}
}

// LockAll takes the workers' and the monitor's lock of each store, and
// when one is held releases what it took.
func TestLockAll(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, b := open(t, "sqlite:"+filepath.Join(dir, "a.db")), open(t, "sqlite:"+filepath.Join(dir, "b.db"))
	held := map[string]bool{}
	fileLock := func(path string) (func(), error) {
		if held[path] {
			return nil, errors.New(path + " is held")
		}
		held[path] = true
		return func() { delete(held, path) }, nil
	}
	unlock, err := storecopy.LockAll(context.Background(), fileLock, a, b)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "a.db"), filepath.Join(dir, "a.db.monitor"), filepath.Join(dir, "b.db"), filepath.Join(dir, "b.db.monitor")}
	var got []string
	for p := range held {
		got = append(got, p)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("locks held %v, want %v", got, want)
	}
	unlock()
	if len(held) != 0 {
		t.Errorf("after unlock still held: %v", held)
	}

	held[filepath.Join(dir, "b.db.monitor")] = true
	if _, err := storecopy.LockAll(context.Background(), fileLock, a, b); err == nil || !strings.Contains(err.Error(), "b.db.monitor is held") {
		t.Errorf("a held lock: %v", err)
	}
	if len(held) != 1 {
		t.Errorf("after a failed LockAll held: %v; want only the lock held before", held)
	}
}

func TestReportWriteText(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	storecopy.Report{Version: 19, Tables: []storecopy.TableCount{{Table: "runs", Rows: 2}, {Table: "items", Rows: 40}}}.
		WriteText(&b, "sqlite:ethos.db", "postgres://ethos@db/ethos", 1234567*time.Microsecond)
	want := "  runs                      2 rows\n" +
		"  items                    40 rows\n" +
		"copied 42 rows in 2 tables from sqlite:ethos.db to postgres://ethos@db/ethos in 1.235s (schema version 19); counts checked\n" +
		"the job queue is not copied: run the same generate or eval command on the new store to continue unfinished runs\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}
