package promptver

import (
	"testing"
	"testing/fstest"
)

func TestVersionsFollowTheText(t *testing.T) {
	t.Parallel()
	a := fstest.MapFS{"p/x.tmpl": {Data: []byte("hello")}, "p/y.tmpl": {Data: []byte("world")}}
	b := fstest.MapFS{"p/x.tmpl": {Data: []byte("hello")}, "p/y.tmpl": {Data: []byte("world!")}}
	va, vb := Versions(a, "p", "v1", "t"), Versions(b, "p", "v1", "t")
	// sha256("hello") begins 2cf24dba5fb0.
	if va["x.tmpl"] != "v1+2cf24dba5fb0" {
		t.Errorf("x.tmpl: %q", va["x.tmpl"])
	}
	if va["x.tmpl"] != vb["x.tmpl"] || va["y.tmpl"] == vb["y.tmpl"] || len(va) != 2 {
		t.Errorf("versions must change with the text and only with it: %v vs %v", va, vb)
	}
}
