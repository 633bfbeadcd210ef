package dataset

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// lineReader reads a file line by line, however long a line is, keeping
// count of lines and bytes.
type lineReader struct {
	r     *bufio.Reader
	buf   []byte
	n     int   // number of the line last returned, 1-based
	bytes int64 // bytes read so far
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 1<<16)}
}

// next returns the next line without its newline (and without a carriage
// return before it). The slice is valid until the next call. At the end
// of the input it returns io.EOF; a file that ends with a newline has no
// empty line after it.
func (lr *lineReader) next() ([]byte, error) {
	lr.buf = lr.buf[:0]
	for {
		chunk, err := lr.r.ReadSlice('\n')
		lr.bytes += int64(len(chunk))
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
