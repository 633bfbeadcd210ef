package pipeline

import (
	"context"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/jobs"
)

// CompleteOnce makes one call through completer as a durable job on the
// queue in backend: its failures are retried as any task's are, three
// tries in all (about three seconds of backoff) before an unreachable
// endpoint is reported.
func CompleteOnce(ctx context.Context, backend jobs.Backend, completer ethos.Completer, req ethos.Request) (ethos.Response, error) {
	var resp ethos.Response
	err := jobs.RunOn(ctx, backend, jobs.Config{Completer: completer, MaxAttempts: 3}, jobs.Work{
		Drive: func(ctx context.Context) error {
			q, err := jobs.FromContext(ctx)
			if err != nil {
				return err
			}
			resp, err = q.Call(ctx, jobs.CallArgs{Request: req, Stream: req.Stream, Metadata: req.Metadata})
			return err
		},
	})
	return resp, err
}
