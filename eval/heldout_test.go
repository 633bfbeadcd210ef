package eval_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/eval"
	"github.com/google/go-cmp/cmp"
)

func TestParsePrompts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, data string
		want       []eval.Candidate
	}{
		{"plain", "# held-out\nShould I move?\n\n  How do I say no?  \n", []eval.Candidate{
			{Text: "Should I move?", Origin: "p.txt:2"},
			{Text: "How do I say no?", Origin: "p.txt:4"},
		}},
		{"jsonl", "{\"prompt\": \"Should I move?\", \"category\": \"Career\", \"id\": 7}\n\n{\"text\": \"Line one.\\nLine two?\"}\n", []eval.Candidate{
			{Text: "Should I move?", Category: "Career", Origin: "p.txt:1"},
			{Text: "Line one.\nLine two?", Origin: "p.txt:3"},
		}},
		{"bom and crlf", "\ufeffOne\r\nTwo\r\n", []eval.Candidate{{Text: "One", Origin: "p.txt:1"}, {Text: "Two", Origin: "p.txt:2"}}},
		{"hash in jsonl is text", "{\"prompt\": \"# not a comment\"}\n", []eval.Candidate{{Text: "# not a comment", Origin: "p.txt:1"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := eval.ParsePrompts("p.txt", []byte(tc.data))
			if err != nil {
				t.Fatalf("ParsePrompts: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	// Every problem, each with its line.
	_, err := eval.ParsePrompts("p.jsonl", []byte("{\"prompt\": \"ok\"}\nnot json\n{\"prompt\": 3}\n{\"prompt\": \"a\", \"text\": \"b\"}\n{}\n{\"prompt\": \"  \"}\n[1]\n"))
	if ethos.KindOf(err) != ethos.Config {
		t.Fatalf("err = %v, want a config error", err)
	}
	want := []string{
		"p.jsonl:2: not a JSON object",
		`p.jsonl:3: "prompt" must be a string`,
		`p.jsonl:4: give the prompt under "prompt" or "text", not both`,
		`p.jsonl:5: no "prompt" (or "text") field`,
		"p.jsonl:6: the prompt is empty",
		"p.jsonl:7: not a JSON object",
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
	if strings.Contains(err.Error(), "p.jsonl:1:") {
		t.Errorf("a good line reported: %v", err)
	}
	for name, data := range map[string]string{"empty": "", "comments": "# a\n#b\n\n", "binary": "\xff\xfe"} {
		if _, err := eval.ParsePrompts("p.txt", []byte(data)); ethos.KindOf(err) != ethos.Config {
			t.Errorf("%s: err = %v, want a config error", name, err)
		}
	}
}

func FuzzParsePrompts(f *testing.F) {
	f.Add("Should I move?\n")
	f.Fuzz(func(t *testing.T, data string) {
		cands, err := eval.ParsePrompts("p.txt", []byte(data))
		if err != nil {
			if ethos.KindOf(err) != ethos.Config {
				t.Fatalf("error of kind %q: %v", ethos.KindOf(err), err)
			}
			if cands != nil {
				t.Fatal("prompts returned with an error")
			}
			return
		}
		if len(cands) == 0 {
			t.Fatal("no prompts and no error")
		}
		for _, c := range cands {
			if strings.TrimSpace(c.Text) != c.Text || c.Text == "" || len(c.Text) > eval.MaxPromptBytes {
				t.Fatalf("prompt %q accepted", c.Text)
			}
			if !strings.HasPrefix(c.Origin, "p.txt:") {
				t.Fatalf("origin %q", c.Origin)
			}
		}
	})
}

// writeTraining writes a chat-format training file.
func writeTraining(t *testing.T, users ...string) string {
	t.Helper()
	var b strings.Builder
	for _, u := range users {
		b.WriteString(`{"messages":[{"role":"system","content":"You are Agora."},{"role":"user","content":` + jsonString(u) + `},{"role":"assistant","content":"Let's see."}]}` + "\n")
	}
	path := filepath.Join(t.TempDir(), "train.jsonl")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func jsonString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

const longPrompt = "Hi, I run a small bakery in Leeds with four staff, and our oven broke last week. " +
	"The repair quote is nine hundred pounds and a new oven is three thousand. Sales have been flat since spring " +
	"and I am not sure whether to borrow the money or close for a fortnight while I save. " +
	"What would you weigh first, and how would you decide?"

func TestTrainingFind(t *testing.T) {
	t.Parallel()
	path := writeTraining(t, longPrompt, "How do I tell my team the project is late?")
	tr := eval.NewTraining(0.7)
	sum, err := tr.LoadFile(path)
	if err != nil || len(sum) != 64 || tr.Len() != 2 {
		t.Fatalf("LoadFile = %q, %v; %d prompts", sum, err, tr.Len())
	}
	for _, tc := range []struct {
		name, text, want string
	}{
		{"exact", longPrompt, "same text as the user turn at " + path + ":1"},
		{"exact but spacing and case", "  how do I tell MY team\n the project is late?", "same text as the user turn at " + path + ":2"},
		{"near-duplicate", strings.Replace(longPrompt, "four staff", "five staff", 1), "near-duplicate (similarity"},
		{"different", "My sister keeps borrowing money and never pays it back. What should I say to her?", ""},
	} {
		reason, found := tr.Find(tc.text)
		if found != (tc.want != "") || !strings.Contains(reason, tc.want) {
			t.Errorf("%s: Find = %q, %v; want %q", tc.name, reason, found, tc.want)
		}
	}

	for name, line := range map[string]string{
		"not json":      "not json",
		"no user turn":  `{"messages":[{"role":"assistant","content":"hi"}]}`,
		"neither field": `{"completion":"hi"}`,
	} {
		bad := filepath.Join(t.TempDir(), "bad.jsonl")
		os.WriteFile(bad, []byte(`{"prompt":"fine"}`+"\n"+line+"\n"), 0o644)
		_, err := eval.NewTraining(0.7).LoadFile(bad)
		if ethos.KindOf(err) != ethos.Config || !strings.Contains(err.Error(), bad+":2:") {
			t.Errorf("%s: err = %v, want a config error at line 2", name, err)
		}
	}
}
