package llm

import (
	"context"
	"testing"

	"github.com/ethos-toolkit/ethos"
	"github.com/google/go-cmp/cmp"
)

func TestKey(t *testing.T) {
	t.Parallel()
	temp := 0.7
	base := ethos.Request{Model: "anthropic/claude", System: "s", MaxTokens: 10, Temperature: &temp,
		Messages: []ethos.Message{{Role: ethos.RoleUser, Content: "hello"}}}
	same := base
	same.Stream = true
	same.Metadata = map[string]string{"run": "r1"}
	same.CachePrefix = 1
	if Key(base) != Key(same) {
		t.Error("stream, metadata and the cache mark must not change the key")
	}
	for name, change := range map[string]func(r *ethos.Request){
		"model":       func(r *ethos.Request) { r.Model = "anthropic/other" },
		"system":      func(r *ethos.Request) { r.System = "t" },
		"message":     func(r *ethos.Request) { r.Messages = []ethos.Message{{Role: ethos.RoleUser, Content: "hello!"}} },
		"max_tokens":  func(r *ethos.Request) { r.MaxTokens = 11 },
		"temperature": func(r *ethos.Request) { t := 0.8; r.Temperature = &t },
		"no temp":     func(r *ethos.Request) { r.Temperature = nil },
		"stop":        func(r *ethos.Request) { r.Stop = []string{"x"} },
		"sample":      func(r *ethos.Request) { r.Sample = 1 },
	} {
		r := base
		change(&r)
		if Key(r) == Key(base) {
			t.Errorf("changing %s did not change the key", name)
		}
	}
}

// TestKeyIsStable pins the key of one request: the ledger answers a
// request it has paid for by this key, so a change to what the key covers
// (a new field of ethos.Request, say) must not re-key the calls already
// recorded unless the request itself changed.
func TestKeyIsStable(t *testing.T) {
	t.Parallel()
	req := ethos.Request{Model: "anthropic/claude", System: "s", MaxTokens: 10, CachePrefix: 1,
		Messages: []ethos.Message{{Role: ethos.RoleUser, Content: "hello"}}}
	if got, want := Key(req), "825c27e8af2ae63a796391e338b2f60922cee03be79806849bf63a3aee4fb70f"; got != want {
		t.Errorf("Key = %s, want %s", got, want)
	}
	temp := 0.7
	every := ethos.Request{Model: "anthropic/claude", System: "<s>&", MaxTokens: 10, Temperature: &temp,
		Stop: []string{"\n\nHuman:"}, Sample: 2, Messages: []ethos.Message{{Role: ethos.RoleUser, Content: "hello é \u2028"}}}
	if got, want := Key(every), "e04216c08c4db46e085246019320ad2be9950a072b7c2369ba2e8f719a31da0f"; got != want {
		t.Errorf("Key of a request with every field = %s, want %s", got, want)
	}
}

func TestRouterStripsProviderAndBuildsLazily(t *testing.T) {
	t.Parallel()
	var got []string
	built := 0
	r := NewRouter()
	r.Register("together", func() (ethos.Completer, error) {
		built++
		return ethos.CompleterFunc(func(ctx context.Context, req ethos.Request) (ethos.Response, error) {
			got = append(got, req.Model)
			return ethos.Response{}, nil
		}), nil
	})
	r.Register("anthropic", func() (ethos.Completer, error) {
		return nil, ethos.Errorf(ethos.Config, "provider anthropic needs an API key: set ANTHROPIC_API_KEY")
	})
	for range 2 {
		if _, err := r.Complete(t.Context(), ethos.Request{Model: "together/meta-llama/L"}); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff([]string{"meta-llama/L", "meta-llama/L"}, got); diff != "" {
		t.Errorf("models seen by adapter (-want +got):\n%s", diff)
	}
	if built != 1 {
		t.Errorf("adapter built %d times, want 1", built)
	}
	if err := r.Check("together/x", "anthropic/claude"); ethos.KindOf(err) != ethos.Config {
		t.Errorf("Check: got %v, want the missing-key config error", err)
	}
	_, err := r.Complete(t.Context(), ethos.Request{Model: "antropic/claude"})
	if want := `unknown provider "antropic"; configured: anthropic, together`; err == nil || err.Error() != want {
		t.Errorf("unknown provider: got %v, want %q", err, want)
	}
}

func TestModelRefCarried(t *testing.T) {
	t.Parallel()
	ctx := withModelRef(context.Background(), ethos.ModelRef{Provider: "together", Model: "meta-llama/Llama-3.3-70B"})
	for _, tc := range []struct {
		model string
		want  ethos.ModelRef
		kind  ethos.Kind
	}{
		{"together/meta-llama/Llama-3.3-70B", ethos.ModelRef{Provider: "together", Model: "meta-llama/Llama-3.3-70B"}, ""},
		// Rewritten below the entry (an alias): parsed anew, not the carried one.
		{"anthropic/claude-sonnet-4-5", ethos.ModelRef{Provider: "anthropic", Model: "claude-sonnet-4-5"}, ""},
		{"meta-llama/Llama-3.3-70B", ethos.ModelRef{Provider: "meta-llama", Model: "Llama-3.3-70B"}, ""},
		{"claude", ethos.ModelRef{}, ethos.Invalid},
	} {
		got, err := modelRef(ctx, ethos.Request{Model: tc.model})
		if got != tc.want || ethos.KindOf(err) != tc.kind {
			t.Errorf("modelRef(%q) = %+v, %v; want %+v, kind %q", tc.model, got, err, tc.want, tc.kind)
		}
	}
}

func TestCallKey(t *testing.T) {
	t.Parallel()
	req := ethos.Request{Model: "p/m", Messages: []ethos.Message{{Role: ethos.RoleUser, Content: "hi"}}}
	if got, want := CallKey(req, ethos.Response{CallKey: "from the ledger"}), "from the ledger"; got != want {
		t.Errorf("CallKey with the ledger's key = %q, want %q", got, want)
	}
	if got, want := CallKey(req, ethos.Response{Text: "no ledger"}), Key(req); got != want {
		t.Errorf("CallKey without a ledger = %q, want %q", got, want)
	}
}
