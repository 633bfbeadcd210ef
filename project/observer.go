package project

import (
	"fmt"

	"github.com/ethos-toolkit/ethos/eval"
	"github.com/ethos-toolkit/ethos/finetune"
	"github.com/ethos-toolkit/ethos/generate"
)

// logObserver is the observer of Deps(nil): a line per step on the
// project's log, and no progress.
type logObserver struct{ p *Project }

func (o logObserver) Logf(format string, args ...any) {
	fmt.Fprintf(o.p.log, format+"\n", args...)
}

func (o logObserver) Generating(string, int, bool) (func(generate.Progress), func()) {
	return func(generate.Progress) {}, func() {}
}

func (o logObserver) Evaluating(string) func(eval.Progress) { return func(eval.Progress) {} }

func (o logObserver) Training(id string, u finetune.Update, err error) {
	if err != nil {
		o.Logf("      %s: provider not reachable, trying again: %v", id, err)
	}
}
