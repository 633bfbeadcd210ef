package pipeline

import (
	"context"
	"fmt"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/config"
	"github.com/ethos-toolkit/ethos/eval"
	"github.com/ethos-toolkit/ethos/finetune"
	"github.com/ethos-toolkit/ethos/generate"
	"github.com/ethos-toolkit/ethos/jobs"
	"github.com/ethos-toolkit/ethos/llm"
)

// Deps are what the workflows (Generate, Evaluate, Run) work with. The
// program that opens a project builds them: it wires the adapters and the
// store, and says through Observer what happens.
type Deps struct {
	Config *config.Config
	// ConfigFile names the configuration as the user knows it, for
	// messages (e.g. "ethos.yaml").
	ConfigFile string
	// Dir is the directory the config's relative paths are resolved
	// against.
	Dir string
	// WorkDir is the directory the command's relative paths are relative
	// to; a generation run stores it (see GenerateInputs).
	WorkDir string
	Store   ethos.Store
	// StoreName says where the store is, without secrets, for reports.
	StoreName string
	// Jobs is the job queue's backend: the same database as the store.
	Jobs jobs.Backend
	// Shared is set for a store many processes work at once
	// (PostgreSQL): a run then has a lock of its own, and its tasks may be
	// left to ethos worker processes.
	Shared bool
	// Lock takes a named lock on the store ("" is the store's own).
	Lock func(ctx context.Context, name string) (unlock func(), err error)
	// Router routes model references to their providers' adapters.
	Router *llm.Router
	// Pricer prices calls (see Pricer).
	Pricer llm.BatchPricer
	// Chain builds the chain every model call goes through, capped at
	// commandCap (USD, 0 for none) on top of the project's budget.
	Chain func(ctx context.Context, commandCap float64) (ethos.Completer, error)
	// Background starts what a process that works tasks runs beside them
	// once Chain has built (rate-limit loads, batches); stop ends it.
	Background func(ctx context.Context) (stop func())
	// FineTune is the fine-tune service over the store.
	FineTune *finetune.Service
	// Serving makes a trained model callable for an evaluation, within
	// commandCap, reporting through logf.
	Serving func(model ethos.Model, commandCap float64, logf func(string, ...any)) Serving
	// Observer is told what the workflows do; they write nothing
	// themselves.
	Observer Observer
}

// Observer is how a workflow says what it does. Its methods are called
// from the workflow's goroutine, except the progress functions, which a
// run's drive may call from its own.
type Observer interface {
	// Logf reports a step or an event, one line.
	Logf(format string, args ...any)
	// Generating is told that generation run id starts its drive toward
	// target examples (working: this process works its tasks). update
	// receives the run's progress, done is called when the drive ends.
	Generating(id string, target int, working bool) (update func(generate.Progress), done func())
	// Evaluating returns what receives evaluation id's progress.
	Evaluating(id string) func(eval.Progress)
	// Training is told of fine-tune job id while a workflow waits for it;
	// err is set when the provider was not reachable.
	Training(id string, u finetune.Update, err error)
}

// Interrupted is a workflow stopped by its context (Ctrl-C, a shutdown)
// before it finished. How, when set, says how to continue; Err is what
// the interruption surfaced as.
type Interrupted struct {
	How string
	Err error
}

func (e *Interrupted) Error() string {
	if e.How == "" {
		return "interrupted"
	}
	return "interrupted: " + e.How
}

func (e *Interrupted) Unwrap() error { return e.Err }

// interrupted is the error of a run whose drive ended because ctx was
// cancelled: it records the run as interrupted (mark, with a context that
// is still live) and says how to continue (resume, the command that does).
func interrupted(ctx context.Context, driveErr error, mark func(context.Context) error, resume string) error {
	if err := mark(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("recording the interruption (%v): %w", driveErr, err)
	}
	return &Interrupted{Err: driveErr, How: "run the same command again (or " + resume + ") to continue; nothing done is lost"}
}

// runLock takes the lock that says this process drives run id. On a
// store one process works (SQLite) that is the store's own lock: the
// lock proves any job left running orphaned. On a shared store it is the
// run's own: two processes never drive one run, and other runs go on
// beside it; the workers' heartbeats tell which running jobs are orphans.
func (d Deps) runLock(ctx context.Context, id string) (unlock func(), err error) {
	if d.Shared {
		return d.Lock(ctx, "run/"+id)
	}
	return d.Lock(ctx, "")
}

// preflight starts the checks of a workflow that may spend up to
// commandCap on top of the project's budget.
func (d Deps) preflight(commandCap float64) *Preflight {
	return NewPreflight(d.Config, d.ConfigFile, d.Router, d.Pricer, commandCap)
}

// sayWorkers tells how many ethos worker processes work run id's tasks,
// and what to do when none does. ctx carries the run's jobs client.
func sayWorkers(ctx context.Context, obs Observer, id string) error {
	q, err := jobs.FromContext(ctx)
	if err != nil {
		return err
	}
	n, err := q.LiveWorkers(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		obs.Logf("warning: no ethos worker is running on this store; run %s waits until one starts (ethos worker --db …)", id)
		return nil
	}
	obs.Logf("run %s: its tasks are queued for the %d ethos worker(s) on this store (--no-work)", id, n)
	return nil
}

// CompletedRun reports whether the run id (a generation, an
// introspection or an evaluation) has completed.
func CompletedRun(ctx context.Context, store ethos.Store, id string) (bool, error) {
	run, err := store.Run(ctx, id)
	switch {
	case ethos.KindOf(err) == ethos.NotFound:
		return false, nil
	case err != nil:
		return false, err
	}
	return run.Status == ethos.RunCompleted, nil
}
