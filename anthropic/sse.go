package anthropic

import (
	"bufio"
	"io"
	"sync"

	"github.com/anthropics/anthropic-sdk-go/v2/packages/ssestream"
)

// sseReader reads a text/event-stream body into events exactly as the
// SDK's ssestream decoder does (the same lines, fields and dispatch on a
// blank line), but with one data buffer for the whole stream where the
// SDK grows a fresh one for every event: a streamed answer is hundreds of
// events, and those buffers were a third of the bytes a call allocated.
//
// An event's Data is valid until the next call of next.
type sseReader struct {
	body io.ReadCloser
	scn  *bufio.Scanner
	line *[]byte // the scanner's first buffer, from lineBuffers
	ev   ssestream.Event
	data []byte
	err  error
}

func newSSEReader(body io.ReadCloser) *sseReader {
	r := &sseReader{body: body, scn: bufio.NewScanner(body), line: lineBuffers.Get().(*[]byte)}
	r.scn.Buffer(*r.line, bufio.MaxScanTokenSize<<9) // the SDK's longest line
	return r
}

// lineBuffers hold the scanners' line buffers between streams: the
// scanner's first 4 KB were the largest allocation left in reading a
// stream. Their size is the scanner's own first one.
var lineBuffers = sync.Pool{New: func() any { b := make([]byte, 4096); return &b }}

// next reads the next event; false at the end of the body or on an error.
func (r *sseReader) next() bool {
	if r.err != nil {
		return false
	}
	name := ""
	r.data = r.data[:0]
	for r.scn.Scan() {
		line := r.scn.Bytes()
		if len(line) == 0 {
			// A blank line dispatches the event, if it has anything.
			if name == "" && len(r.data) == 0 {
				continue
			}
			r.ev = ssestream.Event{Type: name, Data: r.data}
			return true
		}
		field, value := line, []byte(nil)
		for i, c := range line {
			if c == ':' {
				field, value = line[:i], line[i+1:]
				break
			}
		}
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
		switch string(field) {
		case "event":
			name = eventName(value)
		case "data":
			r.data = append(r.data, value...)
			r.data = append(r.data, '\n')
		}
		// A line with an empty field name is a comment; other fields
		// (id, retry) are ignored, as the SDK ignores them.
	}
	r.err = r.scn.Err()
	return false
}

func (r *sseReader) event() ssestream.Event { return r.ev }

// close closes the body and gives the line buffer back; the reader is not
// used after.
func (r *sseReader) close() error {
	if r.line != nil {
		lineBuffers.Put(r.line)
		r.line = nil
	}
	return r.body.Close()
}

// eventNames are the Messages stream's event types.
var eventNames = [...]string{"message_start", "content_block_start", "content_block_delta",
	"content_block_stop", "message_delta", "message_stop", "ping", "error"}

// eventName is b as a string: one of eventNames, which costs no
// allocation, or a copy.
func eventName(b []byte) string {
	for _, n := range eventNames {
		if string(b) == n {
			return n
		}
	}
	return string(b)
}
