package prompttext_test

import (
	"fmt"
	"hash/fnv"
	"strings"
	"testing"
	"text/template"
	"unicode"

	"github.com/google/go-cmp/cmp"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/internal/prompttext"
)

func TestSnippet(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want string }{
		{"", ""},
		{"short text", "short text"},
		{strings.Repeat("a", 40), strings.Repeat("a", 40)},
		{strings.Repeat("a", 41), strings.Repeat("a", 40) + "…"},
		// A rune across the cut is left out whole, never split.
		{strings.Repeat("a", 39) + "é and more", strings.Repeat("a", 39) + "…"},
	} {
		if got := prompttext.Snippet(tt.in); got != tt.want {
			t.Errorf("Snippet(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestTraitNamesAndOneLine(t *testing.T) {
	t.Parallel()
	traits := []ethos.Trait{{Name: "curious"}, {Name: "cautious & ethical"}}
	if got, want := prompttext.TraitNames(traits), "curious, cautious & ethical"; got != want {
		t.Errorf("TraitNames = %q, want %q", got, want)
	}
	if got := prompttext.TraitNames(nil); got != "" {
		t.Errorf("TraitNames(nil) = %q, want empty", got)
	}
	if got, want := prompttext.OneLine("  two\nlines,\t spaced  "), "two lines, spaced"; got != want {
		t.Errorf("OneLine = %q, want %q", got, want)
	}
}

func TestRender(t *testing.T) {
	t.Parallel()
	tmpl := template.Must(template.New("").Option("missingkey=error").Parse(`{{define "hi.tmpl"}}
  Hello, {{.Name}}.
{{end}}`))
	if got, want := prompttext.Render(tmpl, "owner", "hi.tmpl", map[string]any{"Name": "Agora"}), "Hello, Agora."; got != want {
		t.Errorf("Render = %q, want %q", got, want)
	}
	// A missing key is a defect of the owner's package: a panic that
	// names it.
	defer func() {
		if r := recover(); r == nil || !strings.HasPrefix(fmt.Sprint(r), "owner: render hi.tmpl: ") {
			t.Errorf("Render with a missing key: recovered %v, want a panic naming the owner", r)
		}
	}()
	prompttext.Render(tmpl, "owner", "hi.tmpl", map[string]any{})
}

// lowerWordsOf is what LowerWords promises to match: the lower-case words
// strings.FieldsFunc finds, with FNV-1a hashes.
func lowerWordsOf(s string, inWord func(rune) bool) (words []string, hashes []uint64) {
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !inWord(r) }) {
		h := fnv.New64a()
		h.Write([]byte(w))
		words, hashes = append(words, w), append(hashes, h.Sum64())
	}
	return words, hashes
}

func letterOrDigit(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

func checkLowerWords(t *testing.T, s string) {
	t.Helper()
	wantWords, wantHashes := lowerWordsOf(s, letterOrDigit)
	var words []string
	var hashes []uint64
	prompttext.LowerWords(s, letterOrDigit, func(start, end int, h uint64) bool {
		words, hashes = append(words, strings.ToLower(s[start:end])), append(hashes, h)
		return true
	})
	if diff := cmp.Diff(wantWords, words); diff != "" {
		t.Errorf("LowerWords(%q) words (-FieldsFunc +LowerWords):\n%s", s, diff)
	}
	if diff := cmp.Diff(wantHashes, hashes); diff != "" {
		t.Errorf("LowerWords(%q) hashes (-want +got):\n%s", s, diff)
	}
	for _, n := range []int{0, 1, 3, 80} {
		f := strings.Fields(s)
		want := strings.Join(f[max(0, len(f)-n):], " ")
		if got := prompttext.LastWords(s, n); got != want {
			t.Errorf("LastWords(%q, %d) = %q, want %q", s, n, got, want)
		}
	}
}

func TestLowerWordsAndLastWords(t *testing.T) {
	for _, s := range []string{
		"", "   ", "One", "Hello, World! It's 2026.", "  ÉCOLE   Straße ΣΊΣΥΦΟΣ\tİstanbul\n",
		"bad \xff byte\xe2\x80 and\u00a0nbsp\u2028line", "ǅemal ǈ Ⅻ ⓐⒷ", "end.",
	} {
		checkLowerWords(t, s)
	}
	stopped := 0
	prompttext.LowerWords("a b c", letterOrDigit, func(int, int, uint64) bool { stopped++; return false })
	if stopped != 1 {
		t.Errorf("LowerWords went on after yield returned false: %d calls", stopped)
	}
}

func FuzzLowerWords(f *testing.F) {
	f.Add("Hello, World! It's 2026.")
	f.Add("bad \xff byte\xe2\x80 and\u00a0nbsp")
	f.Fuzz(func(t *testing.T, s string) { checkLowerWords(t, s) })
}
