package dataset_test

import (
	"bytes"
	"testing"
	"unicode/utf8"

	"github.com/ethos-toolkit/ethos/dataset"
	"github.com/google/go-cmp/cmp"
)

// The seed corpus in testdata/fuzz/FuzzCheck holds every line of
// testdata/every_error.jsonl (one error of every kind), the whole file,
// and valid and odd files of every format.

// FuzzCheck feeds arbitrary files to the checker for both providers: it
// must never fail or panic on content, and every problem must be well
// formed: a known rule with its severity, a line within the file, a
// message in UTF-8, in line order. Checking twice gives the same report,
// and the statistics of the same bytes never count more examples.
func FuzzCheck(f *testing.F) {
	f.Add([]byte(file(chats(3)...)), false)
	f.Fuzz(func(t *testing.T, data []byte, openai bool) {
		provider := "together"
		if openai {
			provider = "openai"
		}
		check := func() *dataset.Report {
			rep, err := dataset.Check(t.Context(), bytes.NewReader(data), "f.jsonl", dataset.Options{Provider: provider})
			if err != nil {
				t.Fatalf("Check failed on content: %v", err)
			}
			return rep
		}
		rep := check()
		severity := map[string]string{}
		for _, r := range dataset.Rules {
			severity[r.ID] = r.Severity
		}
		last := 0
		for _, p := range rep.Problems {
			if severity[p.Rule] == "" || severity[p.Rule] != p.Severity {
				t.Fatalf("problem with unknown rule or wrong severity: %+v", p)
			}
			if p.Line < 0 || p.Line > rep.Lines || p.Line < last {
				t.Fatalf("line %d out of order or range (%d lines, previous %d): %+v", p.Line, rep.Lines, last, p)
			}
			last = p.Line
			if p.Message == "" || !utf8.ValidString(p.Message) {
				t.Fatalf("bad message: %q", p.Message)
			}
		}
		if rep.Examples > rep.Lines || (len(data) > 0 && rep.Lines == 0) {
			t.Fatalf("%d examples in %d lines of %d bytes", rep.Examples, rep.Lines, len(data))
		}
		if len(data) == 0 && rep.Errors() == 0 {
			t.Fatal("an empty file passed")
		}
		if diff := cmp.Diff(rep, check()); diff != "" {
			t.Fatalf("a second check differs:\n%s", diff)
		}
		st, err := dataset.ReadStats(t.Context(), bytes.NewReader(data))
		if err != nil {
			t.Fatalf("ReadStats failed on content: %v", err)
		}
		if st.Examples > rep.Examples || st.Examples+st.Skipped != lineCount(data) {
			t.Fatalf("stats: %d examples + %d skipped; check: %d examples in %d lines", st.Examples, st.Skipped, rep.Examples, rep.Lines)
		}
	})
}

// lineCount counts the lines of data as the checker does.
func lineCount(data []byte) int {
	if len(data) == 0 {
		return 0
	}
	n := bytes.Count(data, []byte{'\n'})
	if data[len(data)-1] != '\n' {
		n++
	}
	return n
}
