package ethos

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies an error so that every layer can decide what to do with
// it without parsing messages. The vocabulary is deliberately small.
type Kind string

// Error kinds. The first ten come from model calls; the rest from ethos
// itself.
const (
	Invalid     Kind = "invalid"      // 400/413: the request is wrong; never retry
	Auth        Kind = "auth"         // 401/403: bad or missing credentials; stop the run
	NotFound    Kind = "not_found"    // 404: unknown model, job or file
	RateLimited Kind = "rate_limited" // 429: wait for retry-after, then try again
	Quota       Kind = "quota"        // a 429 that will not clear: quota or credit used up, or nothing but 429s for too long; stop the run
	Overloaded  Kind = "overloaded"   // 529/503: the provider is busy
	Transient   Kind = "transient"    // other 5xx, timeouts, resets, broken streams
	Refused     Kind = "refused"      // the model refused
	Truncated   Kind = "truncated"    // the output hit max_tokens
	Parse       Kind = "parse"        // the output is not in the asked format

	Config   Kind = "config"   // ethos.yaml or flags are wrong; exit 2
	Budget   Kind = "budget"   // the call would pass the configured USD cap
	Conflict Kind = "conflict" // a unique row already exists
	Internal Kind = "internal" // a bug or an unexpected failure

	// Interrupted is work cut short because its caller stopped waiting
	// (Ctrl-C, a shutdown): nothing failed, and running it again does it.
	Interrupted Kind = "interrupted"

	// Pending is a request sent by batch whose answer has not come back
	// yet: nothing failed, and asking again after RetryAfter may find it.
	// It is not a call, so the ledger does not record it.
	Pending Kind = "pending"
)

// Error is ethos's error type. Op names the operation that failed
// ("anthropic: messages.create"), Msg says what happened in words a user
// can act on, and Err is the underlying cause.
type Error struct {
	Kind Kind
	Op   string
	Msg  string
	Err  error

	// Provider call details, set by adapters when known.
	Status     int           // HTTP status, 0 if none
	RetryAfter time.Duration // the provider's retry-after, 0 if none
	RequestID  string        // the provider's request id, for support tickets
}

func (e *Error) Error() string {
	msg := e.Msg
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	if e.Op != "" {
		msg = e.Op + ": " + msg
	}
	if e.RequestID != "" {
		msg += " (request-id " + e.RequestID + ")"
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error of the given kind whose message is formatted
// as by fmt.Errorf; a %w verb makes its operand the cause, reachable with
// errors.Is and errors.As.
func Errorf(kind Kind, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	return &Error{Kind: kind, Msg: err.Error(), Err: errors.Unwrap(err)}
}

// KindOf returns the kind of the first *Error in err's chain, Internal when
// there is none, and "" for a nil error.
func KindOf(err error) Kind {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// RetryAfterOf returns the provider's retry-after carried by err, if any.
func RetryAfterOf(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// Outcome is what a durable job does after a failed attempt.
type Outcome string

// Job outcomes.
const (
	Retry      Outcome = "retry"      // try again with backoff
	Snooze     Outcome = "snooze"     // try again after the provider's retry-after
	Cancel     Outcome = "cancel"     // stop: retrying cannot help and the run must stop
	Quarantine Outcome = "quarantine" // give up on this item, record why, go on with the rest
	Wait       Outcome = "wait"       // ask again after RetryAfter; costs no attempt and has no cap
)

// OutcomeOf is the one mapping from an error kind to a job outcome.
func OutcomeOf(kind Kind) Outcome {
	switch kind {
	case RateLimited, Overloaded:
		return Snooze
	case Transient, Interrupted:
		return Retry
	case Pending:
		return Wait
	case Auth, Config, Budget, NotFound, Invalid, Quota:
		return Cancel
	case Refused, Truncated, Parse, Conflict:
		return Quarantine
	default:
		return Cancel
	}
}

// IsFailure is the one mapping from an error kind to whether a call that
// ended with it counts among failed calls: every kind does except
// Interrupted, a call its caller stopped waiting for. Error counts (ethos
// calls, the dashboard, /metrics) leave interrupted calls out.
func IsFailure(kind Kind) bool {
	return kind != "" && kind != Interrupted && kind != Pending
}
