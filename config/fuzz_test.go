package config_test

import (
	"errors"
	"testing"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/config"
)

// FuzzParse checks that no input makes Parse panic and that every failure
// is a Config error whose problems all carry a file and a line. The seed
// corpus in testdata/fuzz/FuzzParse holds the template, a minimal file and
// several broken ones.
func FuzzParse(f *testing.F) {
	f.Add(config.Template())
	f.Add([]byte(minimal))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := config.Parse("ethos.yaml", data)
		if err == nil {
			if c == nil || c.Character.Name == "" || len(c.Character.Traits) == 0 {
				t.Fatalf("Parse succeeded with an incomplete character: %+v", c)
			}
			_ = c.Hash()
			return
		}
		if c != nil {
			t.Error("Parse returned both a configuration and an error")
		}
		if k := ethos.KindOf(err); k != ethos.Config {
			t.Fatalf("kind %q, want config: %v", k, err)
		}
		fes := config.FieldErrors(err)
		if len(fes) == 0 {
			t.Fatalf("no FieldErrors in %v", err)
		}
		var fe *config.FieldError
		if !errors.As(err, &fe) {
			t.Fatalf("errors.As(*FieldError) failed for %v", err)
		}
		for _, fe := range fes {
			if fe.File != "ethos.yaml" || fe.Line < 1 || fe.Msg == "" {
				t.Errorf("problem without a place or message: %+v", fe)
			}
		}
	})
}
