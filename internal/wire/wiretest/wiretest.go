// Package wiretest holds what the tests of every HTTP-based LLM adapter
// check alike: that a failure is an *ethos.Error that never shows the API
// key, the table of failed HTTP statuses and what each must become, and
// loopback handlers that stream SSE frames or hold a request until the
// client goes away. Each adapter drives its own client and server; this
// package only says what the outcome must be.
package wiretest

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ethos-toolkit/ethos"
)

// AsError fails the test unless err is, or wraps, an *ethos.Error, and
// returns it.
func AsError(t *testing.T, err error) *ethos.Error {
	t.Helper()
	if err == nil {
		t.Fatal("got no error")
	}
	var e *ethos.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T %v is not an *ethos.Error", err, err)
	}
	return e
}

// AssertNoSecret fails if secret shows in the error or anything it wraps.
func AssertNoSecret(t *testing.T, err error, secret string) {
	t.Helper()
	for e := err; e != nil; e = errors.Unwrap(e) {
		for _, s := range []string{e.Error(), fmt.Sprintf("%+v", e)} {
			if strings.Contains(s, secret) {
				t.Errorf("API key leaked into error text: %q", s)
			}
		}
	}
}

// WriteSSE answers 200 with frames as a server-sent-event stream, flushing
// after each frame so that the client sees them arrive one by one.
func WriteSSE(w http.ResponseWriter, frames []string) {
	w.Header().Set("content-type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	for _, f := range frames {
		fmt.Fprintf(w, "%s\n\n", f)
		w.(http.Flusher).Flush()
	}
}

// Holding returns a handler that holds each request until the client goes
// away, first saying on arrived (without blocking) that one came in.
func Holding(arrived chan<- struct{}) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		// The server notices a vanished client only once the body is read.
		io.Copy(io.Discard, r.Body)
		select {
		case arrived <- struct{}{}:
		default:
		}
		<-r.Context().Done()
	}
}

// StatusCase is a failed HTTP response and what an adapter must make of
// it.
type StatusCase struct {
	Status     int
	Header     map[string]string // response headers beyond the request id
	Kind       ethos.Kind
	RetryAfter time.Duration
	InMsg      string // text the error message must contain
}

func (c StatusCase) String() string { return fmt.Sprintf("%d %v", c.Status, c.Header) }

// StatusCases lists the failed statuses every adapter must classify alike.
// provider and model are what the adapter under test was configured with
// and asked for; now is the clock it reads, which an HTTP-date
// retry-after is measured from.
func StatusCases(provider, model string, now time.Time) []StatusCase {
	return []StatusCase{
		{400, nil, ethos.Invalid, 0, "400"},
		{401, nil, ethos.Auth, 0, "check the API key for provider " + provider},
		{402, nil, ethos.Quota, 0, "billing"},
		{403, nil, ethos.Auth, 0, "permission"},
		{404, nil, ethos.NotFound, 0, fmt.Sprintf("model %q not found", model)},
		{408, nil, ethos.Transient, 0, "408"},
		{409, nil, ethos.Transient, 0, "409"},
		{413, nil, ethos.Invalid, 0, "413"},
		{422, nil, ethos.Invalid, 0, "422"},
		{429, map[string]string{"retry-after": "20"}, ethos.RateLimited, 20 * time.Second, "retry after 20s"},
		{429, map[string]string{"retry-after-ms": "1500", "retry-after": "9"}, ethos.RateLimited, 1500 * time.Millisecond, "429"},
		{429, map[string]string{"retry-after-ms": "250", "retry-after": "9"}, ethos.RateLimited, 250 * time.Millisecond, "429"},
		{429, map[string]string{"retry-after": now.Add(90 * time.Second).Format(http.TimeFormat)}, ethos.RateLimited, 90 * time.Second, "429"},
		{429, nil, ethos.RateLimited, 0, "429"},
		{500, nil, ethos.Transient, 0, "500"},
		{502, nil, ethos.Transient, 0, "502"},
		{503, map[string]string{"retry-after": "3"}, ethos.Overloaded, 3 * time.Second, "overloaded"},
		{504, nil, ethos.Transient, 0, "504"},
		{529, nil, ethos.Overloaded, 0, "overloaded"},
		{418, nil, ethos.Invalid, 0, "418"},
	}
}

// Check fails the test unless err is the *ethos.Error that c calls for:
// its kind, status and retry-after, the given request id and op, a
// one-line message containing c.InMsg, and no trace of secret. It returns
// the error for checks of what is specific to an adapter.
func (c StatusCase) Check(t *testing.T, err error, requestID, op, secret string) *ethos.Error {
	t.Helper()
	e := AsError(t, err)
	type outcome struct {
		Kind       ethos.Kind
		Status     int
		RetryAfter time.Duration
		RequestID  string
		Op         string
	}
	got := outcome{e.Kind, e.Status, e.RetryAfter, e.RequestID, e.Op}
	want := outcome{c.Kind, c.Status, c.RetryAfter, requestID, op}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%v (-want +got):\n%s", c, diff)
	}
	if !strings.Contains(err.Error(), c.InMsg) {
		t.Errorf("error %q does not mention %q", err, c.InMsg)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error is not one line: %q", err)
	}
	AssertNoSecret(t, err, secret)
	return e
}

// AnthropicSpec is the OpenAPI document that ships, gzipped, inside the
// anthropic-sdk-go module the build uses (scripts/mock-spec.json.gz), so
// checks against it follow go.mod when the SDK is upgraded.
func AnthropicSpec(t testing.TB) []byte {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-json", "github.com/anthropics/anthropic-sdk-go/v2").Output()
	if err != nil {
		t.Fatalf("go list the SDK module: %v", err)
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		t.Fatalf("go list gave no module directory: %v %s", err, out)
	}
	f, err := os.Open(filepath.Join(mod.Dir, "scripts", "mock-spec.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

// CheckBatchResult fails the test unless r is whole: a custom ID, a known
// outcome, a response exactly when it succeeded and an error with a kind
// exactly when it errored. The adapters' fuzz targets hold every result
// their results readers hand on to it.
func CheckBatchResult(t testing.TB, r ethos.BatchResult) {
	t.Helper()
	ok := r.CustomID != ""
	switch r.Outcome {
	case ethos.BatchSucceeded:
		ok = ok && r.Response != nil && r.Err == nil
	case ethos.BatchErrored:
		ok = ok && r.Response == nil && r.Err != nil && r.Err.Kind != ""
	case ethos.BatchExpired, ethos.BatchCancelled:
		ok = ok && r.Response == nil && r.Err == nil
	default:
		ok = false
	}
	if !ok {
		t.Errorf("incomplete batch result %+v", r)
	}
}
