package redact_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ethos-toolkit/ethos/internal/redact"
)

func TestURLs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"https://api.together.xyz/v1", "https://api.together.xyz/v1"},
		{"http://localhost:8000/v1", "http://localhost:8000/v1"},
		{"https://user:secret@host/v1", "https://user:xxxxx@host/v1"},
		{"https://user:secret@host:8443", "https://user:xxxxx@host:8443"},
		{"https://token-only@host/v1", "https://token-only@host/v1"},
		{"http://host:8080/path@x", "http://host:8080/path@x"},
		{"https://host/v1?api-version=2024-10&api_key=k3y", "https://host/v1?api-version=2024-10&api_key=xxxxx"},
		{"https://host/v1?key=a&token=b&X-Amz-Signature=c&sig=d&region=eu", "https://host/v1?key=xxxxx&token=xxxxx&X-Amz-Signature=xxxxx&sig=xxxxx&region=eu"},
		{"https://host/v1?access_token=abc#frag", "https://host/v1?access_token=xxxxx#frag"},
		{`request failed: Get "http://u:p4ss@127.0.0.1:1/v1?apikey=k": refused`, `request failed: Get "http://u:xxxxx@127.0.0.1:1/v1?apikey=xxxxx": refused`},
		{"ftp://u:p@host and https://a:b@c/", "ftp://u:xxxxx@host and https://a:xxxxx@c/"},
		{"not a url: key=value, a:b@c", "not a url: key=value, a:b@c"},
	} {
		if diff := cmp.Diff(tc.want, redact.URLs(tc.in)); diff != "" {
			t.Errorf("URLs(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
}
