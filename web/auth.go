package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/ethos-toolkit/ethos"
)

// CookieName is the cookie that carries proof of the token after its first
// use.
const CookieName = "ethos_token"

// ContentSecurityPolicy is sent with every response: scripts, styles and
// connections only from the dashboard itself, no inline script or style,
// no plugins, no framing, forms only back to the dashboard.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	// same-origin rather than no-referrer: with no-referrer a browser
	// sends "Origin: null" on the dashboard's own form posts, which the
	// CSRF check could not tell from a foreign page.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}

// CheckAddr refuses to serve on anything but a loopback address without a
// token: the dashboard shows prompts, datasets and spend, and can cancel
// paid jobs. addr is host:port as for net.Listen.
func CheckAddr(addr, token string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return ethos.Errorf(ethos.Config, "--addr %q: want host:port, e.g. 127.0.0.1:8080 (%v)", addr, err)
	}
	if token != "" || isLoopback(host) {
		return nil
	}
	where := host
	if where == "" {
		where = "every interface"
	}
	return ethos.Errorf(ethos.Config, "--addr %s: refusing to serve the dashboard on %s without a token; "+
		"pass --token T (or set ETHOS_TOKEN), or bind 127.0.0.1", addr, where)
}

// MinTokenLength is the shortest token the dashboard accepts: a short one
// can be guessed by anyone who can reach the port.
const MinTokenLength = 16

// TokenEnv is the environment variable the dashboard's token comes from
// when no --token is given.
const TokenEnv = "ETHOS_TOKEN"

// ResolveToken is the dashboard's token: given (by --token), else
// $ETHOS_TOKEN. It refuses a short token (CheckToken) and an address
// beyond loopback without one (CheckAddr), before anything is opened.
func ResolveToken(given, addr string, getenv func(string) string) (string, error) {
	token, from := given, "--token"
	if token == "" {
		token, from = getenv(TokenEnv), TokenEnv
	}
	if err := CheckToken(token, from); err != nil {
		return "", err
	}
	return token, CheckAddr(addr, token)
}

// CheckToken refuses a token shorter than MinTokenLength. from names where
// it came from (--token, ETHOS_TOKEN); the token itself is never repeated.
func CheckToken(token, from string) error {
	if n := len(token); n > 0 && n < MinTokenLength {
		return ethos.Errorf(ethos.Config, "%s: the token has %d characters; the dashboard needs at least %d, "+
			"e.g. one made with: openssl rand -hex 16", from, n, MinTokenLength)
	}
	return nil
}

// isLoopback reports whether host names this machine only.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// deriveCookie is the cookie's value for token: a MAC of a fixed label, so
// a leaked cookie does not reveal the token (which may be reused for
// --token elsewhere).
func deriveCookie(token string) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("ethos dashboard cookie v1"))
	return hex.EncodeToString(m.Sum(nil))
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// authorize lets a request through or answers it. Without a token it
// accepts only requests addressed to a loopback host name, so that a web
// page elsewhere cannot reach the dashboard by rebinding a DNS name to
// 127.0.0.1. With a token it wants the token (query, header) or the
// cookie; a token in the query is swapped for the cookie and dropped from
// the URL by a redirect, so it stays out of history and logs.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) bool {
	if s.opts.Token == "" {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if !isLoopback(host) {
			http.Error(w, "ethos: this dashboard has no token and answers only on 127.0.0.1/localhost", http.StatusForbidden)
			return false
		}
		return true
	}
	if c, err := r.Cookie(CookieName); err == nil && equal(c.Value, s.cookieValue) {
		return true
	}
	if auth := r.Header.Get("Authorization"); auth != "" {
		if tok, ok := strings.CutPrefix(auth, "Bearer "); ok && equal(tok, s.opts.Token) {
			return true
		}
	}
	q := r.URL.Query()
	if tok := q.Get("token"); tok != "" && equal(tok, s.opts.Token) {
		http.SetCookie(w, &http.Cookie{Name: CookieName, Value: s.cookieValue, Path: "/",
			HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			q.Del("token")
			// One leading slash: "//host/…" would send the browser to
			// another site.
			u := url.URL{Path: "/" + strings.TrimLeft(r.URL.Path, "/\\"), RawQuery: q.Encode()}
			http.Redirect(w, r, u.String(), http.StatusSeeOther)
			return false
		}
		return true
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="ethos"`)
	http.Error(w, "ethos: token required: open the URL ethos serve printed (…/?token=…), or send Authorization: Bearer <token>", http.StatusUnauthorized)
	return false
}

// checkCSRF guards state changes: the form must carry the server's CSRF
// token, and a browser that says where the request came from must say
// this dashboard.
func (s *Server) checkCSRF(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return false
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		u, err := url.Parse(origin)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	return equal(r.PostFormValue("csrf"), s.csrf)
}
