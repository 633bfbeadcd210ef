package anthropic

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	sdk "github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"
)

// stream sends params with "stream": true and reads the SSE answer into a
// Message. A stream that ends without message_stop is an error: its text
// would silently be incomplete.
//
// The request goes out exactly as the SDK's Messages.NewStreaming sends it
// (same client options, body and timeout handling), the events are read
// as the SDK's SSE decoder reads them (sseReader), and every event but
// one kind is decoded and accumulated by the SDK. The exception is a
// content_block_delta carrying a text_delta, which is nearly every event
// of a long answer: the SDK's generic decoder costs about as much CPU per
// event as the rest of a call, so those deltas are read with a small
// scanner and their text is kept aside, to be added to its block once,
// when the stream ends or before an event whose accumulation reads or
// replaces the text (a delta left to the SDK, a message_start).
//
// So the returned message's wire JSON (RawJSON, and each block's) lacks the
// streamed text, which the SDK would re-encode into it at every
// content_block_stop and at message_stop: the blocks' Text fields hold it,
// and nothing in ethos reads the raw JSON of a streamed message.
func (c *Client) stream(ctx context.Context, params sdk.MessageNewParams, opts []option.RequestOption) (*sdk.Message, error) {
	body, err := streamBody(params)
	if err != nil {
		return nil, err
	}
	var raw *http.Response
	if err := c.sdk.Post(ctx, "v1/messages", body, &raw, opts...); err != nil {
		return nil, err
	}
	if raw == nil || raw.Body == nil {
		return nil, &streamError{msg: "response has no body"}
	}
	dec := newSSEReader(raw.Body)
	defer dec.close()
	var (
		msg     sdk.Message
		union   sdk.MessageStreamEventUnion
		text    textDeltas
		stopped bool
	)
	for dec.next() {
		ev := dec.event()
		data := bytes.TrimSpace(ev.Data)
		switch {
		case ev.Type == "ping" || ev.Type == "" || len(data) == 0:
			continue
		case ev.Type == "error":
			return nil, streamAPIError(raw, data)
		case ev.Type == "content_block_delta":
			ok, err := text.add(data, len(msg.Content))
			if err != nil {
				return nil, &streamError{msg: "malformed stream", err: err}
			}
			if ok {
				continue
			}
		}
		// One union for every event: the type is kilobytes, and a fresh
		// one per event escapes to the heap.
		union = sdk.MessageStreamEventUnion{}
		if err := json.Unmarshal(data, &union); err != nil {
			return nil, err
		}
		if union.Type == "message_start" || union.Type == "content_block_delta" {
			// The only events whose accumulation depends on the text so
			// far: a delta appends to it, a start replaces the blocks.
			text.flush(&msg)
		}
		if err := msg.Accumulate(union); err != nil {
			return nil, &streamError{msg: "malformed stream", err: err}
		}
		if union.Type == "message_stop" {
			stopped = true
		}
	}
	if err := dec.err; err != nil {
		return nil, err
	}
	if !stopped {
		return nil, &streamError{msg: "stream ended before message_stop"}
	}
	text.flush(&msg)
	return &msg, nil
}

// streamBody is the JSON of params with "stream": true, the bytes the
// SDK's Messages.NewStreaming sends. The SDK adds the key with
// option.WithJSONSet, which parses and copies the whole body (a prompt of
// many kilobytes) once more; params never carry a "stream" key of their
// own (c.params sets no extra fields), so the key goes at the end.
func streamBody(params sdk.MessageNewParams) ([]byte, error) {
	b, err := params.MarshalJSON()
	if err != nil {
		return nil, err
	}
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return nil, fmt.Errorf("message params marshal to %.40q, not a JSON object", b)
	}
	if len(b) == 2 {
		return []byte(`{"stream":true}`), nil
	}
	return append(b[:len(b)-1], `,"stream":true}`...), nil
}

// textDeltas holds the text of content_block_delta events not yet added to
// their blocks, by block index.
type textDeltas struct {
	pending []strings.Builder
	any     bool
	scratch []byte // where scanTextDelta decodes a text with escapes
}

// textDeltaEvent is the one event shape the fast path reads.
type textDeltaEvent struct {
	Type  string `json:"type"`
	Index int    `json:"index"`
	Delta struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"delta"`
}

// add takes data if it is a well-formed text delta for one of the blocks
// started so far; ok false leaves the event to the SDK, which then reports
// malformed JSON or handles another kind of delta.
func (t *textDeltas) add(data []byte, blocks int) (ok bool, err error) {
	ev, text, ok := scanTextDelta(data, &t.scratch)
	if !ok {
		// Invalid UTF-8 is left to the SDK: encoding/json would replace it
		// where the SDK keeps the bytes. (A variable of its own, so that
		// the common case's event stays off the heap.)
		var decoded textDeltaEvent
		if !utf8.Valid(data) || json.Unmarshal(data, &decoded) != nil {
			return false, nil
		}
		ev, text = decoded, []byte(decoded.Delta.Text)
	}
	if ev.Type != "content_block_delta" || ev.Delta.Type != "text_delta" {
		return false, nil
	}
	if ev.Index < 0 || ev.Index >= blocks {
		return false, &indexError{index: ev.Index, blocks: blocks}
	}
	if len(t.pending) < blocks {
		t.pending = append(t.pending, make([]strings.Builder, blocks-len(t.pending))...)
	}
	b := &t.pending[ev.Index]
	if b.Cap()-b.Len() < len(text) {
		// Grow by doubling (Grow makes room for twice the capacity plus
		// n) from a first guess: left to append, a buffer past 256 bytes
		// grows by a quarter, which for a long answer allocated five
		// times its length.
		if b.Cap() == 0 {
			b.Grow(max(firstTextGuess, len(text)))
		} else {
			b.Grow(len(text))
		}
	}
	b.Write(text)
	t.any = true
	return true, nil
}

// firstTextGuess is the room a block's pending text first gets, a short
// paragraph.
const firstTextGuess = 512

// flush appends the pending text to msg's blocks, in order, so the SDK's
// accumulation sees each block's text so far.
func (t *textDeltas) flush(msg *sdk.Message) {
	if !t.any {
		return
	}
	for i := range t.pending {
		if t.pending[i].Len() > 0 {
			msg.Content[i].Text += t.pending[i].String()
			t.pending[i].Reset()
		}
	}
	t.any = false
}

// indexError is a delta for a block the stream never started.
type indexError struct{ index, blocks int }

func (e *indexError) Error() string {
	return fmt.Sprintf("received content_block_delta for content block at index %d, but only %d started", e.index, e.blocks)
}

// streamAPIError is the SDK's error for an SSE error event after a 200,
// built as its stream reader builds it, so classify reads its type.
func streamAPIError(resp *http.Response, data []byte) error {
	e := &sdk.Error{
		Request:     resp.Request,
		Response:    resp,
		StatusCode:  resp.StatusCode,
		RequestID:   resp.Header.Get("request-id"),
		WorkspaceID: resp.Header.Get("anthropic-workspace-id"),
	}
	if e.UnmarshalJSON(data) != nil {
		return &streamError{msg: "received error while streaming: " + string(data)}
	}
	return e
}
