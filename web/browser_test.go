package web_test

// Browser tests: the dashboard in real headless Chromium, driven with
// chromedp. They need a Chromium binary ($CHROME, chromium,
// chromium-browser or google-chrome); without one they fail and say how to
// get it (make test installs Debian's chromium). Screenshots of every page
// go to $ETHOS_ARTIFACTS/web when it is set, else to a temporary directory
// named in the test log.
//
// Waiting is done by the browser, not by sleeping: waitFor evaluates a
// promise that a MutationObserver resolves once the page shows what the
// test waits for, bounded by the test's context.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/anthropic"
	"github.com/ethos-toolkit/ethos/config"
	"github.com/ethos-toolkit/ethos/generate"
	"github.com/ethos-toolkit/ethos/jobs"
	"github.com/ethos-toolkit/ethos/llm"
	"github.com/ethos-toolkit/ethos/sandbox"
	"github.com/ethos-toolkit/ethos/sqlite"
	"github.com/ethos-toolkit/ethos/web"
)

// browserTimeout bounds each browser test as a whole.
const browserTimeout = 3 * time.Minute

// chromiumPath finds the browser or fails the test with how to get one: a
// missing browser must not pass silently in CI.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROME"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium found ($CHROME, chromium, chromium-browser, google-chrome): the dashboard's browser tests need one. " +
		"Run `make test` (it installs Debian's chromium when missing), or `apt-get install chromium`, or set CHROME to a Chrome or Chromium binary.")
	return ""
}

// artifacts is where screenshots go.
func artifacts(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if root := os.Getenv("ETHOS_ARTIFACTS"); root != "" {
		dir = filepath.Join(root, "web")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// probe runs in every page before the page's own scripts: it records CSP
// violations, so a test can show that the policy blocked nothing the
// dashboard needs (and catch anything it should not have needed).
const probe = `window.__ethosProbe = {csp: []};
document.addEventListener('securitypolicyviolation', function (e) {
  window.__ethosProbe.csp.push(e.violatedDirective + ' ' + e.blockedURI);
});`

// browser is one headless Chromium tab with what it reported: uncaught
// exceptions, console errors and JavaScript dialogs (alert, confirm).
type browser struct {
	t   *testing.T
	ctx context.Context
	dir string

	mu       sync.Mutex
	problems []string
	dialogs  []string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromiumPath(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // the tests run as root in CI containers
		chromedp.Flag("disable-gpu", true),
		chromedp.WindowSize(1280, 1000),
	)
	// The whole browser lives under one bound: when it passes, Chromium
	// is stopped and whatever the test waits for fails.
	bound, cancelBound := context.WithTimeout(context.Background(), browserTimeout)
	t.Cleanup(cancelBound)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(bound, opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)
	b := &browser{t: t, ctx: ctx, dir: artifacts(t)}
	// The first Run starts the browser; chromedp wants it without a
	// timeout (a timeout there would stop the browser when it fires).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	err := chromedp.Listen(ctx, func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			b.problems = append(b.problems, "exception: "+e.ExceptionDetails.Text+" "+exceptionText(e))
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError {
				b.problems = append(b.problems, "console error: "+consoleText(e))
			}
		case *log.EventEntryAdded:
			if e.Entry.Level == log.EntryLevelError {
				b.problems = append(b.problems, "log: "+string(e.Entry.Source)+": "+e.Entry.Text+" "+e.Entry.URL)
			}
		case *page.EventJavascriptDialogOpening:
			b.dialogs = append(b.dialogs, string(e.Type)+": "+e.Message)
			go chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: probe}); err != nil {
		t.Fatal(err)
	}
	return b
}

func exceptionText(e *runtime.EventExceptionThrown) string {
	if e.ExceptionDetails.Exception != nil {
		return e.ExceptionDetails.Exception.Description
	}
	return ""
}

func consoleText(e *runtime.EventConsoleAPICalled) string {
	var parts []string
	for _, a := range e.Args {
		if len(a.Value) > 0 {
			parts = append(parts, string(a.Value))
		} else {
			parts = append(parts, a.Description)
		}
	}
	return strings.Join(parts, " ")
}

// run runs steps with a bound.
func (b *browser) run(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v%s", what, err, b.report())
	}
}

// eval evaluates a JavaScript expression and decodes its value.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v%s", expr, err, b.report())
	}
	return v
}

// waitFor waits until the page makes cond (a JavaScript expression) true.
// The browser re-checks it on every change of the DOM; the wait is bounded
// by timeout.
func (b *browser) waitFor(what, cond string, timeout time.Duration) {
	b.t.Helper()
	expr := `new Promise(function (resolve) {
  function ok() { try { return !!(` + cond + `); } catch (e) { return false; } }
  if (ok()) { resolve(true); return; }
  var obs = new MutationObserver(function () { if (ok()) { obs.disconnect(); resolve(true); } });
  obs.observe(document.documentElement, {subtree: true, childList: true, attributes: true, characterData: true});
})`
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	var err error
	for range 5 {
		// A page that navigates (a form post, a redirect) ends the
		// evaluation; the condition is then checked on the new page.
		if _, err = chromedp.Run(ctx, chromedp.Evaluate[bool](expr, chromedp.EvalAwaitPromise)); err == nil || !strings.Contains(err.Error(), "navigated or closed") {
			break
		}
	}
	if err != nil {
		html, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText.slice(0, 3000) : ''`))
		b.t.Fatalf("waiting for %s (%s): %v\npage text:\n%s%s", what, cond, err, html, b.report())
	}
}

// screenshot saves the whole page as name.png in the artifacts directory.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(b.dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", path)
}

// clean fails the test if the page threw, logged an error, opened a
// dialog or had anything blocked by the CSP.
func (b *browser) clean(where string) {
	b.t.Helper()
	csp := eval[[]string](b, `window.__ethosProbe ? window.__ethosProbe.csp : ['probe missing']`)
	b.mu.Lock()
	problems, dialogs := b.problems, b.dialogs
	b.problems, b.dialogs = nil, nil
	b.mu.Unlock()
	if len(problems) > 0 || len(dialogs) > 0 || len(csp) > 0 {
		b.t.Errorf("%s: problems %q, dialogs %q, CSP violations %q", where, problems, dialogs, csp)
	}
}

func (b *browser) report() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.problems) == 0 && len(b.dialogs) == 0 {
		return ""
	}
	return fmt.Sprintf("\nbrowser problems: %q\ndialogs: %q", b.problems, b.dialogs)
}

// liveCond is true once the page's event stream is open.
const liveCond = `document.getElementById('live-state') && document.getElementById('live-state').textContent.indexOf('live') === 0 && document.getElementById('live-state').className === 'live-on'`

// chartsDone is true once every chart on the page has been drawn or has
// said why not.
const chartsDone = `Array.from(document.querySelectorAll('.chart')).every(function (c) { return c.dataset.state !== 'new' && c.dataset.state !== 'pending'; })`

// serve starts the dashboard over store on a loopback port.
func serve(t *testing.T, store ethos.Store, opts web.Options) string {
	t.Helper()
	if opts.PollInterval == 0 {
		opts.PollInterval = 100 * time.Millisecond
	}
	srv, err := web.New(store, opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		srv.Close() // ends the event streams, which ts.Close waits for
		ts.Close()
	})
	return ts.URL
}

// sandboxRun generates a small dataset into db with the real pipeline: the
// sandbox on loopback (writing some defects, so review rejects and
// quarantines), the middleware chain and durable jobs. It returns the
// run's ID.
func sandboxRun(t *testing.T, db *sqlite.DB, examples int) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	sb, err := sandbox.Start(ctx, "127.0.0.1:0", sandbox.Options{Seed: 3, Defects: map[string]float64{"chatter": 0.2, "placeholder": 0.1}})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	adapter, err := anthropic.New(anthropic.Config{Provider: "sandbox", BaseURL: sb.URL, APIKey: "sandbox"})
	if err != nil {
		t.Fatal(err)
	}
	router := llm.NewRouter()
	router.Register("sandbox", func() (ethos.Completer, error) { return adapter, nil })
	cfg := config.Default()
	pricer := llm.PricerFunc(func(model string, u ethos.Usage) (float64, bool) {
		p, ok := cfg.PriceOf(model)
		return p.Cost(u), ok
	})
	chain := &llm.Ledger{Store: db, Pricer: pricer,
		Next: llm.NewBudget(0, 0, pricer, llm.NewLimiter(router, func(string) llm.Limits { return llm.Limits{MaxConcurrency: 8} }))}
	g := cfg.Generate
	g.Ideas.Model, g.Documents.Model, g.Responses.Model, g.Review.Model = "sandbox/writer", "sandbox/writer", "sandbox/writer", "sandbox/judge"
	settings := generate.Settings{Examples: examples, Seed: 7, Output: filepath.Join(t.TempDir(), "agora.jsonl"),
		Character: cfg.Character, Generate: g, ConfigHash: cfg.Hash(), PromptHashes: generate.TemplateVersions()}
	pipe := generate.NewPipeline(db, chain, settings)
	qcfg := jobs.Config{Workers: 8, Tasks: pipe.Tasks(), Completer: chain, Queue: pipe.RunID(),
		Backoff: func(int) time.Duration { return 5 * time.Millisecond }, FetchCooldown: 5 * time.Millisecond, FetchPollInterval: 50 * time.Millisecond}
	err = jobs.Run(ctx, db.SQL(), qcfg, jobs.Work{
		Prepare: func(ctx context.Context, _ int64) (bool, error) {
			_, err := pipe.Begin(ctx)
			return err == nil, err
		},
		Drive:       func(ctx context.Context) error { return pipe.Drive(ctx, nil) },
		StopTimeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pipe.Export(ctx, generate.Outputs(settings.Output), false); err != nil {
		t.Fatal(err)
	}
	return pipe.RunID()
}

// TestBrowserEveryPage opens every page over a sandbox generation run (and
// the seeded fine-tune jobs, model and eval) and checks that each renders,
// draws its charts, runs without an error and with nothing blocked by the
// CSP; the items filter works through htmx.
func TestBrowserEveryPage(t *testing.T) {
	db := openStore(t)
	s := seedStore(t, db)
	runID := sandboxRun(t, db, 6)
	replies, err := db.Items(context.Background(), ethos.ItemFilter{RunID: runID, Stage: "response", Status: ethos.ItemAccepted, Limit: 1})
	if err != nil || len(replies) == 0 {
		t.Fatalf("the sandbox run has no accepted reply: %v", err)
	}
	base := serve(t, db, web.Options{Canceller: (&cancels{}).cancel})
	b := newBrowser(t)
	for _, p := range []struct {
		name, path string
		want       string // text the page must show
		drawn      int    // charts that must be drawn
	}{
		{"overview", "/", runID, 0},
		{"run", "/runs/" + runID, "Stages", 2},
		{"run-items-filtered", "/runs/" + runID + "?stage=response&status=accepted", "Items", 2},
		{"example", fmt.Sprintf("/runs/%s/items/%d", runID, replies[0].ID), "Reply", 0},
		{"dataset", "/runs/" + runID + "/dataset", "accepted examples", 0},
		{"finetune-job", "/finetune/" + s.JobRunning, "Timeline", 1},
		{"models", "/models", s.Model, 0},
		{"eval", "/evals/" + s.EvalID, "Side by side", 0},
	} {
		b.run("open "+p.path, chromedp.Navigate(base+p.path))
		b.waitFor(p.name+" rendered", `document.querySelector('main h1') && document.body.innerText.indexOf(`+jsString(p.want)+`) >= 0`, time.Minute)
		b.waitFor(p.name+" charts", chartsDone, time.Minute)
		b.waitFor(p.name+" live", liveCond, time.Minute)
		if drawn := eval[int](b, `document.querySelectorAll('.chart[data-state="drawn"]').length`); drawn != p.drawn {
			t.Errorf("%s: %d charts drawn, want %d", p.name, drawn, p.drawn)
		}
		b.screenshot(p.name)
		b.clean(p.name)
	}

	// The items filter swaps the table in place (htmx) and keeps the
	// filter in the URL, so a live refresh shows the same selection.
	b.run("open run", chromedp.Navigate(base+"/runs/"+runID))
	b.waitFor("run rendered", `document.querySelector('#items tbody tr')`, time.Minute)
	eval[bool](b, `(function () { var s = document.querySelector('select[name=status]'); s.value = 'accepted'; s.dispatchEvent(new Event('change', {bubbles: true})); return true; })()`)
	b.waitFor("the filtered items", `location.search.indexOf('status=accepted') >= 0 && document.querySelectorAll('#items tbody tr').length > 0 && Array.from(document.querySelectorAll('#items tbody tr')).every(function (r) { return r.classList.contains('s-ok'); })`, time.Minute)
	b.screenshot("run-filter-accepted")
	b.clean("items filter")

	// The seeded run's review calls read from the provider's cache: the
	// prompt-cache section shows the share in all, with no price table a
	// note that the saving is unknown, and keeps both after a live refresh.
	b.run("open the seeded run", chromedp.Navigate(base+"/runs/"+s.RunID))
	b.waitFor("prompt cache share", `(function () { var c = document.querySelector('#run-promptcache tfoot [data-share]'); return !!c && c.textContent === '18.7%' && !!document.querySelector('#run-promptcache [data-saving="unknown"]'); })()`, time.Minute)
	b.waitFor("seeded run live", liveCond, time.Minute)
	b.screenshot("run-prompt-cache")
	b.clean("prompt cache")

	// The seeded batches: the overview lists the one in flight with its
	// provider's status and its run, and the failed one needs attention.
	b.run("open the overview", chromedp.Navigate(base+"/"))
	b.waitFor("batches section", fmt.Sprintf(`(function () { var r = document.querySelector('#batches tr[data-batch="%d"]'); return !!r && !!document.querySelector('#batches h2') && r.innerText.indexOf('in_progress (finalizing)') >= 0 && !!r.querySelector('a[href="/runs/%s"]') && !!document.querySelector('#attention a[href="/#batch-%d"]'); })()`,
		s.BatchWorking, s.RunID, s.BatchFailed), time.Minute)
	b.waitFor("overview live", liveCond, time.Minute)
	b.screenshot("overview-batches")
	b.clean("batches")
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestBrowserLiveUpdate watches a run page while another goroutine
// completes an item: the page shows it without a reload.
func TestBrowserLiveUpdate(t *testing.T) {
	db := openStore(t)
	s := seedStore(t, db)
	base := serve(t, db, web.Options{})
	b := newBrowser(t)
	b.run("open run", chromedp.Navigate(base+"/runs/"+s.RunID))
	b.waitFor("the event stream", liveCond, time.Minute)
	accepted := `document.querySelector('tr[data-stage="response"] td[data-status="accepted"]').textContent.trim()`
	if got := eval[string](b, accepted); got != "2" {
		t.Fatalf("accepted replies before: %q, want 2", got)
	}
	eval[bool](b, `document.body.dataset.marker = 'same page'; true`)

	done := make(chan error, 1)
	go func() {
		ctx := context.Background()
		pending, err := db.Items(ctx, ethos.ItemFilter{RunID: s.RunID, Stage: "response", Status: ethos.ItemPending})
		if err != nil || len(pending) != 1 {
			done <- fmt.Errorf("pending replies: %v %v", pending, err)
			return
		}
		it := pending[0]
		it.Status = ethos.ItemAccepted
		it.Data = mustJSON(t, map[string]any{"reply": "A reply that arrived while you watched.", "model": "sandbox/writer"})
		done <- db.UpdateItem(ctx, &it)
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	b.waitFor("the new reply on the page", accepted+` === '3' && document.querySelector('tr[data-stage="response"] td[data-status="pending"]').textContent.trim() === '0'`, time.Minute)
	if marker := eval[string](b, `document.body.dataset.marker || ''`); marker != "same page" {
		t.Errorf("the page was reloaded (marker %q); it should update in place", marker)
	}
	b.screenshot("run-live-update")
	b.clean("live update")
}

// TestBrowserModelTextRunsNothing opens pages whose model text carries
// script and onerror payloads: they show as text, nothing runs, no dialog
// opens — on first load and after a live refresh swaps the page's regions.
func TestBrowserModelTextRunsNothing(t *testing.T) {
	db := openStore(t)
	s := seedStore(t, db)
	base := serve(t, db, web.Options{})
	b := newBrowser(t)
	check := func(where string) {
		t.Helper()
		if pwned := eval[string](b, `String(window.__ethosPwned)`); pwned != "undefined" {
			t.Errorf("%s: a payload ran (window.__ethosPwned = %s)", where, pwned)
		}
		b.clean(where)
	}
	docPage := fmt.Sprintf("%s/runs/%s/items/%d", base, s.RunID, s.XSSDoc)
	b.run("open the document", chromedp.Navigate(docPage))
	b.waitFor("the document", liveCond, time.Minute)
	body := eval[string](b, `document.querySelector('pre.doc').textContent`)
	if !strings.Contains(body, "<script>window.__ethosPwned = 1;") || !strings.Contains(body, `<img src=x onerror="window.__ethosPwned = 2;`) {
		t.Errorf("the payloads are not shown as text: %q", body)
	}
	if title := eval[string](b, `document.querySelector('article[data-stage=document] dd.text').textContent`); title != payloadTitle {
		t.Errorf("title shown as %q, want the text %q", title, payloadTitle)
	}
	if n := eval[int](b, `document.querySelectorAll('main script, main img, main b, main i').length`); n != 0 {
		t.Errorf("%d elements made from model text", n)
	}
	check("document page")
	b.screenshot("xss-document")

	// A live refresh parses the page again and swaps its regions in.
	if err := db.SetRunStatus(context.Background(), s.RunID, ethos.RunRunning, ""); err != nil {
		t.Fatal(err)
	}
	b.waitFor("a live refresh", `document.getElementById('live-state').textContent.indexOf('updated') >= 0`, time.Minute)
	if n := eval[int](b, `document.querySelectorAll('main script, main img, main b, main i').length`); n != 0 {
		t.Errorf("after a refresh: %d elements made from model text", n)
	}
	check("document page after a live refresh")

	for _, path := range []string{
		fmt.Sprintf("/runs/%s/items/%d", s.RunID, s.XSSReply),
		"/runs/" + s.RunID,
		"/finetune/" + s.JobRunning,
		"/evals/" + s.EvalID,
	} {
		b.run("open "+path, chromedp.Navigate(base+path))
		b.waitFor(path, liveCond, time.Minute)
		if n := eval[int](b, `document.querySelectorAll('main script, main img, main b, main i').length`); n != 0 {
			t.Errorf("%s: %d elements made from model text", path, n)
		}
		check(path)
	}
}

// jobStore is a fine-tune service stand-in: cancelling marks the job
// cancelled in the store, as the real service does after the provider
// answers.
type jobStore struct {
	db ethos.Store

	mu  sync.Mutex
	ids []string
}

func (j *jobStore) cancel(ctx context.Context, id string) error {
	j.mu.Lock()
	j.ids = append(j.ids, id)
	j.mu.Unlock()
	job, err := j.db.Job(ctx, id)
	if err != nil {
		return err
	}
	now := clock
	job.Status, job.State, job.FinishedAt = "cancelled", ethos.FineTuneCancelled, &now
	return j.db.PutJob(ctx, &job)
}

// TestBrowserCancelButton presses the cancel button of a running job.
func TestBrowserCancelButton(t *testing.T) {
	db := openStore(t)
	s := seedStore(t, db)
	svc := &jobStore{db: db}
	base := serve(t, db, web.Options{Canceller: svc.cancel})
	b := newBrowser(t)
	b.run("open the job", chromedp.Navigate(base+"/finetune/"+s.JobRunning))
	b.waitFor("the cancel button", `document.getElementById('cancel-job')`, time.Minute)
	b.screenshot("finetune-before-cancel")
	b.run("press cancel", chromedp.Click(chromedp.CSS("#cancel-job")), chromedp.WaitVisible(chromedp.CSS("p.notice")))
	b.waitFor("the cancelled job", `location.search.indexOf('cancel=requested') >= 0 && document.querySelector('.notice') && !document.getElementById('cancel-job') && document.querySelector('#job-head .status').textContent === 'cancelled'`, time.Minute)
	b.screenshot("finetune-after-cancel")
	b.clean("cancel")
	svc.mu.Lock()
	defer svc.mu.Unlock()
	if len(svc.ids) != 1 || svc.ids[0] != s.JobRunning {
		t.Errorf("cancelled %q, want [%s]", svc.ids, s.JobRunning)
	}
	job, err := db.Job(context.Background(), s.JobRunning)
	if err != nil || job.State != ethos.FineTuneCancelled {
		t.Errorf("job after cancel: %s %v", job.State, err)
	}
}
