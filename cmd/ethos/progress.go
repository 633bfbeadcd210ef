package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/generate"
	"github.com/ethos-toolkit/ethos/llm"
)

// progress shows a generation run: on a terminal, one bar per stage with
// counts, rate, ETA, spend and rejections; otherwise a plain line every
// few seconds, fit for logs.
type progress struct {
	w       io.Writer
	store   ethos.Store
	runID   string
	target  int
	limiter *llm.Limiter // calls in flight per provider; nil shows none

	mu        sync.Mutex
	last      generate.Progress
	spent     float64
	errors    int
	lastSpend time.Time
	lastLine  time.Time
	batches   string // " · batches: …", when the run has any

	p       *mpb.Progress
	bars    map[string]*mpb.Bar
	lastSet map[string]time.Time // when each bar last moved, for its rate
}

// progressStages are the stages shown, in order, with their labels.
var progressStages = []struct{ stage, label string }{
	{generate.StageIdea, "ideas"},
	{generate.StageDocument, "documents"},
	{generate.StageResponse, "replies"},
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func newProgress(w io.Writer, store ethos.Store, runID string, target int) *progress {
	pr := &progress{w: w, store: store, runID: runID, target: target, bars: map[string]*mpb.Bar{}, lastSet: map[string]time.Time{}}
	if !isTerminal(w) {
		return pr
	}
	pr.p = mpb.New(mpb.WithOutput(w), mpb.WithRefreshRate(200*time.Millisecond), mpb.WithWidth(40))
	for _, s := range progressStages {
		stage := s.stage
		pr.lastSet[stage] = time.Now()
		pr.bars[stage] = pr.p.AddBar(int64(target),
			mpb.PrependDecorators(
				decor.Name(fmt.Sprintf("%-10s", s.label)),
				decor.CountersNoUnit("%d/%d", decor.WCSyncWidth),
			),
			mpb.AppendDecorators(
				decor.EwmaSpeed(0, "%.1f/s", 30, decor.WCSyncSpace),
				decor.Any(func(decor.Statistics) string { return pr.rejected(stage) }, decor.WCSyncSpace),
				decor.OnComplete(decor.EwmaETA(decor.ET_STYLE_MMSS, 30, decor.WCSyncSpace), "done"),
			),
		)
	}
	pr.bars["spend"] = pr.p.New(0, mpb.NopStyle(), mpb.PrependDecorators(
		decor.Any(func(decor.Statistics) string { return pr.spendLine() }),
	))
	return pr
}

func (pr *progress) rejected(stage string) string {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	return pr.last.Rejected(stage)
}

func (pr *progress) spendLine() string {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	return pr.last.SpendLine(pr.spent, pr.errors, pr.inFlight()+pr.batches)
}

// inFlight describes the calls in flight per provider (see
// llm.InFlightLine), "" without a limiter.
func (pr *progress) inFlight() string {
	if pr.limiter == nil {
		return ""
	}
	return llm.InFlightLine(pr.limiter.States())
}

// update takes a snapshot from the pipeline.
func (pr *progress) update(p generate.Progress) {
	pr.mu.Lock()
	pr.last = p
	refreshSpend := time.Since(pr.lastSpend) > time.Second
	pr.mu.Unlock()
	if refreshSpend {
		pr.refreshSpend()
	}
	if pr.p != nil {
		for _, s := range progressStages {
			n := p.Stages[s.stage][ethos.ItemAccepted]
			if s.stage == generate.StageResponse {
				n = p.Examples
			}
			bar := pr.bars[s.stage]
			if int64(n) > bar.Current() {
				now := time.Now()
				bar.EwmaSetCurrent(int64(min(n, p.Target)), now.Sub(pr.lastSet[s.stage]))
				pr.lastSet[s.stage] = now
			}
		}
		return
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if time.Since(pr.lastLine) < 5*time.Second {
		return
	}
	pr.lastLine = time.Now()
	fmt.Fprintln(pr.w, p.Line(pr.spent, pr.errors, pr.inFlight()+pr.batches))
}

func (pr *progress) refreshSpend() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	sum, err := pr.store.SummarizeCalls(ctx, ethos.CallFilter{RunID: pr.runID})
	if err != nil {
		return // a display refresh; the next one tries again
	}
	spent, errs := llm.Spent(sum)
	batches, err := pr.store.Batches(ctx, ethos.BatchFilter{RunID: pr.runID})
	if err != nil {
		return
	}
	pr.mu.Lock()
	pr.spent, pr.errors, pr.lastSpend = spent, errs, time.Now()
	pr.batches = llm.BatchLine(batches, time.Now())
	pr.mu.Unlock()
}

// done finishes the display.
func (pr *progress) done() {
	if pr.p == nil {
		return
	}
	for _, b := range pr.bars {
		b.Abort(false)
	}
	pr.p.Wait()
}
