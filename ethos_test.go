package ethos_test

import (
	"testing"

	"github.com/ethos-toolkit/ethos"
)

func TestHTTPURL(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]bool{
		"https://api.example.com/v1": true,
		"http://127.0.0.1:8700":      true,
		"":                           false,
		"api.example.com":            false,
		"ftp://example.com":          false,
		"https://":                   false,
		"http://%zz":                 false,
	} {
		if _, ok := ethos.HTTPURL(raw); ok != want {
			t.Errorf("HTTPURL(%q) ok = %v, want %v", raw, ok, want)
		}
	}
}

func TestParseModelRef(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ ref, provider, model, err string }{
		{"anthropic/claude-sonnet-4-5", "anthropic", "claude-sonnet-4-5", ""},
		{"together/meta-llama/Llama-3.3-70B", "together", "meta-llama/Llama-3.3-70B", ""},
		{"", "", "", "missing model reference; want provider/model, for example anthropic/claude-sonnet-4-5"},
		{"claude", "", "", `model reference "claude" must be provider/model, for example anthropic/claude-sonnet-4-5`},
		{"/m", "", "", `model reference "/m" must be provider/model, for example anthropic/claude-sonnet-4-5`},
		{"p/", "", "", `model reference "p/" must be provider/model, for example anthropic/claude-sonnet-4-5`},
	} {
		r, err := ethos.ParseModelRef(tc.ref)
		if tc.err == "" {
			if err != nil || r.Provider != tc.provider || r.Model != tc.model || r.String() != tc.ref {
				t.Errorf("ParseModelRef(%q) = %+v, %v", tc.ref, r, err)
			}
			continue
		}
		if err == nil || err.Error() != tc.err || ethos.KindOf(err) != ethos.Invalid {
			t.Errorf("ParseModelRef(%q): got %v (%s), want invalid: %s", tc.ref, err, ethos.KindOf(err), tc.err)
		}
		if p, m, ok := ethos.SplitModel(tc.ref); ok || p != "" || m != "" {
			t.Errorf("SplitModel(%q) = %q, %q, %v", tc.ref, p, m, ok)
		}
	}
}

func TestModelRefNames(t *testing.T) {
	t.Parallel()
	r := ethos.ModelRef{Provider: "together", Model: "meta-llama/Llama-3.3-70B"}
	for ref, want := range map[string]bool{
		"together/meta-llama/Llama-3.3-70B":  true,
		"together/meta-llama/Llama-3.3-70":   false,
		"togethe/rmeta-llama/Llama-3.3-70B":  false,
		"together:meta-llama/Llama-3.3-70B":  false,
		"together/meta-llama/Llama-3.3-70BX": false,
		"meta-llama/Llama-3.3-70B":           false,
		"":                                   false,
	} {
		if got := r.Names(ref); got != want || got != (r.String() == ref) {
			t.Errorf("%+v.Names(%q) = %v, want %v", r, ref, got, want)
		}
	}
}
