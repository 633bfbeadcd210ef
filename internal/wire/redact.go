package wire

import (
	"strings"

	"github.com/ethos-toolkit/ethos/internal/redact"
)

// Redact replaces every occurrence of secret in s with "[redacted]". An
// empty secret leaves s alone.
func Redact(s, secret string) string {
	if secret == "" {
		return s
	}
	return strings.ReplaceAll(s, secret, "[redacted]")
}

// cleanLimit bounds provider text in a message; error bodies can be whole
// HTML pages from a proxy.
const cleanLimit = 300

// Clean makes provider text safe for a one-line message: secret and the
// credentials of any URL in it (a transport error quotes the request's)
// are redacted, whitespace collapsed and the length bounded.
func Clean(s, secret string) string {
	s = redact.URLs(Redact(s, secret))
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > cleanLimit {
		s = s[:cleanLimit] + "…"
	}
	return s
}

// Redacted wraps a cause so that printing it cannot reveal Secret, even if
// a server echoed the key back in an error body. Unwrap still reaches the
// cause, so errors.Is and errors.As see through it.
type Redacted struct {
	Err    error
	Secret string
}

// Error returns the cause's text with Secret redacted.
func (r Redacted) Error() string { return Redact(r.Err.Error(), r.Secret) }

// Unwrap returns the cause.
func (r Redacted) Unwrap() error { return r.Err }
