package anthropic

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	sdk "github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/google/go-cmp/cmp"

	"github.com/ethos-toolkit/ethos"

	"github.com/ethos-toolkit/ethos/internal/wire/wiretest"
)

// sdkStream is the SDK's own stream reader, which stream must match.
func sdkStream(c *Client, params sdk.MessageNewParams) (sdk.Message, error) {
	s := c.sdk.Messages.NewStreaming(context.Background(), params)
	defer s.Close()
	var msg sdk.Message
	for s.Next() {
		if err := msg.Accumulate(s.Current()); err != nil {
			return msg, err
		}
	}
	return msg, s.Err()
}

// frame renders one SSE event.
func frame(name, data string) string { return "event: " + name + "\ndata: " + data }

const (
	startFrame = `{"type":"message_start","message":{"id":"msg_02","type":"message","role":"assistant","model":"m","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":9,"output_tokens":1}}}`
	stopFrame  = `{"type":"message_delta","delta":{"stop_reason":"max_tokens","stop_sequence":null},"usage":{"output_tokens":7}}`
)

// mixedStreams are streams whose deltas take both paths: text deltas
// interleaved across open blocks, escapes, and deltas of other kinds.
var mixedStreams = map[string][]string{
	"escapes and unicode": {
		frame("message_start", startFrame),
		frame("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`),
		frame("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"line\n\"quoted\" \u00e9 <b>&amp;"}}`),
		frame("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"text":" \ud83d\ude00 tail","type":"text_delta"}}`),
		frame("content_block_stop", `{"type":"content_block_stop","index":0}`),
		frame("message_delta", stopFrame),
		frame("message_stop", `{"type":"message_stop"}`),
	},
	"thinking then text, interleaved": {
		frame("message_start", startFrame),
		frame("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}`),
		frame("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"hmm"}}`),
		frame("content_block_start", `{"type":"content_block_start","index":1,"content_block":{"type":"text","text":"pre "}}`),
		frame("content_block_delta", `{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"one "}}`),
		frame("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"sig"}}`),
		frame("content_block_delta", `{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"two"}}`),
		frame("content_block_stop", `{"type":"content_block_stop","index":0}`),
		frame("content_block_delta", `{"type":"content_block_delta","index":1,"delta":{"type":"future_delta","x":1}}`),
		frame("content_block_delta", `{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":" three"}}`),
		frame("content_block_stop", `{"type":"content_block_stop","index":1}`),
		frame("message_delta", stopFrame),
		frame("message_stop", `{"type":"message_stop"}`),
	},
	"a text delta left to the SDK between fast ones": {
		frame("message_start", startFrame),
		frame("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`),
		frame("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"one "}}`),
		frame("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"bad \xff \"}}"),
		frame("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"two"}}`),
		frame("content_block_stop", `{"type":"content_block_stop","index":0}`),
		frame("message_delta", stopFrame),
		frame("message_stop", `{"type":"message_stop"}`),
	},
	"a second message_start drops the text so far": {
		frame("message_start", startFrame),
		frame("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`),
		frame("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"dropped"}}`),
		frame("message_start", startFrame),
		frame("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`),
		frame("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"kept"}}`),
		frame("message_delta", stopFrame),
		frame("message_stop", `{"type":"message_stop"}`),
	},
	"no block stop before message_stop": {
		frame("message_start", startFrame),
		frame("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`),
		frame("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"cut"}}`),
		frame("message_delta", stopFrame),
		frame("message_stop", `{"type":"message_stop"}`),
	},
}

func TestStreamMatchesSDKReader(t *testing.T) {
	t.Parallel()
	for name, frames := range mixedStreams {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			assertStreamMatchesSDK(t, frames)
		})
	}
}

// assertStreamMatchesSDK reads frames with stream and with the SDK's reader
// and requires the same message, field by field and as wire JSON.
func assertStreamMatchesSDK(t *testing.T, frames []string) {
	t.Helper()
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		wiretest.WriteSSE(w, frames)
	})
	params, perr := c.params(sampleRequest())
	if perr != nil {
		t.Fatal(perr)
	}
	want, wantErr := sdkStream(c, params)
	got, err := c.stream(context.Background(), params, nil)
	if wantErr != nil {
		if err == nil {
			t.Fatalf("the SDK's reader failed (%v), stream did not", wantErr)
		}
		return
	}
	if err != nil {
		// stream also requires message_stop, which the SDK's reader
		// leaves to its caller.
		if strings.Contains(err.Error(), "message_stop") {
			return
		}
		t.Fatalf("stream: %v (the SDK's reader succeeded)", err)
	}
	if diff := cmp.Diff(wireWithoutText(t, want.RawJSON()), wireWithoutText(t, got.RawJSON())); diff != "" {
		t.Errorf("wire JSON differs (-sdk +stream):\n%s", diff)
	}
	if len(want.Content) != len(got.Content) {
		t.Fatalf("%d blocks from the SDK, %d from stream", len(want.Content), len(got.Content))
	}
	for i := range want.Content {
		w, g := want.Content[i], got.Content[i]
		if w.Type != g.Type || w.Text != g.Text || w.Thinking != g.Thinking || w.Signature != g.Signature {
			t.Errorf("block %d: sdk %s %q %q %q, stream %s %q %q %q", i, w.Type, w.Text, w.Thinking, w.Signature, g.Type, g.Text, g.Thinking, g.Signature)
		}
	}
	if want.StopReason != got.StopReason || want.Usage.OutputTokens != got.Usage.OutputTokens || want.Usage.InputTokens != got.Usage.InputTokens {
		t.Errorf("stop/usage: sdk %s %+v, stream %s %+v", want.StopReason, want.Usage, got.StopReason, got.Usage)
	}
}

// wireWithoutText is a message's wire JSON, decoded, without its blocks'
// text, which stream leaves out of the raw JSON (the blocks' Text fields
// carry it).
func wireWithoutText(t *testing.T, raw string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatalf("message wire JSON %q: %v", raw, err)
	}
	blocks, _ := m["content"].([]any)
	for _, b := range blocks {
		if b, ok := b.(map[string]any); ok {
			delete(b, "text")
		}
	}
	return m
}

// FuzzStreamMatchesSDK feeds text deltas of arbitrary content (split at
// arbitrary places, sometimes not valid JSON) through both readers.
func FuzzStreamMatchesSDK(f *testing.F) {
	f.Add(`hello "world"`, uint8(3), false)
	f.Add("caf\u00e9 \\u00e9 \n\t", uint8(1), false)
	f.Add(`{"type":"text_delta"}`, uint8(0), true)
	f.Fuzz(func(t *testing.T, s string, cut uint8, raw bool) {
		frames := []string{
			frame("message_start", startFrame),
			frame("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`),
		}
		quote := func(s string) string {
			if raw {
				return `"` + s + `"` // may be invalid JSON: both readers must then fail
			}
			b, _ := json.Marshal(s) // a string always marshals
			return string(b)
		}
		i := int(cut) % (len(s) + 1)
		for _, part := range []string{s[:i], s[i:]} {
			if strings.ContainsAny(part, "\r\n") && raw {
				continue // a raw newline would end the SSE data line
			}
			frames = append(frames, frame("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":`+quote(part)+`}}`))
		}
		frames = append(frames,
			frame("content_block_stop", `{"type":"content_block_stop","index":0}`),
			frame("message_delta", stopFrame),
			frame("message_stop", `{"type":"message_stop"}`))
		assertStreamMatchesSDK(t, frames)
	})
}

// FuzzScanTextDelta: whatever the fast scanner accepts, encoding/json
// decodes to the same event.
func FuzzScanTextDelta(f *testing.F) {
	f.Add([]byte(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi"}}`))
	f.Add([]byte(` { "index" : 12 , "delta" : { "text" : "a\"b\\c\/\n\u00e9\ud83d\ude00" , "type":"text_delta" }, "type":"content_block_delta" } `))
	f.Add([]byte(`{"type":"content_block_delta","index":01,"delta":{"type":"text_delta","text":"x"}}`))
	f.Add([]byte(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"\ud800"}}`))
	f.Add([]byte(`{"type":"content_block_delta","type":"x","index":0,"delta":{"type":"text_delta","text":""}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var scratch []byte
		got, text, ok := scanTextDelta(data, &scratch)
		if !ok {
			return
		}
		got.Delta.Text = string(text)
		var want textDeltaEvent
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatalf("scanner accepted %q, encoding/json refuses it: %v", data, err)
		}
		if got != want {
			t.Fatalf("%q: scanner %+v, encoding/json %+v", data, got, want)
		}
	})
}

// TestStreamRequestIsTheSDKs: stream sends the bytes and headers the SDK's
// Messages.NewStreaming sends for the same params.
func TestStreamRequestIsTheSDKs(t *testing.T) {
	t.Parallel()
	requests := map[string]ethos.Request{
		"plain":         sampleRequest(),
		"cache marks":   cachedRequest(2000),
		"escapes":       {Model: "m", MaxTokens: 1, System: "<&> \"q\" \u2028 é", Messages: []ethos.Message{{Role: ethos.RoleUser, Content: "a\nb\t\\"}}},
		"no stop, one":  {Model: "m", MaxTokens: 5, Messages: []ethos.Message{{Role: ethos.RoleUser, Content: "x"}}},
		"empty strings": {Messages: []ethos.Message{{Role: ethos.RoleUser}}},
	}
	sse, _ := longAnswerSSE(10)
	header := http.Header{"Content-Type": {"text/event-stream"}}
	for name, req := range requests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tr := &cannedTransport{header: header, body: sse, record: true}
			c, err := New(Config{BaseURL: "http://127.0.0.1:1", APIKey: testKey, HTTPClient: &http.Client{Transport: tr}})
			if err != nil {
				t.Fatal(err)
			}
			params, perr := c.params(req)
			if perr != nil {
				t.Fatal(perr)
			}
			s := c.sdk.Messages.NewStreaming(context.Background(), params)
			for s.Next() {
			}
			if err := s.Err(); err != nil {
				t.Fatal(err)
			}
			s.Close()
			want, wantHeader := tr.sent, tr.sentHeader
			if _, err := c.stream(context.Background(), params, nil); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(want, tr.sent) {
				t.Errorf("request body differs:\nsdk    %s\nstream %s", want, tr.sent)
			}
			if diff := cmp.Diff(wantHeader, tr.sentHeader); diff != "" {
				t.Errorf("request headers differ (-sdk +stream):\n%s", diff)
			}
		})
	}
}
