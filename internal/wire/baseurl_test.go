package wire

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ethos-toolkit/ethos"
)

func TestNewSetup(t *testing.T) {
	t.Parallel()
	s, err := NewSetup("", "acme", "", "https://api.acme.test/v1", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Provider != "acme" || s.Op != "acme: new" || s.Base != "https://api.acme.test/v1" || s.URL.Host != "api.acme.test" || s.HTTP == nil {
		t.Errorf("defaults: got %+v", s)
	}
	hc := &http.Client{}
	s, err = NewSetup("gateway", "acme", "http://127.0.0.1:9/", "https://api.acme.test/v1", "", hc)
	if err != nil {
		t.Fatal(err)
	}
	if s.Provider != "gateway" || s.Base != "http://127.0.0.1:9/" || s.HTTP != hc {
		t.Errorf("given: got %+v", s)
	}

	for _, base := range []string{"api.acme.test", "ftp://acme.test", "http://", "https://user:secret@%zz"} {
		_, err := NewSetup("gateway", "acme", base, "", "; see the docs", nil)
		if ethos.KindOf(err) != ethos.Config {
			t.Errorf("%q: got %v, want a Config error", base, err)
			continue
		}
		if msg := err.Error(); !strings.HasPrefix(msg, "gateway: new: base URL ") || !strings.HasSuffix(msg, "; see the docs") || strings.Contains(msg, "secret") {
			t.Errorf("%q: message %q", base, msg)
		}
	}
}
