package dataset

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/ethos-toolkit/ethos"
)

// maxLineBytes is the longest line the reader takes: a little more than
// the largest example Together accepts, ten images of 10 MB as base64
// data URLs. Any longer line is not an example (a binary file, a device),
// and reading it whole would only fill memory.
const maxLineBytes = maxImages*maxImageURL + 1<<20

// maxFileBytes is the most the reader reads of any file: what Together,
// the most generous provider, accepts. A file that goes on past it (a pipe
// that never ends) is no dataset any provider takes.
const maxFileBytes = togetherMaxBytes

// errFileTooLarge is the cause of the error that ends a read at the
// reader's size limit.
var errFileTooLarge = errors.New("file too large")

// lineReader reads a file line by line, keeping count of lines and bytes.
// It stops at a line longer than maxLine and at more than maxBytes in all,
// so no input can make it grow without end.
type lineReader struct {
	r        *bufio.Reader
	buf      []byte
	n        int   // number of the line last returned, 1-based
	bytes    int64 // bytes read so far
	maxLine  int
	maxBytes int64
}

// newLineReader reads r, at most maxBytes of it (0: maxFileBytes).
func newLineReader(r io.Reader, maxBytes int64) *lineReader {
	if maxBytes <= 0 {
		maxBytes = maxFileBytes
	}
	return &lineReader{r: bufio.NewReaderSize(r, 1<<16), maxLine: maxLineBytes, maxBytes: maxBytes}
}

// next returns the next line without its newline (and without a carriage
// return before it). The slice is valid until the next call. At the end
// of the input it returns io.EOF; a file that ends with a newline has no
// empty line after it. A line longer than the limit is an Invalid error
// naming it; more input than the size limit is an Invalid error whose
// cause is errFileTooLarge.
func (lr *lineReader) next() ([]byte, error) {
	lr.buf = lr.buf[:0]
	for {
		chunk, err := lr.r.ReadSlice('\n')
		lr.bytes += int64(len(chunk))
		if lr.bytes > lr.maxBytes {
			return nil, &ethos.Error{Kind: ethos.Invalid, Err: errFileTooLarge,
				Msg: fmt.Sprintf("more than %s, the most a provider accepts; split the file", size(lr.maxBytes))}
		}
		if len(lr.buf)+len(chunk) > lr.maxLine+len("\r\n") {
			return nil, ethos.Errorf(ethos.Invalid, "line %d is longer than %s, more than any example can be; is this a JSONL file?", lr.n+1, size(int64(lr.maxLine)))
		}
		switch {
		case err == nil:
			line := chunk
			if len(lr.buf) > 0 {
				lr.buf = append(lr.buf, chunk...)
				line = lr.buf
			}
			lr.n++
			line = line[:len(line)-1]
			return bytes.TrimSuffix(line, []byte{'\r'}), nil
		case errors.Is(err, bufio.ErrBufferFull):
			lr.buf = append(lr.buf, chunk...)
		case errors.Is(err, io.EOF):
			lr.buf = append(lr.buf, chunk...)
			if len(lr.buf) == 0 {
				return nil, io.EOF
			}
			lr.n++
			return bytes.TrimSuffix(lr.buf, []byte{'\r'}), nil
		default:
			return nil, err
		}
	}
}

// size writes a byte count for people: 10 bytes, 4.0 KiB, 50.1 GiB.
func size(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d bytes", n)
	}
	v, suffixes := float64(n)/unit, []string{"KiB", "MiB", "GiB", "TiB"}
	i := 0
	for v >= unit && i < len(suffixes)-1 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %s", v, suffixes[i])
}
