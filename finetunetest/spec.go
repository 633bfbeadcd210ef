package finetunetest

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/jsonschema/v6"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	verrors "github.com/pb33f/libopenapi-validator/errors"
	"gopkg.in/yaml.v3"
)

// Spec validates HTTP traffic against a provider's OpenAPI 3.1 document,
// so that a backend's tests prove its wire shapes, not only its round
// trips. Strict checks report properties the document does not declare
// (provider specs allow any extra request field, which is how a
// misspelt or misplaced parameter goes unnoticed); lenient checks only
// types, required properties and enums. It is safe for concurrent use.
type Spec struct {
	strict, lenient validator.Validator
	mu              sync.Mutex // the validator is not documented as concurrency-safe
}

// NewSpec builds both validators for doc, an OpenAPI document as YAML or
// JSON. Keep doc to the paths the client calls: the validator compiles
// every operation's schemas. freeForm lists JSON paths (glob patterns
// such as "$.body.data[*].data.*") whose properties strict checks leave
// alone: free-form objects, which strict mode would otherwise reject
// whole.
func NewSpec(t testing.TB, doc []byte, freeForm ...string) *Spec {
	t.Helper()
	return &Spec{strict: newValidator(t, doc, true, freeForm...), lenient: newValidator(t, doc, false)}
}

// NewLenientSpec builds only the lenient validator, for checks that show
// what a document accepts as it stands.
func NewLenientSpec(t testing.TB, doc []byte) *Spec {
	t.Helper()
	return &Spec{lenient: newValidator(t, doc, false)}
}

func newValidator(t testing.TB, doc []byte, strict bool, freeForm ...string) validator.Validator {
	t.Helper()
	d, err := libopenapi.NewDocument(doc)
	if err != nil {
		t.Fatalf("parse spec: %v", err)
	}
	opts := []config.Option{
		config.WithRegexEngine(ecmaRegexp),
		config.WithStandardBodyDecoders(),
		config.WithoutSecurityValidation(),
	}
	if strict {
		opts = append(opts, config.WithStrictMode(), config.WithStrictIgnoredHeadersExtra(sdkHeaders...))
		if len(freeForm) > 0 {
			opts = append(opts, config.WithStrictIgnorePaths(freeForm...))
		}
	}
	v, errs := validator.NewValidator(d, opts...)
	if len(errs) > 0 {
		t.Fatalf("build validator: %v", errs)
	}
	return v
}

// sdkHeaders are the client-identification headers the official
// (Stainless-generated) SDKs send with every request; no spec declares
// them, and they carry nothing of the call.
var sdkHeaders = []string{
	"X-Stainless-Arch", "X-Stainless-Lang", "X-Stainless-Os", "X-Stainless-Package-Version",
	"X-Stainless-Retry-Count", "X-Stainless-Runtime", "X-Stainless-Runtime-Version", "X-Stainless-Timeout",
}

// uEscape is an ECMAScript \uXXXX escape, which Go's RE2 spells \x{XXXX}.
var uEscape = regexp.MustCompile(`\\u([0-9a-fA-F]{4})`)

func ecmaRegexp(pattern string) (jsonschema.Regexp, error) {
	return regexp.Compile(uEscape.ReplaceAllString(pattern, `\x{$1}`))
}

func (s *Spec) pick(strict bool) validator.Validator {
	if strict && s.strict != nil {
		return s.strict
	}
	return s.lenient
}

// Request validates r, whose body is body, and returns the problems found,
// or nil.
func (s *Spec) Request(r *http.Request, body []byte, strict bool) []string {
	c := r.Clone(r.Context())
	c.Body = io.NopCloser(bytes.NewReader(body))
	c.ContentLength = int64(len(body))
	s.mu.Lock()
	ok, errs := s.pick(strict).ValidateHttpRequestSync(c)
	s.mu.Unlock()
	if ok {
		return nil
	}
	return describe(errs)
}

// Response validates a recorded answer to r.
func (s *Spec) Response(r *http.Request, rec *httptest.ResponseRecorder, strict bool) []string {
	s.mu.Lock()
	ok, errs := s.pick(strict).ValidateHttpResponse(r, rec.Result())
	s.mu.Unlock()
	if ok {
		return nil
	}
	return describe(errs)
}

// Handler serves h, checking every request strictly and every 2xx answer
// strictly or leniently. A violation fails t with the request or answer
// shown.
func (s *Spec) Handler(t testing.TB, h http.Handler, strictAnswers bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if problems := s.Request(r, body, true); problems != nil {
			t.Errorf("request %s %s violates the spec:\n%s\nbody: %.2000s", r.Method, r.URL.Path, strings.Join(problems, "\n"), body)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code/100 == 2 {
			if problems := s.Response(r, rec, strictAnswers); problems != nil {
				t.Errorf("answer to %s %s violates the spec:\n%s\nbody: %.3000s", r.Method, r.URL.Path, strings.Join(problems, "\n"), rec.Body.Bytes())
			}
		}
		for k, vs := range rec.Header() {
			w.Header()[k] = vs
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	})
}

func describe(errs []*verrors.ValidationError) []string {
	var msgs []string
	for _, e := range errs {
		msgs = append(msgs, e.Error())
		for _, se := range e.SchemaValidationErrors {
			msgs = append(msgs, "  "+se.Reason+" at "+se.FieldPath)
		}
	}
	return msgs
}

// NullableToType rewrites OpenAPI 3.0's nullable, which provider specs
// still use in documents that declare OpenAPI 3.1 (where the validator
// refuses it), into 3.1's type list: {type: T, nullable: true} becomes
// {type: [T, "null"]}; nullable: false and a nullable without a type are
// dropped. It returns how many it rewrote.
func NullableToType(n *yaml.Node) int {
	count := 0
	if n.Kind == yaml.MappingNode {
		if v := MapGet(n, "nullable"); v != nil {
			count++
			MapDelete(n, "nullable")
			if typ := MapGet(n, "type"); v.Value == "true" && typ != nil && typ.Kind == yaml.ScalarNode {
				MapSet(n, "type", &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{
					{Kind: yaml.ScalarNode, Value: typ.Value},
					{Kind: yaml.ScalarNode, Tag: "!!str", Style: yaml.DoubleQuotedStyle, Value: "null"},
				}})
			}
		}
	}
	for _, c := range n.Content {
		count += NullableToType(c)
	}
	return count
}

// ExclusiveBoundsToNumbers rewrites OpenAPI 3.0's boolean
// exclusiveMinimum and exclusiveMaximum, which the 3.1 metaschema
// refuses, into 3.1's numeric form: {minimum: 0, exclusiveMinimum: true}
// becomes {exclusiveMinimum: 0}. It returns how many it rewrote.
func ExclusiveBoundsToNumbers(n *yaml.Node) int {
	count := 0
	if n.Kind == yaml.MappingNode {
		for _, b := range [][2]string{{"exclusiveMinimum", "minimum"}, {"exclusiveMaximum", "maximum"}} {
			ex := MapGet(n, b[0])
			if ex == nil || ex.Tag != "!!bool" {
				continue
			}
			count++
			bound := MapGet(n, b[1])
			MapDelete(n, b[0])
			if ex.Value == "true" && bound != nil {
				MapDelete(n, b[1])
				MapSet(n, b[0], bound)
			}
		}
	}
	for _, c := range n.Content {
		count += ExclusiveBoundsToNumbers(c)
	}
	return count
}

// MapGet returns the value of key in mapping n, or nil.
func MapGet(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// MapPath follows keys down from n, failing t when one is missing.
func MapPath(t testing.TB, n *yaml.Node, keys ...string) *yaml.Node {
	t.Helper()
	for _, k := range keys {
		if n = MapGet(n, k); n == nil {
			t.Fatalf("spec has no %s", strings.Join(keys, "."))
		}
	}
	return n
}

// MapSet sets key in mapping n to v.
func MapSet(n *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			n.Content[i+1] = v
			return
		}
	}
	n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, v)
}

// MapDelete removes key from mapping n and reports whether it was there.
func MapDelete(n *yaml.Node, key string) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			n.Content = append(n.Content[:i], n.Content[i+2:]...)
			return true
		}
	}
	return false
}

// MapRename renames key from to to in mapping n and reports whether it
// was there.
func MapRename(n *yaml.Node, from, to string) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == from {
			n.Content[i].Value = to
			return true
		}
	}
	return false
}
