package llm_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/llm"
)

type recordModel struct{ got []string }

func (r *recordModel) Complete(_ context.Context, req ethos.Request) (ethos.Response, error) {
	r.got = append(r.got, req.Model)
	return ethos.Response{Text: "ok"}, nil
}

func TestAliasCallsTheResolvedName(t *testing.T) {
	next := &recordModel{}
	a := &llm.Alias{Next: next, Resolve: func(_ context.Context, m string) (string, bool, error) {
		switch m {
		case "together/acme/tuned":
			return "together/acme/endpoint-1", true, nil
		case "together/broken":
			return "", false, errors.New("registry unreadable")
		}
		return "", false, nil
	}}
	for _, m := range []string{"together/acme/tuned", "anthropic/claude"} {
		if _, err := a.Complete(t.Context(), ethos.Request{Model: m}); err != nil {
			t.Fatal(err)
		}
	}
	if got := next.got; len(got) != 2 || got[0] != "together/acme/endpoint-1" || got[1] != "anthropic/claude" {
		t.Errorf("called %v", got)
	}
	if _, err := a.Complete(t.Context(), ethos.Request{Model: "together/broken"}); err == nil {
		t.Error("a failed lookup was not returned")
	}
}
