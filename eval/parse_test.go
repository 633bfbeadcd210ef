package eval_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/eval"
	"github.com/google/go-cmp/cmp"
)

func requireParseKind(t *testing.T, err error) {
	t.Helper()
	var e *ethos.Error
	if !errors.As(err, &e) || e.Kind != ethos.Parse {
		t.Fatalf("error %v has kind %q, want parse", err, ethos.KindOf(err))
	}
}

func TestParseVerdict(t *testing.T) {
	t.Parallel()
	type result struct {
		Verdict ethos.Verdict
		Reason  string
	}
	ok := []struct {
		name, reply string
		want        result
	}{
		{"much better", "Verdict: A>>B\nReason: A asks three questions; B asks none.", result{ethos.MuchBetter, "A asks three questions; B asks none."}},
		{"better", "Verdict: A>B\nReason: A builds the plan with the person.", result{ethos.Better, "A builds the plan with the person."}},
		{"tie", "Verdict: A=B\nReason: Neither shows it.", result{ethos.Tie, "Neither shows it."}},
		{"worse", "Verdict: B>A\nReason: B hedges where it matters.", result{ethos.Worse, "B hedges where it matters."}},
		{"much worse", "Verdict: B>>A\nReason: B is warm throughout.", result{ethos.MuchWorse, "B is warm throughout."}},
		{"spaces and blank lines", "\n\n  Verdict:   A>B  \n\n Reason:  Because.  \n\n", result{ethos.Better, "Because."}},
		{"labels in any case", "VERDICT: B>A\nreason: Because.", result{ethos.Worse, "Because."}},
		{"crlf", "Verdict: A=B\r\nReason: Same.\r\n", result{ethos.Tie, "Same."}},
		{"verdict notation in the reason", "Verdict: A>B\nReason: A>B on warmth, though B is close.", result{ethos.Better, "A>B on warmth, though B is close."}},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			v, reason, err := eval.ParseVerdict(tc.reply)
			if err != nil {
				t.Fatalf("ParseVerdict: %v", err)
			}
			if diff := cmp.Diff(tc.want, result{v, reason}); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	bad := []struct {
		name, reply, wantMsg string
	}{
		{"empty", "", "empty"},
		{"whitespace", " \n\t\n", "empty"},
		{"prose", "I think Answer A is better because it asks questions.", "exactly two lines"},
		{"preamble", "Here is my judgment.\nVerdict: A>B\nReason: Because.", "exactly two lines"},
		{"afterword", "Verdict: A>B\nReason: Because.\nLet me know if you need more.", "exactly two lines"},
		{"two verdicts", "Verdict: A>B\nVerdict: B>A", `second line must start with "Reason:"`},
		{"reason first", "Reason: Because.\nVerdict: A>B", `first line must start with "Verdict:"`},
		{"markdown labels", "**Verdict:** A>B\n**Reason:** Because.", `first line must start with "Verdict:"`},
		{"brackets", "Verdict: [[A>B]]\nReason: Because.", "exactly one of"},
		{"spaced", "Verdict: A > B\nReason: Because.", "exactly one of"},
		{"lower case", "Verdict: a>b\nReason: Because.", "exactly one of"},
		{"hedged", "Verdict: A>B or A=B\nReason: Because.", "exactly one of"},
		{"words", "Verdict: A is better\nReason: Because.", "exactly one of"},
		{"empty verdict", "Verdict:\nReason: Because.", "exactly one of"},
		{"unicode", "Verdict: A≫B\nReason: Because.", "exactly one of"},
		{"reversed notation", "Verdict: B<A\nReason: Because.", "exactly one of"},
		{"triple", "Verdict: A>>>B\nReason: Because.", "exactly one of"},
		{"no reason", "Verdict: A>B", "exactly two lines"},
		{"empty reason", "Verdict: A>B\nReason:", "reason is empty"},
		{"label without colon", "Verdict A>B\nReason: Because.", `first line must start with "Verdict:"`},
		{"overlong reason", "Verdict: A>B\nReason: " + strings.Repeat("x", eval.MaxReasonRunes+1), "one or two sentences"},
		{"invalid utf8", "Verdict: A>B\nReason: \xff", "UTF-8"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			v, reason, err := eval.ParseVerdict(tc.reply)
			if err == nil {
				t.Fatalf("accepted %q as %s %q", tc.reply, v, reason)
			}
			requireParseKind(t, err)
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %q does not say %q", err, tc.wantMsg)
			}
			if v != 0 || reason != "" {
				t.Errorf("a rejected reply returned verdict %s and reason %q", v, reason)
			}
		})
	}
}

func TestParseScore(t *testing.T) {
	t.Parallel()
	for reply, want := range map[string]int{
		"Score: 1\nReason: Absent.":        1,
		"Score: 5\nReason: Throughout.":    5,
		"score:3\nREASON: Uneven.":         3,
		"\nScore:  4 \n\nReason: Clear.\n": 4,
	} {
		got, reason, err := eval.ParseScore(reply)
		if err != nil || got != want || reason == "" {
			t.Errorf("ParseScore(%q) = %d, %q, %v; want %d", reply, got, reason, err, want)
		}
	}
	for _, reply := range []string{
		"Score: 0\nReason: x.", "Score: 6\nReason: x.", "Score: 4/5\nReason: x.", "Score: 4.0\nReason: x.",
		"Score: 04\nReason: x.", "Score: four\nReason: x.", "Reason: x.\nScore: 4", "Score: 4", "I'd give it a 4.",
		"Score: 4\nReason: x.\nScore: 5", "Verdict: A>B\nReason: x.",
	} {
		got, _, err := eval.ParseScore(reply)
		if err == nil {
			t.Errorf("ParseScore(%q) accepted %d", reply, got)
			continue
		}
		requireParseKind(t, err)
	}
}

// The seed corpora in testdata/fuzz/<FuzzName> hold valid replies and the
// off-format ones judges (and the sandbox's offformat defect) produce.

func FuzzParseVerdict(f *testing.F) {
	f.Add("Verdict: A>B\nReason: A asks more questions.")
	f.Fuzz(func(t *testing.T, reply string) {
		v, reason, err := eval.ParseVerdict(reply)
		if err != nil {
			requireParseKind(t, err)
			if v != 0 || reason != "" {
				t.Fatalf("rejected reply returned %s %q", v, reason)
			}
			return
		}
		if v < ethos.MuchWorse || v > ethos.MuchBetter {
			t.Fatalf("verdict %d out of range", v)
		}
		if reason == "" || strings.ContainsAny(reason, "\r\n") || utf8.RuneCountInString(reason) > eval.MaxReasonRunes || reason != strings.TrimSpace(reason) {
			t.Fatalf("reason %q accepted", reason)
		}
		// The verdict's notation is in the reply as written.
		if !strings.Contains(reply, v.String()) {
			t.Fatalf("%q parsed as %s", reply, v)
		}
		// A reply that parses says the same thing again.
		v2, reason2, err := eval.ParseVerdict("Verdict: " + v.String() + "\nReason: " + reason)
		if err != nil || v2 != v || reason2 != reason {
			t.Fatalf("round trip of %s %q: %s %q %v", v, reason, v2, reason2, err)
		}
	})
}

func FuzzParseScore(f *testing.F) {
	f.Add("Score: 4\nReason: Clear.")
	f.Fuzz(func(t *testing.T, reply string) {
		score, reason, err := eval.ParseScore(reply)
		if err != nil {
			requireParseKind(t, err)
			return
		}
		if score < 1 || score > 5 || reason == "" || strings.ContainsAny(reason, "\r\n") {
			t.Fatalf("accepted score %d reason %q", score, reason)
		}
	})
}
