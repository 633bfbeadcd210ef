package main

import (
	"context"
	"fmt"
	"sync"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/eval"
	"github.com/ethos-toolkit/ethos/finetune"
	"github.com/ethos-toolkit/ethos/generate"
	"github.com/ethos-toolkit/ethos/pipeline"
)

// deps wires the project into the workflows of package pipeline: the
// store, the job backend, the chain, the fine-tune service, serving, and
// an observer that prints to stderr.
func (p *project) deps() pipeline.Deps {
	return pipeline.Deps{
		Config: p.cfg, ConfigFile: p.configFile(), Dir: p.dir, WorkDir: p.m.abs("."),
		Store: p.store, StoreName: p.dbPath, Jobs: p.jobs, Shared: p.postgres, Lock: p.lock,
		Router: p.Router(), Pricer: p.pricer(), Chain: p.Completer,
		Background: func(ctx context.Context) func() {
			stopLoads, stopBatches := p.publishLoads(ctx), p.runBatches(ctx)
			return func() {
				stopBatches()
				stopLoads()
			}
		},
		FineTune: p.fineTune(),
		Serving: func(model ethos.Model, maxCost float64, logf func(string, ...any)) pipeline.Serving {
			return p.serving(model, maxCost, logf)
		},
		Observer: &observer{p: p},
	}
}

// observer prints what the workflows do on stderr: a line per step, and
// the progress of a generation, an evaluation or a fine-tune job.
type observer struct {
	p *project

	mu       sync.Mutex
	lastWait [2]string // the last fine-tune wait line and its job: each line is printed once
}

func (o *observer) Logf(format string, args ...any) {
	fmt.Fprintf(o.p.m.Stderr, format+"\n", args...)
}

func (o *observer) Generating(id string, target int, working bool) (func(generate.Progress), func()) {
	show := newProgress(o.p.m.Stderr, o.p.store, id, target)
	if working {
		o.p.mu.Lock()
		show.limiter = o.p.limiter
		o.p.mu.Unlock()
	}
	return show.update, show.done
}

func (o *observer) Evaluating(id string) func(eval.Progress) {
	return (&evalProgress{w: o.p.m.Stderr, store: o.p.store, id: id}).update
}

func (o *observer) Training(id string, u finetune.Update, err error) {
	if err != nil {
		o.Logf("      %s: provider not reachable, trying again: %v", id, err)
		return
	}
	line := finetune.StatusLine(u.Job)
	o.mu.Lock()
	defer o.mu.Unlock()
	if k := [2]string{id, line}; k != o.lastWait {
		o.Logf("[4/6] wait: %s", line)
		o.lastWait = k
	}
}
