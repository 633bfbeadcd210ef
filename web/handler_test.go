package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/web"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// pinnedStore pins the times the store stamps with the wall clock (a job's
// UpdatedAt, an answer's CreatedAt), so that pages over a seeded store are the same on every run.
type pinnedStore struct{ ethos.Store }

func (p pinnedStore) Job(ctx context.Context, id string) (ethos.FineTuneJob, error) {
	j, err := p.Store.Job(ctx, id)
	j.UpdatedAt = pin(j.UpdatedAt)
	return j, err
}

func (p pinnedStore) Jobs(ctx context.Context, f ethos.FineTuneFilter) ([]ethos.FineTuneJob, error) {
	jobs, err := p.Store.Jobs(ctx, f)
	for i := range jobs {
		jobs[i].UpdatedAt = pin(jobs[i].UpdatedAt)
	}
	return jobs, err
}

func (p pinnedStore) Answers(ctx context.Context, id string) ([]ethos.Answer, error) {
	answers, err := p.Store.Answers(ctx, id)
	for i := range answers {
		answers[i].CreatedAt = pin(answers[i].CreatedAt)
	}
	return answers, err
}

func (p pinnedStore) Judgments(ctx context.Context, id string) ([]ethos.Judgment, error) {
	judgments, err := p.Store.Judgments(ctx, id)
	for i := range judgments {
		judgments[i].CreatedAt = pin(judgments[i].CreatedAt)
	}
	return judgments, err
}

func (p pinnedStore) TraitScores(ctx context.Context, id string) ([]ethos.TraitScore, error) {
	scores, err := p.Store.TraitScores(ctx, id)
	for i := range scores {
		scores[i].CreatedAt = pin(scores[i].CreatedAt)
	}
	return scores, err
}

func (p pinnedStore) Batches(ctx context.Context, f ethos.BatchFilter) ([]ethos.Batch, error) {
	batches, err := p.Store.Batches(ctx, f)
	for i := range batches {
		pinBatch(&batches[i])
	}
	return batches, err
}

func (p pinnedStore) GetBatch(ctx context.Context, id int64) (ethos.Batch, error) {
	b, err := p.Store.GetBatch(ctx, id)
	pinBatch(&b)
	return b, err
}

// pinBatch puts a batch's creation a minute before the submission the
// seed gives it (at(-1, 0) while it is preparing), so that its age is the
// same on every run.
func pinBatch(b *ethos.Batch) {
	if b.CreatedAt.IsZero() {
		return
	}
	b.CreatedAt = at(-1, 0)
	if !b.SubmittedAt.IsZero() {
		b.CreatedAt = b.SubmittedAt.Add(-time.Minute)
	}
}

func pin(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return at(-3, 0)
}

// cancels records the jobs the cancel button asked to cancel.
type cancels struct {
	mu  sync.Mutex
	ids []string
	err error
}

func (c *cancels) cancel(ctx context.Context, id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ids = append(c.ids, id)
	return c.err
}

// sandboxCost prices usage as the built-in price table prices sandbox/*:
// input $1, output $5, cache reads $0.10 and writes $1.25 per million.
func sandboxCost(model string, u ethos.Usage) (float64, bool) {
	return (float64(u.In) + 5*float64(u.Out) + 0.1*float64(u.CacheRead) + 1.25*float64(u.CacheWrite)) / 1e6, true
}

// newSeeded serves a seeded store with a fixed clock.
func newSeeded(t *testing.T, opts web.Options) (*web.Server, seeded) {
	t.Helper()
	db := openStore(t)
	s := seedStore(t, db)
	if opts.Now == nil {
		opts.Now = func() time.Time { return clock }
	}
	// Aggregates are computed before the page is written, so golden
	// output never shows "computing".
	opts.ComputeWait = time.Minute
	srv, err := web.New(pinnedStore{db}, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv, s
}

// get serves one GET request from 127.0.0.1.
func get(t *testing.T, h http.Handler, target string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest("GET", "http://127.0.0.1:8080"+target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// csrfField finds the CSRF token in a page's cancel form.
var csrfField = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

// normalize removes what changes between runs: the random CSRF token.
func normalize(body string) string {
	return csrfField.ReplaceAllString(body, `name="csrf" value="CSRF"`)
}

// golden compares got with testdata/golden/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./web/ -run %s -update to write it)", err, t.Name())
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs from the golden file (-want +got); if the change is intended, rerun with -update:\n%s", name, diff)
	}
}

func TestPagesGolden(t *testing.T) {
	srv, s := newSeeded(t, web.Options{Canceller: (&cancels{}).cancel, Cost: sandboxCost})
	for _, tc := range []struct {
		name, path string
		status     int
	}{
		{"overview.html", "/", 200},
		{"run.html", "/runs/" + s.RunID, 200},
		{"run-quarantined.html", "/runs/" + s.RunID + "?status=quarantined", 200},
		{"run-failed.html", "/runs/" + s.FailedRunID, 200},
		{"item-reply.html", "/runs/" + s.RunID + "/items/" + itoa(s.Reply), 200},
		{"item-xss.html", "/runs/" + s.RunID + "/items/" + itoa(s.XSSDoc), 200},
		{"item-quarantined.html", "/runs/" + s.RunID + "/items/" + itoa(s.Quarantined), 200},
		{"dataset.html", "/runs/" + s.RunID + "/dataset", 200},
		{"job-running.html", "/finetune/" + s.JobRunning, 200},
		{"job-failed.html", "/finetune/" + s.JobFailed, 200},
		{"models.html", "/models", 200},
		{"eval.html", "/evals/" + s.EvalID, 200},
		{"eval-p2.html", "/evals/" + s.EvalID + "?prompt=p%2F002", 200},
		{"notfound.html", "/runs/no-such-run", 404},
		{"bad-filter.html", "/runs/" + s.RunID + "?status=bogus", 200},
		{"api-index.json", "/api/", 200},
		{"api-overview.json", "/api/overview", 200},
		{"api-run.json", "/api/runs/" + s.RunID, 200},
		{"api-items.json", "/api/runs/" + s.RunID + "/items?stage=response", 200},
		{"api-item.json", "/api/runs/" + s.RunID + "/items/" + itoa(s.XSSDoc), 200},
		{"api-series.json", "/api/runs/" + s.RunID + "/series", 200},
		{"api-dataset.json", "/api/runs/" + s.RunID + "/dataset", 200},
		{"api-job.json", "/api/finetune/" + s.JobRunning, 200},
		{"api-loss.json", "/api/finetune/" + s.JobRunning + "/loss", 200},
		{"api-models.json", "/api/models", 200},
		{"api-eval.json", "/api/evals/" + s.EvalID, 200},
		{"api-notfound.json", "/api/runs/nope", 404},
		{"api-unknown.json", "/api/nothing-here", 404},
		{"metrics.txt", "/metrics", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := get(t, srv, tc.path)
			if w.Code != tc.status {
				t.Errorf("GET %s: status %d, want %d\n%s", tc.path, w.Code, tc.status, w.Body)
			}
			golden(t, tc.name, normalize(w.Body.String()))
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestModelTextIsEscaped checks the escaping directly, besides the golden
// files: no payload seeded into model text appears as markup.
func TestModelTextIsEscaped(t *testing.T) {
	srv, s := newSeeded(t, web.Options{})
	for _, path := range []string{
		"/runs/" + s.RunID + "/items/" + itoa(s.XSSDoc),
		"/runs/" + s.RunID + "/items/" + itoa(s.XSSReply),
		"/runs/" + s.RunID,
		"/finetune/" + s.JobRunning,
		"/evals/" + s.EvalID,
	} {
		body := get(t, srv, path).Body.String()
		for _, bad := range []string{"<script>window", "<img src=x", "<script>alert", "</pre><script>", "<b>Quarterly</b>", "<i>x</i>"} {
			if strings.Contains(body, bad) {
				t.Errorf("GET %s: the page contains %q unescaped", path, bad)
			}
		}
		if strings.Contains(body, "<script>") || strings.Contains(body, " style=") || strings.Contains(body, "<style") {
			t.Errorf("GET %s: the page has inline script or style", path)
		}
	}
	body := get(t, srv, "/runs/"+s.RunID+"/items/"+itoa(s.XSSDoc)).Body.String()
	for _, want := range []string{"&lt;script&gt;window.__ethosPwned = 1;", "&lt;img src=x onerror=", "&lt;b&gt;Quarterly&lt;/b&gt; &#34;memo&#34; &amp; &#39;notes&#39;"} {
		if !strings.Contains(body, want) {
			t.Errorf("the document page lacks the escaped text %q", want)
		}
	}
}

func TestSecurityHeaders(t *testing.T) {
	srv, _ := newSeeded(t, web.Options{})
	for _, path := range []string{"/", "/api/", "/metrics", "/static/app.js", "/runs/none"} {
		h := get(t, srv, path).Header()
		for name, want := range map[string]string{
			"Content-Security-Policy": web.ContentSecurityPolicy,
			"X-Content-Type-Options":  "nosniff",
			"X-Frame-Options":         "DENY",
			"Referrer-Policy":         "same-origin",
		} {
			if got := h.Get(name); got != want {
				t.Errorf("GET %s: %s = %q, want %q", path, name, got, want)
			}
		}
	}
	if csp := web.ContentSecurityPolicy; !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe") {
		t.Errorf("CSP %q must forbid framing and allow nothing unsafe", csp)
	}
}

func TestToken(t *testing.T) {
	srv, _ := newSeeded(t, web.Options{Token: "s3cret"})
	// No token: refused, with a hint.
	if w := get(t, srv, "/"); w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), "token required") {
		t.Fatalf("GET / without token: %d %q", w.Code, w.Body)
	}
	// A wrong token is refused too.
	if w := get(t, srv, "/?token=wrong"); w.Code != http.StatusUnauthorized {
		t.Fatalf("GET /?token=wrong: %d", w.Code)
	}
	if w := get(t, srv, "/api/", "Authorization", "Bearer wrong"); w.Code != http.StatusUnauthorized {
		t.Fatalf("wrong bearer: %d", w.Code)
	}
	// The token in the query sets the cookie and redirects it away.
	w := get(t, srv, "/runs/x?token=s3cret&status=accepted")
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/runs/x?status=accepted" {
		t.Fatalf("GET with ?token: %d to %q", w.Code, w.Header().Get("Location"))
	}
	if w := get(t, srv, "//evil.example/x?token=s3cret"); w.Header().Get("Location") != "/evil.example/x" {
		t.Errorf("redirect after the token leaves the site: %q", w.Header().Get("Location"))
	}
	cookies := w.Result().Cookies()
	if len(cookies) != 1 || cookies[0].Name != web.CookieName || !cookies[0].HttpOnly || cookies[0].SameSite != http.SameSiteStrictMode {
		t.Fatalf("cookie: %+v", cookies)
	}
	if strings.Contains(cookies[0].Value, "s3cret") {
		t.Fatalf("the cookie carries the token itself: %q", cookies[0].Value)
	}
	if w := get(t, srv, "/", "Cookie", cookies[0].Name+"="+cookies[0].Value); w.Code != http.StatusOK {
		t.Fatalf("GET / with the cookie: %d", w.Code)
	}
	if w := get(t, srv, "/", "Cookie", cookies[0].Name+"=forged"); w.Code != http.StatusUnauthorized {
		t.Fatalf("GET / with a forged cookie: %d", w.Code)
	}
	if w := get(t, srv, "/api/", "Authorization", "Bearer s3cret"); w.Code != http.StatusOK {
		t.Fatalf("GET /api/ with bearer: %d", w.Code)
	}
	// With a token, any host name may be used (the dashboard is meant to
	// be reached from elsewhere).
	r := httptest.NewRequest("GET", "http://dash.example:8080/metrics", nil)
	r.Header.Set("Authorization", "Bearer s3cret")
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, r)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics by host name with bearer: %d", rec.Code)
	}
}

func TestNoTokenOnlyLoopbackHosts(t *testing.T) {
	srv, _ := newSeeded(t, web.Options{})
	for host, want := range map[string]int{
		"127.0.0.1:8080": 200, "localhost:8080": 200, "[::1]:8080": 200,
		"evil.example:8080": 403, "10.0.0.5:8080": 403,
	} {
		r := httptest.NewRequest("GET", "http://"+host+"/api/", nil)
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		if w.Code != want {
			t.Errorf("Host %s: status %d, want %d", host, w.Code, want)
		}
	}
}

func TestCheckAddr(t *testing.T) {
	for _, tc := range []struct {
		addr, token string
		ok          bool
	}{
		{"127.0.0.1:8080", "", true},
		{"localhost:0", "", true},
		{"[::1]:8080", "", true},
		{"127.0.0.2:8080", "", true},
		{"0.0.0.0:8080", "", false},
		{":8080", "", false},
		{"192.168.1.4:8080", "", false},
		{"0.0.0.0:8080", "tok", true},
		{"nonsense", "", false},
	} {
		err := web.CheckAddr(tc.addr, tc.token)
		if (err == nil) != tc.ok {
			t.Errorf("CheckAddr(%q, %q) = %v, want ok=%v", tc.addr, tc.token, err, tc.ok)
		}
		if err != nil && ethos.KindOf(err) != ethos.Config {
			t.Errorf("CheckAddr(%q): kind %s, want config", tc.addr, ethos.KindOf(err))
		}
	}
	err := web.CheckAddr("0.0.0.0:8080", "")
	if err == nil || !strings.Contains(err.Error(), "--token") || !strings.Contains(err.Error(), "ETHOS_TOKEN") {
		t.Errorf("the refusal should say how to fix it: %v", err)
	}
}

// TestResolveToken: --token wins over $ETHOS_TOKEN; a short token is
// refused naming where it came from and never repeating it, and an
// exposed address needs a token.
func TestResolveToken(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("k", web.MinTokenLength)
	for _, tc := range []struct {
		name, given, env, addr, want, wantErr string
	}{
		{name: "none on loopback", addr: "127.0.0.1:8080"},
		{name: "from the environment", env: long, addr: "0.0.0.0:8080", want: long},
		{name: "the flag first", given: long + "f", env: long, addr: "127.0.0.1:0", want: long + "f"},
		{name: "short flag", given: "short-secret", addr: "127.0.0.1:0", wantErr: "--token: the token has 12 characters"},
		{name: "short in the environment", env: "short-secret", addr: "127.0.0.1:0", wantErr: "ETHOS_TOKEN: the token has 12 characters"},
		{name: "exposed without a token", addr: "0.0.0.0:8080", wantErr: "--token"},
	} {
		env := map[string]string{web.TokenEnv: tc.env}
		got, err := web.ResolveToken(tc.given, tc.addr, func(k string) string { return env[k] })
		if tc.wantErr != "" {
			if ethos.KindOf(err) != ethos.Config || err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "short-secret") {
				t.Errorf("%s: %v, want a Config error with %q and not the token", tc.name, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

func TestCancel(t *testing.T) {
	c := &cancels{}
	srv, s := newSeeded(t, web.Options{Canceller: c.cancel})
	page := get(t, srv, "/finetune/"+s.JobRunning).Body.String()
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("the running job's page has no cancel form:\n%s", page)
	}
	post := func(form url.Values, header ...string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "http://127.0.0.1:8080/finetune/"+s.JobRunning+"/cancel", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Set(header[i], header[i+1])
		}
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		return w
	}
	// Without the CSRF token, with a wrong one, or from another site: refused.
	for name, w := range map[string]*httptest.ResponseRecorder{
		"no token":   post(url.Values{}),
		"wrong":      post(url.Values{"csrf": {"00"}}),
		"cross-site": post(url.Values{"csrf": {m[1]}}, "Sec-Fetch-Site", "cross-site"),
		"origin":     post(url.Values{"csrf": {m[1]}}, "Origin", "http://evil.example"),
	} {
		if w.Code != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403", name, w.Code)
		}
	}
	if len(c.ids) != 0 {
		t.Fatalf("refused requests cancelled %v", c.ids)
	}
	// A GET cannot cancel.
	if w := get(t, srv, "/finetune/"+s.JobRunning+"/cancel"); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET cancel: %d, want 405", w.Code)
	}
	w := post(url.Values{"csrf": {m[1]}}, "Sec-Fetch-Site", "same-origin", "Origin", "http://127.0.0.1:8080")
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/finetune/"+s.JobRunning+"?cancel=requested" {
		t.Fatalf("cancel: %d to %q\n%s", w.Code, w.Header().Get("Location"), w.Body)
	}
	if diff := cmp.Diff([]string{s.JobRunning}, c.ids); diff != "" {
		t.Errorf("cancelled (-want +got):\n%s", diff)
	}
	// The service's refusal is shown, not swallowed.
	c.err = ethos.Errorf(ethos.Invalid, "job %s is already completed", s.JobRunning)
	w = post(url.Values{"csrf": {m[1]}})
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "already completed") {
		t.Errorf("refused cancel: %d\n%s", w.Code, w.Body)
	}
	// A finished job has no cancel button.
	if csrfField.MatchString(get(t, srv, "/finetune/"+s.JobDone).Body.String()) {
		t.Errorf("a completed job shows a cancel button")
	}
}

// failingStore fails every fine-tune and eval method, as a store whose
// tables are missing would.
type failingStore struct{ ethos.Store }

var errBroken = ethos.Errorf(ethos.Internal, "sqlite: finetune_jobs: no such table")

func (failingStore) Jobs(context.Context, ethos.FineTuneFilter) ([]ethos.FineTuneJob, error) {
	return nil, errBroken
}
func (failingStore) Job(context.Context, string) (ethos.FineTuneJob, error) {
	return ethos.FineTuneJob{}, errBroken
}
func (failingStore) Models(context.Context) ([]ethos.Model, error)           { return nil, errBroken }
func (failingStore) Answers(context.Context, string) ([]ethos.Answer, error) { return nil, errBroken }
func (failingStore) SummarizeCalls(context.Context, ethos.CallFilter) ([]ethos.CallSummary, error) {
	return nil, errBroken
}

// TestStoreErrorsArePanels checks that a failing store method shows as an
// error panel on the page, never as a crash or a blank page.
func TestStoreErrorsArePanels(t *testing.T) {
	db := openStore(t)
	s := seedStore(t, db)
	srv, err := web.New(failingStore{db}, web.Options{Now: func() time.Time { return clock }, ComputeWait: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for _, path := range []string{"/", "/models", "/evals/" + s.EvalID, "/runs/" + s.RunID} {
		w := get(t, srv, path)
		if w.Code != http.StatusOK {
			t.Errorf("GET %s: status %d", path, w.Code)
		}
		if !strings.Contains(w.Body.String(), `class="panel-error"`) || !strings.Contains(w.Body.String(), "no such table") {
			t.Errorf("GET %s: no error panel with the store's message", path)
		}
	}
	if w := get(t, srv, "/finetune/x"); w.Code != http.StatusInternalServerError || !strings.Contains(w.Body.String(), "no such table") {
		t.Errorf("job page over a broken store: %d", w.Code)
	}
	m := get(t, srv, "/metrics").Body.String()
	for _, want := range []string{`ethos_scrape_error{source="finetune"} 1`, `ethos_scrape_error{source="ledger"} 1`, `ethos_scrape_error{source="runs"} 0`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	var e *ethos.Error
	if !errors.As(errBroken, &e) {
		t.Fatal("errBroken is not an *ethos.Error")
	}
}

func TestStaticAssets(t *testing.T) {
	srv, _ := newSeeded(t, web.Options{})
	for _, path := range []string{"/static/app.js", "/static/app.css", "/static/vendor/htmx.min.js", "/static/vendor/uPlot.iife.min.js", "/static/vendor/uPlot.min.css"} {
		w := get(t, srv, path)
		b, _ := io.ReadAll(w.Body)
		if w.Code != 200 || len(b) == 0 {
			t.Errorf("GET %s: %d, %d bytes", path, w.Code, len(b))
		}
	}
	// Files only: a directory is not listed.
	for _, path := range []string{"/static/", "/static/vendor/", "/static/vendor", "/static/vendor/index.html", "/static/nothing.js"} {
		w := get(t, srv, path)
		if w.Code != http.StatusNotFound || strings.Contains(w.Body.String(), "htmx.min.js") {
			t.Errorf("GET %s: %d, want 404\n%s", path, w.Code, w.Body)
		}
	}
}

// TestDatasetFile shows the statistics of the file a run wrote, as
// dataset.StatsFile reads it, and says when the file is not there.
func TestDatasetFile(t *testing.T) {
	db := openStore(t)
	seedStore(t, db)
	path := filepath.Join(t.TempDir(), "set.jsonl")
	record := `{"messages":[{"role":"system","content":"You are Agora."},{"role":"user","content":"Two teams, one budget: how do we split it?"},{"role":"assistant","content":"What does each team need this quarter?"}]}`
	if err := os.WriteFile(path, []byte(record+"\n"+record+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, r := range []ethos.Run{
		{ID: "gen-file", Kind: "generate", Status: ethos.RunCompleted, Params: mustJSON(t, map[string]any{"examples": 2, "output": path})},
		{ID: "gen-nofile", Kind: "generate", Status: ethos.RunRunning, Params: mustJSON(t, map[string]any{"examples": 2, "output": path + ".missing"})},
	} {
		if err := db.CreateRun(ctx, &r); err != nil {
			t.Fatal(err)
		}
	}
	srv, err := web.New(db, web.Options{ComputeWait: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	body := get(t, srv, "/runs/gen-file/dataset").Body.String()
	for _, want := range []string{"2 examples", "1 exact and 0 near duplicates", "Tokens per example"} {
		if !strings.Contains(body, want) {
			t.Errorf("the dataset page lacks %q", want)
		}
	}
	var d struct {
		File struct {
			Value struct {
				Examples   int `json:"examples"`
				Duplicates int `json:"duplicates"`
			} `json:"value"`
		} `json:"file"`
	}
	if err := json.Unmarshal(get(t, srv, "/api/runs/gen-file/dataset").Body.Bytes(), &d); err != nil || d.File.Value.Examples != 2 || d.File.Value.Duplicates != 1 {
		t.Errorf("API file stats: %+v %v", d, err)
	}
	if body := get(t, srv, "/runs/gen-nofile/dataset").Body.String(); !strings.Contains(body, "is not there: the run writes it when it completes") {
		t.Errorf("a missing file is not explained")
	}
}

// TestEventStream checks the server-sent events: a page that watches a
// run hears "change" once the run's items change, not before.
func TestEventStream(t *testing.T) {
	db := openStore(t)
	s := seedStore(t, db)
	srv, err := web.New(db, web.Options{PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer srv.Close()

	if w := get(t, srv, "/events?topic=run:x%0Aevent:%20change"); w.Code != http.StatusBadRequest {
		t.Errorf("a topic with a line break: %d, want 400", w.Code)
	}
	// The page's version, so the stream starts from what the page shows.
	page := get(t, srv, "/runs/"+s.RunID).Body.String()
	m := regexp.MustCompile(`data-version="([0-9a-f]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("the page carries no version")
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/events?topic=run:"+s.RunID+"&since="+m[1], nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	lines := bufio.NewScanner(resp.Body)
	next := func() string {
		t.Helper()
		if !lines.Scan() {
			t.Fatalf("the stream ended: %v", lines.Err())
		}
		return lines.Text()
	}
	if l := next(); !strings.HasPrefix(l, "retry: ") {
		t.Fatalf("first line %q", l)
	}
	// Nothing changed yet; now an item completes.
	changed := make(chan error, 1)
	go func() {
		items, err := db.Items(context.Background(), ethos.ItemFilter{RunID: s.RunID, Status: ethos.ItemPending})
		if err != nil || len(items) == 0 {
			changed <- fmt.Errorf("no pending item: %v", err)
			return
		}
		items[0].Status = ethos.ItemAccepted
		changed <- db.UpdateItem(context.Background(), &items[0])
	}()
	if err := <-changed; err != nil {
		t.Fatal(err)
	}
	for {
		l := next()
		if l == "event: change" {
			if d := next(); d != "data: run:"+s.RunID {
				t.Errorf("data line %q", d)
			}
			break
		}
		if strings.HasPrefix(l, "event:") {
			t.Fatalf("unexpected event %q", l)
		}
	}
}

// TestFailedItemsNeedAttention: items whose tasks gave up on the provider
// put their run among what needs attention, saying a rerun retries them,
// and the run page filters them.
func TestFailedItemsNeedAttention(t *testing.T) {
	t.Parallel()
	db := openStore(t)
	s := seedStore(t, db)
	it := &ethos.Item{RunID: s.RunID, Stage: "document", Key: "doc/failed/1", Attempt: 1, Status: ethos.ItemFailed,
		Reason: "transient: 500 from the provider"}
	if _, err := db.PutItem(t.Context(), it); err != nil {
		t.Fatal(err)
	}
	srv, err := web.New(pinnedStore{db}, web.Options{Now: func() time.Time { return clock }, ComputeWait: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	body := get(t, srv, "/").Body.String()
	if !strings.Contains(body, "1 items failed at the provider; running the same command again retries them") ||
		!strings.Contains(body, "/runs/"+s.RunID+"?status=failed") {
		t.Errorf("the overview does not put the failed item first")
	}
	page := get(t, srv, "/runs/"+s.RunID+"?status=failed").Body.String()
	if !strings.Contains(page, "transient: 500 from the provider") {
		t.Errorf("the run page filtered to failed items does not show it")
	}
}

// TestPromptCacheSaving checks what the pages say of prompt caching beyond
// the golden files: that a saving is unknown without a price table, and
// that a negative saving is shown as such.
func TestPromptCacheSaving(t *testing.T) {
	t.Parallel()
	srv, s := newSeeded(t, web.Options{})
	for _, path := range []string{"/", "/runs/" + s.RunID} {
		body := get(t, srv, path).Body.String()
		if !strings.Contains(body, `data-saving="unknown"`) || !strings.Contains(body, "started without a price table") {
			t.Errorf("GET %s without prices: no note that the saving is unknown", path)
		}
	}
	// Cache writes at ten times the input price: the review stage's one
	// read cannot make up for its write.
	dear := func(model string, u ethos.Usage) (float64, bool) {
		return (float64(u.In) + 5*float64(u.Out) + 0.1*float64(u.CacheRead) + 10*float64(u.CacheWrite)) / 1e6, true
	}
	srv, s = newSeeded(t, web.Options{Cost: dear})
	body := get(t, srv, "/runs/"+s.RunID).Body.String()
	for _, want := range []string{`data-saving="negative"`, `<td data-saved class="bad">-$`} {
		if !strings.Contains(body, want) {
			t.Errorf("run page with dear cache writes lacks %q", want)
		}
	}
	var api struct {
		PromptCache struct {
			Value struct {
				Total struct {
					SavedUSD float64 `json:"saved_usd"`
					Share    float64 `json:"cache_hit_share"`
				} `json:"total"`
			} `json:"value"`
		} `json:"prompt_cache"`
	}
	if err := json.Unmarshal(get(t, srv, "/api/runs/"+s.RunID).Body.Bytes(), &api); err != nil {
		t.Fatal(err)
	}
	if got := api.PromptCache.Value.Total; got.SavedUSD >= 0 || got.Share <= 0 {
		t.Errorf("api prompt_cache total %+v: want a negative saving and a share", got)
	}
}

// TestEvalPagePromptCache: an evaluation's page and API show what prompt
// caching did for its calls, per stage.
func TestEvalPagePromptCache(t *testing.T) {
	t.Parallel()
	db := openStore(t)
	s := seedStore(t, db)
	u := ethos.Usage{In: 300, Out: 20, CacheRead: 2700}
	c := &ethos.Call{Key: "k-eval-judge-cached", Provider: "sandbox", Model: "sandbox/judge", RunID: s.EvalID, Stage: "judge",
		Request: ethos.Request{Model: "sandbox/judge", MaxTokens: 50, Messages: []ethos.Message{{Role: ethos.RoleUser, Content: "which?"}}},
		Usage:   u, CostUSD: 0.0004, Latency: time.Second, Attempts: 1, CreatedAt: clock.Add(-time.Minute),
		Response: &ethos.Response{Text: "A", StopReason: ethos.StopEnd, Usage: u, Model: "sandbox/judge"}}
	if err := db.RecordCall(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	price := func(model string, u ethos.Usage) (float64, bool) {
		return (float64(u.In) + 5*float64(u.Out) + 0.1*float64(u.CacheRead) + 1.25*float64(u.CacheWrite)) / 1e6, true
	}
	srv, err := web.New(pinnedStore{db}, web.Options{Now: func() time.Time { return clock }, ComputeWait: time.Minute, Cost: price})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var api struct {
		PromptCache struct {
			Value struct {
				Stages []struct {
					Stage    string  `json:"stage"`
					Share    float64 `json:"cache_hit_share"`
					SavedUSD float64 `json:"saved_usd"`
				} `json:"stages"`
			} `json:"value"`
		} `json:"prompt_cache"`
	}
	if err := json.Unmarshal(get(t, srv, "/api/evals/"+s.EvalID).Body.Bytes(), &api); err != nil {
		t.Fatal(err)
	}
	st := api.PromptCache.Value.Stages
	if len(st) != 1 || st[0].Stage != "judge" || st[0].Share != 0.9 || st[0].SavedUSD <= 0 {
		t.Errorf("eval prompt_cache stages %+v: want judge, a share of 0.9 and a saving", st)
	}
	body := get(t, srv, "/evals/"+s.EvalID).Body.String()
	if !strings.Contains(body, "Prompt cache by stage") || !strings.Contains(body, "judge") || !strings.Contains(body, "90") {
		t.Errorf("eval page does not show the judge stage's prompt caching")
	}
}
