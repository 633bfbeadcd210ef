package sandbox

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
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
