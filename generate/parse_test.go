package generate_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/generate"
	"github.com/google/go-cmp/cmp"
)

const validSituation = "Dana is a charge nurse who rebuilds the rota by hand every week and asks whether a script could do it."

func ideaJSON(summary, situation, traits string, hard string) string {
	return fmt.Sprintf(`{"summary":%q,"situation":%q,"traits":[%s],"hard":%s}`, summary, situation, traits, hard)
}

func ideasJSON(ideas ...string) string { return `{"ideas":[` + strings.Join(ideas, ",") + `]}` }

var (
	idea1 = ideaJSON("Nurse automates a rota", validSituation, `"collaborative","Encouraging"`, "false")
	idea2 = ideaJSON("Student wants the answer only", "A student preparing for an exam says he has no time for questions and wants one number.", `" THOROUGH "`, "true")
)

func TestParseIdeas(t *testing.T) {
	t.Parallel()
	want2 := []generate.Idea{
		{Summary: "Nurse automates a rota", Situation: validSituation, Traits: []string{"collaborative", "encouraging"}},
		{Summary: "Student wants the answer only", Situation: "A student preparing for an exam says he has no time for questions and wants one number.", Traits: []string{"thorough"}, Hard: true},
	}
	tests := []struct {
		name    string
		text    string
		want    int
		ideas   []generate.Idea
		errLike string
	}{
		{name: "exact", text: ideasJSON(idea1, idea2), want: 2, ideas: want2},
		{name: "fenced", text: "```json\n" + ideasJSON(idea1, idea2) + "\n```\n", want: 2, ideas: want2},
		{name: "bare fence", text: "```\n" + ideasJSON(idea1, idea2) + "\n```", want: 2, ideas: want2},
		{name: "fewer than asked is a shortfall, not an error", text: ideasJSON(idea1), want: 5, ideas: want2[:1]},
		{name: "more than asked", text: ideasJSON(idea1, idea2), want: 1, errLike: "2 ideas, want 1"},
		{name: "empty list", text: `{"ideas":[]}`, want: 3, errLike: `"ideas" is empty`},
		{name: "no ideas key", text: `{}`, want: 3, errLike: `no "ideas" array`},
		{name: "prose before", text: "Here are the ideas:\n" + ideasJSON(idea1), want: 1, errLike: "want a JSON object"},
		{name: "prose after", text: ideasJSON(idea1) + "\nHope these help!", want: 1, errLike: "text after the JSON object"},
		{name: "second object", text: ideasJSON(idea1) + ideasJSON(idea1), want: 1, errLike: "text after the JSON object"},
		{name: "unclosed fence", text: "```json\n" + ideasJSON(idea1), want: 1, errLike: "not closed"},
		{name: "other fence language", text: "```yaml\n" + ideasJSON(idea1) + "\n```", want: 1, errLike: "want ```json"},
		{name: "array at top", text: `[` + idea1 + `]`, want: 1, errLike: "want a JSON object"},
		{name: "empty", text: "  \n", want: 1, errLike: "answer is empty"},
		{name: "broken JSON", text: `{"ideas":[{"summary":"x"`, want: 1, errLike: "invalid JSON"},
		{name: "unknown field", text: `{"ideas":[` + strings.TrimSuffix(idea1, "}") + `,"id":3}]}`, want: 1, errLike: `unknown field "id"`},
		{name: "missing hard", text: ideasJSON(`{"summary":"s","situation":"` + validSituation + `","traits":["thorough"]}`), want: 1, errLike: `idea 1: missing "hard"`},
		{name: "missing several", text: ideasJSON(`{"summary":"s"}`), want: 1, errLike: `missing "situation", "traits", "hard"`},
		{name: "hard as string", text: ideasJSON(ideaJSON("s", validSituation, `"thorough"`, `"yes"`)), want: 1, errLike: "want true or false"},
		{name: "unknown trait", text: ideasJSON(idea1, ideaJSON("s", validSituation, `"witty"`, "false")), want: 2, errLike: `idea 2: unknown trait "witty"`},
		{name: "no traits", text: ideasJSON(ideaJSON("s", validSituation, ``, "false")), want: 1, errLike: "0 traits, want 1..5"},
		{name: "six traits", text: ideasJSON(ideaJSON("s", validSituation, `"thorough","collaborative","inquisitive","encouraging","cautious & ethical","thorough"`, "false")), want: 1, errLike: "6 traits"},
		{name: "trait twice", text: ideasJSON(ideaJSON("s", validSituation, `"thorough","Thorough"`, "false")), want: 1, errLike: `"thorough" listed twice`},
		{name: "empty summary", text: ideasJSON(ideaJSON("  ", validSituation, `"thorough"`, "false")), want: 1, errLike: "summary is empty"},
		{name: "long summary", text: ideasJSON(ideaJSON(strings.Repeat("é", 201), validSituation, `"thorough"`, "false")), want: 1, errLike: "summary is 201 characters"},
		{name: "summary of 200 runes", text: ideasJSON(ideaJSON(strings.Repeat("é", 200), validSituation, `"thorough"`, "false")), want: 1,
			ideas: []generate.Idea{{Summary: strings.Repeat("é", 200), Situation: validSituation, Traits: []string{"thorough"}}}},
		{name: "two-line summary", text: ideasJSON(ideaJSON("one\ntwo", validSituation, `"thorough"`, "false")), want: 1, errLike: "several lines"},
		{name: "short situation", text: ideasJSON(ideaJSON("s", "too short", `"thorough"`, "false")), want: 1, errLike: "situation is 9 characters, want 20..1500"},
		{name: "long situation", text: ideasJSON(ideaJSON("s", strings.Repeat("a", 1501), `"thorough"`, "false")), want: 1, errLike: "situation is 1501 characters"},
		{name: "invalid UTF-8", text: strings.Replace(ideasJSON(idea1), "Nurse", "Nurse\xff", 1), want: 1, errLike: "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := generate.ParseIdeas(tt.text, agoraLike.Traits, tt.want)
			checkParse(t, err, tt.errLike)
			if diff := cmp.Diff(tt.ideas, got); diff != "" {
				t.Errorf("ideas (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseIdeasWantBelowOne(t *testing.T) {
	t.Parallel()
	_, err := generate.ParseIdeas(ideasJSON(idea1), agoraLike.Traits, 0)
	if ethos.KindOf(err) != ethos.Invalid {
		t.Fatalf("err = %v, want an Invalid error for a caller asking for 0 ideas", err)
	}
}

// checkParse fails the test unless err is nil when errLike is empty, or a
// Parse error containing errLike otherwise.
func checkParse(t *testing.T, err error, errLike string) {
	t.Helper()
	if errLike == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("no error, want one containing %q", errLike)
	}
	var e *ethos.Error
	if !errors.As(err, &e) || e.Kind != ethos.Parse {
		t.Fatalf("error %v has kind %q, want parse", err, ethos.KindOf(err))
	}
	if !strings.Contains(err.Error(), errLike) {
		t.Fatalf("error %q does not contain %q", err, errLike)
	}
}

func TestParseDocument(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		text    string
		doc     generate.Document
		errLike string
	}{
		{name: "valid", text: "<title>Rota script</title>\n<type>email</type>\n<document>\nHi,\n\nCould a script do it?\n</document>\n",
			doc: generate.Document{Title: "Rota script", Type: "email", Body: "Hi,\n\nCould a script do it?"}},
		{name: "type case and spaces", text: "<title> T </title><type> Meeting Notes </type><document>Notes. What next?</document>",
			doc: generate.Document{Title: "T", Type: "meeting notes", Body: "Notes. What next?"}},
		{name: "body mentions the closing tag", text: "<title>XML</title>\n<type>forum post</type>\n<document>\nWhy does </document> break my parser?\n</document>",
			doc: generate.Document{Title: "XML", Type: "forum post", Body: "Why does </document> break my parser?"}},
		{name: "chatter before", text: "Here is the document:\n<title>T</title><type>memo</type><document>x</document>", errLike: "want <title>"},
		{name: "chatter after", text: "<title>T</title><type>memo</type><document>x</document>\nShall I continue?", errLike: "does not end with </document>"},
		{name: "between tags", text: "<title>T</title> and <type>memo</type><document>x</document>", errLike: "want <type>"},
		{name: "unknown type", text: "<title>T</title><type>tweet</type><document>x</document>", errLike: `type "tweet" is not one of`},
		{name: "empty body", text: "<title>T</title><type>memo</type><document>\n \n</document>", errLike: "document is empty"},
		{name: "empty title", text: "<title></title><type>memo</type><document>x</document>", errLike: "title is empty"},
		{name: "two-line title", text: "<title>a\nb</title><type>memo</type><document>x</document>", errLike: "several lines"},
		{name: "unclosed title", text: "<title>T<type>memo</type><document>x</document>", errLike: "<title> is not closed"},
		{name: "missing document", text: "<title>T</title><type>memo</type>", errLike: "want <document>"},
		{name: "wrong order", text: "<type>memo</type><title>T</title><document>x</document>", errLike: "want <title>"},
		{name: "empty", text: "", errLike: "want <title>"},
		{name: "invalid UTF-8", text: "<title>T</title><type>memo</type><document>\xfe</document>", errLike: "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := generate.ParseDocument(tt.text)
			checkParse(t, err, tt.errLike)
			if diff := cmp.Diff(tt.doc, got); diff != "" {
				t.Errorf("document (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseResponse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text, want, errLike string
	}{
		{name: "trimmed", text: "\n  Let's look at it.  \n", want: "Let's look at it."},
		{name: "inner whitespace kept", text: "One.\n\nTwo.", want: "One.\n\nTwo."},
		{name: "empty", text: "", errLike: "reply is empty"},
		{name: "blank", text: " \n\t ", errLike: "reply is empty"},
		{name: "invalid UTF-8", text: "ok \xc3", errLike: "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := generate.ParseResponse(tt.text)
			checkParse(t, err, tt.errLike)
			if got != tt.want {
				t.Errorf("reply = %q, want %q", got, tt.want)
			}
		})
	}
}

func scoresJSON(entries ...string) string { return `{"scores":{` + strings.Join(entries, ",") + `}}` }

func allScores(score string) []string {
	var out []string
	for _, tr := range agoraLike.Traits {
		out = append(out, fmt.Sprintf(`%q:{"score":%s,"reason":"Because."}`, tr.Name, score))
	}
	return out
}

func TestParseReview(t *testing.T) {
	t.Parallel()
	full := map[string]generate.TraitScore{}
	for _, tr := range agoraLike.Traits {
		full[tr.Name] = generate.TraitScore{Score: 4, Reason: "Because."}
	}
	upper := allScores("4")
	upper[0] = `"COLLABORATIVE":{"score":4,"reason":" Because. "}`
	tests := []struct {
		name    string
		text    string
		want    map[string]generate.TraitScore
		errLike string
	}{
		{name: "valid", text: scoresJSON(allScores("4")...), want: full},
		{name: "fenced, case-folded name, trimmed reason", text: "```json\n" + scoresJSON(upper...) + "\n```", want: full},
		{name: "missing trait", text: scoresJSON(allScores("4")[1:]...), errLike: `no score for "collaborative"`},
		{name: "unknown trait", text: scoresJSON(append(allScores("4"), `"witty":{"score":3,"reason":"r"}`)...), errLike: `unknown trait "witty"`},
		{name: "same trait twice by case", text: scoresJSON(append(allScores("4"), `"Thorough":{"score":3,"reason":"r"}`)...), errLike: "scored twice"},
		{name: "score zero", text: scoresJSON(allScores("0")...), errLike: "score 0, want an integer from 1 to 5"},
		{name: "score six", text: scoresJSON(allScores("6")...), errLike: "score 6"},
		{name: "fractional score", text: scoresJSON(allScores("4.5")...), errLike: "score 4.5"},
		{name: "string score", text: scoresJSON(allScores(`"4"`)...), errLike: `score "4", want an integer`},
		{name: "score 4.0", text: scoresJSON(allScores("4.0")...), errLike: "score 4.0"},
		{name: "score 4e0", text: scoresJSON(allScores("4e0")...), errLike: "score 4e0"},
		{name: "null score", text: scoresJSON(allScores("null")...), errLike: `want an object with "score" and "reason"`},
		{name: "missing reason", text: scoresJSON(`"collaborative":{"score":4}`), errLike: `"collaborative": want an object`},
		{name: "empty reason", text: scoresJSON(`"collaborative":{"score":4,"reason":" "}`), errLike: "reason is empty"},
		{name: "null entry", text: scoresJSON(`"collaborative":null`), errLike: "want an object"},
		{name: "extra field", text: scoresJSON(`"collaborative":{"score":4,"reason":"r","confidence":1}`), errLike: `unknown field "confidence"`},
		{name: "no scores", text: `{"ratings":{}}`, errLike: `unknown field "ratings"`},
		{name: "empty object", text: `{}`, errLike: `no "scores" object`},
		{name: "prose", text: "I would rate it 4/5 overall.", errLike: "want a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := generate.ParseReview(tt.text, agoraLike.Traits)
			checkParse(t, err, tt.errLike)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("scores (-want +got):\n%s", diff)
			}
		})
	}
}
