package anthropic

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// cannedTransport answers every request with one recorded response, so a
// benchmark measures the adapter and the SDK without a network or a server.
type cannedTransport struct {
	header http.Header
	body   []byte
	record bool
	// With record set: the last request's body and headers.
	sent       []byte
	sentHeader http.Header
}

func (t *cannedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		if t.record {
			t.sent, _ = io.ReadAll(req.Body)
			t.sentHeader = req.Header.Clone()
		} else {
			io.Copy(io.Discard, req.Body)
		}
		req.Body.Close()
	}
	return &http.Response{
		StatusCode: http.StatusOK,
		Header:     t.header,
		Body:       io.NopCloser(bytes.NewReader(t.body)),
		Request:    req,
	}, nil
}

// longAnswerSSE renders a streamed answer of about n bytes of text the way
// the API and the sandbox send it: deltas of one to four words, each text
// JSON-encoded, some with escaped newlines and quotes.
func longAnswerSSE(n int) (sse []byte, text string) {
	words := []string{"The ", "assistant ", "answers ", "plainly, ", "\"as ", "asked\" ", "and ", "stops.\n\n", "Then ", "it ", "waits ", "<here> ", "& ", "there. "}
	var b, all strings.Builder
	event := func(name, data string) {
		b.WriteString("event: " + name + "\ndata: " + data + "\n\n")
	}
	event("message_start", startFrame)
	event("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`)
	event("ping", `{"type": "ping"}`)
	for i := 0; all.Len() < n; i++ {
		var d strings.Builder
		for j := 0; j <= i%4; j++ {
			d.WriteString(words[(i*3+j)%len(words)])
		}
		all.WriteString(d.String())
		q, _ := json.Marshal(d.String()) // a string always marshals
		event("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":`+string(q)+`}}`)
	}
	event("content_block_stop", `{"type":"content_block_stop","index":0}`)
	event("message_delta", stopFrame)
	event("message_stop", `{"type":"message_stop"}`)
	return []byte(b.String()), all.String()
}

// BenchmarkCompleteStream is one streamed call (a 6 KB prompt, a 4 KB
// answer) through the adapter and the SDK, over an in-memory transport:
// request building, SSE decoding, the text-delta fast path and
// accumulation.
func BenchmarkCompleteStream(b *testing.B) {
	sse, want := longAnswerSSE(4096)
	header := http.Header{}
	header.Set("content-type", "text/event-stream")
	setRateHeaders(header)
	c, err := New(Config{BaseURL: "http://127.0.0.1:1", APIKey: testKey,
		HTTPClient: &http.Client{Transport: &cannedTransport{header: header, body: sse}}})
	if err != nil {
		b.Fatal(err)
	}
	req := sampleRequest()
	req.Stream = true
	req.MaxTokens = 2048
	// A generation prompt carries the character's constitution.
	req.System = strings.Repeat("The character answers honestly and says when it is unsure. ", 100)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(len(sse)))
	for b.Loop() {
		resp, err := c.Complete(ctx, req)
		if err != nil {
			b.Fatal(err)
		}
		if resp.Text != want {
			b.Fatalf("text of %d bytes, want %d", len(resp.Text), len(want))
		}
	}
}
