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
