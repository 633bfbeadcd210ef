package jobs

import "sync"

// waiters wakes the WaitCall goroutines of a job when River reports that it
// changed state. A wake-up only says "look again": River drops events when a
// subscriber falls behind, so waiters also re-read the job row on a timer.
type waiters struct {
	mu    sync.Mutex
	byJob map[int64]map[chan struct{}]struct{}
}

func newWaiters() *waiters {
	return &waiters{byJob: make(map[int64]map[chan struct{}]struct{})}
}

// add registers interest in jobID; the channel receives (without ever
// blocking the sender) when the job may have changed.
func (w *waiters) add(jobID int64) chan struct{} {
	ch := make(chan struct{}, 1)
	w.mu.Lock()
	defer w.mu.Unlock()
	set := w.byJob[jobID]
	if set == nil {
		set = make(map[chan struct{}]struct{})
		w.byJob[jobID] = set
	}
	set[ch] = struct{}{}
	return ch
}

func (w *waiters) remove(jobID int64, ch chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.byJob[jobID], ch)
	if len(w.byJob[jobID]) == 0 {
		delete(w.byJob, jobID)
	}
}

func (w *waiters) wake(jobID int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for ch := range w.byJob[jobID] {
		select {
		case ch <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
}
