package main

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestSandboxCommandAppliesConfig runs ethos sandbox in a project whose
// sandbox section makes every request fail with a 500: the command applies
// it, and a flag given on the command line overrides it.
func TestSandboxCommandAppliesConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sandboxProject(t, dir, map[string]string{"500: 0.0": "500: 1.0"})
	status := func(base string) int {
		t.Helper()
		body := `{"model":"writer","max_tokens":16,"messages":[{"role":"user","content":"hello"}]}`
		req, _ := http.NewRequest("POST", base+"/v1/messages", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("anthropic-version", "2023-06-01")
		req.Header.Set("x-api-key", "sandbox")
		resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		name string
		args []string
		want int
	}{
		{"config", nil, http.StatusInternalServerError},
		{"--error-rate overrides it", []string{"--error-rate", "500=0"}, http.StatusOK},
		{"--config names another file", []string{"--config", "missing.yaml"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"sandbox", "--addr", "127.0.0.1:0"}, tc.args...)
			if tc.want == 0 {
				if r := ethosCLI(t, dir, nil, args...); r.code != 2 || !strings.Contains(r.stderr, "missing.yaml") {
					t.Fatalf("exit %d, stderr %q; want 2 naming the file", r.code, r.stderr)
				}
				return
			}
			base, stop := background(t, dir, nil, "listening on ", args...)
			defer stop()
			if got := status(base); got != tc.want {
				t.Errorf("status %d, want %d", got, tc.want)
			}
		})
	}
}
