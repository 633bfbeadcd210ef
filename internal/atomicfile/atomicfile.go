// Package atomicfile writes files so that no reader ever sees half of one:
// the data goes to a temporary file beside the path, is synced to disk and
// is renamed into place, so an interruption leaves the old file (or none),
// never a partial one.
package atomicfile

import (
	"bufio"
	"os"
	"path/filepath"
)

// File is a file being written under a temporary name beside its path.
// Commit puts it in place; Abort, deferred after Create, removes it on
// any other way out.
type File struct {
	path string
	perm os.FileMode
	tmp  *os.File
	w    *bufio.Writer
	done bool
}

// Create starts writing path, whose directory must exist. The file gets
// the mode perm when Commit puts it in place.
func Create(path string, perm os.FileMode) (*File, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return nil, err
	}
	return &File{path: path, perm: perm, tmp: tmp, w: bufio.NewWriterSize(tmp, 1<<16)}, nil
}

// Path is the path the file is written to.
func (f *File) Path() string { return f.path }

// Write writes p to the file through a buffer; an error is also returned
// by every later Write and by Commit.
func (f *File) Write(p []byte) (int, error) { return f.w.Write(p) }

// Commit flushes and syncs the file, gives it its mode and renames it into
// place. After a failed Commit the path is untouched and Abort removes the
// temporary file.
func (f *File) Commit() error { return f.commit(os.Rename) }

// commit finishes the file and publishes it at its path with publish
// (a rename, or a link that refuses an existing path).
func (f *File) commit(publish func(oldpath, newpath string) error) error {
	err := f.w.Flush()
	if err == nil {
		err = f.tmp.Sync()
	}
	if cerr := f.tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.tmp.Name(), f.perm)
	}
	if err == nil {
		err = publish(f.tmp.Name(), f.path)
	}
	if err == nil {
		// A link leaves the temporary name behind; a rename does not.
		if rerr := os.Remove(f.tmp.Name()); rerr != nil && !os.IsNotExist(rerr) {
			return rerr
		}
	}
	f.done = err == nil
	return err
}

// Abort removes the temporary file unless Commit put it in place; it does
// nothing after a successful Commit, so it can always be deferred.
func (f *File) Abort() {
	if !f.done {
		f.tmp.Close()
		os.Remove(f.tmp.Name())
	}
}

// Write writes data to path atomically, with the mode perm.
func Write(path string, data []byte, perm os.FileMode) error {
	return write(path, data, perm, os.Rename)
}

// WriteNew writes data to path atomically like Write, but only if path
// does not exist yet: otherwise it fails with an error matching
// fs.ErrExist and leaves the existing file as it was. The finished file is
// published with a hard link, which never replaces one.
func WriteNew(path string, data []byte, perm os.FileMode) error {
	return write(path, data, perm, os.Link)
}

func write(path string, data []byte, perm os.FileMode, publish func(oldpath, newpath string) error) error {
	f, err := Create(path, perm)
	if err != nil {
		return err
	}
	defer f.Abort()
	if _, err := f.Write(data); err != nil {
		return err
	}
	return f.commit(publish)
}
