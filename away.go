package ethos

import "context"

type awayKey struct{}

// WithAway returns ctx carrying lend, which Away calls when a wait on
// something outside the process begins. lend gives back what the caller
// holds for its local work (the job layer's work slot) and returns the
// function that takes it back when the wait is over.
func WithAway(ctx context.Context, lend func() (back func())) context.Context {
	return context.WithValue(ctx, awayKey{}, lend)
}

// Away marks the start of a wait on something outside the process: a
// model call on the wire, its turn at a provider's rate limit. Whatever
// bounds the caller's local work (see WithAway) lends its share meanwhile,
// so calls waiting 30 s on a provider do not keep other tasks from the
// store and the CPU. Call the returned function when the wait is over; it
// blocks until the share is back. Without WithAway in ctx both are no-ops.
func Away(ctx context.Context) (back func()) {
	if lend, ok := ctx.Value(awayKey{}).(func() func()); ok {
		return lend()
	}
	return func() {}
}
