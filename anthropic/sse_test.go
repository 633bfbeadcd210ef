package anthropic

import (
	"bytes"
	"io"
	"net/http"
	"testing"
	"testing/iotest"

	"github.com/anthropics/anthropic-sdk-go/v2/packages/ssestream"
	"github.com/google/go-cmp/cmp"
)

// sseEvent is one event, its data copied out of the reader's buffer.
type sseEvent struct {
	Type, Data string
}

// readSSE is every event sseReader reads from body, and whether it failed.
func readSSE(body io.Reader) ([]sseEvent, bool) {
	r := newSSEReader(io.NopCloser(body))
	defer r.close()
	var evs []sseEvent
	for r.next() {
		evs = append(evs, sseEvent{r.event().Type, string(r.event().Data)})
	}
	return evs, r.err != nil
}

// sdkReadSSE is the reference: the SDK's decoder over the same body.
func sdkReadSSE(body io.Reader) ([]sseEvent, bool) {
	dec := ssestream.NewDecoder(&http.Response{
		Header: http.Header{"Content-Type": {"text/event-stream"}},
		Body:   io.NopCloser(body),
	})
	defer dec.Close()
	var evs []sseEvent
	for dec.Next() {
		evs = append(evs, sseEvent{dec.Event().Type, string(dec.Event().Data)})
	}
	return evs, dec.Err() != nil
}

func TestSSEReader(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body string
		want       []sseEvent
	}{
		{"one event", "event: ping\ndata: {}\n\n", []sseEvent{{"ping", "{}\n"}}},
		{"data lines joined", "data: a\ndata:b\ndata:  c\n\n", []sseEvent{{"", "a\nb\n c\n"}}},
		{"crlf lines", "event: x\r\ndata: 1\r\n\r\n", []sseEvent{{"x", "1\n"}}},
		{"comments, ids and blank runs", ": hi\n\n\nid: 7\nretry: 5\nevent: e\n\n", []sseEvent{{"e", ""}}},
		{"a field with no colon", "data\nevent\n\n", []sseEvent{{"", "\n"}}},
		{"the last name wins", "event: a\nevent: b\ndata: d\n\n", []sseEvent{{"b", "d\n"}}},
		{"unknown name copied", "event: some_future_event\ndata: {}\n\n", []sseEvent{{"some_future_event", "{}\n"}}},
		{"no blank line at the end", "event: a\ndata: 1\n\nevent: b\ndata: 2", []sseEvent{{"a", "1\n"}}},
		{"empty", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, failed := readSSE(bytes.NewReader([]byte(tc.body)))
			if failed {
				t.Fatal("reader failed")
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSSEReaderReportsReadErrors(t *testing.T) {
	t.Parallel()
	body := io.MultiReader(bytes.NewReader([]byte("event: a\ndata: 1\n\ndata: 2")), iotest.ErrReader(io.ErrUnexpectedEOF))
	got, failed := readSSE(body)
	if !failed || len(got) != 1 {
		t.Errorf("got %v events, failed %v: want the first event, then the error", got, failed)
	}
}

// FuzzSSEReader: sseReader reads every body into the events the SDK's
// decoder reads, fed whole or a byte at a time.
func FuzzSSEReader(f *testing.F) {
	f.Add([]byte("event: ping\ndata: {\"type\":\"ping\"}\n\n"), false)
	f.Add([]byte(": c\r\nevent:x\r\ndata\r\ndata: a:b\r\n\r\n\n\nevent: y\n"), true)
	f.Fuzz(func(t *testing.T, body []byte, oneByte bool) {
		in := func() io.Reader {
			if oneByte {
				return iotest.OneByteReader(bytes.NewReader(body))
			}
			return bytes.NewReader(body)
		}
		want, wantFailed := sdkReadSSE(in())
		got, failed := readSSE(in())
		if failed != wantFailed {
			t.Fatalf("%q: failed %v, the SDK's decoder %v", body, failed, wantFailed)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("%q: events differ (-sdk +reader):\n%s", body, diff)
		}
	})
}
