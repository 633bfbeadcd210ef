package pipeline

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/eval"
	"github.com/ethos-toolkit/ethos/finetune"
	"github.com/ethos-toolkit/ethos/generate"
	"github.com/ethos-toolkit/ethos/llm"
)

// progressEvery is how often a LogObserver writes a run's progress while
// its phase stays the same.
const progressEvery = 5 * time.Second

// LogObserver is an Observer that writes what the workflows do to W as
// lines fit for a log: each step; a generation's progress and an
// evaluation's when it begins, at each change of phase and every few
// seconds, with what the run has spent and its batches from Store; and a
// fine-tune job's status each time it changes.
type LogObserver struct {
	W io.Writer
	// Store is read for a run's spend, failed calls and batches; nil
	// leaves them out.
	Store ethos.Store
	// InFlight, when set, describes the calls in flight of a generation
	// this process works (see llm.InFlightLine).
	InFlight func() string

	mu       sync.Mutex
	lastWait [2]string // the last fine-tune wait line and its job: each line is written once
}

// Logf writes the line.
func (o *LogObserver) Logf(format string, args ...any) {
	fmt.Fprintf(o.W, format+"\n", args...)
}

// Generating writes the run's progress line (generate.Progress.Line) when
// it begins and every few seconds after.
func (o *LogObserver) Generating(id string, target int, working bool) (func(generate.Progress), func()) {
	var (
		mu    sync.Mutex
		last  time.Time
		spend RunSpend
	)
	update := func(p generate.Progress) {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(last) < progressEvery {
			return
		}
		last = time.Now()
		if s, err := LoadRunSpend(o.Store, id); err == nil {
			spend = s // else the last figures: a display line, the next one tries again
		}
		more := ""
		if working && o.InFlight != nil {
			more = o.InFlight()
		}
		fmt.Fprintln(o.W, p.Line(spend.USD, spend.CallErrors, more+spend.Batches))
	}
	return update, func() {}
}

// Evaluating writes the evaluation's progress line (eval.Progress.Line)
// at each change of phase and every few seconds while a phase lasts.
func (o *LogObserver) Evaluating(id string) func(eval.Progress) {
	var (
		mu    sync.Mutex
		phase string
		last  time.Time
	)
	return func(p eval.Progress) {
		mu.Lock()
		defer mu.Unlock()
		if p.Phase == phase && time.Since(last) < progressEvery {
			return
		}
		phase, last = p.Phase, time.Now()
		if line := p.Line(o.batchLine(id)); line != "" {
			fmt.Fprintln(o.W, line)
		}
	}
}

// batchLine is run id's llm.BatchLine, or "".
func (o *LogObserver) batchLine(id string) string {
	if o.Store == nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	bs, err := o.Store.Batches(ctx, ethos.BatchFilter{RunID: id})
	if err != nil {
		return "" // a display line; the next one tries again
	}
	return llm.BatchLine(bs, time.Now())
}

// Training writes the job's status line (finetune.StatusLine) when it
// changes, and each time the provider could not be asked.
func (o *LogObserver) Training(id string, u finetune.Update, err error) {
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

// RunSpend is what a run has spent so far, as its progress shows it.
type RunSpend struct {
	USD        float64
	CallErrors int
	// Batches describes the run's batches (llm.BatchLine), "" for none.
	Batches string
}

// LoadRunSpend reads run id's spend, failed calls and batches from
// store, within a second; a nil store has none.
func LoadRunSpend(store ethos.Store, id string) (RunSpend, error) {
	if store == nil {
		return RunSpend{}, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	sum, err := store.SummarizeCalls(ctx, ethos.CallFilter{RunID: id})
	if err != nil {
		return RunSpend{}, err
	}
	var s RunSpend
	s.USD, s.CallErrors = llm.Spent(sum)
	batches, err := store.Batches(ctx, ethos.BatchFilter{RunID: id})
	if err != nil {
		return RunSpend{}, err
	}
	s.Batches = llm.BatchLine(batches, time.Now())
	return s, nil
}
