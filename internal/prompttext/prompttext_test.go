package prompttext_test

import (
	"strings"
	"testing"

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
