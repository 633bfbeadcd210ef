package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ethos-toolkit/ethos/internal/atomicfile"
)

// ftStore keeps files and jobs, in memory or under a directory shared
// with other processes. With a directory, the disk is the truth and the
// maps cache what was read, keyed by each file's size and time.
type ftStore struct {
	dir string

	mu       sync.Mutex
	files    map[string]*ftFile
	contents map[string][]byte // memory only
	jobs     map[string]*ftJob
	stamps   map[string]stamp // job file → what the cached job was read from
}

type stamp struct {
	size int64
	mod  time.Time
}

func newFTStore(dir string) *ftStore {
	return &ftStore{dir: dir, files: map[string]*ftFile{}, contents: map[string][]byte{},
		jobs: map[string]*ftJob{}, stamps: map[string]stamp{}}
}

// idRE is what a file or job id looks like; anything else is not found
// without touching the disk.
var idRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`)

func (st *ftStore) path(kind, id, ext string) string {
	return filepath.Join(st.dir, kind, id+ext)
}

// writeAtomic writes data to path through a temporary file put into
// place whole; with exclusive it fails with fs.ErrExist instead of
// replacing an existing file.
func writeAtomic(path string, data []byte, exclusive bool) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if exclusive {
		return atomicfile.WriteNew(path, data, 0o644)
	}
	return atomicfile.Write(path, data, 0o644)
}

// putFile records an upload under a fresh id from newID.
func (st *ftStore) putFile(f *ftFile, content []byte, newID func(attempt int) string) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	for attempt := 0; ; attempt++ {
		f.ID = newID(attempt)
		if st.dir == "" {
			if _, taken := st.files[f.ID]; taken {
				continue
			}
			st.files[f.ID] = f
			st.contents[f.ID] = content
			return nil
		}
		err := st.saveFile(f, content, true)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return err
	}
}

// saveFile writes an upload to the directory; with exclusive it fails
// with fs.ErrExist when the id is taken. st.mu is held.
func (st *ftStore) saveFile(f *ftFile, content []byte, exclusive bool) error {
	// The content goes first: a file whose metadata exists is complete.
	if err := writeAtomic(st.path("files", f.ID, ".jsonl"), content, exclusive); err != nil {
		return err
	}
	meta, err := json.Marshal(f)
	if err != nil {
		return err
	}
	if err := writeAtomic(st.path("files", f.ID, ".json"), meta, false); err != nil {
		return err
	}
	st.files[f.ID] = f
	return nil
}

// file returns an upload's metadata.
func (st *ftStore) file(id string) (*ftFile, bool, error) {
	if !idRE.MatchString(id) {
		return nil, false, nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if f, ok := st.files[id]; ok || st.dir == "" {
		return f, ok, nil
	}
	b, err := os.ReadFile(st.path("files", id, ".json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	var f ftFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, false, fmt.Errorf("file %s: %w", id, err)
	}
	st.files[id] = &f
	return &f, true, nil
}

// content returns an upload's bytes.
func (st *ftStore) content(id string) ([]byte, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.dir == "" {
		return st.contents[id], nil
	}
	return os.ReadFile(st.path("files", id, ".jsonl"))
}

// listFiles returns every upload, newest first.
func (st *ftStore) listFiles() ([]*ftFile, error) {
	if st.dir != "" {
		names, err := st.names("files", ".json")
		if err != nil {
			return nil, err
		}
		for _, id := range names {
			if _, _, err := st.file(id); err != nil {
				return nil, err
			}
		}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	out := slices.Collect(mapValues(st.files))
	slices.SortFunc(out, func(a, b *ftFile) int {
		if c := b.CreatedAt - a.CreatedAt; c != 0 {
			return int(c)
		}
		return strings.Compare(b.ID, a.ID)
	})
	return out, nil
}

func mapValues[K comparable, V any](m map[K]V) func(func(V) bool) {
	return func(yield func(V) bool) {
		for _, v := range m {
			if !yield(v) {
				return
			}
		}
	}
}

// names lists the ids of a store directory's files with extension ext.
func (st *ftStore) names(kind, ext string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(st.dir, kind))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if id, ok := strings.CutSuffix(e.Name(), ext); ok && idRE.MatchString(id) && !e.IsDir() {
			out = append(out, id)
		}
	}
	return out, nil
}

// createJob records a new job under a fresh id from newID; named fills in
// what depends on the id.
func (st *ftStore) createJob(j *ftJob, newID func(attempt int) string, named func(*ftJob)) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	for attempt := 0; ; attempt++ {
		j.ID = newID(attempt)
		named(j)
		if st.dir == "" {
			if _, taken := st.jobs[j.ID]; taken {
				continue
			}
			st.jobs[j.ID] = j
			return nil
		}
		b, err := json.Marshal(j)
		if err != nil {
			return err
		}
		err = writeAtomic(st.path("jobs", j.ID, ".json"), b, true)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return err
		}
		st.jobs[j.ID] = j
		return nil
	}
}

// updateJob replaces a job's record.
func (st *ftStore) updateJob(j *ftJob) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.dir != "" {
		b, err := json.Marshal(j)
		if err != nil {
			return err
		}
		if err := writeAtomic(st.path("jobs", j.ID, ".json"), b, false); err != nil {
			return err
		}
		delete(st.stamps, j.ID)
	}
	st.jobs[j.ID] = j
	return nil
}

// job returns a copy of a job, read again from disk if it changed.
func (st *ftStore) job(id string) (*ftJob, bool, error) {
	if !idRE.MatchString(id) {
		return nil, false, nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.dir == "" {
		j, ok := st.jobs[id]
		if !ok {
			return nil, false, nil
		}
		c := *j
		return &c, true, nil
	}
	return st.readJob(id)
}

// readJob reads a job file unless the cached copy is current; st.mu is
// held.
func (st *ftStore) readJob(id string) (*ftJob, bool, error) {
	path := st.path("jobs", id, ".json")
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		delete(st.jobs, id)
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	now := stamp{info.Size(), info.ModTime()}
	if j, ok := st.jobs[id]; ok && st.stamps[id] == now {
		c := *j
		return &c, true, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, false, err
	}
	var j ftJob
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, false, fmt.Errorf("job %s: %w", id, err)
	}
	st.jobs[id], st.stamps[id] = &j, now
	c := j
	return &c, true, nil
}

// listJobs returns every job, newest first.
func (st *ftStore) listJobs() ([]*ftJob, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	var out []*ftJob
	if st.dir == "" {
		for _, j := range st.jobs {
			c := *j
			out = append(out, &c)
		}
	} else {
		names, err := st.names("jobs", ".json")
		if err != nil {
			return nil, err
		}
		for _, id := range names {
			j, ok, err := st.readJob(id)
			if err != nil {
				return nil, err
			}
			if ok {
				out = append(out, j)
			}
		}
	}
	slices.SortFunc(out, func(a, b *ftJob) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return out, nil
}
