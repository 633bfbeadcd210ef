package dataset

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/internal/atomicfile"
)

// SplitResult says where Split put the examples.
type SplitResult struct {
	Train              string `json:"train"`
	Validation         string `json:"validation"`
	TrainExamples      int    `json:"train_examples"`
	ValidationExamples int    `json:"validation_examples"`
	Seed               int64  `json:"seed"`
}

// SplitOutputs returns the default output paths for a dataset: beside it,
// with ".train.jsonl" and ".validation.jsonl" in place of ".jsonl"
// (data/agora.jsonl → data/agora.train.jsonl, data/agora.validation.jsonl).
func SplitOutputs(path string) (train, validation string) {
	stem := path
	if ext := filepath.Ext(path); strings.EqualFold(ext, ".jsonl") {
		stem = strings.TrimSuffix(path, ext)
	}
	return stem + ".train.jsonl", stem + ".validation.jsonl"
}

// Split divides the dataset at path into a training and a validation file.
//
// validation is the share of examples held out, between 0 and 1
// exclusive, or a whole number of examples from 1 up; the count is
// rounded and kept between 1 and all examples but one. Which examples are
// held out is decided by seed and by each example's content alone, not
// by its position: every distinct line gets a key hashed from the seed
// and its bytes, and the lines with the smallest keys go to validation.
// So the same file and seed always give the same split, and identical
// lines always land on the same side, so that a copy never leaks from
// training into validation. Each output keeps the input's order; blank
// lines are dropped.
//
// Empty trainOut and valOut mean SplitOutputs(path). Both files are
// written under temporary names and renamed into place; an existing
// output is an error unless force is set.
func Split(ctx context.Context, path string, validation float64, seed int64, trainOut, valOut string, force bool) (*SplitResult, error) {
	if !(validation > 0) || (validation >= 1 && validation != math.Trunc(validation)) || math.IsInf(validation, 0) {
		return nil, ethos.Errorf(ethos.Config, "validation must be a share between 0 and 1 (such as 0.1) or a whole number of examples, got %g", validation)
	}
	defTrain, defVal := SplitOutputs(path)
	if trainOut == "" {
		trainOut = defTrain
	}
	if valOut == "" {
		valOut = defVal
	}
	if err := checkSplitPaths(path, trainOut, valOut, force); err != nil {
		return nil, err
	}

	// First pass: a key for every example.
	keys, err := splitKeys(ctx, path, seed)
	if err != nil {
		return nil, err
	}
	n := len(keys)
	if n < 2 {
		return nil, ethos.Errorf(ethos.Invalid, "%s has %d example(s); a split needs at least 2", path, n)
	}
	want := int(validation)
	if validation < 1 {
		want = int(math.Round(validation * float64(n)))
	}
	want = min(max(want, 1), n-1)
	held := chooseHeldOut(keys, want)
	if len(held) == 0 || len(held) == n {
		return nil, ethos.Errorf(ethos.Invalid, "%s: every example is the same line, so no split keeps copies on one side; remove the duplicates", path)
	}

	// Second pass: copy each line to its side.
	res := &SplitResult{Train: trainOut, Validation: valOut, Seed: seed}
	if err := writeSplit(ctx, path, keys, held, res); err != nil {
		return nil, err
	}
	return res, nil
}

// checkSplitPaths refuses outputs that overlap the input or each other,
// and existing outputs without force.
func checkSplitPaths(in, train, val string, force bool) error {
	same := func(a, b string) bool {
		aa, err1 := filepath.Abs(a)
		bb, err2 := filepath.Abs(b)
		return err1 == nil && err2 == nil && aa == bb
	}
	switch {
	case same(train, val):
		return ethos.Errorf(ethos.Config, "the training and validation outputs are both %s; give two different paths", train)
	case same(in, train), same(in, val):
		return ethos.Errorf(ethos.Config, "an output is the input file %s; give other output paths", in)
	}
	if force {
		return nil
	}
	for _, p := range []string{train, val} {
		if _, err := os.Stat(p); err == nil {
			return ethos.Errorf(ethos.Config, "%s already exists; choose another output or pass --force to replace it", p)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return ethos.Errorf(ethos.Config, "checking %s: %w", p, err)
		}
	}
	return nil
}

// splitKey orders an example for the split: a hash of the seed and the
// line, and the line's position to break ties between copies.
type splitKey struct {
	hash uint64
	line int
}

func splitKeys(ctx context.Context, path string, seed int64) ([]splitKey, error) {
	f, err := openDataset(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var seedBytes [8]byte
	binary.LittleEndian.PutUint64(seedBytes[:], uint64(seed))
	var keys []splitKey
	c := &checker{p: together} // parses without reporting
	err = eachExample(ctx, f, func(n int, line []byte) error {
		// An example is known by its content, as for duplicates, so that
		// copies that differ only in JSON spacing or key order go
		// together; a line that is not an example by its bytes.
		var content []byte
		if ex, ok := c.parse(n, trimBOM(line)); ok && len(ex.turns) > 0 {
			h := exampleHash(ex.turns)
			content = h[:]
		} else {
			h := sha256.Sum256(line)
			content = h[:]
		}
		h := sha256.New()
		h.Write(seedBytes[:])
		h.Write(content)
		keys = append(keys, splitKey{binary.LittleEndian.Uint64(h.Sum(nil)), n})
		return nil
	})
	if err != nil {
		return nil, ethos.Errorf(ethos.KindOf(err), "reading %s: %w", path, err)
	}
	return keys, nil
}

// eachExample calls fn with every non-blank line of r.
func eachExample(ctx context.Context, r io.Reader, fn func(n int, line []byte) error) error {
	lr := newLineReader(r, 0)
	for {
		if lr.n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		line, err := lr.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return ethos.Errorf(ethos.Invalid, "%w", err)
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if err := fn(lr.n, line); err != nil {
			return err
		}
	}
}

// chooseHeldOut picks about want examples for validation, smallest keys
// first, taking all copies of a line together (copies share a hash). A
// group that would overshoot is passed over.
func chooseHeldOut(keys []splitKey, want int) map[int]bool {
	sorted := slices.Clone(keys)
	slices.SortFunc(sorted, func(a, b splitKey) int {
		if a.hash != b.hash {
			if a.hash < b.hash {
				return -1
			}
			return 1
		}
		return a.line - b.line
	})
	held := map[int]bool{}
	for i := 0; i < len(sorted) && len(held) < want; {
		j := i + 1
		for j < len(sorted) && sorted[j].hash == sorted[i].hash {
			j++
		}
		if len(held)+(j-i) <= want {
			for _, k := range sorted[i:j] {
				held[k.line] = true
			}
		}
		i = j
	}
	return held
}

// writeSplit copies the lines of path to the two outputs.
func writeSplit(ctx context.Context, path string, keys []splitKey, held map[int]bool, res *SplitResult) error {
	in, err := openDataset(path)
	if err != nil {
		return err
	}
	defer in.Close()
	train, err := newAtomicFile(res.Train)
	if err != nil {
		return err
	}
	defer train.Abort()
	val, err := newAtomicFile(res.Validation)
	if err != nil {
		return err
	}
	defer val.Abort()

	i := 0
	err = eachExample(ctx, in, func(n int, line []byte) error {
		if i >= len(keys) || keys[i].line != n {
			return ethos.Errorf(ethos.Conflict, "%s changed while it was being split; run the split again", path)
		}
		i++
		out := train
		if held[n] {
			out = val
			res.ValidationExamples++
		} else {
			res.TrainExamples++
		}
		return writeLine(out, line)
	})
	if err == nil && i != len(keys) {
		err = ethos.Errorf(ethos.Conflict, "%s changed while it was being split; run the split again", path)
	}
	if err != nil {
		return err
	}
	if err := commit(train); err != nil {
		return err
	}
	return commit(val)
}

// newAtomicFile starts writing a split file, under a temporary name
// beside its path, renamed into place by Commit, so that no reader ever
// sees half a file.
func newAtomicFile(path string) (*atomicfile.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, ethos.Errorf(ethos.Config, "creating the directory of %s: %w", path, err)
	}
	f, err := atomicfile.Create(path, 0o644)
	if err != nil {
		return nil, ethos.Errorf(ethos.Config, "writing %s: %w", path, err)
	}
	return f, nil
}

func writeLine(f *atomicfile.File, line []byte) error {
	f.Write(line)
	if _, err := f.Write([]byte{'\n'}); err != nil {
		return ethos.Errorf(ethos.Internal, "writing %s: %w", f.Path(), err)
	}
	return nil
}

func commit(f *atomicfile.File) error {
	if err := f.Commit(); err != nil {
		return ethos.Errorf(ethos.Internal, "writing %s: %w", f.Path(), err)
	}
	return nil
}
