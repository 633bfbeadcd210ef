package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/anthropic"
	"github.com/ethos-toolkit/ethos/config"
	"github.com/ethos-toolkit/ethos/internal/redact"
	"github.com/ethos-toolkit/ethos/jobs"
	"github.com/ethos-toolkit/ethos/llm"
	"github.com/ethos-toolkit/ethos/openai"
	"github.com/ethos-toolkit/ethos/pipeline"
	"github.com/ethos-toolkit/ethos/postgres"
	"github.com/ethos-toolkit/ethos/sandbox"
	"github.com/ethos-toolkit/ethos/sqlite"
)

// projectFlags are the flags every command that works on a project takes.
type projectFlags struct {
	config string
	db     string
}

func (p *projectFlags) register(fs *flag.FlagSet) {
	p.registerConfig(fs)
	fs.StringVar(&p.db, "db", "", "the store: a SQLite file `path` or a postgres:// URL (default: $ETHOS_DB, else $ETHOS_DATABASE_URL, else store.path in the config, .ethos/ethos.db)")
}

// registerConfig registers --config alone, for a command that reads the
// configuration but no store.
func (p *projectFlags) registerConfig(fs *flag.FlagSet) {
	fs.StringVar(&p.config, "config", "ethos.yaml", "the project's configuration `file`")
}

// project is an opened ethos project: its configuration, its store and the
// middleware chain every model call goes through.
type project struct {
	m *Main

	cfg      *config.Config
	dir      string // directory relative paths in the config are resolved against
	defaults bool   // no ethos.yaml was found; built-in defaults are in use
	dbPath   string

	store projectStore
	// jobs is the job queue's backend: the same database as the store.
	jobs jobs.Backend
	// lock takes a named worker lock on the store (see lockStore).
	lock func(ctx context.Context, name string) (unlock func(), err error)
	// postgres is set for a store on PostgreSQL; dbPath is then its URL
	// with any password masked.
	postgres bool

	mu      sync.Mutex
	sandbox *sandbox.Running // the in-process sandbox, once started
	router  *llm.Router
	limiter *llm.Limiter // the chain's rate limiter, once Completer built it
	batcher *llm.Batcher // the chain's batch layer, once Completer built it

	overruns sync.Map // provider/model → struct{}: overruns already warned of
}

// abs resolves path against the working directory of m.
func (m *Main) abs(path string) string {
	if filepath.IsAbs(path) || m.Dir == "" {
		return path
	}
	return filepath.Join(m.Dir, path)
}

// loadConfig reads the project's ethos.yaml. When the default file is
// absent it falls back to the built-in offline defaults (the Agora
// character, every model a sandbox model), so commands work with no keys
// and no set-up; a file named explicitly with --config must exist.
func (m *Main) loadConfig(pf projectFlags, explicit bool) (*config.Config, string, bool, error) {
	path := m.abs(pf.config)
	cfg, err := config.Load(path)
	if err == nil {
		return cfg, filepath.Dir(path), false, nil
	}
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		dir := m.Dir
		if dir == "" {
			dir, _ = os.Getwd()
		}
		return config.Offline(), dir, true, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", false, ethos.Errorf(ethos.Config, "%s: no such file; run \"ethos init\" to write one", pf.config)
	}
	return nil, "", false, err
}

// openProject loads the configuration and opens the store.
func (m *Main) openProject(ctx context.Context, fset *flag.FlagSet, pf projectFlags) (*project, error) {
	cfg, dir, defaults, err := m.loadConfig(pf, isSet(fset, "config"))
	if err != nil {
		return nil, err
	}
	p := &project{m: m, cfg: cfg, dir: dir, defaults: defaults}
	p.dbPath = p.storePath(pf.db)
	if isPostgresURL(p.dbPath) {
		db, err := postgres.Open(ctx, p.dbPath)
		if err != nil {
			return nil, err
		}
		p.store, p.jobs, p.lock, p.postgres = db, jobs.Postgres(db.Pool()), db.TryLock, true
		p.dbPath = redact.URLs(p.dbPath)
		return p, nil
	}
	db, err := sqlite.Open(ctx, p.dbPath)
	if err != nil {
		return nil, err
	}
	path := p.dbPath
	p.store, p.jobs = db, jobs.SQLite(db.SQL())
	p.lock = func(_ context.Context, name string) (func(), error) { return lockStore(path + name) }
	return p, nil
}

// projectStore is what a project needs of its store, SQLite or
// PostgreSQL: the ethos store and its schema version.
type projectStore interface {
	ethos.Store
	SchemaVersion(ctx context.Context) (int, error)
}

// isPostgresURL reports whether a store location names a PostgreSQL
// database rather than a SQLite file.
func isPostgresURL(s string) bool { return pipeline.IsPostgresURL(s) }

// localDir is where the project keeps files beside its store (the
// in-process sandbox's state, prompts read from a pipe): the SQLite
// file's directory, or .ethos in the project for a PostgreSQL store.
func (p *project) localDir() string {
	if p.postgres {
		return filepath.Join(p.dir, ".ethos")
	}
	return filepath.Dir(p.dbPath)
}

// storePath decides where the store lives (see pipeline.StoreLocation).
func (p *project) storePath(flagValue string) string {
	return pipeline.StoreLocation(flagValue, p.m.Getenv, p.m.Dir, p.cfg, p.dir)
}

// Close stops the in-process sandbox, if any, and closes the store.
func (p *project) Close() error {
	p.mu.Lock()
	sb := p.sandbox
	p.sandbox = nil
	p.mu.Unlock()
	if sb != nil {
		sb.Close()
	}
	if p.store != nil {
		return p.store.Close()
	}
	return nil
}

// Router returns the router with an adapter factory for every configured
// provider. Adapters are built on first use, so a missing key is reported
// only for a provider that is actually used.
func (p *project) Router() *llm.Router {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.router != nil {
		return p.router
	}
	r := llm.NewRouter()
	for _, name := range p.cfg.ProviderNames() {
		r.Register(name, func() (ethos.Completer, error) { return p.adapter(name) })
	}
	p.router = r
	return r
}

// adapter builds the adapter of one provider from its resolved settings.
func (p *project) adapter(name string) (ethos.Completer, error) {
	prov, err := p.cfg.ResolveProvider(name, p.m.Getenv)
	if err != nil {
		return nil, err
	}
	key, err := p.cfg.APIKey(prov, p.m.Getenv)
	if err != nil {
		return nil, err
	}
	baseURL := prov.BaseURL
	if name == "sandbox" && baseURL == "" {
		if baseURL, err = p.startSandbox(); err != nil {
			return nil, err
		}
		key = "sandbox"
	}
	if key == "" && prov.Type == "anthropic" {
		// The SDK refuses to send a request without a key; a keyless
		// endpoint (a local gateway, the sandbox) ignores the value.
		key = "none"
	}
	switch prov.Type {
	case "anthropic":
		return anthropic.New(anthropic.Config{Provider: name, BaseURL: baseURL, APIKey: key, Timeout: prov.Timeout})
	case "openai":
		dialect := openai.DialectOpenAI
		if prov.Batch == config.BatchTogether {
			dialect = openai.DialectTogether
		}
		return openai.New(openai.Config{Provider: name, BaseURL: baseURL, APIKey: key, Timeout: prov.Timeout,
			MaxCompletionTokens: prov.OutputLimitField() == config.OutputLimitMaxCompletionTokens,
			OnOverrun:           p.warnOverrun, BatchDialect: dialect})
	default:
		return nil, ethos.Errorf(ethos.Config, "provider %s: unknown type %q; want anthropic or openai", name, prov.Type)
	}
}

// warnOverrun warns, once per model and process, of a server that
// ignores the field the output limit is sent in.
func (p *project) warnOverrun(o openai.Overrun) {
	if _, seen := p.overruns.LoadOrStore(o.Provider+"/"+o.Model, struct{}{}); !seen {
		fmt.Fprintf(p.m.Stderr, "warning: %s\n", o)
	}
}

// startSandbox starts the in-process sandbox on a loopback port, once.
func (p *project) startSandbox() (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.sandbox != nil {
		return p.sandbox.URL, nil
	}
	opts := sandboxOptions(p.cfg.Sandbox)
	// Fine-tune files and jobs live beside the store, so that every ethos
	// process (create, status, monitor) sees the same jobs.
	opts.FineTune.Dir = filepath.Join(p.localDir(), "sandbox")
	run, err := sandbox.Start(context.Background(), "127.0.0.1:0", opts)
	if err != nil {
		return "", ethos.Errorf(ethos.Internal, "starting the in-process sandbox: %w", err)
	}
	p.sandbox = run
	return run.URL, nil
}

// pricer prices calls from the config's price table and the store's
// model registry (see pipeline.Pricer).
func (p *project) pricer() llm.BatchPricer {
	return pipeline.Pricer{Config: p.cfg, Models: p.store}
}

// providers reads the providers' settings of the project's config.
func (p *project) providers() pipeline.Providers {
	return pipeline.Providers{Config: p.cfg, Getenv: p.m.Getenv}
}

// Completer builds the middleware chain (see llm.Chain). The project budget (budget.max_usd) counts
// all spend already recorded in the store; commandCap, when > 0, is a
// further cap on what this command alone may spend (--max-cost).
func (p *project) Completer(ctx context.Context, commandCap float64) (ethos.Completer, error) {
	return p.completer(ctx, commandCap, true)
}

// completer is Completer; with alias false a trained model is called by
// the very name asked for, as a probe of how it is served must be.
func (p *project) completer(ctx context.Context, commandCap float64, alias bool) (ethos.Completer, error) {
	// Endpoints count too: the budget covers what serving cost.
	spent, err := p.spent(ctx)
	if err != nil {
		return nil, err
	}
	providers := p.providers()
	b := p.cfg.Batch
	cc := llm.ChainConfig{Store: p.store, Router: p.Router(), Limits: providers.Limits,
		// Every process on this store and account takes its share of the
		// account's limits (ethos workers, a second ethos generate).
		ShareKey: providers.ShareKey, OnShareError: p.warnOnce("sharing rate limits through the store"),
		Batch: llm.BatchConfig{API: p.batchAPI, Window: b.Window, Poll: b.Poll, MaxSubmissions: b.MaxSubmissions,
			Log: func(format string, args ...any) { fmt.Fprintf(p.m.Stderr, format+"\n", args...) }},
		Pricer: p.pricer(), MaxUSD: p.cfg.Budget.MaxUSD, SpentUSD: spent, CommandMaxUSD: commandCap}
	if p.postgres {
		// Workers and commands on a shared store keep to one budget.
		cc.SpentTotal = p.spent
	}
	if alias {
		cc.Resolve = llm.CallNames(p.store)
	}
	chain := llm.NewChain(cc)
	p.mu.Lock()
	p.limiter, p.batcher = chain.Limiter, chain.Batcher
	p.mu.Unlock()
	return chain, nil
}

// publishLoads writes the rate limiter's state (calls in flight, target,
// latency) to the store every second while a command works, for ethos
// calls and the dashboard; stop writes the last state. Without a chain
// built yet it does nothing.
func (p *project) publishLoads(ctx context.Context) (stop func()) {
	p.mu.Lock()
	l := p.limiter
	p.mu.Unlock()
	if l == nil {
		return func() {}
	}
	return llm.PublishLoads(ctx, l, p.store, time.Second, p.warnOnce("recording calls in flight for ethos calls and the dashboard"))
}

// warnOnce reports the first error it is given, while doing what, as a
// warning on stderr, and ignores the rest.
func (p *project) warnOnce(doing string) func(error) {
	var once sync.Once
	return func(err error) {
		once.Do(func() { fmt.Fprintf(p.m.Stderr, "warning: %s: %v\n", doing, err) })
	}
}

func (p *project) describe() string {
	if p.defaults {
		return fmt.Sprintf("no ethos.yaml in %s: built-in offline defaults, every model a sandbox model (\"ethos init\" writes a config to edit)", p.dir)
	}
	return p.cfg.Path
}
