package generate_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/anthropic"
	"github.com/ethos-toolkit/ethos/config"
	"github.com/ethos-toolkit/ethos/generate"
	"github.com/ethos-toolkit/ethos/jobs"
	"github.com/ethos-toolkit/ethos/llm"
	"github.com/ethos-toolkit/ethos/review"
	"github.com/ethos-toolkit/ethos/sandbox"
	"github.com/ethos-toolkit/ethos/sqlite"
)

// env is a generation set-up over real parts: a SQLite store, the
// middleware chain, the Anthropic adapter and a sandbox on loopback.
type env struct {
	store    *sqlite.DB
	chain    ethos.Completer
	limiter  *llm.Limiter
	batcher  *llm.Batcher   // worked while the run drives
	cfg      *config.Config // its prices
	sandbox  *sandbox.Running
	settings generate.Settings
}

func newEnv(t testing.TB, examples int, opts sandbox.Options) *env {
	return newEnvLimits(t, examples, opts, llm.Limits{MaxConcurrency: 16})
}

func newEnvLimits(t testing.TB, examples int, opts sandbox.Options, limits llm.Limits) *env {
	return newEnvAs(t, examples, opts, "sandbox", func(string) llm.Limits { return limits })
}

// newEnvAs is newEnvLimits with the sandbox posing as provider (its models
// named "<provider>/writer", "<provider>/judge") under limitsFor.
func newEnvAs(t testing.TB, examples int, opts sandbox.Options, provider string, limitsFor func(string) llm.Limits) *env {
	t.Helper()
	ctx := t.Context()
	sb, err := sandbox.Start(ctx, "127.0.0.1:0", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	e := newEnvAt(t, examples, sb.URL, provider, limitsFor)
	e.sandbox = sb
	return e
}

// newEnvAt is newEnvAs against a sandbox already listening at baseURL.
func newEnvAt(t testing.TB, examples int, baseURL, provider string, limitsFor func(string) llm.Limits) *env {
	t.Helper()
	ctx := t.Context()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ethos.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	adapter, err := anthropic.New(anthropic.Config{Provider: provider, BaseURL: baseURL, APIKey: "sandbox"})
	if err != nil {
		t.Fatal(err)
	}
	router := llm.NewRouter()
	router.Register(provider, func() (ethos.Completer, error) { return adapter, nil })
	cfg := config.Default()
	cfg.Prices[provider+"/writer"] = config.Price{Input: 3, Output: 15}
	cfg.Prices[provider+"/judge"] = config.Price{Input: 1, Output: 5}
	pricer := configPricer{cfg}
	limiter := llm.NewLimiter(router, limitsFor)
	batcher := &llm.Batcher{Store: db, Next: limiter, Window: 200 * time.Millisecond, Poll: 100 * time.Millisecond,
		API: func(string) (ethos.BatchAPI, bool, error) { return adapter, true, nil }}
	chain := &llm.Ledger{Store: db, Pricer: pricer, Next: llm.NewBudget(0, 0, pricer, batcher)}

	g := cfg.Generate
	g.Ideas.Model, g.Documents.Model, g.Responses.Model, g.Review.Model = provider+"/writer", provider+"/writer", provider+"/writer", provider+"/judge"
	return &env{store: db, chain: chain, limiter: limiter, batcher: batcher, cfg: cfg, settings: generate.Settings{
		Examples: examples, Seed: 7, Output: filepath.Join(t.TempDir(), "data", "agora.jsonl"),
		Character: cfg.Character, Generate: g, ConfigHash: cfg.Hash(), PromptHashes: generate.TemplateVersions(),
	}}
}

// configPricer prices from a config's table, batches at its multipliers.
type configPricer struct{ cfg *config.Config }

func (p configPricer) Cost(model string, u ethos.Usage) (float64, bool) {
	price, ok := p.cfg.PriceOf(model)
	return price.Cost(u), ok
}

func (p configPricer) BatchMultiplier(model string) float64 { return p.cfg.BatchMultiplier(model) }

// run drives a whole generation to its end and exports it.
func (e *env) run(t testing.TB) (generate.Metadata, error) {
	return e.runWorkers(t, 16)
}

func (e *env) runWorkers(t testing.TB, workers int) (generate.Metadata, error) {
	return e.runProgress(t, workers, nil)
}

// runProgress is runWorkers with Drive's progress callback.
func (e *env) runProgress(t testing.TB, workers int, progress func(generate.Progress)) (generate.Metadata, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Minute)
	defer cancel()
	pipe := generate.NewPipeline(e.store, e.chain, e.settings)
	cfg := jobs.Config{Workers: workers, Tasks: pipe.Tasks(), Priorities: pipe.Priorities(), Completer: e.chain, Queue: pipe.RunID(),
		Backoff: func(int) time.Duration { return 5 * time.Millisecond }, FetchCooldown: 5 * time.Millisecond, FetchPollInterval: 50 * time.Millisecond}
	err := jobs.Run(ctx, e.store.SQL(), cfg, jobs.Work{
		Prepare: func(ctx context.Context, _ int64) (bool, error) {
			_, err := pipe.Begin(ctx)
			return err == nil, err
		},
		Drive: func(ctx context.Context) error {
			batchCtx, stopBatches := context.WithCancel(ctx)
			batching := make(chan struct{})
			go func() {
				defer close(batching)
				e.batcher.Run(batchCtx, 50*time.Millisecond)
			}()
			err := pipe.Drive(ctx, progress)
			stopBatches()
			<-batching
			return err
		},
		StopTimeout: 10 * time.Second,
	})
	if err != nil {
		return generate.Metadata{}, err
	}
	return pipe.Export(ctx, e.settings.Outputs(), false)
}

func readRecords(t *testing.T, path string) []generate.Record {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var recs []generate.Record
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var r generate.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("bad record line %q: %v", line, err)
		}
		recs = append(recs, r)
	}
	return recs
}

// TestGenerateUnderFaults runs the whole pipeline against a sandbox that
// answers 10% 429, 5% 529, cuts 2% of streams and writes every kind of
// defect into its outputs, and checks that the dataset has exactly the
// examples asked for and that not one of them carries a defect.
func TestGenerateUnderFaults(t *testing.T) {
	t.Parallel()
	const n = 40
	e := newEnv(t, n, sandbox.Options{Seed: 3,
		Faults:  sandbox.Faults{ErrorRates: map[int]float64{429: 0.10, 529: 0.05}, CutStreamRate: 0.02},
		Defects: map[string]float64{"offformat": 0.05, "placeholder": 0.08, "chatter": 0.08, "truncate": 0.04, "duplicate": 0.04, "persona": 0.05, "short": 0.1},
	})
	meta, err := e.run(t)
	if err != nil {
		t.Fatal(err)
	}
	recs := readRecords(t, e.settings.Output)
	if len(recs) != n || meta.Examples != n {
		t.Fatalf("%d records (metadata says %d), want exactly %d", len(recs), meta.Examples, n)
	}
	// The faults and defects really happened, and were caught.
	st := e.sandbox.Server.Stats()
	if st.ByStatus["429"] == 0 || st.ByStatus["529"] == 0 {
		t.Errorf("the sandbox injected no 429/529 (by status %v): the test proves nothing", st.ByStatus)
	}
	if len(meta.Rejections) == 0 {
		t.Errorf("no item was rejected although defects were injected")
	}
	rules := review.Rules{SystemPrompt: e.settings.Character.SystemPrompt, CharacterName: e.settings.Character.Name}
	for i, r := range recs {
		if len(r.Messages) != 3 || r.Messages[0].Role != ethos.RoleSystem || r.Messages[1].Role != ethos.RoleUser || r.Messages[2].Role != ethos.RoleAssistant {
			t.Fatalf("record %d has the wrong shape: %+v", i, r.Messages)
		}
		if r.Messages[0].Content != e.settings.Character.SystemPrompt {
			t.Errorf("record %d: system turn is not the character's prompt", i)
		}
		doc, reply := r.Messages[1].Content, r.Messages[2].Content
		if fs := rules.Document(generate.Document{Title: "t", Type: "memo", Body: doc}, ethos.StopEnd); len(fs) > 0 {
			t.Errorf("record %d: document has defects %v", i, fs)
		}
		if fs := rules.Reply(reply, ethos.StopEnd, 0); len(fs) > 0 {
			t.Errorf("record %d: reply has defects %v", i, fs)
		}
		for _, bad := range []string{"[ERROR", "happy to explore this with you", "Output contract:"} {
			if strings.Contains(doc+reply, bad) {
				t.Errorf("record %d contains %q", i, bad)
			}
		}
	}
	// Balanced over the twenty categories: two each.
	for name, c := range meta.Categories {
		if c[0] != c[1] || c[1] != n/len(e.settings.Character.Categories) {
			t.Errorf("category %s: %d examples of %d planned", name, c[0], c[1])
		}
	}
}

// TestGenerateResumesWithoutPayingTwice stops a run half-way, as a crash
// would, and runs it again: the dataset completes and every call the first
// process completed is served from the ledger, not made again.
func TestGenerateResumesWithoutPayingTwice(t *testing.T) {
	t.Parallel()
	const n = 20
	// Latency with a wide spread, so that replies are accepted over a
	// second or more and Drive sees the run part-way however fast the
	// machine.
	e := newEnv(t, n, sandbox.Options{Seed: 5, Faults: sandbox.Faults{LatencyMean: 400 * time.Millisecond, LatencyJitter: 350 * time.Millisecond}})
	ctx, cancel := context.WithCancel(t.Context())
	pipe := generate.NewPipeline(e.store, e.chain, e.settings)
	cfg := jobs.Config{Workers: 8, Tasks: pipe.Tasks(), Completer: e.chain, Queue: pipe.RunID(), FetchCooldown: 5 * time.Millisecond}
	driveErr := jobs.Run(ctx, e.store.SQL(), cfg, jobs.Work{
		Prepare: func(ctx context.Context, _ int64) (bool, error) {
			_, err := pipe.Begin(ctx)
			return err == nil, err
		},
		// Stop as soon as some examples exist.
		Drive: func(ctx context.Context) error {
			return pipe.Drive(ctx, func(p generate.Progress) {
				if p.Examples >= 1 {
					cancel()
				}
			})
		},
		StopTimeout: 10 * time.Second,
	})
	if driveErr == nil {
		t.Fatal("the run finished before it could be interrupted")
	}
	first := e.sandbox.Server.Stats().Requests

	meta, err := e.run(t)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(readRecords(t, e.settings.Output)); got != n {
		t.Fatalf("%d records after resuming, want %d", got, n)
	}
	hits := 0
	for _, sc := range meta.Calls {
		hits += sc.CacheHits
	}
	second := e.sandbox.Server.Stats().Requests - first
	if first+second > int64(3*n+20) {
		t.Errorf("%d requests in all for %d examples (first run %d): completed calls were made again", first+second, n, first)
	}
	t.Logf("first run %d requests, second run %d requests, %d cache hits", first, second, hits)
}

// TestGenerateRetriesFailedItemsOnRerun: a burst of 500s makes tasks give
// up; their items are marked failed (not left pending for jobs nobody will
// run), the run stops short and says why, and the same run against a
// provider that has recovered retries exactly those items and completes.
func TestGenerateRetriesFailedItemsOnRerun(t *testing.T) {
	t.Parallel()
	const n = 12
	e := newEnv(t, n, sandbox.Options{Seed: 9, Faults: sandbox.Faults{ErrorRates: map[int]float64{500: 0.85}}})
	_, err := e.run(t)
	var sf *generate.Shortfall
	if !errors.As(err, &sf) {
		t.Fatalf("first run: %v, want a shortfall", err)
	}
	if !strings.Contains(sf.Why, "failed at the provider (transient") || !strings.Contains(sf.Why, "retried when the same command runs again") {
		t.Errorf("shortfall says %q, want the failed items and their kind", sf.Why)
	}
	counts, err := e.store.CountItems(t.Context(), generate.NewPipeline(e.store, e.chain, e.settings).RunID())
	if err != nil {
		t.Fatal(err)
	}
	failed := 0
	for _, c := range counts {
		if c.Status == ethos.ItemPending {
			t.Errorf("%d %s items left pending by jobs that gave up", c.Count, c.Stage)
		}
		if c.Status == ethos.ItemFailed {
			failed += c.Count
		}
	}
	if failed == 0 {
		t.Fatal("no item was marked failed")
	}

	// The provider recovers: the same store, a healthy sandbox.
	healthy, err := sandbox.Start(t.Context(), "127.0.0.1:0", sandbox.Options{Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	defer healthy.Close()
	adapter, err := anthropic.New(anthropic.Config{Provider: "sandbox", BaseURL: healthy.URL, APIKey: "sandbox"})
	if err != nil {
		t.Fatal(err)
	}
	router := llm.NewRouter()
	router.Register("sandbox", func() (ethos.Completer, error) { return adapter, nil })
	e.chain = &llm.Ledger{Store: e.store, Next: llm.NewLimiter(router, func(string) llm.Limits { return llm.Limits{} })}
	meta, err := e.run(t)
	if err != nil {
		t.Fatalf("rerun after the provider recovered: %v", err)
	}
	if meta.Examples != n || len(readRecords(t, e.settings.Output)) != n {
		t.Fatalf("rerun wrote %d examples, want %d", meta.Examples, n)
	}
	if healthy.Server.Stats().Requests == 0 {
		t.Fatal("the rerun sent no request")
	}
	t.Logf("first run: %d failed items; rerun: %d requests", failed, healthy.Server.Stats().Requests)
}

// TestGenerateContinuesAfterARefusalIsFixed: a budget cap refuses a model
// with no price, which stops the run before any provider answers; once the
// price is added, the same run continues and completes.
func TestGenerateContinuesAfterARefusalIsFixed(t *testing.T) {
	t.Parallel()
	const n = 6
	e := newEnv(t, n, sandbox.Options{Seed: 4})
	limiter := e.limiter
	noPrice := llm.PricerFunc(func(string, ethos.Usage) (float64, bool) { return 0, false })
	e.chain = &llm.Ledger{Store: e.store, Next: llm.NewBudget(5, 0, noPrice, limiter)}
	if _, err := e.run(t); ethos.KindOf(err) != ethos.Config || !strings.Contains(err.Error(), "no price") {
		t.Fatalf("first run: %v, want it stopped by the missing price", err)
	}
	if got := e.sandbox.Server.Stats().Requests; got != 0 {
		t.Fatalf("%d requests reached the provider past the refusal", got)
	}
	price := llm.PricerFunc(func(string, ethos.Usage) (float64, bool) { return 0.001, true })
	e.chain = &llm.Ledger{Store: e.store, Pricer: price, Next: llm.NewBudget(5, 0, price, limiter)}
	meta, err := e.run(t)
	if err != nil {
		t.Fatalf("rerun with the price added: %v", err)
	}
	if meta.Examples != n {
		t.Fatalf("rerun wrote %d examples, want %d", meta.Examples, n)
	}
}

// TestGenerateStopsOnA429ThatNeverClears: a provider that answers only
// 429s stops the run as out of quota once its rate-limit timeout passes,
// instead of snoozing and topping up for ever.
func TestGenerateStopsOnA429ThatNeverClears(t *testing.T) {
	t.Parallel()
	e := newEnvAs(t, 4, sandbox.Options{Seed: 6, Faults: sandbox.Faults{RetryAfter: time.Second}}, "sandbox",
		func(string) llm.Limits { return llm.Limits{RateLimitTimeout: 2 * time.Second} })
	g := &e.settings.Generate
	g.Ideas.Model = "sandbox/fault-429"
	_, err := e.run(t)
	if ethos.KindOf(err) != ethos.Quota || !strings.Contains(err.Error(), "nothing but 429") {
		t.Fatalf("run against a permanent 429: %v, want it stopped as out of quota", err)
	}
	run, rerr := e.store.Run(t.Context(), generate.NewPipeline(e.store, e.chain, e.settings).RunID())
	if rerr != nil || run.Status != ethos.RunFailed {
		t.Fatalf("run %+v (%v), want failed with the reason", run, rerr)
	}
}

// TestGenerateFailedWriteFailsTheRun: when the run's files cannot be
// written, the run is failed with the reason, not left as it was, and
// writing them again once the cause is gone completes it.
func TestGenerateFailedWriteFailsTheRun(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 4, sandbox.Options{Seed: 8})
	if _, err := e.run(t); err != nil {
		t.Fatal(err)
	}
	pipe := generate.NewPipeline(e.store, e.chain, e.settings)
	// A directory that is a regular file: nothing can be written under it.
	blocker := filepath.Join(t.TempDir(), "blocked")
	if err := os.WriteFile(blocker, []byte("in the way"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := pipe.Export(t.Context(), generate.Outputs(filepath.Join(blocker, "agora.jsonl")), true); err == nil {
		t.Fatal("the files were written under a regular file")
	}
	run, err := e.store.Run(t.Context(), pipe.RunID())
	if err != nil || run.Status != ethos.RunFailed || !strings.Contains(run.Error, "writing the run's files") {
		t.Fatalf("run after the failed write: status %s, error %q (%v), want failed with the reason", run.Status, run.Error, err)
	}
	if _, err := pipe.Export(t.Context(), e.settings.Outputs(), true); err != nil {
		t.Fatal(err)
	}
	if run, err := e.store.Run(t.Context(), pipe.RunID()); err != nil || run.Status != ethos.RunCompleted {
		t.Fatalf("after writing the files: status %s (%v), want completed", run.Status, err)
	}
}
