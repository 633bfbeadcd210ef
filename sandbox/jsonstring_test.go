package sandbox

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/ethos-toolkit/ethos"
)

// marshalString is the reference appendJSONString must match: s as
// encoding/json writes it.
func marshalString(s string, escapeHTML bool) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(escapeHTML)
	if err := enc.Encode(s); err != nil {
		panic(err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

func TestAppendJSONString(t *testing.T) {
	for _, tc := range []struct {
		in, html, plain string
	}{
		{"", `""`, `""`},
		{"plain words.", `"plain words."`, `"plain words."`},
		{"a \"quote\" and \\", `"a \"quote\" and \\"`, `"a \"quote\" and \\"`},
		{"<b> & </b>", `"\u003cb\u003e \u0026 \u003c/b\u003e"`, `"<b> & </b>"`},
		{"tab\tnl\ncr\rbs\bff\f", `"tab\tnl\ncr\rbs\bff\f"`, `"tab\tnl\ncr\rbs\bff\f"`},
		{"\x00\x1f\x7f", `"\u0000\u001f` + "\x7f" + `"`, `"\u0000\u001f` + "\x7f" + `"`},
		{"caf\u00e9 \u2028 \u2029 \U0001F600", `"café \u2028 \u2029 😀"`, `"café \u2028 \u2029 😀"`},
		{"bad \xff\xfe end \xe2\x80", `"bad \ufffd\ufffd end \ufffd\ufffd"`, `"bad \ufffd\ufffd end \ufffd\ufffd"`},
	} {
		if got := string(appendJSONString(nil, tc.in, true)); got != tc.html {
			t.Errorf("appendJSONString(%q, html) = %s, want %s", tc.in, got, tc.html)
		}
		if got := string(appendJSONString([]byte("x"), tc.in, false)); got != "x"+tc.plain {
			t.Errorf("appendJSONString(%q) = %s, want x%s", tc.in, got, tc.plain)
		}
		if got := string(marshalString(tc.in, true)); got != tc.html {
			t.Errorf("the table's %q does not match encoding/json's %s", tc.in, got)
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "hello world ", "a\"b\\c\n\t<&>", "\xff\u2028\x00é", strings.Repeat("word ", 20)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, html := range []bool{true, false} {
			if got, want := appendJSONString(nil, s, html), marshalString(s, html); !bytes.Equal(got, want) {
				t.Fatalf("appendJSONString(%q, %v) = %s, encoding/json writes %s", s, html, got, want)
			}
		}
	})
}

// promptSeedMarshal is the reference promptSeed must match: the hash of
// the request's canonical form as json.Marshal writes it.
func promptSeedMarshal(p Prompt, stop []string, seed int64) uint64 {
	canon := struct {
		Model       string          `json:"model"`
		System      string          `json:"system"`
		Messages    []ethos.Message `json:"messages"`
		MaxTokens   int             `json:"max_tokens"`
		Temperature *float64        `json:"temperature"`
		Stop        []string        `json:"stop"`
		Seed        int64           `json:"seed"`
	}{p.Model, p.System, p.Messages, p.MaxTokens, p.Temperature, stop, seed}
	b, err := json.Marshal(canon)
	if err != nil {
		panic(err)
	}
	sum := sha256.Sum256(b)
	return binary.BigEndian.Uint64(sum[:8])
}

func TestPromptSeedMatchesMarshal(t *testing.T) {
	temp, tiny := 0.7, 1e-21
	for i, tc := range []struct {
		p    Prompt
		stop []string
		seed int64
	}{
		{Prompt{}, nil, 0},
		{Prompt{Model: "writer", System: "s", Messages: []ethos.Message{}, MaxTokens: 10}, []string{}, -1},
		{Prompt{Model: "writer", System: "be <kind> & \"brief\"\u2028", Messages: []ethos.Message{{Role: ethos.RoleUser, Content: "hi\n\xff"},
			{Role: ethos.RoleAssistant, Content: "hello"}}, MaxTokens: 8000, Temperature: &temp}, []string{"</b>", ""}, 42},
		{Prompt{Model: "m", Messages: []ethos.Message{{Role: "user", Content: "x"}}, Temperature: &tiny}, []string{"\t"}, 1 << 62},
	} {
		if got, want := promptSeed(tc.p, tc.stop, tc.seed), promptSeedMarshal(tc.p, tc.stop, tc.seed); got != want {
			t.Errorf("case %d: promptSeed %x, the marshalled form hashes to %x", i, got, want)
		}
	}
}

func FuzzPromptSeed(f *testing.F) {
	f.Add("writer", "You write <documents>.", "user", "Write one.\n\nOutput contract: ethos-document/v1", "assistant", "ok", 8000, 0.5, true, "</b>", int64(1), 2)
	f.Add("", "", "", "", "", "", 0, 0.0, false, "", int64(0), 0)
	f.Fuzz(func(t *testing.T, model, system, role1, content1, role2, content2 string, maxTokens int, temp float64, hasTemp bool, stop string, seed int64, shape int) {
		p := Prompt{Model: model, System: system, MaxTokens: maxTokens}
		if hasTemp && !math.IsNaN(temp) && !math.IsInf(temp, 0) {
			p.Temperature = &temp
		}
		var stops []string
		switch shape & 3 {
		case 1:
			p.Messages, stops = []ethos.Message{}, []string{}
		case 2:
			p.Messages, stops = []ethos.Message{{Role: ethos.Role(role1), Content: content1}}, []string{stop}
		case 3:
			p.Messages, stops = []ethos.Message{{Role: ethos.Role(role1), Content: content1}, {Role: ethos.Role(role2), Content: content2}}, []string{stop, content2}
		}
		if got, want := promptSeed(p, stops, seed), promptSeedMarshal(p, stops, seed); got != want {
			t.Fatalf("promptSeed %x, the marshalled form hashes to %x", got, want)
		}
	})
}
