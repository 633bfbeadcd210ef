// Package promptver names embedded prompt templates with their versions,
// so that every record of a model call or an evaluation says exactly which
// wording produced it.
package promptver

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"path"
)

// Versions maps the name of every file in dir of fsys to version, "+",
// and the first 12 hex digits of the SHA-256 of its text (e.g.
// "v1+3f2a…"). The files are compiled in, so an error is a build defect
// and Versions panics with the owner's name.
func Versions(fsys fs.FS, dir, version, owner string) map[string]string {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		panic(owner + ": embedded prompts: " + err.Error())
	}
	out := make(map[string]string, len(entries))
	for _, e := range entries {
		text, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			panic(owner + ": embedded prompts: " + err.Error())
		}
		sum := sha256.Sum256(text)
		out[e.Name()] = version + "+" + hex.EncodeToString(sum[:])[:12]
	}
	return out
}
