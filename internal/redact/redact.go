// Package redact masks the credentials that URLs can carry, so that a base
// URL or webhook URL can be printed, logged or stored: the password of the
// userinfo part and the value of every query parameter whose name says it
// is a key. It depends on nothing but the standard library.
package redact

import "regexp"

// Mask replaces a credential; it is what net/url's URL.Redacted writes.
const Mask = "xxxxx"

var (
	// userinfoPassword matches "scheme://user:password@"; the password
	// cannot contain "/", so "host:port/path@x" is left alone.
	userinfoPassword = regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.-]*://[^\s/?#@:"'<>]*:)[^\s/?#@"'<>]*@`)
	// keyParam matches "?name=" or "&name=" for a name that says key,
	// token, secret, password, signature or credential, and its value.
	keyParam = regexp.MustCompile(`(?i)([?&;][^\s=&#?"'<>]*(?:key|token|secret|passw|pwd|sig|credential)[^\s=&#?"'<>]*=)[^\s&#"'<>]*`)
)

// URLs returns s with the credentials of every URL in it masked. s may be
// one URL or a message that quotes some; everything else is kept as it is.
func URLs(s string) string {
	s = userinfoPassword.ReplaceAllString(s, "${1}"+Mask+"@")
	return keyParam.ReplaceAllString(s, "${1}"+Mask)
}
