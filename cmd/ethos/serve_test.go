package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/internal/pgtest"
	"github.com/ethos-toolkit/ethos/postgres"
	"github.com/ethos-toolkit/ethos/sandbox"
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

func TestServeRefusesShortToken(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const short = "abcde"
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"--token", nil, []string{"--token", short}},
		{"ETHOS_TOKEN", map[string]string{"ETHOS_TOKEN": short}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Already cancelled: a serve that accepts the token stops at
			// once instead of serving for ever.
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			var stdout, stderr strings.Builder
			m := &Main{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Dir: dir,
				Getenv: func(k string) string { return tc.env[k] }}
			err := m.Run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, tc.args...))
			if exitCode(err) != 2 || err == nil {
				t.Fatalf("serve with a %d-character token: exit %d (%v), want 2", len(short), exitCode(err), err)
			}
			msg := err.Error()
			for _, want := range []string{tc.name, "at least 16", "openssl rand -hex 16"} {
				if !strings.Contains(msg, want) {
					t.Errorf("the refusal does not say %q: %s", want, msg)
				}
			}
			if strings.Contains(msg+stdout.String()+stderr.String(), short) {
				t.Errorf("the refusal shows the token: %s", msg)
			}
		})
	}
}

// serving runs ethos serve in the background and returns its base URL
// once it listens; stop ends it and returns its result.
func serving(t *testing.T, dir string, env map[string]string, args ...string) (base string, stop func() result) {
	t.Helper()
	return background(t, dir, env, "serving on ", append([]string{"serve"}, args...)...)
}

// background runs a command that serves until stopped (serve, sandbox) and
// returns the URL its output names after marker once it listens; stop ends
// it and returns its result.
func background(t *testing.T, dir string, env map[string]string, marker string, args ...string) (base string, stop func() result) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	outR, outW := io.Pipe()
	var stderr strings.Builder
	m := &Main{Stdin: strings.NewReader(""), Stdout: outW, Stderr: &stderr, Dir: dir,
		Getenv: func(k string) string { return env[k] }}
	done := make(chan error, 1)
	go func() {
		err := m.Run(ctx, args)
		outW.CloseWithError(io.EOF)
		done <- err
	}()
	var out strings.Builder
	lines := bufio.NewScanner(outR)
	for lines.Scan() {
		line := lines.Text()
		out.WriteString(line + "\n")
		if _, rest, ok := strings.Cut(line, marker); ok {
			base, _, _ = strings.Cut(rest, " ")
			break
		}
	}
	if base == "" {
		cancel()
		t.Fatalf("%s did not start: %v\n%s%s", args[0], <-done, out.String(), stderr.String())
	}
	copied := make(chan struct{})
	go func() {
		io.Copy(&out, outR)
		close(copied)
	}()
	return strings.TrimSuffix(base, "/"), func() result {
		cancel()
		err := <-done
		<-copied
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
	base, stop := serving(t, dir, map[string]string{"ETHOS_TOKEN": "tok-0123456789abcdef"}, "--addr", "127.0.0.1:0", "--poll", "200ms")
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
	code, body := fetch("/api/runs", "tok-0123456789abcdef")
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
		code, body := fetch(path, "tok-0123456789abcdef")
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("GET %s: %d, want %q in\n%.2000s", path, code, want, body)
		}
	}
	if _, body := fetch("/metrics", "tok-0123456789abcdef"); !strings.Contains(body, `ethos_queue_jobs{state="completed"}`) {
		t.Errorf("metrics lack the queue depth:\n%s", body)
	}
	r := stop()
	if r.code != 0 || !strings.Contains(r.stdout, "stopped") || strings.Contains(r.stdout, "tok-0123456789abcdef") {
		t.Errorf("serve: exit %d (%v), stdout %q", r.code, r.err, r.stdout)
	}
}

// TestServeCancelsSandboxJob presses the dashboard's cancel button (a POST
// with the page's CSRF token) on a job running on the sandbox: the
// fine-tune service asks the sandbox to cancel and records its answer.
func TestServeCancelsSandboxJob(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sb, err := sandbox.Start(t.Context(), "127.0.0.1:0", sandbox.Options{FineTune: sandbox.FineTuneOptions{Pending: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	env := map[string]string{"SANDBOX_BASE_URL": sb.URL}
	var lines []string
	for i := range 12 {
		lines = append(lines, fmt.Sprintf(`{"messages":[{"role":"user","content":"Question %d: how should our two teams share one budget?"},{"role":"assistant","content":"Let us start with what each team needs, %d."}]}`, i, i))
	}
	if err := os.WriteFile(filepath.Join(dir, "train.jsonl"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := ethosCLI(t, dir, env, "finetune", "create", "--train", "train.jsonl")
	if r.code != 0 {
		t.Fatalf("finetune create: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	id := strings.TrimSpace(r.stdout)

	base, stop := serving(t, dir, env, "--addr", "127.0.0.1:0")
	defer stop()
	client := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(base + "/finetune/" + id)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindSubmatch(page)
	if m == nil {
		t.Fatalf("the job page has no cancel button:\n%s", page)
	}
	req, _ := http.NewRequest("POST", base+"/finetune/"+id+"/cancel", strings.NewReader(url.Values{"csrf": {string(m[1])}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("cancel: %d\n%s", resp.StatusCode, body)
	}
	resp, err = client.Get(base + "/api/finetune/" + id)
	if err != nil {
		t.Fatal(err)
	}
	var job struct {
		Job struct {
			State string `json:"state"`
		} `json:"job"`
	}
	err = json.NewDecoder(resp.Body).Decode(&job)
	resp.Body.Close()
	if err != nil || (job.Job.State != "cancelled" && job.Job.State != "running") {
		t.Fatalf("job after cancel: %+v %v", job, err)
	}
	// The provider may take a moment to finish cancelling; a second
	// press is refused once it has, and says why.
	if r := ethosCLI(t, dir, env, "finetune", "wait", id, "--interval", "10ms"); r.code != 1 || !strings.Contains(r.stderr, "was cancelled") {
		t.Errorf("wait on the cancelled job: exit %d\n%s", r.code, r.stderr)
	}
}

// TestServeWatchesAnotherProcess serves the dashboard while ethos generate
// runs in another process on the same store: a page watching the run
// hears of its progress through the event stream.
func TestServeWatchesAnotherProcess(t *testing.T) {
	t.Parallel()
	sb, err := sandbox.Start(t.Context(), "127.0.0.1:0", sandbox.Options{Seed: 5, Faults: sandbox.Faults{LatencyMean: 20 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	dir := t.TempDir()
	sandboxProject(t, dir, nil)
	base, stop := serving(t, dir, nil, "--addr", "127.0.0.1:0", "--poll", "100ms")
	defer stop()

	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/events?topic=overview", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	events := bufio.NewScanner(resp.Body)
	if !events.Scan() || !strings.HasPrefix(events.Text(), "retry:") {
		t.Fatalf("the stream did not start: %q %v", events.Text(), events.Err())
	}

	child := exec.CommandContext(ctx, os.Args[0], "generate", "--examples", "4", "--workers", "4")
	child.Dir = dir
	child.Env = append(os.Environ(), "ETHOS_TEST_AS_MAIN=1", "SANDBOX_BASE_URL="+sb.URL)
	var out strings.Builder
	child.Stdout, child.Stderr = &out, &out
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	changes := 0
	for changes < 2 && events.Scan() {
		if events.Text() == "event: change" {
			changes++
		}
	}
	if changes < 2 {
		t.Errorf("the event stream reported %d changes while the other process worked: %v", changes, events.Err())
	}
	if err := child.Wait(); err != nil {
		t.Fatalf("generate in the other process: %v\n%s", err, out.String())
	}
	r, err := http.Get(base + "/api/runs")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	var runs struct {
		Runs []struct {
			Status   string `json:"status"`
			Examples int    `json:"examples"`
		} `json:"runs"`
	}
	if err := json.NewDecoder(r.Body).Decode(&runs); err != nil || len(runs.Runs) != 1 || runs.Runs[0].Examples != 4 {
		t.Errorf("the dashboard's view of the other process's run: %+v %v", runs, err)
	}
}

// TestServeDashboardOnPostgres serves the dashboard of a project whose
// store is on PostgreSQL: the pages, the API and the queue's depth in
// /metrics come from the database.
func TestServeDashboardOnPostgres(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sandboxProject(t, dir, nil)
	dbURL := pgtest.URL(t)
	env := map[string]string{"ETHOS_DATABASE_URL": dbURL}
	if r := ethosCLI(t, dir, env, "generate", "--examples", "3"); r.code != 0 {
		t.Fatalf("generate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// Polls an hour apart: a change shows at once only if the store's
	// notification brings it.
	base, stop := serving(t, dir, env, "--addr", "127.0.0.1:0", "--poll", "1h")
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := get("/api/runs")
	var runs struct {
		Runs []struct {
			ID       string `json:"id"`
			Examples int    `json:"examples"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(body), &runs); code != 200 || err != nil || len(runs.Runs) != 1 || runs.Runs[0].Examples != 3 {
		t.Fatalf("GET /api/runs: %d %v %s", code, err, body)
	}
	for path, want := range map[string]string{
		"/":                        runs.Runs[0].ID,
		"/runs/" + runs.Runs[0].ID: `data-examples="3"`,
		"/metrics":                 `ethos_queue_jobs{state="completed"}`,
	} {
		if code, body := get(path); code != 200 || !strings.Contains(body, want) {
			t.Errorf("GET %s: %d, want %q in\n%.2000s", path, code, want, body)
		}
	}
	watchChangeFromAnotherProcess(t, base, dbURL, runs.Runs[0].ID)
	if r := stop(); r.code != 0 {
		t.Errorf("serve: exit %d (%v)", r.code, r.err)
	}
}

// watchChangeFromAnotherProcess watches run id's page's event stream while
// another store handle writes the run, until the stream says it changed.
// It writes again every 200 ms, since the server may not be listening yet
// when the first write commits; a minute without the event fails.
func watchChangeFromAnotherProcess(t *testing.T, base, dbURL, id string) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/events?topic="+url.QueryEscape("run:"+id), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	if !lines.Scan() || !strings.HasPrefix(lines.Text(), "retry:") {
		t.Fatalf("event stream opened with %q", lines.Text())
	}
	changed := make(chan string, 1)
	go func() {
		for lines.Scan() {
			if strings.HasPrefix(lines.Text(), "event: change") {
				changed <- lines.Text()
				return
			}
		}
	}()
	other, err := postgres.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	write := time.NewTicker(200 * time.Millisecond)
	defer write.Stop()
	giveUp := time.NewTimer(time.Minute)
	defer giveUp.Stop()
	for {
		select {
		case <-changed:
			return
		case <-write.C:
			if err := other.SetRunStatus(ctx, id, ethos.RunCompleted, ""); err != nil {
				t.Fatal(err)
			}
		case <-giveUp.C:
			t.Fatal("no change event within a minute of writing the run from another store handle, with polls an hour apart")
		}
	}
}
