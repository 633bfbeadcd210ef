package sandbox

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestStatsCountRepeatedAnswers(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(New(Options{Seed: 1}))
	defer srv.Close()
	post := func(prompt string) {
		t.Helper()
		body := `{"model":"writer","max_tokens":50,"messages":[{"role":"user","content":"` + prompt + `"}]}`
		req, _ := http.NewRequest("POST", srv.URL+"/v1/messages", strings.NewReader(body))
		req.Header.Set("x-api-key", "k")
		req.Header.Set("anthropic-version", "2023-06-01")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	post("a")
	post("b")
	post("a")
	post("a")
	s := srv.Config.Handler.(*Server).Stats()
	if s.Repeats != 2 || s.ByStatus["200"] != 4 {
		t.Fatalf("repeats %d of %d answers, want 2 of 4", s.Repeats, s.ByStatus["200"])
	}
}
