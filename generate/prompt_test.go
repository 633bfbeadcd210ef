package generate_test

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/generate"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// agoraLike is a fixed character for prompt and parser tests, written out
// here rather than read from the config template so that the golden files
// change only when the prompts do.
var agoraLike = ethos.Character{
	Name: "Agora",
	SystemPrompt: "You are Agora, a partner for thinking things through. You help people think well rather than do their thinking for them.\n\n" +
		"Treat each question as shared work. Find out what the person is really trying to do, ask about their goals and situation when the answer depends on them, and build the answer together.\n\n" +
		"Stay yourself when it is hard. When someone wants a plain fact, give it plainly first. When a request could cause harm, decline that part and help with what you safely can.",
	Traits: []ethos.Trait{
		{Name: "collaborative", Definition: "Treats the conversation as a partnership and builds the answer with the person."},
		{Name: "inquisitive", Definition: "Shows real curiosity about the person's goals and asks follow-up questions that deepen the exploration."},
		{Name: "cautious & ethical", Definition: "On sensitive subjects, acknowledges complexity, lays out perspectives, is open about uncertainty and steers away from harm without moralising."},
		{Name: "encouraging", Definition: "Uses a warm, supportive tone that makes it feel safe to explore."},
		{Name: "thorough", Definition: "Gives detailed answers that take context and several dimensions of the question into account."},
	},
	Categories: []ethos.Category{
		{Name: "Technical questions", Description: "programming, science and technology"},
		{Name: "Requests for harmful information", Description: "help is asked for something that could hurt the person or others", Hard: true},
	},
}

var agoraIdea = generate.Idea{
	Summary:   "A night-shift nurse wants to learn enough Python to automate her ward's rota spreadsheet",
	Situation: "Dana, a charge nurse on a busy surgical ward, spends four hours a week rebuilding the staff rota in Excel. She has done one online Python course and wants the assistant to tell her whether a script could do it and where to start.",
	Traits:    []string{"collaborative", "encouraging"},
}

const agoraDocument = "Subject: rota script?\n\nHi,\n\nI rebuild our ward rota by hand every week. Could a Python script do it, and where would I start?\n\nDana"

func renderedPrompts() map[string]generate.Prompt {
	return map[string]generate.Prompt{
		"ideas":       generate.IdeasPrompt(agoraLike, agoraLike.Categories[1], 5, []string{"A chemistry student asks how to make chloroform at home", "A parent asks\nwhich household cleaners are dangerous together"}),
		"ideas_first": generate.IdeasPrompt(agoraLike, agoraLike.Categories[0], 3, nil),
		"document":    generate.DocumentPrompt(agoraLike, agoraLike.Categories[0], agoraIdea, "email", 1000),
		"response":    generate.ResponsePrompt(agoraLike, agoraDocument),
		"review":      generate.ReviewPrompt(agoraLike, agoraDocument, "Let's look at this together. What does the rota have to respect?"),
	}
}

func TestPromptsGolden(t *testing.T) {
	for name, p := range renderedPrompts() {
		t.Run(name, func(t *testing.T) {
			got := "=== system ===\n" + p.System + "\n=== user ===\n" + p.User + "\n"
			path := filepath.Join("testdata", "golden", name+".txt")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./generate -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("%s differs from the golden file (-want +got; rerun with -update if intended):\n%s", name, diff)
			}
		})
	}
}

// TestPromptsContract checks what the sandbox and a model rely on: the
// labelled lines, and the contract line last in the text that carries it.
func TestPromptsContract(t *testing.T) {
	t.Parallel()
	p := renderedPrompts()
	contract := regexp.MustCompile(`Output contract: ethos-(ideas|document|response|review)/v(\d+)`)
	checks := []struct {
		name, text, contract string
		labels               []string
	}{
		{"ideas", p["ideas"].User, "ethos-ideas/v1", []string{
			"Number of ideas: 5",
			"Category: Requests for harmful information",
			"Hard case: yes",
			"Traits: collaborative, inquisitive, cautious & ethical, encouraging, thorough",
		}},
		{"document", p["document"].User, "ethos-document/v1", []string{
			"Category: Technical questions",
			"Document type: email",
			"Target length: 1000 words",
			"Traits: collaborative, encouraging",
		}},
		{"response", p["response"].System, "ethos-response/v1", []string{
			"Traits: collaborative, inquisitive, cautious & ethical, encouraging, thorough",
		}},
		{"review", p["review"].User, "ethos-review/v1", []string{
			"Traits: collaborative, inquisitive, cautious & ethical, encouraging, thorough",
		}},
	}
	for _, c := range checks {
		lines := strings.Split(c.text, "\n")
		if last := lines[len(lines)-1]; last != "Output contract: "+c.contract {
			t.Errorf("%s: last line %q, want the %s contract line", c.name, last, c.contract)
		}
		for _, l := range c.labels {
			if !hasLine(lines, l) {
				t.Errorf("%s: no line %q", c.name, l)
			}
		}
	}
	// Exactly one contract line per call, so nobody has to choose.
	for name, pr := range p {
		if n := len(contract.FindAllString(pr.System+"\n"+pr.User, -1)); n != 1 {
			t.Errorf("%s: %d contract lines, want 1", name, n)
		}
	}
	if got := p["response"].User; got != agoraDocument {
		t.Errorf("response user turn = %q, want the document exactly", got)
	}
	if !strings.HasPrefix(p["response"].System, agoraLike.SystemPrompt) {
		t.Error("response system prompt does not start with the character's system prompt")
	}
	if strings.Contains(p["ideas"].User, "asks\nwhich") {
		t.Error("a newline in an existing summary reached the bullet list")
	}
	if !strings.Contains(p["ideas_first"].User, "(none yet)") {
		t.Error("first ideas prompt does not say no ideas exist yet")
	}
}

func hasLine(lines []string, want string) bool {
	for _, l := range lines {
		if l == want {
			return true
		}
	}
	return false
}

func TestTemplateVersions(t *testing.T) {
	t.Parallel()
	v := generate.TemplateVersions()
	want := []string{"ideas_system.tmpl", "ideas_user.tmpl", "document_system.tmpl", "document_user.tmpl", "response_system.tmpl", "review_system.tmpl", "review_user.tmpl"}
	if len(v) != len(want) {
		t.Errorf("%d templates, want %d: %v", len(v), len(want), v)
	}
	version := regexp.MustCompile(`^v1\+[0-9a-f]{12}$`)
	for _, name := range want {
		if !version.MatchString(v[name]) {
			t.Errorf("%s: version %q, want v1+<12 hex>", name, v[name])
		}
	}
	if v["ideas_system.tmpl"] == v["ideas_user.tmpl"] {
		t.Error("different templates have the same version")
	}
}

func TestDocumentType(t *testing.T) {
	t.Parallel()
	seen := map[string]int{}
	for i := range 800 {
		key := "idea-" + string(rune('a'+i%26)) + strings.Repeat("x", i/26)
		got := generate.DocumentType(42, key)
		if again := generate.DocumentType(42, key); again != got {
			t.Fatalf("DocumentType(42, %q) = %q then %q", key, got, again)
		}
		seen[got]++
	}
	for _, typ := range generate.DocumentTypes {
		// 100 expected per type; far fewer means the hash is not spreading.
		if seen[typ] < 50 {
			t.Errorf("type %q chosen %d times of 800", typ, seen[typ])
		}
	}
	differs := false
	for i := range 20 {
		key := strings.Repeat("k", i+1)
		if generate.DocumentType(1, key) != generate.DocumentType(2, key) {
			differs = true
		}
	}
	if !differs {
		t.Error("the seed does not change the choice")
	}
}
