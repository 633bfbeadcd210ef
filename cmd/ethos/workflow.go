package main

import (
	"fmt"
	"io"
	"sync"

	"github.com/ethos-toolkit/ethos/eval"
	"github.com/ethos-toolkit/ethos/finetune"
	"github.com/ethos-toolkit/ethos/generate"
	"github.com/ethos-toolkit/ethos/pipeline"
	"github.com/ethos-toolkit/ethos/project"
)

// deps wires the project into the workflows of package pipeline, with an
// observer that prints to stderr.
func (m *Main) deps(p *project.Project) pipeline.Deps {
	return p.Deps(&observer{p: p, out: m.Stderr})
}

// observer prints what the workflows do on stderr: a line per step, and
// the progress of a generation, an evaluation or a fine-tune job.
type observer struct {
	p   *project.Project
	out io.Writer

	mu       sync.Mutex
	lastWait [2]string // the last fine-tune wait line and its job: each line is printed once
}

func (o *observer) Logf(format string, args ...any) {
	fmt.Fprintf(o.out, format+"\n", args...)
}

func (o *observer) Generating(id string, target int, working bool) (func(generate.Progress), func()) {
	show := newProgress(o.out, o.p.Store(), id, target)
	if working {
		show.limiter = o.p.Limiter()
	}
	return show.update, show.done
}

func (o *observer) Evaluating(id string) func(eval.Progress) {
	return (&evalProgress{w: o.out, store: o.p.Store(), id: id}).update
}

func (o *observer) Training(id string, u finetune.Update, err error) {
	if err != nil {
		o.Logf("      %s: provider not reachable, trying again: %v", id, err)
		return
	}
	line := u.Job.Status
	if pr := formatProgress(u.Job.Progress); pr != "" {
		line += ", " + pr
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if k := [2]string{id, line}; k != o.lastWait {
		o.Logf("[4/6] wait: %s", line)
		o.lastWait = k
	}
}
