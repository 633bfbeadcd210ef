package report

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/internal/atomicfile"
)

// FormatOf is the format of a report written to path when none is asked
// for, from its extension: html for .html and .htm, json for .json, else
// md.
func FormatOf(path string) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".html", ".htm":
		return "html"
	case ".json":
		return "json"
	}
	return "md"
}

// ResolveFormat is the format a report is written in: format when given
// (one of Formats), else the one output's extension says (FormatOf).
func ResolveFormat(format, output string) (string, error) {
	if format == "" {
		return FormatOf(output), nil
	}
	if !slices.Contains(Formats, format) {
		return "", ethos.Errorf(ethos.Config, "--format %q: want md, html or json", format)
	}
	return format, nil
}

// ErrNotReport is the cause of WriteFile's refusal to replace a file that
// is not an earlier ethos report.
var ErrNotReport = errors.New("not an ethos report")

// WriteFile renders r in format and writes it to path; the file lands
// whole or not at all. A report is derived from the store, so an earlier
// report at path (recognised by Kind near its start) is replaced; any
// other existing file is kept, with an error of kind Conflict wrapping
// ErrNotReport, unless force is set: a mistyped path must not clobber a
// configuration.
func WriteFile(path string, r *Report, format string, force bool) error {
	if !force {
		if err := checkReplaceable(path); err != nil {
			return err
		}
	}
	var buf bytes.Buffer
	if err := Render(&buf, r, format); err != nil {
		return err
	}
	if err := atomicfile.Write(path, buf.Bytes(), 0o644); err != nil {
		return ethos.Errorf(ethos.Internal, "writing %s: %w", path, err)
	}
	return nil
}

// checkReplaceable fails unless path is absent or holds an ethos report.
func checkReplaceable(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return ethos.Errorf(ethos.Invalid, "report %s: %w", path, err)
	}
	defer f.Close()
	head := make([]byte, 1024)
	n, _ := io.ReadFull(f, head)
	if bytes.Contains(head[:n], []byte(Kind)) {
		return nil
	}
	return ethos.Errorf(ethos.Conflict, "%s exists and is %w", path, ErrNotReport)
}
