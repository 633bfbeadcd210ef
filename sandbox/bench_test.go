package sandbox

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ethos-toolkit/ethos"
)

// discardWriter is a ResponseWriter that keeps nothing, so a benchmark of
// the server measures the sandbox and not a recording buffer.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}
func (w *discardWriter) Flush()                      {}

// contractBodies are request bodies of the shapes ethos generate sends for
// each contract: a system block marked for caching, one user turn, streamed.
func contractBodies(b *testing.B) map[string][]byte {
	sys, user := ideasPrompt("Everyday advice", 5, []string{"A nurse weighs a move abroad", "A student doubts a thesis"})
	dsys, duser := documentPrompt("Everyday advice", "report", 900, "A nurse weighs a move abroad", sampleSituation)
	doc := direct(ethosWriter{persona: StrongPersona}, "writer", dsys, duser, 1).text
	rsys := responseSystem(agoraTraits)
	body := func(system, user string) []byte {
		raw, err := json.Marshal(map[string]any{
			"model": "writer", "max_tokens": 8000, "stream": true,
			"system":   []any{map[string]any{"type": "text", "text": system, "cache_control": map[string]any{"type": "ephemeral"}}},
			"messages": []any{map[string]any{"role": "user", "content": user}},
		})
		if err != nil {
			b.Fatal(err)
		}
		return raw
	}
	return map[string][]byte{
		"ideas":    body(sys, user),
		"document": body(dsys, duser),
		"response": body(rsys, replyOf(doc)+"\n\n"+doc),
	}
}

// BenchmarkAnthropicContract answers one streamed contract request through
// the whole server, as the sandbox does for each call of ethos generate.
func BenchmarkAnthropicContract(b *testing.B) {
	s := New(Options{Seed: 1})
	for _, name := range []string{"ideas", "document", "response"} {
		body := contractBodies(b)[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			w := &discardWriter{}
			for b.Loop() {
				r := httptest.NewRequest("POST", "/v1/messages", bytes.NewReader(body))
				r.Header.Set("x-api-key", "k")
				r.Header.Set("anthropic-version", "2023-06-01")
				w.h = http.Header{}
				s.ServeHTTP(w, r)
			}
		})
	}
}

func BenchmarkAnthropicParse(b *testing.B) {
	body := contractBodies(b)["document"]
	b.ReportAllocs()
	for b.Loop() {
		if _, e := (anthropicProtocol{}).parse(body); e != nil {
			b.Fatal(e.msg)
		}
	}
}

func BenchmarkPromptSeed(b *testing.B) {
	sys, user := documentPrompt("Everyday advice", "report", 900, "A nurse weighs a move abroad", sampleSituation)
	p := Prompt{Model: "writer", System: sys, Messages: []ethos.Message{{Role: ethos.RoleUser, Content: user}}, MaxTokens: 8000}
	b.ReportAllocs()
	for b.Loop() {
		promptSeed(p, nil, 1)
	}
}

func BenchmarkChunks(b *testing.B) {
	sys, user := documentPrompt("Everyday advice", "report", 900, "A nurse weighs a move abroad", sampleSituation)
	text := direct(ethosWriter{persona: StrongPersona}, "writer", sys, user, 1).text
	b.ReportAllocs()
	for b.Loop() {
		chunks(text, 7)
	}
}

func BenchmarkWriteDocument(b *testing.B) {
	sys, user := documentPrompt("Everyday advice", "report", 900, "A nurse weighs a move abroad", sampleSituation)
	w := ethosWriter{persona: StrongPersona}
	b.ReportAllocs()
	for b.Loop() {
		direct(w, "writer", sys, user, 1)
	}
}
