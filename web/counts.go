package web

import (
	"context"
	"sync"
	"time"

	"github.com/ethos-toolkit/ethos"
)

// countCache keeps each run's item counts. Counting reads the run's whole
// index (about 0.1–0.25 s for a run of 100,000 examples), and every page
// of a run, its live check and its aggregates need the counts, so they are
// read once and reused:
//
//   - for a run that is still running, for one poll interval — a change
//     shows at the next poll, as it would anyway;
//   - for a finished run (completed, failed, cancelled), until its status
//     or update time changes: nothing writes the items of a finished run,
//     and resuming one sets it running first.
type countCache struct {
	ttl time.Duration

	mu sync.Mutex
	m  map[string]countEntry
}

type countEntry struct {
	status  ethos.RunStatus
	updated time.Time
	counts  []ethos.ItemCount
	read    time.Time // real time, for the TTL
}

func newCountCache(ttl time.Duration) *countCache {
	return &countCache{ttl: ttl, m: map[string]countEntry{}}
}

func finished(s ethos.RunStatus) bool {
	return s == ethos.RunCompleted || s == ethos.RunFailed || s == ethos.RunCancelled
}

// counts returns run's item counts per stage and status.
func (s *Server) counts(ctx context.Context, run ethos.Run) ([]ethos.ItemCount, error) {
	c := s.countCache
	c.mu.Lock()
	e, ok := c.m[run.ID]
	c.mu.Unlock()
	if ok && e.status == run.Status && e.updated.Equal(run.UpdatedAt) && (finished(run.Status) || time.Since(e.read) < c.ttl) {
		return e.counts, nil
	}
	counts, err := s.store.CountItems(ctx, run.ID)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.m) > 1000 { // a long-lived server over many runs: start over
		c.m = map[string]countEntry{}
	}
	c.m[run.ID] = countEntry{status: run.Status, updated: run.UpdatedAt, counts: counts, read: time.Now()}
	c.mu.Unlock()
	return counts, nil
}

// forget drops what is cached of run id, which has changed.
func (c *countCache) forget(id string) {
	c.mu.Lock()
	delete(c.m, id)
	c.mu.Unlock()
}

// count is the number of a run's items of stage ("" for all) in status.
func count(counts []ethos.ItemCount, stage string, status ethos.ItemStatus) int {
	n := 0
	for _, c := range counts {
		if (stage == "" || c.Stage == stage) && c.Status == status {
			n += c.Count
		}
	}
	return n
}
