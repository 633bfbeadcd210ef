package sandbox

import (
	"strings"
	"testing"
)

// topicOf's index finds what a search for each topic in turn finds: the
// first topic of the banks that the text holds, wherever it stands.
func TestTopicOfMatchesSearchInOrder(t *testing.T) {
	slow := func(doc string) string {
		for _, th := range append(themes, generalTheme) {
			for _, sc := range th.scenarios {
				if strings.Contains(doc, sc.topic) {
					return sc.topic
				}
			}
		}
		return "what you have described"
	}
	last := topics.list[len(topics.list)-1]
	docs := []string{
		"",
		"short",
		"nothing about any scenario here at all",
		topics.list[0],
		"x" + topics.list[3] + " and later " + topics.list[1],
		last + " then " + topics.list[len(topics.list)-2],
		strings.Repeat("the ", 500) + last,
		topics.list[5][:len(topics.list[5])-1], // cut short: no match
	}
	for _, doc := range docs {
		if got, want := topicOf(doc), slow(doc); got != want {
			t.Errorf("topicOf(%.60q) = %q, want %q", doc, got, want)
		}
	}
}
