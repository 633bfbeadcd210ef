package project

import (
	"context"
	"errors"
	"os"
	"syscall"

	"github.com/ethos-toolkit/ethos"
)

// LockFile takes the worker lock of the SQLite store at dbPath, which
// says that this process is the one working its job queue. The operating
// system releases it when the process ends, however it ends, so a lock
// that can be taken proves that any job still marked running was left by
// a process that no longer exists. It fails at once, with a Conflict, if
// another process holds it.
func LockFile(dbPath string) (unlock func(), err error) {
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

// Lock takes the named lock on the store ("" is the store's worker lock):
// a file lock beside a SQLite store, an advisory lock on PostgreSQL. It
// fails at once, with a Conflict, if another process holds it.
func (p *Project) Lock(ctx context.Context, name string) (unlock func(), err error) {
	return p.lock(ctx, name)
}

// MonitorLock is the name of the store's lock that the process following
// the fine-tune jobs holds: ethos monitor, or one ethos worker.
const MonitorLock = ".monitor"

// LockMonitor takes the store's monitor lock: one process at a time
// follows the fine-tune jobs, and the lock proves that a round left
// running is the leftover of a monitor that is gone.
func (p *Project) LockMonitor(ctx context.Context) (unlock func(), err error) {
	unlock, err = p.lock(ctx, MonitorLock)
	if ethos.KindOf(err) == ethos.Conflict {
		return nil, ethos.Errorf(ethos.Conflict, "another ethos monitor (or an ethos worker following the jobs) is running on %s; stop it first (it already follows every active job)", p.storeName)
	}
	return unlock, err
}
