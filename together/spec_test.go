package together

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
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

// usedPaths are the spec paths the client calls; the validator is built
// for these alone, since it compiles every operation's schemas up front.
var usedPaths = []string{
	"/files/upload",
	"/files/{id}",
	"/fine-tunes",
	"/fine-tunes/{id}",
	"/fine-tunes/{id}/events",
	"/fine-tunes/{id}/checkpoints",
	"/fine-tunes/{id}/cancel",
}

// specPatch says how the test's copy of the spec departs from the file,
// so that each change is visible and tested (see testdata/README.md).
type specPatch struct {
	// fixBugs works around the spec's two known contradictions:
	// TrainingMethodSFT.train_on_inputs is declared both as
	// oneOf[boolean, "auto"] and as type boolean, so the "auto" the SDKs
	// send fails; cosine lr_scheduler_args match both oneOf branches
	// (the linear branch is a subset), so every cosine body fails.
	fixBugs bool
}

// spec returns the trimmed, patched spec as YAML.
func spec(t testing.TB, p specPatch) []byte {
	t.Helper()
	raw, err := os.ReadFile("testdata/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("parse spec: %v", err)
	}
	root := doc.Content[0]
	paths := mapGet(root, "paths")
	if paths == nil {
		t.Fatal("spec has no paths")
	}
	kept := &yaml.Node{Kind: yaml.MappingNode}
	for _, p := range usedPaths {
		item := mapGet(paths, p)
		if item == nil {
			t.Fatalf("spec has no path %s", p)
		}
		kept.Content = append(kept.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: p}, item)
	}
	mapSet(root, "paths", kept)
	schemas := mapGet(mapGet(root, "components"), "schemas")
	if n := nullableToType(root); n == 0 {
		t.Fatal("the spec no longer uses OpenAPI 3.0's nullable: drop nullableToType")
	}
	if p.fixBugs {
		createBody := mapPath(t, paths, "/fine-tunes", "post", "requestBody", "content", "application/json", "schema", "properties")
		for _, n := range []*yaml.Node{
			mapPath(t, schemas, "TrainingMethodSFT", "properties", "train_on_inputs"),
			mapGet(createBody, "train_on_inputs"),
		} {
			if !mapDelete(n, "type") {
				t.Fatal("spec bug 1 (train_on_inputs declared boolean beside its oneOf) is gone: drop the patch")
			}
		}
		args := mapPath(t, schemas, "LRScheduler", "properties", "lr_scheduler_args")
		if !mapRename(args, "oneOf", "anyOf") {
			t.Fatal("spec bug 2 (lr_scheduler_args oneOf with overlapping branches) is gone: drop the patch")
		}
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// nullableToType rewrites OpenAPI 3.0's `nullable`, which the spec uses
// although it declares OpenAPI 3.1 (where the validator refuses it), into
// 3.1's type list: {type: T, nullable: true} becomes {type: [T, "null"]};
// nullable: false and a nullable without a type are dropped. It returns
// how many it rewrote.
func nullableToType(n *yaml.Node) int {
	count := 0
	if n.Kind == yaml.MappingNode {
		if v := mapGet(n, "nullable"); v != nil {
			count++
			mapDelete(n, "nullable")
			if typ := mapGet(n, "type"); v.Value == "true" && typ != nil && typ.Kind == yaml.ScalarNode {
				mapSet(n, "type", &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{
					{Kind: yaml.ScalarNode, Value: typ.Value},
					{Kind: yaml.ScalarNode, Tag: "!!str", Style: yaml.DoubleQuotedStyle, Value: "null"},
				}})
			}
		}
	}
	for _, c := range n.Content {
		count += nullableToType(c)
	}
	return count
}

func mapGet(n *yaml.Node, key string) *yaml.Node {
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

func mapPath(t testing.TB, n *yaml.Node, keys ...string) *yaml.Node {
	t.Helper()
	for _, k := range keys {
		if n = mapGet(n, k); n == nil {
			t.Fatalf("spec has no %s", strings.Join(keys, "."))
		}
	}
	return n
}

func mapSet(n *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			n.Content[i+1] = v
			return
		}
	}
	n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, v)
}

func mapDelete(n *yaml.Node, key string) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			n.Content = append(n.Content[:i], n.Content[i+2:]...)
			return true
		}
	}
	return false
}

func mapRename(n *yaml.Node, from, to string) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == from {
			n.Content[i].Value = to
			return true
		}
	}
	return false
}

// uEscape is an ECMAScript \uXXXX escape, which Go's RE2 spells \x{XXXX}.
var uEscape = regexp.MustCompile(`\\u([0-9a-fA-F]{4})`)

func ecmaRegexp(pattern string) (jsonschema.Regexp, error) {
	return regexp.Compile(uEscape.ReplaceAllString(pattern, `\x{$1}`))
}

// newSpecValidator builds a validator over spec. Strict mode reports
// properties the spec does not declare: the spec's request bodies allow
// any extra field, which is how the original system's rejected
// parameter went unnoticed.
func newSpecValidator(t testing.TB, spec []byte, strict bool) validator.Validator {
	t.Helper()
	doc, err := libopenapi.NewDocument(spec)
	if err != nil {
		t.Fatalf("parse spec: %v", err)
	}
	opts := []config.Option{
		config.WithRegexEngine(ecmaRegexp),
		config.WithStandardBodyDecoders(),
		config.WithoutSecurityValidation(),
	}
	if strict {
		opts = append(opts, config.WithStrictMode())
	}
	v, errs := validator.NewValidator(doc, opts...)
	if len(errs) > 0 {
		t.Fatalf("build validator: %v", errs)
	}
	return v
}

var (
	specOnce      sync.Once
	specValidator validator.Validator
	laxOnce       sync.Once
	laxValidator  validator.Validator
	specMu        sync.Mutex // the validators are shared by parallel tests
)

// lenientValidator is the patched spec without strict mode: types,
// required fields and enums are checked, undeclared fields allowed.
func lenientValidator(t testing.TB) validator.Validator {
	t.Helper()
	laxOnce.Do(func() { laxValidator = newSpecValidator(t, spec(t, specPatch{fixBugs: true}), false) })
	if laxValidator == nil {
		t.Fatal("lenient spec validator failed to build in another test")
	}
	return laxValidator
}

// patchedValidator is the validator every test request goes through: the
// trimmed spec with its two bugs worked around, in strict mode.
func patchedValidator(t testing.TB) validator.Validator {
	t.Helper()
	specOnce.Do(func() { specValidator = newSpecValidator(t, spec(t, specPatch{fixBugs: true}), true) })
	if specValidator == nil {
		t.Fatal("spec validator failed to build in another test")
	}
	return specValidator
}

// specChecked serves h, checking every request with the strict validator
// and every 2xx answer with answers. A violation fails the test that owns
// the server, with the request or answer shown.
func specChecked(t *testing.T, h http.Handler, answers validator.Validator) http.Handler {
	strict := patchedValidator(t)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		if problems := checkRequest(t, strict, r, body); problems != nil {
			t.Errorf("request %s %s violates the spec:\n%s\nbody: %.2000s", r.Method, r.URL.Path, strings.Join(problems, "\n"), body)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code/100 == 2 {
			if problems := checkResponse(t, answers, r, rec); problems != nil {
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

// checkRequest validates r, whose body is body, against the spec and
// returns the problems found, one per line.
func checkRequest(t testing.TB, v validator.Validator, r *http.Request, body []byte) []string {
	t.Helper()
	c := r.Clone(r.Context())
	c.Body = io.NopCloser(bytes.NewReader(body))
	c.ContentLength = int64(len(body))
	specMu.Lock()
	ok, errs := v.ValidateHttpRequestSync(c)
	specMu.Unlock()
	if ok {
		return nil
	}
	return describe(errs)
}

// checkResponse validates a recorded answer to r against the spec.
func checkResponse(t testing.TB, v validator.Validator, r *http.Request, rec *httptest.ResponseRecorder) []string {
	t.Helper()
	specMu.Lock()
	ok, errs := v.ValidateHttpResponse(r, rec.Result())
	specMu.Unlock()
	if ok {
		return nil
	}
	return describe(errs)
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
