package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// records keeps JSON records of one kind in memory or, with a directory,
// one file each under <dir>/<kind>, read again on every use, so that
// processes sharing the directory see each other's records.
type records[T any] struct {
	kind string
	dir  string // "" keeps them in memory
	mu   sync.Mutex
	mem  map[string]*T
}

func newRecords[T any](dir, kind string) *records[T] {
	return &records[T]{kind: kind, dir: dir, mem: map[string]*T{}}
}

func (st *records[T]) path(id string) string { return filepath.Join(st.dir, st.kind, id+".json") }

// put writes a record; with exclusive it fails with fs.ErrExist when the
// id is taken.
func (st *records[T]) put(id string, v *T, exclusive bool) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.dir == "" {
		if _, taken := st.mem[id]; taken && exclusive {
			return fs.ErrExist
		}
		c := *v
		st.mem[id] = &c
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return writeAtomic(st.path(id), b, exclusive)
}

// get returns a copy of a record.
func (st *records[T]) get(id string) (*T, bool, error) {
	if !idRE.MatchString(id) {
		return nil, false, nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.dir == "" {
		v, ok := st.mem[id]
		if !ok {
			return nil, false, nil
		}
		c := *v
		return &c, true, nil
	}
	b, err := os.ReadFile(st.path(id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, false, fmt.Errorf("%s %s: %w", st.kind, id, err)
	}
	return &v, true, nil
}

// remove deletes a record; a record already gone is no error.
func (st *records[T]) remove(id string) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.dir == "" {
		delete(st.mem, id)
		return nil
	}
	if err := os.Remove(st.path(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// list returns every record, newest first by created (ties by id).
func (st *records[T]) list(created func(*T) (time.Time, string)) ([]*T, error) {
	var ids []string
	st.mu.Lock()
	for id := range st.mem {
		ids = append(ids, id)
	}
	st.mu.Unlock()
	if st.dir != "" {
		ids = nil
		entries, err := os.ReadDir(filepath.Join(st.dir, st.kind))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		for _, en := range entries {
			if id, ok := strings.CutSuffix(en.Name(), ".json"); ok && idRE.MatchString(id) {
				ids = append(ids, id)
			}
		}
	}
	var out []*T
	for _, id := range ids {
		v, ok, err := st.get(id)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, v)
		}
	}
	slices.SortFunc(out, func(a, b *T) int {
		ta, ia := created(a)
		tb, ib := created(b)
		if c := tb.Compare(ta); c != 0 {
			return c
		}
		return strings.Compare(ib, ia)
	})
	return out, nil
}
