package generate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/dedup"
	"github.com/ethos-toolkit/ethos/jobs"
)

// ErrRunCompleted is returned by Begin for a run that has already
// produced its dataset.
var ErrRunCompleted = errors.New("run already completed")

// Begin creates the pipeline's run, or takes up the same run where an
// earlier process left it. It reports whether the run was resumed. ctx
// carries the job client the run's tasks go on (jobs.Run's Prepare).
func (p *Pipeline) Begin(ctx context.Context) (resumed bool, err error) {
	if s := p.settings.StopAfter; s != "" && s != StageDocument {
		return false, ethos.Errorf(ethos.Config, "generate: StopAfter %q: want empty or %q", s, StageDocument)
	}
	if resumed, err := p.startRun(ctx, "generate", p.settings.ConfigHash, p.settings.Character, p.settings); err != nil || !resumed {
		return resumed, err
	}
	if err := p.reloadDuplicates(ctx); err != nil {
		return true, err
	}
	return true, p.requeue(ctx)
}

// startRun creates the pipeline's run of kind with params, or sets the
// run running again; it reports whether the run existed, and
// ErrRunCompleted for one that finished.
func (p *Pipeline) startRun(ctx context.Context, kind, configHash string, ch ethos.Character, params any) (resumed bool, err error) {
	run, err := p.store.Run(ctx, p.runID)
	switch {
	case ethos.KindOf(err) == ethos.NotFound:
		return false, p.store.CreateRun(ctx, &ethos.Run{
			ID: p.runID, Kind: kind, Status: ethos.RunRunning,
			ConfigHash: configHash, CharacterHash: CharacterHash(ch), Params: mustJSON(params),
		})
	case err != nil:
		return false, err
	case run.Status == ethos.RunCompleted:
		return true, ErrRunCompleted
	}
	if run.Status != ethos.RunRunning {
		if err := p.store.SetRunStatus(ctx, p.runID, ethos.RunRunning, ""); err != nil {
			return true, err
		}
	}
	return true, nil
}

// requeueStages calls requeue for every pending or failed item of stages.
func (p *Pipeline) requeueStages(ctx context.Context, stages []string, requeue func(context.Context, ethos.Item) error) error {
	for _, stage := range stages {
		for _, status := range []ethos.ItemStatus{ethos.ItemPending, ethos.ItemFailed} {
			items, err := p.store.Items(ctx, ethos.ItemFilter{RunID: p.runID, Stage: stage, Status: status})
			if err != nil {
				return err
			}
			for _, it := range items {
				if err := requeue(ctx, it); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// stopped returns the error that stopped the run, if it failed.
func (p *Pipeline) stopped(ctx context.Context) error {
	run, err := p.store.Run(ctx, p.runID)
	if err != nil {
		return err
	}
	if run.Status == ethos.RunFailed {
		if stop := p.stopErr.Load(); stop != nil {
			return fmt.Errorf("run %s stopped: %w", p.runID, *stop)
		}
		return ethos.Errorf(ethos.Internal, "run %s stopped: %s", p.runID, run.Error)
	}
	return nil
}

// Attach readies the pipeline to work the tasks of its run, which another
// process created and drives (an ethos worker): it loads what the run has
// accepted so far into the near-duplicate indexes. Near-duplicates
// accepted by other processes after this are not seen by this one.
func (p *Pipeline) Attach(ctx context.Context) error {
	return p.reloadDuplicates(ctx)
}

// Interrupted records that the run stopped before it finished because its
// process was interrupted (Ctrl-C, a shutdown); Begin takes it up again.
// Call it once the queue has stopped, with a context that is still live.
func (p *Pipeline) Interrupted(ctx context.Context) error {
	return ethos.MarkInterrupted(ctx, p.store, p.runID)
}

// requeue enqueues again the task of every item a resumed run has pending
// or failed: those whose job gave up (a burst of provider errors), was
// cancelled (a refusal that stopped the run) or was lost. A task whose job
// is still queued, running or completed is not added twice.
func (p *Pipeline) requeue(ctx context.Context) error {
	return p.requeueStages(ctx, []string{StageIdeas, StageDocument, StageResponse, StageRejected, StageConfirm}, p.requeueItem)
}

// requeueItem enqueues the task that makes it, with the payload it was
// first given.
func (p *Pipeline) requeueItem(ctx context.Context, it ethos.Item) error {
	switch it.Stage {
	case StageIdeas:
		var bd batchData
		if err := json.Unmarshal(it.Data, &bd); err != nil {
			return ethos.Errorf(ethos.Internal, "item %s: %w", it.Key, err)
		}
		return p.enqueue(ctx, TaskIdeas, it.Key, batchPayload{Category: bd.Category, Batch: bd.Batch, Want: bd.Requested, Attempt: it.Attempt, Feedback: bd.Feedback})
	case StageDocument:
		var dd documentData
		if err := json.Unmarshal(it.Data, &dd); err != nil {
			return ethos.Errorf(ethos.Internal, "item %s: %w", it.Key, err)
		}
		return p.enqueue(ctx, TaskDocument, it.Key, taskPayload{IdeaID: it.ParentID, Attempt: it.Attempt, Feedback: dd.Feedback})
	case StageResponse:
		var rd responseData
		if err := json.Unmarshal(it.Data, &rd); err != nil {
			return ethos.Errorf(ethos.Internal, "item %s: %w", it.Key, err)
		}
		doc, err := p.store.Item(ctx, it.ParentID)
		if err != nil {
			return err
		}
		return p.enqueue(ctx, TaskResponse, it.Key, taskPayload{IdeaID: doc.ParentID, DocumentID: doc.ID, Attempt: it.Attempt, Feedback: rd.Feedback})
	case StageRejected:
		resp, err := p.store.Item(ctx, it.ParentID)
		if err != nil {
			return err
		}
		doc, err := p.store.Item(ctx, resp.ParentID)
		if err != nil {
			return err
		}
		return p.enqueue(ctx, TaskRejected, it.Key, pairPayload{IdeaID: doc.ParentID, DocumentID: doc.ID, ResponseID: resp.ID, Attempt: it.Attempt})
	case StageConfirm:
		rej, err := p.store.Item(ctx, it.ParentID)
		if err != nil {
			return err
		}
		resp, err := p.store.Item(ctx, rej.ParentID)
		if err != nil {
			return err
		}
		doc, err := p.store.Item(ctx, resp.ParentID)
		if err != nil {
			return err
		}
		return p.enqueueConfirm(ctx, pairPayload{IdeaID: doc.ParentID, DocumentID: doc.ID, ResponseID: resp.ID, Attempt: rej.Attempt}, &rej)
	}
	return nil
}

// reloadDuplicates refills the near-duplicate indexes from what a resumed
// run has already accepted.
func (p *Pipeline) reloadDuplicates(ctx context.Context) error {
	for _, src := range []struct {
		stage string
		dups  *dedup.Index
		text  func(json.RawMessage) string
	}{
		{StageIdea, p.ideaDups, func(raw json.RawMessage) string {
			var d ideaData
			json.Unmarshal(raw, &d)
			return d.Summary + "\n" + d.Situation
		}},
		{StageDocument, p.docDups, func(raw json.RawMessage) string {
			var d documentData
			json.Unmarshal(raw, &d)
			return d.Body
		}},
		{StageResponse, p.replyDups, func(raw json.RawMessage) string {
			var d responseData
			json.Unmarshal(raw, &d)
			return d.Reply
		}},
	} {
		// Page through them: a large run's documents do not all fit
		// comfortably in memory at once.
		for after := int64(0); ; {
			items, err := p.store.Items(ctx, ethos.ItemFilter{RunID: p.runID, Stage: src.stage, Status: ethos.ItemAccepted, AfterID: after, Limit: 500})
			if err != nil {
				return err
			}
			for _, it := range items {
				src.dups.Add(int(it.ID), src.text(it.Data))
				after = it.ID
			}
			if len(items) < 500 {
				break
			}
		}
	}
	return nil
}

// CharacterHash identifies a character's content, for provenance.
func CharacterHash(ch ethos.Character) string {
	b, _ := json.Marshal(ch)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Progress is a snapshot of a run for progress displays.
type Progress struct {
	RunID    string
	Target   int
	Examples int // accepted examples counting toward the target
	// Stages counts items per stage and status.
	Stages  map[string]map[ethos.ItemStatus]int
	Elapsed time.Duration
}

// Shortfall is the error of a run that stopped before reaching its target.
type Shortfall struct {
	Target, Got int
	PerCategory map[string][2]int // category → {got, planned} for short ones
	Why         string
}

func (s *Shortfall) Error() string {
	var short []string
	for _, name := range sortedKeys(s.PerCategory) {
		v := s.PerCategory[name]
		short = append(short, fmt.Sprintf("%s %d/%d", name, v[0], v[1]))
	}
	return fmt.Sprintf("shortfall: %d of %d examples (%s); short categories: %s", s.Got, s.Target, s.Why, strings.Join(short, ", "))
}

// tick is how often Drive looks at the run.
const tick = 250 * time.Millisecond

// idleTicksBeforeShortfall is how many looks at an idle queue with nothing
// left to ask for it takes to declare a shortfall.
const idleTicksBeforeShortfall = 3

// Drive plans the run and keeps it supplied with idea batches until every
// category has its examples, the run fails (a missing key, the budget), or
// nothing more can be done (a shortfall, reported as *Shortfall). progress,
// if not nil, is called on every look. ctx carries the job client working
// the run (jobs.Run's Drive).
func (p *Pipeline) Drive(ctx context.Context, progress func(Progress)) error {
	start := time.Now()
	quotas := PlanCategories(p.settings.Character.Categories, p.settings.Examples, p.settings.Weights)
	enqueued := map[string]int{} // batch key → ideas wanted, until its item appears
	idle := 0
	woken := false // this look was woken early, not by the ticker
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		if err := p.stopped(ctx); err != nil {
			return err
		}
		// Read before the state, so a task finishing meanwhile counts
		// towards the next wake-up rather than being missed.
		finished := p.finished.Load()
		// The queue too, so that an idle look is one whose state no
		// task changed (jobs.QueueBusy).
		busy, err := jobs.QueueBusy(ctx)
		if err != nil {
			return err
		}
		st, err := p.state(ctx, quotas, enqueued)
		if err != nil {
			return err
		}
		if progress != nil {
			progress(Progress{RunID: p.runID, Target: p.settings.Examples, Examples: st.counted, Stages: st.stages, Elapsed: time.Since(start)})
		}
		if st.counted >= p.settings.Examples {
			return nil
		}
		p.wakeAt.Store(finished + int64(p.settings.Examples-st.counted))
		added, err := p.topUp(ctx, quotas, st, enqueued)
		if err != nil {
			return err
		}
		if added == 0 && !busy {
			if !woken {
				idle++ // idle looks are counted on the ticker's time only
			}
		} else {
			idle = 0
		}
		if idle >= idleTicksBeforeShortfall {
			why, err := p.shortfallWhy(ctx, quotas, st)
			if err != nil {
				return err
			}
			sf := &Shortfall{Target: p.settings.Examples, Got: st.counted, PerCategory: map[string][2]int{}, Why: why}
			for name, q := range quotas {
				if st.examples[name] < q {
					sf.PerCategory[name] = [2]int{st.examples[name], q}
				}
			}
			return p.fallShort(ctx, sf)
		}
		if woken, err = p.waitLook(ctx, t); err != nil {
			return err
		}
	}
}

// fallShort records the shortfall sf as the run's failure and returns it.
func (p *Pipeline) fallShort(ctx context.Context, sf *Shortfall) error {
	p.store.SetRunStatus(context.WithoutCancel(ctx), p.runID, ethos.RunFailed, sf.Error())
	return sf
}

// waitTick waits for t's next tick, or returns ctx's error.
func waitTick(ctx context.Context, t *time.Ticker) error {
	_, err := waitWoken(ctx, t, nil)
	return err
}

// waitLook is waitTick for Drive, which the pipeline may also wake (woken
// is then true).
func (p *Pipeline) waitLook(ctx context.Context, t *time.Ticker) (woken bool, err error) {
	return waitWoken(ctx, t, p.wake)
}

// waitWoken waits for t's next tick or a value on wake (a nil channel
// never has one).
func waitWoken(ctx context.Context, t *time.Ticker, wake <-chan struct{}) (woken bool, err error) {
	select {
	case <-ctx.Done():
		return false, ctx.Err()
	case <-t.C:
		return false, nil
	case <-wake:
		return true, nil
	}
}

// shortfallWhy says what stopped a run short: items whose tasks gave up on
// the provider (by error kind; a rerun retries them), items quarantined
// after every attempt was rejected, and the categories whose idea batches
// ran out.
func (p *Pipeline) shortfallWhy(ctx context.Context, quotas map[string]int, st runState) (string, error) {
	var parts []string
	failed, err := p.store.Items(ctx, ethos.ItemFilter{RunID: p.runID, Status: ethos.ItemFailed, NoData: true})
	if err != nil {
		return "", err
	}
	if len(failed) > 0 {
		kinds := map[string]int{}
		for _, it := range failed {
			kind, _, _ := strings.Cut(it.Reason, ":")
			kinds[kind]++
		}
		var byKind []string
		for _, k := range sortedKeys(kinds) {
			byKind = append(byKind, fmt.Sprintf("%s %d", k, kinds[k]))
		}
		parts = append(parts, fmt.Sprintf("%d items failed at the provider (%s) and are retried when the same command runs again",
			len(failed), strings.Join(byKind, ", ")))
	}
	quarantined := 0
	for _, byStatus := range st.stages {
		quarantined += byStatus[ethos.ItemQuarantined]
	}
	if quarantined > 0 {
		parts = append(parts, fmt.Sprintf("%d items quarantined after %d rejected attempts each", quarantined, p.maxAttempts()))
	}
	var exhausted []string
	for _, name := range sortedKeys(quotas) {
		if st.examples[name] < quotas[name] && st.batches[name] >= p.settings.Limits.MaxIdeaBatches {
			exhausted = append(exhausted, name)
		}
	}
	if len(exhausted) > 0 {
		parts = append(parts, fmt.Sprintf("all %d idea batches used in %s", p.settings.Limits.MaxIdeaBatches, strings.Join(exhausted, ", ")))
	}
	if len(parts) == 0 {
		parts = append(parts, "no work left to do: every idea was used")
	}
	return strings.Join(parts, "; "), nil
}

// runState is what Drive needs to know about the run's items.
type runState struct {
	stages       map[string]map[ethos.ItemStatus]int
	ideas        map[string]int // category → ideas accepted (done or in flight)
	examples     map[string]int // category → accepted replies
	pendingWant  map[string]int // category → ideas asked for but not yet answered
	batches      map[string]int // category → next batch number
	counted      int            // examples toward the target: min(got, quota) per category
	categoryOfCK map[string]string
}

func (p *Pipeline) state(ctx context.Context, quotas map[string]int, enqueued map[string]int) (runState, error) {
	st := runState{stages: map[string]map[ethos.ItemStatus]int{}, ideas: map[string]int{}, examples: map[string]int{},
		pendingWant: map[string]int{}, batches: map[string]int{}, categoryOfCK: map[string]string{}}
	for _, c := range p.settings.Character.Categories {
		st.categoryOfCK[p.categoryKey(c.Name)] = c.Name
	}
	counts, err := p.store.CountItems(ctx, p.runID)
	if err != nil {
		return st, err
	}
	for _, c := range counts {
		if st.stages[c.Stage] == nil {
			st.stages[c.Stage] = map[ethos.ItemStatus]int{}
		}
		st.stages[c.Stage][c.Status] = c.Count
	}
	// Keys carry the category: "<stage>/<category key>/<batch>/…".
	catOf := func(key string) (string, int) {
		parts := strings.Split(key, "/")
		if len(parts) < 3 {
			return "", 0
		}
		var batch int
		fmt.Sscanf(parts[2], "%d", &batch)
		return st.categoryOfCK[parts[1]], batch
	}
	note := func(cat string, batch int) {
		if batch+1 > st.batches[cat] {
			st.batches[cat] = batch + 1
		}
	}
	batchItems, err := p.store.Items(ctx, ethos.ItemFilter{RunID: p.runID, Stage: StageIdeas})
	if err != nil {
		return st, err
	}
	for _, it := range batchItems {
		cat, batch := catOf(it.Key)
		note(cat, batch)
		delete(enqueued, it.Key)
		if it.Status == ethos.ItemPending {
			var bd batchData
			json.Unmarshal(it.Data, &bd)
			st.pendingWant[cat] += bd.Requested
		}
	}
	for key, want := range enqueued {
		cat, batch := catOf(key)
		note(cat, batch)
		st.pendingWant[cat] += want
	}
	if err := p.countAccepted(ctx, StageIdea, st.categoryOfCK, st.ideas); err != nil {
		return st, err
	}
	// What counts toward the target: accepted replies, or accepted
	// documents for a run that stops after them.
	counted := StageResponse
	switch {
	case p.settings.StopAfter == StageDocument:
		counted = StageDocument
	case p.confirming():
		counted = StageConfirm // a pair is whole once the judge confirms it
	case p.pairs():
		counted = StageRejected // a pair is whole with its rejected side
	}
	if err := p.countAccepted(ctx, counted, st.categoryOfCK, st.examples); err != nil {
		return st, err
	}
	for name, q := range quotas {
		st.counted += min(st.examples[name], q)
	}
	return st, nil
}

// countAccepted adds to perCategory the run's accepted items of stage by
// category, counted in the store: Drive looks every tick, and listing a
// large run's items on each look made the looks quadratic in the run's
// size (every look read all of them). Keys of an unknown category key
// count under "", as catOf has it.
func (p *Pipeline) countAccepted(ctx context.Context, stage string, categoryOfCK map[string]string, perCategory map[string]int) error {
	counts, err := p.store.CountItemsByKeySegment(ctx, p.runID, stage, ethos.ItemAccepted)
	if err != nil {
		return err
	}
	for ck, n := range counts {
		perCategory[categoryOfCK[ck]] += n
	}
	return nil
}

// topUp asks for more ideas in every category whose accepted and
// requested ideas fall short of its quota. It returns how many batches it
// queued.
func (p *Pipeline) topUp(ctx context.Context, quotas map[string]int, st runState, enqueued map[string]int) (int, error) {
	perCall := max(p.settings.Generate.Ideas.PerCall, 1)
	var tasks []jobs.Task
	for _, name := range sortedKeys(quotas) {
		// Every batch the category still needs goes out at once: the
		// job queue's priorities put them behind the documents and
		// replies already under way, and at zero latency one batch per
		// category per look would starve the later stages.
		need := quotas[name] - st.ideas[name] - st.pendingWant[name]
		for batch := st.batches[name]; need > 0 && batch < p.settings.Limits.MaxIdeaBatches; batch++ {
			pl := batchPayload{Category: name, Batch: batch, Want: min(perCall, need), Attempt: 1}
			key := batchKey(p.categoryKey(name), pl.Batch, 1)
			tasks = append(tasks, jobs.Task{Name: TaskIdeas, RunID: p.runID, Key: key, Payload: mustJSON(pl)})
			enqueued[key] = pl.Want
			need -= pl.Want
		}
	}
	if err := enqueueMany(ctx, tasks); err != nil {
		for _, t := range tasks {
			delete(enqueued, t.Key)
		}
		return 0, err
	}
	return len(tasks), nil
}
