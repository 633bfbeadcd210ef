package eval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/config"
	"github.com/ethos-toolkit/ethos/generate"
	"github.com/ethos-toolkit/ethos/jobs"
	"github.com/ethos-toolkit/ethos/llm"
)

// ErrCompleted is returned by Begin for an evaluation that has already
// finished.
var ErrCompleted = errors.New("evaluation already completed")

// Evaluator runs one evaluation. Its task handlers run inside durable
// jobs; Drive plans them until every answer, judgment and score is
// recorded.
//
// The wiring follows the generation pipeline's: Begin and Drive run under
// jobs.Run, whose context carries the client the tasks go on.
//
//	ev, err := eval.New(store, completer, settings)
//	err = jobs.Run(ctx, db, jobs.Config{Tasks: ev.Tasks(), Completer: completer, Queue: ev.ID()}, jobs.Work{
//		Prepare: func(ctx context.Context, _ int64) (bool, error) { _, err := ev.Begin(ctx); … },  // eval.ErrCompleted: nothing left to do
//		Drive:   func(ctx context.Context) error { summary, err = ev.Drive(ctx, progress); return err },
//	})
type Evaluator struct {
	store     ethos.Store
	completer ethos.Completer
	settings  Settings
	id        string
	// heldOut writes the held-out prompts; nil with a prompts file.
	heldOut *generate.Pipeline

	// stopErr is the first error that stopped the evaluation, kept with
	// its kind for Drive to return.
	stopErr atomic.Pointer[error]

	// The prompts and answers the handlers read. Prompts never change once
	// stored; Drive refreshes the answers on every look, before it queues
	// the judgments that need them.
	mu      sync.Mutex
	prompts map[string]ethos.EvalPrompt
	answers map[answerKey]ethos.Answer
}

type answerKey struct {
	prompt, model string
	sample        int
}

// New returns the evaluator of settings (resolved, see Resolve), whose
// model calls go through completer and whose rows live in store.
func New(store ethos.Store, completer ethos.Completer, settings Settings) (*Evaluator, error) {
	settings, err := settings.Resolve()
	if err != nil {
		return nil, err
	}
	e := &Evaluator{store: store, completer: completer, settings: settings, id: settings.ID()}
	if settings.PromptsFile == "" {
		e.heldOut = generate.NewPipeline(store, completer, e.heldOutSettings())
	}
	return e, nil
}

// Resolve returns s with its defaults applied, validated, and with the
// hashes of its prompts and training files filled in: the settings an
// evaluator runs, whose ID is the evaluation's.
func (s Settings) Resolve() (Settings, error) {
	s = s.WithDefaults()
	if err := s.Validate(); err != nil {
		return s, err
	}
	// The content of the files is part of the evaluation's identity: an
	// edited file is a new evaluation, not a continuation.
	if s.PromptsFile != "" && s.PromptsSHA256 == "" {
		_, sum, err := ReadPromptsFile(s.PromptsFile)
		if err != nil {
			return s, err
		}
		s.PromptsSHA256 = sum
	}
	hashes := make(map[string]string, len(s.TrainingSHA256))
	for path, sum := range s.TrainingSHA256 {
		hashes[path] = sum
	}
	for _, path := range s.TrainingFiles {
		if _, ok := hashes[path]; ok {
			continue
		}
		sum, err := HashFile(path)
		if err != nil {
			return s, ethos.Errorf(ethos.Config, "training file: %w", err)
		}
		hashes[path] = sum
	}
	if len(hashes) > 0 {
		s.TrainingSHA256 = hashes
	}
	return s, nil
}

// ID is the evaluation's ID, the ID of its run.
func (e *Evaluator) ID() string { return e.id }

// Settings are the evaluation's settings, defaults filled in.
func (e *Evaluator) Settings() Settings { return e.settings }

// Tasks are the handlers to register with the job queue: the evaluation's
// own and, when it writes its held-out prompts, the generation stages'.
func (e *Evaluator) Tasks() map[string]jobs.TaskFunc {
	tasks := map[string]jobs.TaskFunc{
		TaskAnswer: e.workAnswer,
		TaskJudge:  e.workJudge,
		TaskScore:  e.workScore,
	}
	if e.heldOut != nil {
		for name, fn := range e.heldOut.Tasks() {
			tasks[name] = fn
		}
	}
	return tasks
}

// Priorities order the queued tasks: judgments and scores finish results
// and go before answers, and the held-out prompts' generation keeps its
// own order.
func (e *Evaluator) Priorities() map[string]int {
	prios := map[string]int{TaskJudge: jobs.PriorityFirst, TaskScore: jobs.PriorityFirst, TaskAnswer: jobs.PriorityDefault}
	if e.heldOut != nil {
		for name, prio := range e.heldOut.Priorities() {
			prios[name] = prio
		}
	}
	return prios
}

// Begin creates the evaluation's run, or takes up the same run where an
// earlier process left it (a failed run is set running again). It reports
// whether the run was resumed, and ErrCompleted for a finished one. A run
// recorded as completed while some of its rows had failed at the provider
// (as ethos did before it told such runs apart) is taken up again too.
func (e *Evaluator) Begin(ctx context.Context) (resumed bool, err error) {
	run, err := e.store.Run(ctx, e.id)
	switch {
	case ethos.KindOf(err) == ethos.NotFound:
		params, err := json.Marshal(e.settings)
		if err != nil {
			return false, ethos.Errorf(ethos.Internal, "eval %s: encoding settings: %w", e.id, err)
		}
		return false, e.store.CreateRun(ctx, &ethos.Run{
			ID: e.id, Kind: ethos.RunKindEval, Status: ethos.RunRunning,
			ConfigHash: e.settings.ConfigHash, CharacterHash: generate.CharacterHash(e.settings.Character),
			Params: params,
		})
	case err != nil:
		return false, err
	case run.Kind != ethos.RunKindEval:
		return false, ethos.Errorf(ethos.Conflict, "run %s is a %s run, not an evaluation", e.id, run.Kind)
	case run.Status == ethos.RunCompleted:
		sum, err := Summarize(ctx, e.store, e.id)
		if err != nil {
			return true, err
		}
		if !sum.Incomplete() {
			return true, ErrCompleted
		}
	}
	if run.Status != ethos.RunRunning {
		if err := e.store.SetRunStatus(ctx, e.id, ethos.RunRunning, ""); err != nil {
			return true, err
		}
	}
	return true, nil
}

// Attach readies the evaluator to work the tasks of its evaluation, which
// another process created and drives (an ethos worker).
func (e *Evaluator) Attach(ctx context.Context) error {
	if e.heldOut != nil {
		return e.heldOut.Attach(ctx)
	}
	return nil
}

// Interrupted records that the evaluation, and the writing of its
// held-out prompts, stopped before they finished because the process was
// interrupted (Ctrl-C, a shutdown); Begin takes them up again. Call it once
// the queue has stopped, with a context that is still live.
func (e *Evaluator) Interrupted(ctx context.Context) error {
	if e.heldOut != nil {
		if err := e.heldOut.Interrupted(ctx); err != nil {
			return err
		}
	}
	return ethos.MarkInterrupted(ctx, e.store, e.id)
}

// Progress is a snapshot of an evaluation for progress displays.
type Progress struct {
	EvalID string
	// Phase is "prompts" while the held-out prompts are written, then
	// "answers", "judging", and "done".
	Phase string
	// HeldOut is the generation run writing the held-out prompts, during
	// that phase.
	HeldOut *generate.Progress
	Counts
	Elapsed time.Duration
}

// tick is how often Drive looks at the evaluation.
const tick = 250 * time.Millisecond

// idleLooksBeforeStuck is how many looks at an idle queue, with rows
// missing and nothing new to queue, it takes to call the evaluation stuck.
const idleLooksBeforeStuck = 3

// Drive writes the held-out prompts if they are not stored yet, then
// queues every answer, and every judgment and score as soon as the answers
// it needs are in, until all are recorded; it marks the run completed and
// returns the counts. When some of them failed at the provider until their
// jobs gave up, it marks the run failed instead and returns the counts
// with an *Incomplete error: running the evaluation again retries them. It
// stops early when the evaluation cannot go on (a missing key, the budget,
// too few held-out prompts). progress, if not nil, is called on every
// look. The queue must be started.
func (e *Evaluator) Drive(ctx context.Context, progress func(Progress)) (Summary, error) {
	start := time.Now()
	if err := e.ensurePrompts(ctx, func(p *generate.Progress) {
		if progress != nil {
			progress(Progress{EvalID: e.id, Phase: "prompts", HeldOut: p, Elapsed: time.Since(start)})
		}
	}); err != nil {
		return Summary{}, err
	}
	prompts, err := e.loadPrompts(ctx)
	if err != nil {
		return Summary{}, err
	}
	enqueued := map[string]bool{}
	idle := 0
	t := time.NewTicker(tick)
	defer t.Stop()
	for first := true; ; first = false {
		if err := e.checkRunning(ctx); err != nil {
			return Summary{}, err
		}
		// The queue is read before the rows: a job finishing between the
		// two would otherwise leave a look that still shows its row failed
		// or missing beside an empty queue, and end the evaluation
		// incomplete while its retry had in fact succeeded.
		busy, err := jobs.QueueBusy(ctx)
		if err != nil {
			return Summary{}, err
		}
		st, err := e.look(ctx, prompts)
		if err != nil {
			return Summary{}, err
		}
		added, err := e.plan(ctx, st, enqueued, first)
		if err != nil {
			return Summary{}, err
		}
		busy = busy || added > 0
		if progress != nil {
			progress(Progress{EvalID: e.id, Phase: st.phase(), Counts: st.counts, Elapsed: time.Since(start)})
		}
		switch {
		case st.missing == 0 && !busy && st.counts.Incomplete():
			return e.endIncomplete(ctx, st.counts)
		case st.missing == 0 && !busy:
			if err := e.store.SetRunStatus(ctx, e.id, ethos.RunCompleted, ""); err != nil {
				return Summary{}, err
			}
			return Summarize(ctx, e.store, e.id)
		case !busy:
			idle++
		default:
			idle = 0
		}
		if idle >= idleLooksBeforeStuck {
			// Every task was queued, the queue is empty, and rows are
			// still missing: a task ended without recording its result.
			err := ethos.Errorf(ethos.Internal, "eval %s: %d answers, judgments or scores are missing and no job is left to make them; run it again to retry them", e.id, st.missing)
			return Summary{}, e.stop(ctx, err)
		}
		select {
		case <-ctx.Done():
			return Summary{}, ctx.Err()
		case <-t.C:
		}
	}
}

// endIncomplete records the evaluation as failed with an *Incomplete
// error, since some of its rows failed at the provider, and returns its
// summary with that error.
func (e *Evaluator) endIncomplete(ctx context.Context, counts Counts) (Summary, error) {
	err := e.stop(ctx, &Incomplete{EvalID: e.id, Counts: counts})
	sum, serr := Summarize(context.WithoutCancel(ctx), e.store, e.id)
	if serr != nil {
		return Summary{}, errors.Join(err, serr)
	}
	return sum, err
}

// checkRunning returns the error that stopped the evaluation, if it did.
func (e *Evaluator) checkRunning(ctx context.Context) error {
	run, err := e.store.Run(ctx, e.id)
	if err != nil {
		return err
	}
	if run.Status != ethos.RunFailed {
		return nil
	}
	if stop := e.stopErr.Load(); stop != nil {
		return fmt.Errorf("eval %s stopped: %w", e.id, *stop)
	}
	return ethos.Errorf(ethos.Internal, "eval %s stopped: %s", e.id, run.Error)
}

// stop records why the evaluation cannot go on (a missing key, the
// budget…) and returns err.
func (e *Evaluator) stop(ctx context.Context, err error) error {
	e.stopErr.CompareAndSwap(nil, &err)
	if serr := e.store.SetRunStatus(context.WithoutCancel(ctx), e.id, ethos.RunFailed, err.Error()); serr != nil {
		return fmt.Errorf("%w (and recording it failed: %v)", err, serr)
	}
	return err
}

// active reports whether the evaluation still wants work. A task left in
// the queue after the evaluation stopped is dropped (jobs.Drop), not done,
// so that running the evaluation again queues it anew.
func (e *Evaluator) active(ctx context.Context, t jobs.Task) (bool, error) {
	if t.RunID != e.id {
		return false, ethos.Errorf(ethos.Invalid, "task %s of run %s reached evaluation %s", t.Key, t.RunID, e.id)
	}
	status, err := e.store.RunStatus(ctx, e.id)
	if err != nil {
		return false, err
	}
	if status != ethos.RunRunning {
		return false, jobs.Drop("task " + t.Key + ": evaluation " + e.id + " is " + string(status))
	}
	return true, nil
}

// loadPrompts reads the stored prompts into the evaluator's cache.
func (e *Evaluator) loadPrompts(ctx context.Context) ([]ethos.EvalPrompt, error) {
	prompts, err := e.store.EvalPrompts(ctx, e.id)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.prompts = make(map[string]ethos.EvalPrompt, len(prompts))
	for _, p := range prompts {
		e.prompts[p.Key] = p
	}
	return prompts, nil
}

// prompt returns a stored prompt, from the cache or else the store.
func (e *Evaluator) prompt(ctx context.Context, key string) (ethos.EvalPrompt, error) {
	e.mu.Lock()
	p, ok := e.prompts[key]
	e.mu.Unlock()
	if ok {
		return p, nil
	}
	if _, err := e.loadPrompts(ctx); err != nil {
		return ethos.EvalPrompt{}, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if p, ok := e.prompts[key]; ok {
		return p, nil
	}
	return ethos.EvalPrompt{}, ethos.Errorf(ethos.NotFound, "eval %s has no prompt %s", e.id, key)
}

// answer returns a recorded OK answer, from the cache or else the store.
func (e *Evaluator) answer(ctx context.Context, k answerKey) (ethos.Answer, error) {
	e.mu.Lock()
	a, ok := e.answers[k]
	e.mu.Unlock()
	if !ok || a.Status != ethos.AnswerOK {
		all, err := e.store.Answers(ctx, e.id)
		if err != nil {
			return ethos.Answer{}, err
		}
		e.setAnswers(all)
		e.mu.Lock()
		a, ok = e.answers[k]
		e.mu.Unlock()
	}
	if !ok || a.Status != ethos.AnswerOK {
		return ethos.Answer{}, ethos.Errorf(ethos.NotFound, "eval %s: no answer of %s to %s (sample %d) to judge", e.id, k.model, k.prompt, k.sample)
	}
	return a, nil
}

func (e *Evaluator) setAnswers(all []ethos.Answer) {
	m := make(map[answerKey]ethos.Answer, len(all))
	for _, a := range all {
		m[answerKey{a.PromptKey, a.Model, a.Sample}] = a
	}
	e.mu.Lock()
	e.answers = m
	e.mu.Unlock()
}

// enqueue adds a task of this evaluation, once per process.
func (e *Evaluator) enqueue(ctx context.Context, name, key string, payload any, enqueued map[string]bool) (bool, error) {
	if enqueued[key] {
		return false, nil
	}
	b, err := json.Marshal(payload)
	if err != nil {
		return false, ethos.Errorf(ethos.Internal, "task %s: %w", key, err)
	}
	q, err := jobs.FromContext(ctx)
	if err != nil {
		return false, err
	}
	if _, _, err := q.Enqueue(ctx, jobs.Task{Name: name, RunID: e.id, Key: key, Payload: b}); err != nil {
		return false, err
	}
	enqueued[key] = true
	return true, nil
}

// call makes one model call labelled for the ledger and returns the
// response with the call's ledger key.
func (e *Evaluator) call(ctx context.Context, stage, item string, req ethos.Request) (ethos.Response, string, error) {
	req.Metadata = map[string]string{"run": e.id, "stage": stage, "item": item}
	prio, mode := llm.PriorityFinish, e.settings.JudgeMode // judgments and scores
	if stage == TaskAnswer {
		prio, mode = llm.PriorityMiddle, e.settings.AnswerMode
	}
	ctx = llm.WithPriority(ctx, prio)
	if mode == config.ModeBatch {
		ctx = llm.WithMode(ctx, llm.ModeBatch)
	}
	resp, err := e.completer.Complete(ctx, req)
	return resp, llm.CallKey(req, resp), err
}
