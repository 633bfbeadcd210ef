package dataset

import (
	"strings"
	"testing"
)

// TestCheckFileTooLarge lowers Together's 50.1 GiB limit, which no test
// can write, to a few bytes.
func TestCheckFileTooLarge(t *testing.T) {
	t.Parallel()
	small := *together
	small.maxBytes = 10
	line := `{"text":"The tide comes in twice a day."}` + "\n"
	rep, err := check(t.Context(), strings.NewReader(line), "big.jsonl", &small, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 1 || rep.Problems[0].Rule != RuleFileTooLarge || rep.Problems[0].Line != 0 {
		t.Fatalf("%+v", rep.Problems)
	}
}
