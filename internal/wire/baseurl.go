package wire

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/internal/redact"
)

// Setup is what every adapter's New resolves from its settings before it
// builds a client: its provider name, its API root and the HTTP client
// that carries its requests.
type Setup struct {
	Provider string   // the name errors and the ledger show
	Op       string   // "<provider>: new", the Op of New's Config errors
	Base     string   // the API root as configured, or the default
	URL      *url.URL // Base parsed
	HTTP     *http.Client
}

// NewSetup resolves an adapter's settings: provider, else defProvider;
// base, else defBase, which must be an absolute http(s) URL (a Config
// error otherwise, whose message ends with hint when one is given: how
// the adapter's roots are written); hc, else NewHTTPClient(). The base
// URL's credentials never reach the error.
func NewSetup(provider, defProvider, base, defBase, hint string, hc *http.Client) (Setup, error) {
	if provider == "" {
		provider = defProvider
	}
	if base == "" {
		base = defBase
	}
	s := Setup{Provider: provider, Op: provider + ": new", Base: base, HTTP: hc}
	u, ok := ethos.HTTPURL(base)
	if !ok {
		return Setup{}, &ethos.Error{Kind: ethos.Config, Op: s.Op,
			Msg: fmt.Sprintf("base URL %q is not an http(s) URL", redact.URLs(base)) + hint}
	}
	s.URL = u
	if s.HTTP == nil {
		s.HTTP = NewHTTPClient()
	}
	return s, nil
}

// Fail is a Config error of New, under s.Op.
func (s Setup) Fail(format string, args ...any) error {
	return &ethos.Error{Kind: ethos.Config, Op: s.Op, Msg: fmt.Sprintf(format, args...)}
}
