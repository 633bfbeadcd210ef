package main

import (
	"context"
	"sync"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/eval"
	"github.com/ethos-toolkit/ethos/finetune"
	"github.com/ethos-toolkit/ethos/generate"
	"github.com/ethos-toolkit/ethos/llm"
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

// observer prints what the workflows do on stderr (see
// pipeline.LogObserver), with a generation's progress as bars on a
// terminal.
type observer struct {
	p    *project
	once sync.Once
	log  *pipeline.LogObserver
}

func (o *observer) logger() *pipeline.LogObserver {
	o.once.Do(func() { o.log = &pipeline.LogObserver{W: o.p.m.Stderr, Store: o.p.store, InFlight: o.inFlight} })
	return o.log
}

// inFlight describes the calls in flight of the project's limiter, ""
// before it has one.
func (o *observer) inFlight() string {
	o.p.mu.Lock()
	l := o.p.limiter
	o.p.mu.Unlock()
	if l == nil {
		return ""
	}
	return llm.InFlightLine(l.States())
}

func (o *observer) Logf(format string, args ...any) { o.logger().Logf(format, args...) }

func (o *observer) Generating(id string, target int, working bool) (func(generate.Progress), func()) {
	if !isTerminal(o.p.m.Stderr) {
		return o.logger().Generating(id, target, working)
	}
	inFlight := func() string { return "" }
	if working {
		inFlight = o.inFlight
	}
	show := newProgress(o.p.m.Stderr, o.p.store, id, target, inFlight)
	return show.update, show.done
}

func (o *observer) Evaluating(id string) func(eval.Progress) { return o.logger().Evaluating(id) }

func (o *observer) Training(id string, u finetune.Update, err error) { o.logger().Training(id, u, err) }
