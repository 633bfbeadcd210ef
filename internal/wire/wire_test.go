package wire

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ethos-toolkit/ethos"
)

func TestKindOfStatus(t *testing.T) {
	t.Parallel()
	want := map[int]ethos.Kind{
		200: ethos.Invalid, 302: ethos.Invalid,
		400: ethos.Invalid, 401: ethos.Auth, 402: ethos.Quota, 403: ethos.Auth, 404: ethos.NotFound,
		408: ethos.Transient, 409: ethos.Transient, 413: ethos.Invalid, 418: ethos.Invalid,
		422: ethos.Invalid, 429: ethos.RateLimited,
		500: ethos.Transient, 502: ethos.Transient, 503: ethos.Overloaded, 504: ethos.Transient,
		529: ethos.Overloaded, 599: ethos.Transient,
	}
	got := map[int]ethos.Kind{}
	for status := range want {
		got[status] = KindOfStatus(status)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("kinds (-want +got):\n%s", diff)
	}
}

func TestStatusMessage(t *testing.T) {
	t.Parallel()
	const v1 = "it includes the version, e.g. /v1"
	tests := []struct {
		model      string
		status     int
		retryAfter time.Duration
		hint       string
		want       string
	}{
		{"m", 401, 0, "", "authentication failed (401): check the API key for provider p"},
		{"m", 402, 0, "", "billing problem (402): check the plan and credit of the account behind provider p"},
		{"m", 403, 0, "", "permission denied (403): the API key for provider p may not use this model or endpoint"},
		{"m", 404, 0, "", `model "m" not found (404) at provider p: check the model name`},
		{"m", 404, 0, v1, `model "m" not found (404) at provider p: check the model name and base URL`},
		{"", 404, 0, "", "not found (404) at provider p: check the base URL"},
		{"", 404, 0, v1, "not found (404) at provider p: check the base URL (it includes the version, e.g. /v1)"},
		{"m", 413, 0, "", "request too large (413): shorten the prompt"},
		{"m", 429, 0, "", "rate limited by provider p (429)"},
		{"m", 429, 20 * time.Second, "", "rate limited by provider p (429), retry after 20s"},
		{"m", 503, 1500 * time.Millisecond, "", "provider p is overloaded (503), retry after 1.5s"},
		{"m", 529, 0, "", "provider p is overloaded (529)"},
		{"m", 500, 0, "", "provider p failed (500 Internal Server Error), worth retrying"},
		{"m", 408, 0, "", "provider p failed (408 Request Timeout), worth retrying"},
		{"m", 409, 0, "", "provider p failed (409 Conflict), worth retrying"},
		{"m", 400, 0, v1, "request rejected (400 Bad Request): fix the request"},
		{"m", 418, 0, "", "request rejected (418 I'm a teapot): fix the request"},
	}
	for _, tt := range tests {
		got := StatusMessage("p", tt.model, tt.status, tt.retryAfter, tt.hint)
		if got != tt.want {
			t.Errorf("StatusMessage(%q, %d, %s, %q):\n got %q\nwant %q", tt.model, tt.status, tt.retryAfter, tt.hint, got, tt.want)
		}
	}
	// Every status gets a message of one line that says its number.
	for status := 400; status < 600; status++ {
		msg := StatusMessage("p", "m", status, time.Second, v1)
		if strings.Contains(msg, "\n") || !strings.Contains(msg, fmt.Sprint(status)) {
			t.Errorf("status %d: message %q is not one line naming the status", status, msg)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		ms, s string
		want  time.Duration
	}{
		{"", "", 0},
		{"", "20", 20 * time.Second},
		{"", "1.5", 1500 * time.Millisecond},
		{"250", "20", 250 * time.Millisecond},
		{"bogus", "3", 3 * time.Second},
		{"", now.Add(time.Minute).Format(http.TimeFormat), time.Minute},
		{"", now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"", "-4", 0},
		{"", "NaN", 0},
		{"", "1e300", MaxRetryAfter},
		{"", "Inf", MaxRetryAfter},
		{"", "soon", 0},
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.ms != "" {
			h.Set("retry-after-ms", tt.ms)
		}
		if tt.s != "" {
			h.Set("retry-after", tt.s)
		}
		if got := ParseRetryAfter(h, now); got != tt.want {
			t.Errorf("retry-after-ms %q retry-after %q: got %s, want %s", tt.ms, tt.s, got, tt.want)
		}
	}
}

func TestClampWait(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ns   float64
		want time.Duration
	}{
		{0, 0},
		{-1, 0},
		{1, 1},
		{float64(time.Hour), time.Hour},
		{float64(MaxRetryAfter), MaxRetryAfter},
		{1e300, MaxRetryAfter},
	}
	for _, tt := range tests {
		if got := ClampWait(tt.ns); got != tt.want {
			t.Errorf("ClampWait(%g) = %s, want %s", tt.ns, got, tt.want)
		}
	}
}

// FuzzRetryAfter checks that no header value makes ParseRetryAfter panic
// or produce a negative or unbounded wait.
func FuzzRetryAfter(f *testing.F) {
	f.Add("20", "1500")
	f.Add("Fri, 01 May 2026 12:01:30 GMT", "")
	f.Add("-1", "NaN")
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, retryAfter, retryAfterMS string) {
		h := http.Header{}
		h.Set("retry-after", retryAfter)
		h.Set("retry-after-ms", retryAfterMS)
		if d := ParseRetryAfter(h, now); d < 0 || d > MaxRetryAfter {
			t.Errorf("wait %s out of [0, %s]", d, MaxRetryAfter)
		}
	})
}

func TestClean(t *testing.T) {
	t.Parallel()
	const key = "sk-SECRET"
	long := strings.Repeat("x", cleanLimit+10)
	tests := []struct{ in, secret, want string }{
		{"", key, ""},
		{"bad key sk-SECRET\nsecond  line\t", key, "bad key [redacted] second line"},
		{"sk-SECRETsk-SECRET", key, "[redacted][redacted]"},
		{"no secret configured sk-SECRET", "", "no secret configured sk-SECRET"},
		{long, key, long[:cleanLimit] + "…"},
		{strings.Repeat("x", cleanLimit), key, strings.Repeat("x", cleanLimit)},
	}
	for _, tt := range tests {
		if got := Clean(tt.in, tt.secret); got != tt.want {
			t.Errorf("Clean(%q, %q) = %q, want %q", tt.in, tt.secret, got, tt.want)
		}
	}
}

func TestRedacted(t *testing.T) {
	t.Parallel()
	const key = "sk-SECRET"
	cause := fmt.Errorf("server said %q: %w", key, context.DeadlineExceeded)
	var err error = Redacted{Err: cause, Secret: key}
	if got, want := err.Error(), `server said "[redacted]": context deadline exceeded`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, context.DeadlineExceeded) || errors.Unwrap(err) != cause {
		t.Errorf("Redacted hides its cause from errors.Is/Unwrap")
	}
	if got := Redact("a sk-SECRET b", ""); got != "a sk-SECRET b" {
		t.Errorf("Redact with no secret changed the text: %q", got)
	}
}
