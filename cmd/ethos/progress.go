package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/generate"
	"github.com/ethos-toolkit/ethos/pipeline"
)

// progress shows a generation run on a terminal: one bar per stage with
// counts, rate, ETA and rejections, and a line of spend. Elsewhere
// pipeline.LogObserver writes a plain line every few seconds, fit for
// logs.
type progress struct {
	store    ethos.Store
	runID    string
	inFlight func() string // the calls in flight (llm.InFlightLine); "" shows none

	mu        sync.Mutex
	last      generate.Progress
	spend     pipeline.RunSpend
	lastSpend time.Time

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

// newProgress draws the bars of run runID on the terminal w.
func newProgress(w io.Writer, store ethos.Store, runID string, target int, inFlight func() string) *progress {
	pr := &progress{store: store, runID: runID, inFlight: inFlight, bars: map[string]*mpb.Bar{}, lastSet: map[string]time.Time{}}
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
	return pr.last.SpendLine(pr.spend.USD, pr.spend.CallErrors, pr.inFlight()+pr.spend.Batches)
}

// update takes a snapshot from the pipeline.
func (pr *progress) update(p generate.Progress) {
	pr.mu.Lock()
	pr.last = p
	refreshSpend := time.Since(pr.lastSpend) > time.Second
	pr.mu.Unlock()
	if refreshSpend {
		if s, err := pipeline.LoadRunSpend(pr.store, pr.runID); err == nil { // else a display refresh; the next one tries again
			pr.mu.Lock()
			pr.spend, pr.lastSpend = s, time.Now()
			pr.mu.Unlock()
		}
	}
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
}

// done finishes the display.
func (pr *progress) done() {
	for _, b := range pr.bars {
		b.Abort(false)
	}
	pr.p.Wait()
}
