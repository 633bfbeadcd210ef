// Package sandbox is ethos's offline provider emulator: an HTTP server that
// speaks the wire formats of Anthropic Messages (POST /v1/messages) and
// OpenAI-style chat completions (POST /v1/chat/completions), JSON and SSE,
// with deterministic content and injectable faults. Tests and `ethos demo`
// point the real SDK-based adapters at it, so everything runs with no keys
// and no network.
//
// Content is a pure function of the request: the hash of model, system,
// messages, max_tokens, temperature, stop sequences and Options.Seed seeds
// the model's Writer, so identical requests get identical text, streamed or
// not. Tokens are counted with CountTokens (ceil(bytes/4)); text longer than
// max_tokens is cut there with stop reason max_tokens ("length").
//
// Models: "writer", "base" and "judge" write plain English sentences;
// "judge-biased" and "judge-noisy" are judges with injected flaws (see
// judge.go); Options.Models, Options.Personas and Options.Writers add
// more. A request
// that names an ethos output contract ("Output contract: ethos-ideas/v1",
// …) is answered in that contract's shape instead (see ethos.go), with
// content defects drawn per request from Options.Defects; the models
// writer-defect-<name> (writer-defect-placeholder, …) always inject that
// defect. Fault models fail the same way every time:
//
//	fault-<status>           that HTTP status with the provider's error body (fault-429, fault-529, …)
//	fault-cut                streams stop mid-way and the connection closes; JSON bodies are truncated
//	fault-refuse             stop_reason "refusal" / finish_reason "content_filter"
//	fault-overloaded-stream  HTTP 200, some deltas, then an overloaded error inside the stream
//
// Random faults (Options.Faults) are drawn from a PRNG seeded by
// Options.Seed in request-arrival order, never from the clock; rate limits
// are token buckets per API key driven by Options.Now.
//
// Faults that drop the connection (cut streams, truncated bodies) abort the
// handler with http.ErrAbortHandler, so serve the Server through a real
// http.Server (Start, or httptest.NewServer), not a ResponseRecorder.
//
// Other endpoints: GET /v1/models (Anthropic shape when the request carries
// x-api-key or anthropic-version, OpenAI shape otherwise), GET
// /_sandbox/stats and POST /_sandbox/reset, and the files and fine-tuning
// endpoints of Together and OpenAI, whose fine-tuned models answer like
// any other (see finetune.go), and the batch endpoints of Anthropic,
// OpenAI and Together (see batch.go).
package sandbox

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethos-toolkit/ethos"
)

// Options configures a Server. The zero value serves the default models
// with no faults, no auth and the real clock.
type Options struct {
	// APIKey, if set, must be carried by every request (x-api-key or
	// Authorization: Bearer); otherwise the answer is 401.
	APIKey string
	// Seed seeds both the content of every answer and the fault PRNG.
	Seed   int64
	Faults Faults
	// Models are extra model names accepted, answered by the default writer
	// unless Writers names them too.
	Models []string
	// Now is the clock of the rate limiter and of timestamps; default
	// time.Now.
	Now func() time.Time
	// Sleep waits for injected latency and must return early with the
	// context's error; default a real timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// Writers writes the content of a model; an entry overrides a default
	// model's writer or adds a model. A model given a Writer here is
	// answered by it alone, output contracts included.
	Writers map[string]Writer
	// Defects maps a content defect (DefectNames) to the probability that
	// an answer to an ethos output contract carries it. Draws are hashed
	// from the request, so a request always gets the same answer.
	Defects map[string]float64
	// Personas sets how strongly a model's ethos-response replies show
	// each trait; an entry overrides a default model's persona or adds a
	// model. Defaults: "base" WeakPersona, every other model StrongPersona.
	// "base" and the models named here answer plain prompts (no output
	// contract) in their persona's voice too.
	Personas map[string]Persona
	// CacheMinTokens is the shortest prompt prefix, in tokens, that a
	// model caches through Anthropic's cache_control; a model not named
	// caches from DefaultCacheMinTokens (see promptcache.go).
	CacheMinTokens map[string]int
	// FineTune configures the fine-tuning endpoints (see finetune.go).
	FineTune FineTuneOptions
	// Serving says, per base model, how the models fine-tuned from it are
	// served: ServingServerless (the default: they answer under their own
	// name) or ServingDedicated (they answer only through a dedicated
	// endpoint; see endpoints.go).
	Serving map[string]string
	// Batch configures the batch endpoints (see batch.go).
	Batch BatchOptions
}

// DefaultModels are the models every Server answers. The flawed judges
// are described in judge.go.
var DefaultModels = []string{"writer", "base", "judge", ModelJudgeBiased, ModelJudgeNoisy}

// maxBodyBytes is Anthropic's cap on a Messages request.
const maxBodyBytes = 32 << 20

// Server is the emulator. It implements http.Handler and is safe for
// concurrent use.
type Server struct {
	opts    Options
	writers map[string]Writer
	// custom marks the models of Options.Writers, which answer output
	// contracts with their own writer.
	custom  map[string]bool
	models  []string // listed by /v1/models, defaults first
	mux     *http.ServeMux
	limiter *limiter
	stats   statsCounter
	cache   promptCache
	ft      *fineTunes
	eps     *epStore
	batches *batchStore
	// batchMu orders batch creations and cancels, so each creation sees
	// the batches before it when it counts resubmissions.
	batchMu sync.Mutex

	mu  sync.Mutex // guards rng, whose draws must follow arrival order
	rng *rand.Rand

	ids atomic.Uint64
}

// New returns a Server for opts.
func New(opts Options) *Server {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Sleep == nil {
		opts.Sleep = sleep
	}
	opts.Faults.ErrorRates = maps.Clone(opts.Faults.ErrorRates)
	opts.Defects = maps.Clone(opts.Defects)
	opts.Personas = maps.Clone(opts.Personas)
	opts.Serving = maps.Clone(opts.Serving)
	opts.CacheMinTokens = maps.Clone(opts.CacheMinTokens)
	opts.Batch.ProcessingTime = phase(opts.Batch.ProcessingTime, defaultBatchProcessing)
	if opts.Faults.RetryAfter <= 0 {
		opts.Faults.RetryAfter = time.Second
	}
	s := &Server{
		opts:    opts,
		writers: map[string]Writer{},
		custom:  map[string]bool{},
		limiter: newSplitLimiter(opts.Faults.RPM, opts.Faults.TPM, opts.Faults.InputTPM, opts.Faults.OutputTPM),
		rng:     rand.New(rand.NewPCG(uint64(opts.Seed), 0xfa017)),
	}
	for _, m := range DefaultModels {
		s.writers[m] = DefaultWriter
	}
	var extra []string
	for _, m := range opts.Models {
		if _, ok := s.writers[m]; !ok && m != "" {
			s.writers[m] = DefaultWriter
			extra = append(extra, m)
		}
	}
	for m := range opts.Personas {
		if _, ok := s.writers[m]; !ok && m != "" {
			s.writers[m] = DefaultWriter
			extra = append(extra, m)
		}
	}
	for m, w := range opts.Writers {
		if _, ok := s.writers[m]; !ok {
			extra = append(extra, m)
		}
		s.writers[m] = w
		s.custom[m] = true
	}
	slices.Sort(extra)
	s.models = append(slices.Clone(DefaultModels), extra...)

	s.mux = http.NewServeMux()
	s.mux.HandleFunc("POST /v1/messages", func(w http.ResponseWriter, r *http.Request) {
		s.serveCompletion(w.(*recorder), r, anthropicProtocol{})
	})
	s.mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) {
		s.serveCompletion(w.(*recorder), r, openaiProtocol{})
	})
	s.mux.HandleFunc("GET /v1/models", s.serveModels)
	s.mux.HandleFunc("GET /v1/models/{id}", s.serveModel)
	s.mux.HandleFunc("GET /_sandbox/stats", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Stats())
	})
	s.mux.HandleFunc("POST /_sandbox/reset", func(w http.ResponseWriter, r *http.Request) {
		s.ResetStats()
		writeJSON(w, http.StatusOK, s.Stats())
	})
	s.initFineTune()
	s.initBatches()
	s.mux.HandleFunc("/", s.serveNotFound)
	return s
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ServeHTTP routes a request and counts it in Stats.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, pattern := s.mux.Handler(r)
	path := pattern
	if _, p, ok := strings.Cut(pattern, " "); ok {
		path = p
	}
	if path == "/" || path == "" {
		path = "other"
	}
	rec := &recorder{ResponseWriter: w, stats: &s.stats, path: path}
	// Control paths are not traffic; mark them counted so they never are.
	rec.counted = strings.HasPrefix(path, "/_sandbox/")
	s.mux.ServeHTTP(rec, r)
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats { return s.stats.snapshot() }

// ResetStats zeroes the counters. Fault draws and rate-limit buckets go on
// where they were.
func (s *Server) ResetStats() { s.stats.reset() }

// Models lists the model names the server answers, fault models aside.
func (s *Server) Models() []string { return slices.Clone(s.models) }

// Running is a Server listening on a loopback port.
type Running struct {
	URL    string // "http://127.0.0.1:41234": no trailing slash, no /v1
	Server *Server

	srv  *http.Server
	done chan struct{}
	once sync.Once
	err  error
}

// Start listens on addr ("127.0.0.1:0" picks a free port) and serves a new
// Server for opts until Close is called or ctx ends.
func Start(ctx context.Context, addr string, opts Options) (*Running, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, &ethos.Error{Kind: ethos.Config, Op: "sandbox: listen", Msg: "listen on " + addr + ": " + err.Error(), Err: err}
	}
	s := New(opts)
	run := &Running{
		URL:    "http://" + ln.Addr().String(),
		Server: s,
		srv:    &http.Server{Handler: s, ReadHeaderTimeout: 30 * time.Second},
		done:   make(chan struct{}),
	}
	go func() {
		defer close(run.done)
		if err := run.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			run.err = err
		}
	}()
	context.AfterFunc(ctx, func() { run.Close() })
	return run, nil
}

// Close stops the server at once, cutting open streams, and waits for it to
// stop accepting.
func (r *Running) Close() error {
	r.once.Do(func() {
		err := r.srv.Close()
		<-r.done
		if r.err == nil {
			r.err = err
		}
	})
	return r.err
}

// newID returns a deterministic identifier: prefix plus 24 hex digits drawn
// from Options.Seed and a counter, so runs with one seed get the same ids.
func (s *Server) newID(prefix string) string {
	n := s.ids.Add(1)
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], splitmix(uint64(s.opts.Seed)^n*0x9e3779b97f4a7c15))
	binary.BigEndian.PutUint64(b[8:], splitmix(n+uint64(s.opts.Seed)))
	return prefix + hex.EncodeToString(b[:12])
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// authenticate returns the caller's API key and whether it is accepted.
// Both header styles are read on every path, as gateways do.
func (s *Server) authenticate(r *http.Request) (string, bool) {
	key := r.Header.Get("x-api-key")
	if key == "" {
		if auth := r.Header.Get("Authorization"); len(auth) > 7 && strings.EqualFold(auth[:7], "bearer ") {
			key = strings.TrimSpace(auth[7:])
		}
	}
	if s.opts.APIKey == "" {
		return key, true
	}
	return key, subtle.ConstantTimeCompare([]byte(key), []byte(s.opts.APIKey)) == 1
}

// isAnthropic says whether a request on a shared path (models, unknown
// paths) came from an Anthropic client.
func isAnthropic(r *http.Request) bool {
	return r.Header.Get("x-api-key") != "" || r.Header.Get("anthropic-version") != ""
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "sandbox: encode response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// readBody reads at most maxBodyBytes, telling a too-large body (413) from
// a broken one (400).
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, *apiError) {
	return readBodyUpTo(w, r, maxBodyBytes)
}

// readBodyUpTo is readBody with a cap of limit bytes.
func readBodyUpTo(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, *apiError) {
	// Sized by Content-Length when the client sent one: io.ReadAll would
	// grow its buffer from 512 bytes, copying a long prompt several times.
	size := int64(bytes.MinRead)
	if r.ContentLength > 0 {
		size += min(r.ContentLength, limit)
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit))
	body := buf.Bytes()
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, &apiError{status: http.StatusRequestEntityTooLarge, msg: "request exceeds the maximum allowed number of bytes"}
	case err != nil:
		return nil, &apiError{status: http.StatusBadRequest, msg: "could not read request body"}
	}
	return body, nil
}
