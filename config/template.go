package config

import (
	_ "embed"
	"sync"

	"github.com/ethos-toolkit/ethos"
)

// template is the ethos.yaml that `ethos init` writes. It is also where
// the example character, Agora, is written down: Default reads the
// character from it, so the wording exists once, in the form users see.
//
//go:embed template.yaml
var template []byte

// Template returns the commented ethos.yaml that `ethos init` writes: the
// Agora character and every other setting at its default, explained.
// Parsing it yields Default().
func Template() []byte {
	return append([]byte(nil), template...)
}

var agora = sync.OnceValue(func() ethos.Character {
	c, err := Parse("ethos.yaml", template)
	if err != nil {
		// The template is compiled in and tested; this cannot happen in a
		// released binary.
		panic("config: built-in template: " + err.Error())
	}
	return c.Character
})
