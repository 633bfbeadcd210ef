package dataset_test

import (
	"bytes"
	"encoding/json"
	"strings"
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

// The seed corpus in testdata/fuzz/FuzzCheckPreference holds valid
// preference files for both providers and one of each way a preference
// line is refused: roles out of order, an input that ends with the
// assistant, two messages on a side, unknown keys, identical and nearly
// identical sides, empty content and a file that mixes in a conversation.

// FuzzCheckPreference checks arbitrary files as preference (DPO) training
// files. Besides what FuzzCheck asks of every report, a file that passes
// with no error must be what the providers train on, by a reading of its
// own: every line a preference example whose input ends with a user
// message and whose two outputs are single assistant messages with
// different texts; and its statistics must count every line a pair, none
// of them identical.
func FuzzCheckPreference(f *testing.F) {
	f.Add([]byte(file(preference(0), preference(1))), false)
	f.Fuzz(func(t *testing.T, data []byte, openai bool) {
		provider := "together"
		if openai {
			provider = "openai"
		}
		rep, err := dataset.Check(t.Context(), bytes.NewReader(data), "f.jsonl", dataset.Options{Provider: provider, Method: dataset.MethodPreference})
		if err != nil {
			t.Fatalf("Check failed on content: %v", err)
		}
		for _, p := range rep.Problems {
			if p.Line < 0 || p.Line > rep.Lines || p.Message == "" || !utf8.ValidString(p.Message) {
				t.Fatalf("malformed problem: %+v", p)
			}
		}
		if rep.Errors() > 0 {
			return
		}
		if rep.Method() != dataset.MethodPreference {
			t.Fatalf("a file with no error for a preference job is %q (format %q)", rep.Method(), rep.Format)
		}
		type message struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		}
		lines := 0
		for line := range bytes.SplitSeq(data, []byte("\n")) {
			line = bytes.TrimSuffix(line, []byte("\r"))
			if len(bytes.TrimSpace(line)) == 0 {
				continue // only a final newline: an empty line is an error
			}
			lines++
			// Read as the providers' JSON parsers do, and as the checker
			// does: of a key given twice, the last value counts.
			var top, input map[string]json.RawMessage
			var ex struct {
				Input struct {
					Messages []message
				}
				Preferred, NonPreferred []message
			}
			err := json.Unmarshal(line, &top)
			if err == nil {
				err = json.Unmarshal(top["input"], &input)
			}
			for _, f := range []struct {
				raw json.RawMessage
				dst *[]message
			}{{input["messages"], &ex.Input.Messages}, {top["preferred_output"], &ex.Preferred}, {top["non_preferred_output"], &ex.NonPreferred}} {
				if err == nil {
					err = json.Unmarshal(f.raw, f.dst)
				}
			}
			if err != nil {
				t.Fatalf("line %q passed but does not read as a preference example: %v", line, err)
			}
			in := ex.Input.Messages
			if len(in) == 0 || in[len(in)-1].Role != "user" {
				t.Fatalf("line %q passed with an input that does not end with the user", line)
			}
			if len(ex.Preferred) != 1 || len(ex.NonPreferred) != 1 || ex.Preferred[0].Role != "assistant" || ex.NonPreferred[0].Role != "assistant" {
				t.Fatalf("line %q passed without one assistant message a side", line)
			}
			var a, b string
			if json.Unmarshal(ex.Preferred[0].Content, &a) == nil && json.Unmarshal(ex.NonPreferred[0].Content, &b) == nil &&
				strings.TrimSpace(a) == strings.TrimSpace(b) {
				t.Fatalf("line %q passed with identical sides", line)
			}
		}
		st, err := dataset.ReadStats(t.Context(), bytes.NewReader(data))
		if err != nil {
			t.Fatalf("ReadStats failed on content: %v", err)
		}
		if st.Preference == nil || st.Preference.Pairs != lines || st.Preference.Identical != 0 {
			t.Fatalf("stats of a clean preference file of %d lines: %+v", lines, st.Preference)
		}
	})
}
