package jobs

import (
	"math/rand/v2"
	"time"

	"github.com/riverqueue/river/rivertype"
)

// Bounds of DefaultBackoff.
const (
	backoffBase = time.Second
	backoffMax  = 5 * time.Minute
)

// DefaultBackoff waits 1s·2^(attempt-1), capped at five minutes, with ±10%
// jitter so that jobs failing together do not retry together.
func DefaultBackoff(attempt int) time.Duration {
	d := backoffMax
	if attempt < 1 {
		attempt = 1
	}
	if attempt <= 20 { // beyond that the shift overflows long after the cap
		d = min(backoffBase<<(attempt-1), backoffMax)
	}
	jitter := (rand.Float64()*0.2 - 0.1) * float64(d)
	return d + time.Duration(jitter)
}

// retryPolicy schedules River's retries with Config.Backoff.
type retryPolicy struct {
	backoff func(attempt int) time.Duration
}

// NextRetry counts failures by the job's recorded errors rather than its
// attempt number: River decrements the attempt on a snooze, and the
// current failure is not yet in the list, hence the +1.
func (p *retryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	return time.Now().Add(p.backoff(len(job.Errors) + 1))
}
