package llm

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/ethos-toolkit/ethos"
)

// referenceKey is Key as first written: the SHA-256 of json.Marshal of the
// rendered request (TestKeyIsStable pins the rendered form itself). Key must give the same string for every request, or
// the calls recorded under the old keys would be paid for again.
func referenceKey(req ethos.Request) string {
	rendered := renderedRequest{req.Model, req.System, req.Messages, req.MaxTokens, req.Temperature, req.Stop, req.Sample}
	b, err := json.Marshal(rendered)
	if err != nil {
		panic("llm: rendering request: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func TestKeyMatchesReference(t *testing.T) {
	t.Parallel()
	temp, zero, neg := 0.7, 0.0, -1e-9
	long := make([]byte, 70_000)
	for i := range long {
		long[i] = byte('a' + i%26)
	}
	for name, req := range map[string]ethos.Request{
		"empty":         {},
		"plain":         {Model: "anthropic/claude", System: "s", MaxTokens: 10, Messages: []ethos.Message{{Role: ethos.RoleUser, Content: "hello"}}},
		"temperature":   {Model: "m", Temperature: &temp},
		"zero temp":     {Model: "m", Temperature: &zero},
		"tiny temp":     {Model: "m", Temperature: &neg},
		"stop":          {Model: "m", Stop: []string{"\n\nHuman:", "</x>"}},
		"empty stop":    {Model: "m", Stop: []string{}},
		"no messages":   {Model: "m", Messages: []ethos.Message{}},
		"sample":        {Model: "m", Sample: 3, MaxTokens: -1},
		"html":          {System: "<b>&amp;</b>", Messages: []ethos.Message{{Role: ethos.RoleAssistant, Content: "a < b && c > d"}}},
		"control":       {System: "tab\tnl\ncr\rnul\x00 esc\x1b", Messages: []ethos.Message{{Role: "odd\"role", Content: "\\ \" \u2028 \u2029"}}},
		"invalid utf-8": {System: "\xff\xfe bad \xc3", Messages: []ethos.Message{{Content: "\xed\xa0\x80"}}},
		"unicode":       {System: "Grüße, 世界 🎉", Messages: []ethos.Message{{Role: ethos.RoleUser, Content: "é"}}},
		"long":          {System: string(long), Messages: []ethos.Message{{Role: ethos.RoleUser, Content: string(long[:4097])}}},
		"ignored":       {Model: "m", Stream: true, CachePrefix: 2, Metadata: map[string]string{"run": "r"}},
	} {
		if got, want := Key(req), referenceKey(req); got != want {
			t.Errorf("%s: Key = %s, want %s", name, got, want)
		}
	}
}

// FuzzKey checks Key against referenceKey on arbitrary requests.
func FuzzKey(f *testing.F) {
	f.Add("anthropic/claude", "s", "user", "hello", 10, 0.7, true, "", 0)
	f.Add("m", "<html>&", "assistant", "\x00\xff\u2028", -3, -0.0, false, "stop", 2)
	f.Add("m", "s", "user", "hi", 1, math.NaN(), true, "", 0)
	f.Fuzz(func(t *testing.T, model, system, role, content string, maxTokens int, temp float64, hasTemp bool, stop string, sample int) {
		req := ethos.Request{Model: model, System: system, MaxTokens: maxTokens, Sample: sample,
			Messages: []ethos.Message{{Role: ethos.Role(role), Content: content}, {Role: ethos.RoleUser, Content: system + content}}}
		if hasTemp {
			req.Temperature = &temp
		}
		if stop != "" {
			req.Stop = []string{stop, content}
		}
		if _, err := json.Marshal(req.Temperature); err != nil {
			// NaN and infinities have no JSON form: both keys refuse them.
			for name, key := range map[string]func(ethos.Request) string{"Key": Key, "referenceKey": referenceKey} {
				if !panics(func() { key(req) }) {
					t.Errorf("%s of a request with temperature %v did not panic", name, temp)
				}
			}
			return
		}
		if got, want := Key(req), referenceKey(req); got != want {
			t.Errorf("Key = %s, want %s", got, want)
		}
	})
}

// BenchmarkKey keys a request of the size a document stage sends.
func BenchmarkKey(b *testing.B) {
	temp := 1.0
	system := strings.Repeat("The character weighs honesty against kindness. ", 130)
	req := ethos.Request{Model: "anthropic/claude-sonnet-4-5", System: system, MaxTokens: 8000, Temperature: &temp,
		Messages: []ethos.Message{{Role: ethos.RoleUser, Content: system[:2000]}}}
	b.Run("streamed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			Key(req)
		}
	})
	b.Run("marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			referenceKey(req)
		}
	})
}

// panics reports whether f panics.
func panics(f func()) (did bool) {
	defer func() { did = recover() != nil }()
	f()
	return false
}
