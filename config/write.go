package config

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/internal/atomicfile"
)

// FileName is the name of a project's configuration file in its directory.
const FileName = "ethos.yaml"

// WriteFile writes a configuration (Template(), OfflineTemplate() or
// Demo()) to dir/ethos.yaml, creating dir if needed. The file lands whole
// or not at all. An existing file is kept unless replace is set: written
// is false then, and nothing is touched. It returns the file's path.
func WriteFile(dir string, data []byte, replace bool) (path string, written bool, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", false, ethos.Errorf(ethos.Config, "creating %s: %w", dir, err)
	}
	path = filepath.Join(dir, FileName)
	if _, err := os.Stat(path); err == nil && !replace {
		return path, false, nil
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return path, false, ethos.Errorf(ethos.Config, "checking %s: %w", path, err)
	}
	if err := atomicfile.Write(path, data, 0o644); err != nil {
		return path, false, ethos.Errorf(ethos.Internal, "writing %s: %w", path, err)
	}
	return path, true, nil
}

var (
	examplesLine = regexp.MustCompile(`(?m)^(  examples: )\d+`)
	promptsLine  = regexp.MustCompile(`(?m)^(  prompts: )\d+`)
)

// Demo returns the configuration `ethos demo` writes: the offline
// template (every model a sandbox model) generating examples training
// examples and evaluating on prompts held-out prompts.
func Demo(examples, prompts int) []byte {
	t := OfflineTemplate()
	t = examplesLine.ReplaceAll(t, []byte("${1}"+strconv.Itoa(examples)))
	t = promptsLine.ReplaceAll(t, []byte("${1}"+strconv.Itoa(prompts)))
	header := []byte("# Written by ethos demo. Run \"ethos run\" here to continue or repeat the pipeline.\n")
	return append(header, bytes.TrimLeft(t, "\n")...)
}
