package config

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/ethos-toolkit/ethos"
)

// FieldError is one problem in a configuration file. Field is the path of
// the setting ("generate.responses.model", "character.traits[2].name"); it
// is empty for problems with the file as a whole, such as malformed YAML.
// Lines count from 1.
type FieldError struct {
	File  string
	Line  int
	Field string
	Msg   string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Field, e.Msg)
}

// FieldErrors returns every *FieldError carried by err, in file order; nil
// when err did not come from parsing a configuration file.
func FieldErrors(err error) []*FieldError {
	var fes []*FieldError
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case nil:
		case *FieldError:
			fes = append(fes, e)
		case interface{ Unwrap() []error }:
			for _, inner := range e.Unwrap() {
				walk(inner)
			}
		default:
			walk(errors.Unwrap(err))
		}
	}
	walk(err)
	return fes
}

// errorList collects the problems of one file.
type errorList struct {
	file string
	errs []*FieldError
}

func (l *errorList) add(line int, field, format string, args ...any) {
	if line < 1 {
		line = 1
	}
	l.errs = append(l.errs, &FieldError{File: l.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// err returns the collected problems as one Config error whose message has
// one problem per line, sorted by line, or nil when there are none.
func (l *errorList) err() error {
	if len(l.errs) == 0 {
		return nil
	}
	sort.SliceStable(l.errs, func(i, j int) bool { return l.errs[i].Line < l.errs[j].Line })
	lines := make([]string, 0, len(l.errs))
	wrapped := make([]error, 0, len(l.errs))
	seen := make(map[string]bool)
	for _, e := range l.errs {
		s := e.Error()
		if seen[s] {
			continue
		}
		seen[s] = true
		lines = append(lines, s)
		wrapped = append(wrapped, e)
	}
	return &ethos.Error{Kind: ethos.Config, Msg: strings.Join(lines, "\n"), Err: errors.Join(wrapped...)}
}

func quote(s string) string {
	const max = 60
	if len(s) > max {
		s = s[:max] + "…"
	}
	return strconv.Quote(s)
}

// suggest returns `; did you mean "x"?` for the known name closest to
// name, or "" when none is close enough to be a plausible typo.
func suggest(name string, known []string) string {
	best, bestDist := "", -1
	for _, k := range known {
		d := editDistance(strings.ToLower(name), k)
		if bestDist < 0 || d < bestDist || (d == bestDist && k < best) {
			best, bestDist = k, d
		}
	}
	if bestDist < 0 || bestDist > 2 || bestDist >= len(name) {
		return ""
	}
	return fmt.Sprintf("; did you mean %q?", best)
}

// editDistance is the Levenshtein distance between a and b in bytes, which
// is enough for ASCII field names.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
