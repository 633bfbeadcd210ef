package main

import (
	"io"
	"sync"

	"github.com/ethos-toolkit/ethos/eval"
	"github.com/ethos-toolkit/ethos/finetune"
	"github.com/ethos-toolkit/ethos/generate"
	"github.com/ethos-toolkit/ethos/llm"
	"github.com/ethos-toolkit/ethos/pipeline"
	"github.com/ethos-toolkit/ethos/project"
)

// deps wires the project into the workflows of package pipeline, with an
// observer that prints to stderr.
func (m *Main) deps(p *project.Project) pipeline.Deps {
	return p.Deps(&observer{p: p, out: m.Stderr})
}

// observer prints what the workflows do on stderr (see
// pipeline.LogObserver), with a generation's progress as bars on a
// terminal.
type observer struct {
	p   *project.Project
	out io.Writer

	once sync.Once
	log  *pipeline.LogObserver
}

func (o *observer) logger() *pipeline.LogObserver {
	o.once.Do(func() { o.log = &pipeline.LogObserver{W: o.out, Store: o.p.Store(), InFlight: o.inFlight} })
	return o.log
}

// inFlight describes the calls in flight of the project's limiter, ""
// before it has one.
func (o *observer) inFlight() string {
	l := o.p.Limiter()
	if l == nil {
		return ""
	}
	return llm.InFlightLine(l.States())
}

func (o *observer) Logf(format string, args ...any) { o.logger().Logf(format, args...) }

func (o *observer) Generating(id string, target int, working bool) (func(generate.Progress), func()) {
	if !isTerminal(o.out) {
		return o.logger().Generating(id, target, working)
	}
	inFlight := func() string { return "" }
	if working {
		inFlight = o.inFlight
	}
	show := newProgress(o.out, o.p.Store(), id, target, inFlight)
	return show.update, show.done
}

func (o *observer) Evaluating(id string) func(eval.Progress) { return o.logger().Evaluating(id) }

func (o *observer) Training(id string, u finetune.Update, err error) { o.logger().Training(id, u, err) }
