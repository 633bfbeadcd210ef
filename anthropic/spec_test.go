package anthropic

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/jsonschema/v6"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/internal/wire/wiretest"
)

// TestRequestsMatchOfficialSpec captures the bodies the adapter sends for
// JSON and streamed calls and validates them against the POST /v1/messages
// request schema of the spec bundled with anthropic-sdk-go.
func TestRequestsMatchOfficialSpec(t *testing.T) {
	t.Parallel()
	spec := onlyMessagesPath(t, wiretest.AnthropicSpec(t))
	doc, err := libopenapi.NewDocument(spec)
	if err != nil {
		t.Fatalf("parse spec: %v", err)
	}
	v, errs := validator.NewValidator(doc, config.WithRegexEngine(ecmaRegexp))
	if len(errs) > 0 {
		t.Fatalf("build validator: %v", errs)
	}

	var (
		mu     sync.Mutex
		bodies [][]byte
	)
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, body)
		mu.Unlock()
		if bytes.Contains(body, []byte(`"stream":true`)) {
			wiretest.WriteSSE(w, streamFrames)
			return
		}
		w.Header().Set("content-type", "application/json")
		io.WriteString(w, messageJSON)
	})
	minimal := ethos.Request{Model: "claude-haiku-4-5", Messages: []ethos.Message{{Role: ethos.RoleUser, Content: "x"}}, MaxTokens: 1}
	for _, req := range []ethos.Request{sampleRequest(), minimal, cachedRequest(2)} {
		for _, stream := range []bool{false, true} {
			req.Stream = stream
			if _, err := c.Complete(context.Background(), req); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(bodies) != 6 {
		t.Fatalf("captured %d bodies, want 6", len(bodies))
	}
	bv := v.GetRequestBodyValidator()
	for _, body := range bodies {
		r, _ := http.NewRequest(http.MethodPost, "https://api.anthropic.com/v1/messages", bytes.NewReader(body))
		r.Header.Set("content-type", "application/json")
		if ok, verrs := bv.ValidateRequestBody(r); !ok {
			var msgs []string
			for _, e := range verrs {
				msgs = append(msgs, e.Error())
				for _, se := range e.SchemaValidationErrors {
					msgs = append(msgs, "  "+se.Reason+" at "+se.FieldPath)
				}
			}
			t.Errorf("body %s violates the spec:\n%s", body, strings.Join(msgs, "\n"))
		}
	}

	// The check must be able to fail: a field the spec does not know.
	bad, _ := http.NewRequest(http.MethodPost, "https://api.anthropic.com/v1/messages",
		strings.NewReader(`{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}],"temperature":0.5}`))
	bad.Header.Set("content-type", "application/json")
	if ok, _ := bv.ValidateRequestBody(bad); ok {
		t.Error("the validator accepted a body with an unknown field; the check proves nothing")
	}
}

// onlyMessagesPath drops every path but POST /v1/messages: the validator
// compiles the schema of each operation up front, and the full spec has
// hundreds of them.
func onlyMessagesPath(t *testing.T, spec []byte) []byte {
	t.Helper()
	return onlyPost(t, spec, "/v1/messages")
}

// onlyPost drops every path but POST path.
func onlyPost(t *testing.T, spec []byte, path string) []byte {
	t.Helper()
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(spec, &doc); err != nil {
		t.Fatal(err)
	}
	var paths map[string]map[string]json.RawMessage
	if err := json.Unmarshal(doc["paths"], &paths); err != nil {
		t.Fatal(err)
	}
	post, ok := paths[path]["post"]
	if !ok {
		t.Fatalf("the spec has no POST %s", path)
	}
	doc["paths"], _ = json.Marshal(map[string]map[string]json.RawMessage{path: {"post": post}})
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// uEscape is an ECMAScript \uXXXX escape, which the spec's patterns use and
// Go's RE2 syntax spells \x{XXXX}.
var uEscape = regexp.MustCompile(`\\u([0-9a-fA-F]{4})`)

// ecmaRegexp compiles the spec's ECMAScript patterns with Go's regexp.
func ecmaRegexp(pattern string) (jsonschema.Regexp, error) {
	return regexp.Compile(uEscape.ReplaceAllString(pattern, `\x{$1}`))
}
