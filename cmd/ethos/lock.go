package main

import (
	"context"
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

// runLock takes the lock that says this process drives run id. On SQLite
// that is the store's worker lock: one process works the store, and the
// lock proves any job left running orphaned. On PostgreSQL many processes
// work the store (ethos worker), so the lock is the run's own: two
// processes never drive one run, and other runs go on beside it; the
// workers' heartbeats, not a lock, tell which running jobs are orphans.
func (p *project) runLock(ctx context.Context, id string) (unlock func(), err error) {
	if p.postgres {
		return p.lock(ctx, "run/"+id)
	}
	return p.lock(ctx, "")
}
