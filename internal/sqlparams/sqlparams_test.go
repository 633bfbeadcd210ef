package sqlparams

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParams(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		p          *Params
		where, lim string
	}{
		{Question(), " WHERE a = ? AND b IN (?, ?) AND NOT c", "?"},
		{Dollar(), " WHERE a = $1 AND b IN ($2, $3) AND NOT c", "$4"},
	} {
		tc.p.Add("a = ?", 1)
		tc.p.Add("b IN (?, ?)", "x", "y")
		tc.p.Add("NOT c")
		if got := tc.p.Where(); got != tc.where {
			t.Errorf("Where() = %q, want %q", got, tc.where)
		}
		if got := tc.p.Next(10); got != tc.lim {
			t.Errorf("Next() = %q, want %q", got, tc.lim)
		}
		if diff := cmp.Diff([]any{1, "x", "y", 10}, tc.p.Args); diff != "" {
			t.Errorf("Args (-want +got):\n%s", diff)
		}
	}
	if got := Dollar().Where(); got != "" {
		t.Errorf("no conditions: Where() = %q", got)
	}
}
