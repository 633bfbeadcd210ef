// Package web is ethos's dashboard: server-rendered pages, a JSON API and
// Prometheus metrics over an ethos.Store, served by one http.Handler.
//
// The store is the single source: every page reads it on request, so a
// pipeline working in another process on the same store is seen as it
// goes. Pages stay live through server-sent events: a poller compares cheap
// aggregates of the store (run states, item counts, the newest ledger row)
// and tells the pages that watch the part that changed, and htmx fetches
// the changed regions again. Aggregates that cost a scan of the whole
// ledger or of a run's items are computed in the background and kept until
// what they depend on changes (see snapshots).
//
// The dashboard treats everything it shows as untrusted text (model output,
// documents, provider messages): html/template escapes it, the pages carry
// no inline script or style, and a strict Content-Security-Policy forbids
// any. A token guards every request when one is set; state changes (cancel)
// are POSTs carrying a CSRF token.
package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"log"
	"net/http"
	"sync"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/jobs"
)

//go:embed templates static
var assets embed.FS

// Options configure a Server. The zero value serves an unguarded dashboard
// (fit for 127.0.0.1 only; see CheckAddr) with the real clock.
type Options struct {
	// Token, when set, is required on every request: as ?token= once (the
	// server answers with a cookie and a redirect that drops it from the
	// URL), as that cookie, or as "Authorization: Bearer <token>".
	Token string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Canceller cancels a fine-tune job for the cancel button; nil leaves
	// the button out.
	Canceller func(ctx context.Context, jobID string) error
	// QueueStats reports the job queue's depth for /metrics and the
	// overview; nil leaves it out.
	QueueStats func(ctx context.Context) (jobs.QueueStats, error)
	// PollInterval is how often the store is polled for changes while a
	// page is watching; 0 means 2 s.
	PollInterval time.Duration
	// Changes, when set, tells of the store's changes as they commit (a
	// PostgreSQL store's notifications): it calls changed with the topic
	// that changed ("run:ID", "job:ID", "eval:ID", "models", "overview")
	// until ctx ends, and returns early if it fails. Watching pages are
	// then checked at once instead of at the next poll; polling goes on
	// beside it, for what no write announces (rates that age) and for
	// when the feed fails.
	Changes func(ctx context.Context, changed func(topic string)) error
	// ComputeWait bounds how long a request waits, in all, for the
	// background aggregates it shows before it shows the previous ones
	// (or a "computing" note); 0 means 100 ms.
	ComputeWait time.Duration
	// Logf logs failures that have no page to show them on (a broken
	// event stream); nil means log.Printf.
	Logf func(format string, args ...any)
	// Cost prices a model's usage from the price table (ok false when the
	// model has no price), for what prompt caching saved; nil leaves every
	// saving unknown, and the pages say so.
	Cost func(model string, u ethos.Usage) (usd float64, ok bool)
}

// Server is the dashboard. It implements http.Handler; Close stops its
// background work.
type Server struct {
	store ethos.Store
	opts  Options
	mux   *http.ServeMux
	pages map[string]*template.Template
	csrf  string // the token forms carry for state changes
	// cookieValue is what the auth cookie holds: derived from the token,
	// so the cookie never carries the token itself.
	cookieValue string

	ctx    context.Context // cancelled by Close; background work runs under it
	cancel context.CancelFunc
	wg     sync.WaitGroup

	snaps      *snapshots
	countCache *countCache
	live       *hub
}

// New returns a dashboard over store.
func New(store ethos.Store, opts Options) (*Server, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 2 * time.Second
	}
	if opts.ComputeWait <= 0 {
		opts.ComputeWait = 100 * time.Millisecond
	}
	if opts.Logf == nil {
		opts.Logf = log.Printf
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	var secret [32]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return nil, ethos.Errorf(ethos.Internal, "web: reading random bytes for the CSRF token: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		store:  store,
		opts:   opts,
		pages:  pages,
		csrf:   hex.EncodeToString(secret[:]),
		ctx:    ctx,
		cancel: cancel,
	}
	if opts.Token != "" {
		s.cookieValue = deriveCookie(opts.Token)
	}
	s.snaps = newSnapshots(ctx, &s.wg, opts.ComputeWait)
	s.countCache = newCountCache(opts.PollInterval)
	s.live = newHub(s)
	if opts.Changes != nil {
		s.wg.Add(1)
		go s.live.follow(opts.Changes)
	}
	s.routes()
	return s, nil
}

// Close stops the server's background work (the change poller, aggregates
// being computed) and ends open event streams. It does not close the store.
func (s *Server) Close() error {
	s.cancel()
	s.wg.Wait()
	return nil
}

// ServeHTTP guards every request (token, host, security headers) and
// routes it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w.Header())
	if !s.authorize(w, r) {
		return
	}
	s.mux.ServeHTTP(w, r.WithContext(withComputeBudget(r.Context(), s.opts.ComputeWait)))
}

func (s *Server) routes() {
	m := http.NewServeMux()
	static, _ := fs.Sub(assets, "static")
	m.Handle("GET /static/", http.StripPrefix("/static/", cacheStatic(filesOnly(static))))

	m.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/static/favicon.svg", http.StatusMovedPermanently)
	})
	m.HandleFunc("GET /{$}", s.handleOverview)
	m.HandleFunc("GET /runs/{id}", s.handleRun)
	m.HandleFunc("GET /runs/{id}/items/{item}", s.handleItem)
	m.HandleFunc("GET /runs/{id}/dataset", s.handleDataset)
	m.HandleFunc("GET /finetune/{id}", s.handleJob)
	m.HandleFunc("POST /finetune/{id}/cancel", s.handleCancel)
	m.HandleFunc("GET /models", s.handleModels)
	m.HandleFunc("GET /evals/{id}", s.handleEval)
	m.HandleFunc("GET /events", s.handleEvents)
	m.HandleFunc("GET /metrics", s.handleMetrics)

	m.HandleFunc("GET /api/{$}", s.handleAPIIndex)
	m.HandleFunc("GET /api/overview", s.apiOverview)
	m.HandleFunc("GET /api/runs", s.apiRuns)
	m.HandleFunc("GET /api/runs/{id}", s.apiRun)
	m.HandleFunc("GET /api/runs/{id}/items", s.apiItems)
	m.HandleFunc("GET /api/runs/{id}/items/{item}", s.apiItem)
	m.HandleFunc("GET /api/runs/{id}/series", s.apiRunSeries)
	m.HandleFunc("GET /api/runs/{id}/dataset", s.apiDataset)
	m.HandleFunc("GET /api/batches", s.apiBatches)
	m.HandleFunc("GET /api/batches/{id}", s.apiBatch)
	m.HandleFunc("GET /api/finetune", s.apiJobs)
	m.HandleFunc("GET /api/finetune/{id}", s.apiJob)
	m.HandleFunc("GET /api/finetune/{id}/loss", s.apiJobLoss)
	m.HandleFunc("GET /api/models", s.apiModels)
	m.HandleFunc("GET /api/evals/{id}", s.apiEval)
	m.HandleFunc("GET /api/", s.apiNotFound)
	s.mux = m
}

// filesOnly serves the files of fsys and answers 404 for anything else: a
// directory is not listed, and a path that names none is not redirected.
func filesOnly(fsys fs.FS) http.Handler {
	files := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Path
		// fs.Stat refuses "" and "dir/" as invalid paths.
		if st, err := fs.Stat(fsys, name); err != nil || st.IsDir() {
			http.NotFound(w, r)
			return
		}
		files.ServeHTTP(w, r)
	})
}

// cacheStatic lets browsers keep the embedded assets for an hour; they
// change only with the binary.
func cacheStatic(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		h.ServeHTTP(w, r)
	})
}

// render executes page name with data into a buffer first, so that a
// template failure is a clean 500 and not half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, p *page) {
	t, ok := s.pages[name]
	if !ok {
		http.Error(w, "web: no page "+name, http.StatusInternalServerError)
		return
	}
	p.CSRF = s.csrf
	p.Now = s.opts.Now()
	p.CanCancel = s.opts.Canceller != nil
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		s.opts.Logf("web: rendering %s: %v", name, err)
		http.Error(w, "web: rendering "+name+" failed; see the server log", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// now is the server's clock.
func (s *Server) now() time.Time { return s.opts.Now() }
