package dataset

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/ethos-toolkit/ethos"
)

// TestCheckFileTooLarge lowers Together's 50.1 GiB limit, which no test
// can write, to a few bytes.
func TestCheckFileTooLarge(t *testing.T) {
	t.Parallel()
	small := *together
	small.maxBytes = 10
	line := `{"text":"The tide comes in twice a day."}` + "\n"
	rep, err := check(t.Context(), strings.NewReader(line), "big.jsonl", &small, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 1 || rep.Problems[0].Rule != RuleFileTooLarge || rep.Problems[0].Line != 0 {
		t.Fatalf("%+v", rep.Problems)
	}
}

// endless is an input that never ends, such as /dev/zero or a pipe fed by
// `yes`. It fails the test if more than budget bytes are read from it.
type endless struct {
	t      *testing.T
	line   string // repeated for ever; "" for zero bytes
	read   int
	budget int
}

func (e *endless) Read(p []byte) (int, error) {
	if e.read > e.budget {
		e.t.Errorf("read %d bytes from an endless input, past the limit", e.read)
		return 0, io.EOF
	}
	for i := range p {
		if e.line != "" {
			p[i] = e.line[(e.read+i)%len(e.line)]
		} else {
			p[i] = 0
		}
	}
	e.read += len(p)
	return len(p), nil
}

// The checker stops reading at the most the provider accepts, and says
// the file is too large, however many valid lines keep coming.
func TestCheckStopsAtTheFileLimit(t *testing.T) {
	t.Parallel()
	small := *together
	small.maxBytes = 4 << 10
	in := &endless{t: t, line: `{"text":"The tide comes in twice a day."}` + "\n", budget: 1 << 20}
	rep, err := check(t.Context(), in, "endless.jsonl", &small, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Errors() != 1 || rep.Counts[RuleFileTooLarge] != 1 {
		t.Fatalf("want one error, file.too_large: %+v", rep.Problems)
	}
	if p := rep.Problems[0]; p.Rule != RuleFileTooLarge || !strings.Contains(p.Message, "more than 4.0 KiB") {
		t.Errorf("first problem %+v, want file.too_large saying \"more than 4.0 KiB\"", p)
	}
}

// A line longer than any example can be is an error that names the line
// and the limit, not a buffer that grows until memory runs out.
func TestLineReaderBoundsALine(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		in   io.Reader
		want string
	}{
		{"zero bytes for ever", &endless{t: t, budget: 1 << 20}, "line 1 is longer than 1.0 KiB"},
		{"a long second line", strings.NewReader("{}\n" + strings.Repeat("x", 2000) + "\n{}\n"), "line 2 is longer than 1.0 KiB"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			lr := newLineReader(tt.in, 0)
			lr.maxLine = 1 << 10
			var err error
			for err == nil {
				_, err = lr.next()
			}
			if errors.Is(err, io.EOF) || ethos.KindOf(err) != ethos.Invalid || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want an invalid error saying %q", err, tt.want)
			}
		})
	}
}
