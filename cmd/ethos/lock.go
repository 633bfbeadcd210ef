package main

import (
	"errors"
	"os"
	"syscall"

	"github.com/ethos-toolkit/ethos"
)

// lockStore takes the store's worker lock, which says that this process is
// the one working its job queue. The operating system releases it when the
// process ends, however it ends, so a lock that can be taken proves that
// any job still marked running was left by a process that no longer
// exists. It fails at once if another process holds it.
func lockStore(dbPath string) (unlock func(), err error) {
	path := dbPath + ".lock"
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, ethos.Errorf(ethos.Config, "opening the store lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, ethos.Errorf(ethos.Conflict, "another ethos process is working on %s; wait for it to finish or stop it", dbPath)
		}
		return nil, ethos.Errorf(ethos.Internal, "locking %s: %w", path, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
