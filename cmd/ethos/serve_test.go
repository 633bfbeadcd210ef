package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestServeRefusesExposedAddressWithoutToken(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, addr := range []string{"0.0.0.0:8080", ":8080", "192.168.1.4:8080"} {
		r := ethosCLI(t, dir, nil, "serve", "--addr", addr)
		if r.code != 2 || !strings.Contains(r.stderr, "without a token") || !strings.Contains(r.stderr, "ETHOS_TOKEN") {
			t.Errorf("serve --addr %s: exit %d, stderr %q", addr, r.code, r.stderr)
		}
	}
	if r := ethosCLI(t, dir, nil, "serve", "--addr", "nonsense"); r.code != 2 {
		t.Errorf("serve --addr nonsense: exit %d, want 2", r.code)
	}
	if r := ethosCLI(t, dir, nil, "serve", "extra"); r.code != 2 {
		t.Errorf("serve extra: exit %d, want 2", r.code)
	}
}

// serving runs ethos serve in the background and returns its base URL
// once it listens; stop ends it and returns its result.
func serving(t *testing.T, dir string, env map[string]string, args ...string) (base string, stop func() result) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	outR, outW := io.Pipe()
	var stderr strings.Builder
	m := &Main{Stdin: strings.NewReader(""), Stdout: outW, Stderr: &stderr, Dir: dir,
		Getenv: func(k string) string { return env[k] }}
	done := make(chan error, 1)
	go func() {
		err := m.Run(ctx, append([]string{"serve"}, args...))
		outW.CloseWithError(io.EOF)
		done <- err
	}()
	var out strings.Builder
	lines := bufio.NewScanner(outR)
	for lines.Scan() {
		line := lines.Text()
		out.WriteString(line + "\n")
		if rest, ok := strings.CutPrefix(line, "serving on "); ok {
			base, _, _ = strings.Cut(rest, " ")
			break
		}
	}
	if base == "" {
		cancel()
		t.Fatalf("serve did not start: %v\n%s%s", <-done, out.String(), stderr.String())
	}
	go io.Copy(&out, outR)
	return strings.TrimSuffix(base, "/"), func() result {
		cancel()
		err := <-done
		return result{out.String(), stderr.String(), exitCode(err), err}
	}
}

func TestServeDashboard(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sandboxProject(t, dir, nil)
	if r := ethosCLI(t, dir, nil, "generate", "--examples", "3"); r.code != 0 {
		t.Fatalf("generate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	base, stop := serving(t, dir, map[string]string{"ETHOS_TOKEN": "tok-123"}, "--addr", "127.0.0.1:0", "--poll", "200ms")
	client := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	fetch := func(path, token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := fetch("/", ""); code != http.StatusUnauthorized {
		t.Errorf("GET / without the token: %d, want 401", code)
	}
	code, body := fetch("/api/runs", "tok-123")
	if code != 200 {
		t.Fatalf("GET /api/runs: %d %s", code, body)
	}
	var runs struct {
		Runs []struct {
			ID       string `json:"id"`
			Status   string `json:"status"`
			Examples int    `json:"examples"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(body), &runs); err != nil || len(runs.Runs) != 1 || runs.Runs[0].Examples != 3 || runs.Runs[0].Status != "completed" {
		t.Fatalf("runs: %v %s", err, body)
	}
	id := runs.Runs[0].ID
	for path, want := range map[string]string{
		"/":                        id,
		"/runs/" + id:              `data-examples="3"`,
		"/runs/" + id + "/dataset": "accepted examples",
		"/models":                  "Registry",
		"/metrics":                 "ethos_calls_total{provider=\"sandbox\"",
	} {
		code, body := fetch(path, "tok-123")
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("GET %s: %d, want %q in\n%.2000s", path, code, want, body)
		}
	}
	if _, body := fetch("/metrics", "tok-123"); !strings.Contains(body, `ethos_queue_jobs{state="completed"}`) {
		t.Errorf("metrics lack the queue depth:\n%s", body)
	}
	r := stop()
	if r.code != 0 || !strings.Contains(r.stdout, "stopped") || strings.Contains(r.stdout, "tok-123") {
		t.Errorf("serve: exit %d (%v), stdout %q", r.code, r.err, r.stdout)
	}
}
