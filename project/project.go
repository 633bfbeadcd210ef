// Package project is an opened ethos project as a library: its
// configuration, its store and job queue, and the adapters, sandbox and
// middleware chain every model call goes through, wired into the
// workflows of package pipeline.
//
// It is the one place that wires adapters and store drivers together;
// cmd/ethos parses flags onto Options, calls Open and prints. A Go program
// does the same:
//
//	p, err := project.Open(ctx, project.Options{})
//	if err != nil { … }
//	defer p.Close()
//	res, err := pipeline.Run(ctx, p.Deps(nil), pipeline.RunOptions{})
package project

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/anthropic"
	"github.com/ethos-toolkit/ethos/config"
	"github.com/ethos-toolkit/ethos/generate"
	"github.com/ethos-toolkit/ethos/internal/redact"
	"github.com/ethos-toolkit/ethos/jobs"
	"github.com/ethos-toolkit/ethos/llm"
	"github.com/ethos-toolkit/ethos/openai"
	"github.com/ethos-toolkit/ethos/pipeline"
	"github.com/ethos-toolkit/ethos/postgres"
	"github.com/ethos-toolkit/ethos/sandbox"
	"github.com/ethos-toolkit/ethos/sqlite"
)

// DefaultConfig is the configuration file a project reads when Options
// names none.
const DefaultConfig = "ethos.yaml"

// Options say which project to open and how it reaches the outside world.
type Options struct {
	// Config is the project's configuration file (default DefaultConfig),
	// relative to Dir.
	Config string
	// ConfigExplicit says the user named Config: it must then exist.
	// Otherwise a missing file means the built-in offline defaults (the
	// Agora character, every model a sandbox model).
	ConfigExplicit bool
	// DB is the store: a SQLite file or a postgres:// URL. Empty means
	// $ETHOS_DB, else $ETHOS_DATABASE_URL, else store.path in the config,
	// else .ethos/ethos.db (see pipeline.StoreLocation).
	DB string
	// Dir is the working directory relative paths are resolved against;
	// empty means the process's.
	Dir string
	// Getenv reads the environment (default os.Getenv).
	Getenv func(string) string
	// Log receives warnings and progress lines (default os.Stderr; give
	// io.Discard to drop them). Nothing is written to standard output.
	Log io.Writer
}

// Store is what a project needs of its store, SQLite or PostgreSQL: the
// ethos store and its schema version.
type Store interface {
	ethos.Store
	SchemaVersion(ctx context.Context) (int, error)
}

// Project is an opened ethos project. Its methods are safe for concurrent
// use. Close it to stop the in-process sandbox and close the store.
type Project struct {
	cfg       *config.Config
	dir       string // directory relative paths in the config are resolved against
	workDir   string // Options.Dir
	defaults  bool   // no config file was found; built-in defaults are in use
	storeName string // the SQLite file, or the PostgreSQL URL with any password masked
	getenv    func(string) string
	log       io.Writer

	store Store
	jobs  jobs.Backend
	// lock takes a named worker lock on the store (see Lock).
	lock   func(ctx context.Context, name string) (unlock func(), err error)
	shared bool // the store is on PostgreSQL, which many processes work

	mu       sync.Mutex
	sandbox  *sandbox.Running // the in-process sandbox, once started
	router   *llm.Router
	limiter  *llm.Limiter // the chain's rate limiter, once Completer built it
	batcher  *llm.Batcher // the chain's batch layer, once Completer built it
	backends map[string]ethos.FineTuneBackend

	overruns sync.Map // provider/model → struct{}: overruns already warned of
}

func (o *Options) fill() {
	if o.Config == "" {
		o.Config = DefaultConfig
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Log == nil {
		o.Log = os.Stderr
	}
}

// abs resolves path against the working directory dir.
func abs(dir, path string) string {
	if filepath.IsAbs(path) || dir == "" {
		return path
	}
	return filepath.Join(dir, path)
}

// LoadConfig reads the project's configuration without opening its store.
// When the default file is absent it returns the built-in offline defaults
// (defaults true), so that a project works with no keys and no set-up; a
// file named explicitly (Options.ConfigExplicit) must exist. dir is the
// directory the config's relative paths are resolved against.
func LoadConfig(opts Options) (cfg *config.Config, dir string, defaults bool, err error) {
	opts.fill()
	path := abs(opts.Dir, opts.Config)
	cfg, err = config.Load(path)
	if err == nil {
		return cfg, filepath.Dir(path), false, nil
	}
	if errors.Is(err, fs.ErrNotExist) && !opts.ConfigExplicit {
		dir := opts.Dir
		if dir == "" {
			dir, _ = os.Getwd()
		}
		return config.Offline(), dir, true, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", false, ethos.Errorf(ethos.Config, "%s: no such file; run \"ethos init\" to write one", opts.Config)
	}
	return nil, "", false, err
}

// Open loads the configuration and opens the store, SQLite or PostgreSQL,
// applying its migrations.
func Open(ctx context.Context, opts Options) (*Project, error) {
	opts.fill()
	cfg, dir, defaults, err := LoadConfig(opts)
	if err != nil {
		return nil, err
	}
	p := &Project{cfg: cfg, dir: dir, workDir: opts.Dir, defaults: defaults, getenv: opts.Getenv, log: opts.Log,
		backends: map[string]ethos.FineTuneBackend{}}
	loc := pipeline.StoreLocation(opts.DB, opts.Getenv, opts.Dir, cfg, dir)
	if pipeline.IsPostgresURL(loc) {
		db, err := postgres.Open(ctx, loc)
		if err != nil {
			return nil, err
		}
		p.store, p.jobs, p.lock, p.shared = db, jobs.Postgres(db.Pool()), db.TryLock, true
		p.storeName = redact.URLs(loc)
		return p, nil
	}
	db, err := sqlite.Open(ctx, loc)
	if err != nil {
		return nil, err
	}
	p.store, p.jobs, p.storeName = db, jobs.SQLite(db.SQL()), loc
	p.lock = func(_ context.Context, name string) (func(), error) { return LockFile(loc + name) }
	return p, nil
}

// Config is the project's configuration.
func (p *Project) Config() *config.Config { return p.cfg }

// Dir is the directory the configuration's relative paths are resolved
// against: the config file's, or the working directory with the defaults.
func (p *Project) Dir() string { return p.dir }

// Defaults reports whether no config file was found and the built-in
// offline defaults are in use.
func (p *Project) Defaults() bool { return p.defaults }

// Store is the project's store.
func (p *Project) Store() Store { return p.store }

// StoreName names the store for messages: the SQLite file, or the
// PostgreSQL URL with any password masked.
func (p *Project) StoreName() string { return p.storeName }

// Jobs is the job queue's backend: the same database as the store.
func (p *Project) Jobs() jobs.Backend { return p.jobs }

// Shared reports whether the store is on PostgreSQL, which many processes
// (ethos worker) work at once; a SQLite store is worked by one.
func (p *Project) Shared() bool { return p.shared }

// Abs resolves a path given by the user against the working directory
// (Options.Dir).
func (p *Project) Abs(path string) string { return abs(p.workDir, path) }

// LocalDir is where the project keeps files beside its store (the
// in-process sandbox's state, prompts read from a pipe): the SQLite
// file's directory, or .ethos in the project for a PostgreSQL store.
func (p *Project) LocalDir() string {
	if p.shared {
		return filepath.Join(p.dir, ".ethos")
	}
	return filepath.Dir(p.storeName)
}

// ConfigFile names the project's config as the user knows it: relative to
// the project, or ethos.yaml with the defaults.
func (p *Project) ConfigFile() string {
	if p.cfg.Path == "" {
		return DefaultConfig
	}
	return pipeline.Rel(p.dir, p.cfg.Path)
}

// Describe says which configuration is in use, for a user.
func (p *Project) Describe() string {
	if p.defaults {
		return fmt.Sprintf("no ethos.yaml in %s: built-in offline defaults, every model a sandbox model (\"ethos init\" writes a config to edit)", p.dir)
	}
	return p.cfg.Path
}

// Close stops the in-process sandbox, if any, and closes the store.
func (p *Project) Close() error {
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
func (p *Project) Router() *llm.Router {
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
func (p *Project) adapter(name string) (ethos.Completer, error) {
	prov, key, err := p.provider(name)
	if err != nil {
		return nil, err
	}
	baseURL := prov.BaseURL
	if name == "sandbox" && baseURL == "" {
		if baseURL, err = p.StartSandbox(); err != nil {
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

// provider resolves a provider's settings and its API key.
func (p *Project) provider(name string) (config.Provider, string, error) {
	prov, err := p.cfg.ResolveProvider(name, p.getenv)
	if err != nil {
		return config.Provider{}, "", err
	}
	key, err := p.cfg.APIKey(prov, p.getenv)
	return prov, key, err
}

// warnOverrun warns, once per model and project, of a server that ignores
// the field the output limit is sent in.
func (p *Project) warnOverrun(o openai.Overrun) {
	if _, seen := p.overruns.LoadOrStore(o.Provider+"/"+o.Model, struct{}{}); !seen {
		fmt.Fprintf(p.log, "warning: %s\n", o)
	}
}

// SandboxOptions are the sandbox settings of a config's sandbox section.
// The in-process sandbox and ethos sandbox both start from them.
func SandboxOptions(sb config.Sandbox) sandbox.Options {
	return sandbox.Options{
		Seed:    sb.Seed,
		Defects: maps.Clone(sb.Defects),
		Serving: maps.Clone(sb.Serving),
		Faults: sandbox.Faults{
			ErrorRates:    maps.Clone(sb.ErrorRates),
			LatencyMean:   sb.Latency,
			LatencyJitter: sb.Jitter,
			CutStreamRate: sb.CutStreamRate,
			RPM:           sb.RPM,
			TPM:           sb.TPM,
			InputTPM:      sb.InputTPM,
			OutputTPM:     sb.OutputTPM,
		},
		Batch: sandbox.BatchOptions{ProcessingTime: sb.BatchTime, ErrorRate: sb.BatchErrorRate, ExpireRate: sb.BatchExpireRate},
	}
}

// StartSandbox starts the in-process sandbox on a loopback port, once,
// and returns its URL. The sandbox provider uses it when no base URL is
// set; Close stops it.
func (p *Project) StartSandbox() (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.sandbox != nil {
		return p.sandbox.URL, nil
	}
	opts := SandboxOptions(p.cfg.Sandbox)
	// Fine-tune files and jobs live beside the store, so that every ethos
	// process (create, status, monitor) sees the same jobs.
	opts.FineTune.Dir = filepath.Join(p.LocalDir(), "sandbox")
	run, err := sandbox.Start(context.Background(), "127.0.0.1:0", opts)
	if err != nil {
		return "", ethos.Errorf(ethos.Internal, "starting the in-process sandbox: %w", err)
	}
	p.sandbox = run
	return run.URL, nil
}

// Pricer prices calls from the config's price table and the store's
// model registry (see pipeline.Pricer).
func (p *Project) Pricer() llm.BatchPricer {
	return pipeline.Pricer{Config: p.cfg, Models: p.store}
}

// Providers reads the providers' settings of the project's config.
func (p *Project) Providers() pipeline.Providers {
	return pipeline.Providers{Config: p.cfg, Getenv: p.getenv}
}

// Completer builds the middleware chain (see llm.Chain). The project
// budget (budget.max_usd) counts all spend already recorded in the store;
// commandCap, when > 0, is a further cap on what this caller alone may
// spend (--max-cost).
func (p *Project) Completer(ctx context.Context, commandCap float64) (ethos.Completer, error) {
	return p.completer(ctx, commandCap, true)
}

// completer is Completer; with alias false a trained model is called by
// the very name asked for, as a probe of how it is served must be.
func (p *Project) completer(ctx context.Context, commandCap float64, alias bool) (ethos.Completer, error) {
	// Endpoints count too: the budget covers what serving cost.
	spent, err := p.Spent(ctx)
	if err != nil {
		return nil, err
	}
	providers := p.Providers()
	b := p.cfg.Batch
	cc := llm.ChainConfig{Store: p.store, Router: p.Router(), Limits: providers.Limits,
		// Every process on this store and account takes its share of the
		// account's limits (ethos workers, a second ethos generate).
		ShareKey: providers.ShareKey, OnShareError: p.warnOnce("sharing rate limits through the store"),
		Batch: llm.BatchConfig{API: p.BatchAPI, Window: b.Window, Poll: b.Poll, MaxSubmissions: b.MaxSubmissions,
			Log: func(format string, args ...any) { fmt.Fprintf(p.log, format+"\n", args...) }},
		Pricer: p.Pricer(), MaxUSD: p.cfg.Budget.MaxUSD, SpentUSD: spent, CommandMaxUSD: commandCap}
	if p.shared {
		// Workers and commands on a shared store keep to one budget.
		cc.SpentTotal = p.Spent
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

// Limiter is the rate limiter of the chain Completer built last, or nil
// before one is built.
func (p *Project) Limiter() *llm.Limiter {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.limiter
}

// PublishLoads writes the rate limiter's state (calls in flight, target,
// latency) to the store every second while a caller works, for ethos
// calls and the dashboard; stop writes the last state. Without a chain
// built yet it does nothing.
func (p *Project) PublishLoads(ctx context.Context) (stop func()) {
	l := p.Limiter()
	if l == nil {
		return func() {}
	}
	return llm.PublishLoads(ctx, l, p.store, time.Second, p.warnOnce("recording calls in flight for ethos calls and the dashboard"))
}

// warnOnce reports the first error it is given, while doing what, as a
// warning on the log, and ignores the rest.
func (p *Project) warnOnce(doing string) func(error) {
	var once sync.Once
	return func(err error) {
		once.Do(func() { fmt.Fprintf(p.log, "warning: %s: %v\n", doing, err) })
	}
}

// MemoryLimit is the soft memory limit a process that works a generation
// sets, unless GOMEMLIMIT sets one (see generate.MemoryLimit); 0 leaves
// the limit alone.
func (p *Project) MemoryLimit() int64 {
	if p.getenv("GOMEMLIMIT") != "" {
		return 0
	}
	return generate.MemoryLimit
}

// GCPercent is the collector's pacing a process that works a generation
// sets beside MemoryLimit, unless GOGC or GOMEMLIMIT is set (see
// generate.GCPercent); 0 leaves it alone.
func (p *Project) GCPercent() int {
	if p.getenv("GOGC") != "" || p.getenv("GOMEMLIMIT") != "" {
		return 0
	}
	return generate.GCPercent
}

// Deps wires the project into the workflows of package pipeline: the
// store, the job backend, the chain, the fine-tune service and serving.
// obs is told what the workflows do; nil writes a line per step to the
// project's log.
func (p *Project) Deps(obs pipeline.Observer) pipeline.Deps {
	if obs == nil {
		obs = logObserver{p}
	}
	return pipeline.Deps{
		Config: p.cfg, ConfigFile: p.ConfigFile(), Dir: p.dir, WorkDir: p.Abs("."),
		Store: p.store, StoreName: p.storeName, Jobs: p.jobs, Shared: p.shared, Lock: p.lock,
		Router: p.Router(), Pricer: p.Pricer(), Chain: p.Completer,
		Background: func(ctx context.Context) func() {
			stopLoads, stopBatches := p.PublishLoads(ctx), p.RunBatches(ctx)
			return func() {
				stopBatches()
				stopLoads()
			}
		},
		FineTune: p.FineTune(),
		Serving: func(model ethos.Model, maxCost float64, logf func(string, ...any)) pipeline.Serving {
			return p.Serving(model, maxCost, logf)
		},
		Observer: obs,
	}
}
