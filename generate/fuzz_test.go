package generate_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/generate"
)

// The seed corpora in testdata/fuzz/<FuzzName> hold valid answers and the
// off-format ones models and the sandbox produce: prose around the JSON,
// wrong counts, unknown traits, missing tags, chatter.

func requireParseKind(t *testing.T, err error) {
	t.Helper()
	var e *ethos.Error
	if !errors.As(err, &e) || e.Kind != ethos.Parse {
		t.Fatalf("error %v has kind %q, want parse", err, ethos.KindOf(err))
	}
}

func FuzzParseIdeas(f *testing.F) {
	f.Add(ideasJSON(idea1, idea2), 2)
	f.Fuzz(func(t *testing.T, text string, want int) {
		want = 1 + (want%10+10)%10
		ideas, err := generate.ParseIdeas(text, agoraLike.Traits, want)
		if err != nil {
			requireParseKind(t, err)
			if ideas != nil {
				t.Fatal("ideas returned with an error")
			}
			return
		}
		if len(ideas) < 1 || len(ideas) > want {
			t.Fatalf("%d ideas accepted, want 1..%d", len(ideas), want)
		}
		for _, idea := range ideas {
			if n := utf8.RuneCountInString(idea.Summary); n == 0 || n > generate.MaxSummaryChars || strings.ContainsAny(idea.Summary, "\r\n") {
				t.Fatalf("summary %q accepted", idea.Summary)
			}
			if n := utf8.RuneCountInString(idea.Situation); n < generate.MinSituationChars || n > generate.MaxSituationChars {
				t.Fatalf("situation of %d characters accepted", n)
			}
			if len(idea.Traits) < 1 || len(idea.Traits) > generate.MaxIdeaTraits {
				t.Fatalf("%d traits accepted", len(idea.Traits))
			}
			for _, name := range idea.Traits {
				if !slices.ContainsFunc(agoraLike.Traits, func(tr ethos.Trait) bool { return tr.Name == name }) {
					t.Fatalf("trait %q is not spelled as the character's", name)
				}
			}
		}
	})
}

func FuzzParseDocument(f *testing.F) {
	f.Add("<title>T</title>\n<type>memo</type>\n<document>\nWhat should I do?\n</document>")
	f.Fuzz(func(t *testing.T, text string) {
		d, err := generate.ParseDocument(text)
		if err != nil {
			requireParseKind(t, err)
			if d != (generate.Document{}) {
				t.Fatal("document returned with an error")
			}
			return
		}
		if d.Title == "" || strings.ContainsAny(d.Title, "\r\n") || d.Body == "" || !slices.Contains(generate.DocumentTypes, d.Type) {
			t.Fatalf("accepted %+v", d)
		}
		if d.Body != strings.TrimSpace(d.Body) || !utf8.ValidString(d.Body) {
			t.Fatalf("body not trimmed or not UTF-8: %q", d.Body)
		}
	})
}

func FuzzParseReview(f *testing.F) {
	f.Add(scoresJSON(allScores("4")...))
	f.Fuzz(func(t *testing.T, text string) {
		scores, err := generate.ParseReview(text, agoraLike.Traits)
		if err != nil {
			requireParseKind(t, err)
			if scores != nil {
				t.Fatal("scores returned with an error")
			}
			return
		}
		if len(scores) != len(agoraLike.Traits) {
			t.Fatalf("%d scores for %d traits", len(scores), len(agoraLike.Traits))
		}
		for _, tr := range agoraLike.Traits {
			s, ok := scores[tr.Name]
			if !ok || s.Score < 1 || s.Score > 5 || s.Reason == "" {
				t.Fatalf("trait %q: %+v, %v", tr.Name, s, ok)
			}
		}
	})
}

func FuzzParseResponse(f *testing.F) {
	f.Add("Let's look at this together.")
	f.Fuzz(func(t *testing.T, text string) {
		reply, err := generate.ParseResponse(text)
		if err != nil {
			requireParseKind(t, err)
			return
		}
		if reply == "" || reply != strings.TrimSpace(reply) {
			t.Fatalf("accepted %q", reply)
		}
	})
}

func FuzzParsePromptSet(f *testing.F) {
	f.Add("[reflection]\nWho are you?\n[dialogue]\nHonesty.\n")
	f.Fuzz(func(t *testing.T, text string) {
		set, err := generate.ParsePromptSet("fuzz", text)
		if err != nil {
			requireParseKind(t, err)
			return
		}
		if len(set.Reflections) == 0 || len(set.Openers) == 0 {
			t.Fatalf("accepted a set without both sections: %+v", set)
		}
		for _, p := range slices.Concat(set.Reflections, set.Openers) {
			if p == "" || p != strings.TrimSpace(p) || strings.HasPrefix(p, "#") || strings.Contains(p, "\n") {
				t.Fatalf("prompt %q", p)
			}
		}
	})
}
