// Package migrations reads a store's numbered schema changes, the
// NNNN_name.sql files that sqlite/ and postgres/ embed side by side.
package migrations

import (
	"io/fs"
	"strconv"
	"strings"

	"github.com/ethos-toolkit/ethos"
)

// A Migration names one numbered schema change, as `ethos store migrate`
// reports it.
type Migration struct {
	Version int
	Name    string
}

// A File is a migration and the SQL that applies it.
type File struct {
	Migration
	SQL string
}

// Load reads the migrations under migrations/ in fsys, in version order.
// Their file names are NNNN_name.sql, numbered from 1 without gaps, so the
// number of files is the newest version the binary knows. Errors are
// Internal (the files are built in), under the operation op.
func Load(fsys fs.FS, op string) ([]File, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, &ethos.Error{Kind: ethos.Internal, Op: op, Err: err}
	}
	var files []File
	for i, p := range names { // fs.Glob sorts, and zero padding makes that numeric order
		base := strings.TrimSuffix(strings.TrimPrefix(p, "migrations/"), ".sql")
		num, name, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || name == "" {
			return nil, ethos.Errorf(ethos.Internal, "%s: %s: want NNNN_name.sql", op, p)
		}
		if v != i+1 {
			return nil, ethos.Errorf(ethos.Internal, "%s: %s: expected version %d", op, p, i+1)
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, &ethos.Error{Kind: ethos.Internal, Op: op, Err: err}
		}
		files = append(files, File{Migration: Migration{Version: v, Name: name}, SQL: string(b)})
	}
	return files, nil
}
