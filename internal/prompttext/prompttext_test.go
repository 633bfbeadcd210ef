package prompttext_test

import (
	"fmt"
	"strings"
	"testing"
	"text/template"

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
