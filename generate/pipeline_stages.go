package generate

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/dedup"
	"github.com/ethos-toolkit/ethos/jobs"
	"github.com/ethos-toolkit/ethos/review"
)

// maxAttempts is how many times an item is written before it is
// quarantined.
func (p *Pipeline) maxAttempts() int {
	if n := p.settings.Generate.Review.MaxAttempts; n > 0 {
		return n
	}
	return 3
}

func (p *Pipeline) enqueue(ctx context.Context, name, key string, payload any) error {
	q, err := jobs.FromContext(ctx)
	if err != nil {
		return err
	}
	_, _, err = q.Enqueue(ctx, jobs.Task{Name: name, RunID: p.runID, Key: key, Payload: mustJSON(payload)})
	return err
}

// enqueueMany adds the tasks on the client working ctx.
func enqueueMany(ctx context.Context, tasks []jobs.Task) error {
	q, err := jobs.FromContext(ctx)
	if err != nil {
		return err
	}
	_, err = q.EnqueueMany(ctx, tasks)
	return err
}

// takeUp decides whether a task has work to do on its item: a pending
// item is worked; a failed one (its last task gave up on the provider) is
// set pending again and worked; any other is done.
func (p *Pipeline) takeUp(ctx context.Context, it *ethos.Item) (done bool, err error) {
	switch it.Status {
	case ethos.ItemPending:
		return false, nil
	case ethos.ItemFailed:
		it.Status, it.Reason = ethos.ItemPending, ""
		return false, p.store.UpdateItem(ctx, it)
	}
	return true, nil
}

// giveUp returns err, the failure of a task's call, to the job layer; when
// it is the task's last try (see jobs.LastTry) it first marks the item
// failed with the error's kind, so the run reports it and a rerun retries
// it instead of waiting for a job that will never run again.
func (p *Pipeline) giveUp(ctx context.Context, it *ethos.Item, err error) error {
	if !jobs.LastTry(ctx, err) {
		return err
	}
	it.Status, it.Reason = ethos.ItemFailed, failureReason(err)
	if uerr := p.store.UpdateItem(context.WithoutCancel(ctx), it); uerr != nil {
		return fmt.Errorf("%w (and marking item %s failed: %v)", err, it.Key, uerr)
	}
	return err
}

// rejectFailed handles a failed call of item it: a failure another attempt
// could fix rejects the item with the reason (and returns nil); any other
// goes back to the job layer (see failCall and giveUp).
func (p *Pipeline) rejectFailed(ctx context.Context, it *ethos.Item, err error) error {
	reject, ferr := p.failCall(ctx, err)
	if !reject {
		return p.giveUp(ctx, it, ferr)
	}
	it.Status, it.Reason = ethos.ItemRejected, failureReason(err)
	return nil
}

func batchKey(catKey string, batch, attempt int) string {
	return fmt.Sprintf("ideas/%s/%03d/%d", catKey, batch, attempt)
}

// workIdeas asks for one batch of ideas in one category and turns every
// new, distinct idea into an item with its document task queued.
func (p *Pipeline) workIdeas(ctx context.Context, t jobs.Task) error {
	if ok, err := p.active(ctx, t); err != nil || !ok {
		return err
	}
	var pl batchPayload
	if err := json.Unmarshal(t.Payload, &pl); err != nil {
		return ethos.Errorf(ethos.Invalid, "task %s: payload: %w", t.Key, err)
	}
	cat, ok := p.category(pl.Category)
	if !ok {
		return p.stopRun(ctx, ethos.Errorf(ethos.Config, "task %s: category %q is not in the character", t.Key, pl.Category))
	}
	g := p.settings.Generate
	batch := &ethos.Item{RunID: p.runID, Stage: StageIdeas, Key: t.Key, Attempt: pl.Attempt, Status: ethos.ItemPending,
		Data: mustJSON(batchData{Category: cat.Name, Batch: pl.Batch, Requested: pl.Want, Model: g.Ideas.Model, Feedback: pl.Feedback})}
	if _, err := p.store.PutItem(ctx, batch); err != nil {
		return err
	}
	if done, err := p.takeUp(ctx, batch); err != nil || done {
		return err // done: finished before an interruption
	}

	existing, err := p.ideaSummaries(ctx, cat.Name)
	if err != nil {
		return err
	}
	prompt := IdeasPrompt(p.settings.Character, cat, pl.Want, existing)
	prompt.User = withFeedback(prompt.User, pl.Feedback, fmt.Sprintf("Batch: %d-%d", p.settings.Seed, pl.Batch))
	resp, callKey, err := p.call(ctx, StageIdeas, t.Key, g.Ideas.Model, prompt, g.Ideas.MaxTokens, g.Ideas.Temperature, false)
	if err == nil {
		err = ethos.CheckStop(resp)
	}
	var ideas []Idea
	if err == nil {
		ideas, err = ParseIdeas(resp.Text, p.settings.Character.Traits, pl.Want)
	}
	var bd batchData
	json.Unmarshal(batch.Data, &bd)
	bd.CallKey = callKey
	if err != nil {
		reject, ferr := p.failCall(ctx, err)
		if !reject {
			return p.giveUp(ctx, batch, ferr)
		}
		batch.Status, batch.Reason, batch.Data = ethos.ItemRejected, failureReason(err), mustJSON(bd)
		if pl.Attempt >= p.maxAttempts() {
			batch.Status = ethos.ItemQuarantined
		}
		if err := p.store.UpdateItem(ctx, batch); err != nil {
			return err
		}
		if batch.Status == ethos.ItemRejected {
			next := pl
			next.Attempt, next.Feedback = pl.Attempt+1, batch.Reason
			return p.enqueue(ctx, TaskIdeas, batchKey(p.categoryKey(cat.Name), pl.Batch, next.Attempt), next)
		}
		return nil
	}

	var docs []jobs.Task
	for i, idea := range ideas {
		it := &ethos.Item{RunID: p.runID, Stage: StageIdea, ParentID: batch.ID, Attempt: 1,
			Key:    fmt.Sprintf("idea/%s/%03d/%d", p.categoryKey(cat.Name), pl.Batch, i),
			Status: ethos.ItemAccepted, Data: mustJSON(ideaData{Category: cat.Name, Batch: pl.Batch, Idea: idea})}
		created, err := p.putDistinct(ctx, it, p.ideaDups, idea.Summary+"\n"+idea.Situation, "idea")
		if err != nil {
			return err
		}
		if created && it.Status == ethos.ItemAccepted {
			p.noteIdea(cat.Name, idea.Summary)
		}
		if it.Status == ethos.ItemAccepted {
			docs = append(docs, jobs.Task{Name: TaskDocument, RunID: p.runID, Key: docKey(it.Key, 1),
				Payload: mustJSON(taskPayload{IdeaID: it.ID, Attempt: 1})})
		}
	}
	// One insert for the batch's documents; a retried batch task finds its
	// ideas stored and enqueues them again, which adds only what is missing.
	if err := enqueueMany(ctx, docs); err != nil {
		return err
	}
	bd.Received = len(ideas)
	batch.Status, batch.Data = ethos.ItemAccepted, mustJSON(bd)
	if len(ideas) < pl.Want {
		batch.Reason = fmt.Sprintf("short batch: %d of %d ideas", len(ideas), pl.Want)
	}
	return p.store.UpdateItem(ctx, batch)
}

// putDistinct stores a new item unless it is a near-duplicate of one the
// run already accepted, in which case it is stored rejected with the
// reason. An item that existed before (a resumed task) keeps its status.
//
// The check and the index entry happen together in memory, under a
// provisional negative ID, so two concurrent near-identical texts cannot
// both pass; the store write runs outside the lock, and the entry takes
// the item's ID once it is written. A text found to repeat one still being
// written waits for that write, to name the item it repeats.
func (p *Pipeline) putDistinct(ctx context.Context, it *ethos.Item, dups *dedup.Index, text, what string) (bool, error) {
	if it.Status != ethos.ItemAccepted {
		return p.store.PutItem(ctx, it)
	}
	for {
		p.dedupMu.Lock()
		p.lastProvisional--
		prov := p.lastProvisional
		dupOf, sim, isDup := dups.CheckAndAdd(prov, text)
		var pending *provisional
		if isDup && dupOf < 0 {
			pending = p.provisional[dupOf]
		} else if !isDup {
			pending = &provisional{written: make(chan struct{})}
			p.provisional[prov] = pending
		}
		p.dedupMu.Unlock()

		if !isDup {
			return p.putProvisional(ctx, it, dups, prov, pending)
		}
		if pending != nil {
			select {
			case <-pending.written:
			case <-ctx.Done():
				return false, ctx.Err()
			}
			if pending.id <= 0 {
				continue // that write failed or found an older item: check again
			}
			dupOf = pending.id
		}
		it.Status = ethos.ItemRejected
		it.Reason = fmt.Sprintf("near-duplicate: of %s #%d (similarity %.2f)", what, dupOf, sim)
		return p.store.PutItem(ctx, it)
	}
}

// putProvisional writes it, whose text is indexed under prov, and then
// indexes the text under the item's ID, or drops it when the item was not
// created (an older one holds its key, and is indexed already).
func (p *Pipeline) putProvisional(ctx context.Context, it *ethos.Item, dups *dedup.Index, prov int, pending *provisional) (bool, error) {
	created, err := p.store.PutItem(ctx, it)
	if err == nil && created && it.Status == ethos.ItemAccepted {
		dups.Rename(prov, int(it.ID))
		pending.id = int(it.ID)
	} else {
		dups.Remove(prov)
	}
	p.dedupMu.Lock()
	delete(p.provisional, prov)
	p.dedupMu.Unlock()
	close(pending.written)
	return created, err
}

// provisional is a text indexed for near-duplicates before its item is
// written. written closes when the write is over; id is then the item's ID,
// or 0 when no new accepted item came of it.
type provisional struct {
	written chan struct{}
	id      int
}

func docKey(ideaKey string, attempt int) string {
	return fmt.Sprintf("doc/%s/%d", strings.TrimPrefix(ideaKey, "idea/"), attempt)
}

func respKey(ideaKey string, attempt int) string {
	return fmt.Sprintf("resp/%s/%d", strings.TrimPrefix(ideaKey, "idea/"), attempt)
}

// workDocument writes one attempt at an idea's context document.
func (p *Pipeline) workDocument(ctx context.Context, t jobs.Task) error {
	if ok, err := p.active(ctx, t); err != nil || !ok {
		return err
	}
	var pl taskPayload
	if err := json.Unmarshal(t.Payload, &pl); err != nil {
		return ethos.Errorf(ethos.Invalid, "task %s: payload: %w", t.Key, err)
	}
	idea, ideaItem, err := p.loadIdea(ctx, pl.IdeaID)
	if err != nil || ideaItem.Status != ethos.ItemAccepted {
		return err
	}
	cat, _ := p.category(idea.Category)
	g := p.settings.Generate
	doc := &ethos.Item{RunID: p.runID, Stage: StageDocument, Key: t.Key, ParentID: ideaItem.ID, Attempt: pl.Attempt,
		Status: ethos.ItemPending, Data: mustJSON(documentData{Model: g.Documents.Model, Feedback: pl.Feedback})}
	if _, err := p.store.PutItem(ctx, doc); err != nil {
		return err
	}
	if done, err := p.takeUp(ctx, doc); err != nil {
		return err
	} else if !done {
		prompt := DocumentPrompt(p.settings.Character, cat, idea.Idea, DocumentType(p.settings.Seed, ideaItem.Key), g.Documents.Pages*500)
		prompt.User = withFeedback(prompt.User, pl.Feedback, "")
		resp, callKey, err := p.call(ctx, StageDocument, t.Key, g.Documents.Model, prompt, g.Documents.MaxTokens, g.Documents.Temperature, g.Documents.Stream)
		var d Document
		if err == nil {
			d, err = ParseDocument(resp.Text)
		}
		data := documentData{Document: d, Model: g.Documents.Model, CallKey: callKey, StopReason: resp.StopReason}
		switch {
		case err != nil:
			reject, ferr := p.failCall(ctx, err)
			if !reject {
				return p.giveUp(ctx, doc, ferr)
			}
			doc.Status, doc.Reason = ethos.ItemRejected, failureReason(err)
		default:
			data.Findings = p.docRules.Document(d, resp.StopReason)
			if len(data.Findings) > 0 {
				doc.Status, doc.Reason = ethos.ItemRejected, describeFindings(data.Findings)
			} else {
				doc.Status = ethos.ItemAccepted
			}
		}
		doc.Data = mustJSON(data)
		if doc.Status == ethos.ItemAccepted {
			if dupOf, sim, isDup := p.docDups.CheckAndAdd(int(doc.ID), d.Body); isDup {
				doc.Status, doc.Reason = ethos.ItemRejected, fmt.Sprintf("near-duplicate: of document #%d (similarity %.2f)", dupOf, sim)
			}
		}
		if err := p.store.UpdateItem(ctx, doc); err != nil {
			return err
		}
	}
	return p.afterDocument(ctx, ideaItem, doc)
}

// afterDocument queues what follows a document attempt: the reply for an
// accepted one, another attempt for a rejected one, or quarantine for the
// idea when the attempts are spent.
func (p *Pipeline) afterDocument(ctx context.Context, ideaItem ethos.Item, doc *ethos.Item) error {
	switch doc.Status {
	case ethos.ItemAccepted:
		if p.settings.StopAfter == StageDocument {
			return nil
		}
		return p.enqueue(ctx, TaskResponse, respKey(ideaItem.Key, 1), taskPayload{IdeaID: ideaItem.ID, DocumentID: doc.ID, Attempt: 1})
	case ethos.ItemRejected:
		if doc.Attempt < p.maxAttempts() {
			return p.enqueue(ctx, TaskDocument, docKey(ideaItem.Key, doc.Attempt+1), taskPayload{IdeaID: ideaItem.ID, Attempt: doc.Attempt + 1, Feedback: doc.Reason})
		}
		return p.quarantine(ctx, ideaItem, doc, "document")
	}
	return nil
}

// quarantine gives up on an idea whose last attempt failed, keeping the
// reason; the run tops up with a new idea.
func (p *Pipeline) quarantine(ctx context.Context, ideaItem ethos.Item, last *ethos.Item, what string) error {
	last.Status = ethos.ItemQuarantined
	if err := p.store.UpdateItem(ctx, last); err != nil {
		return err
	}
	ideaItem.Status = ethos.ItemQuarantined
	ideaItem.Reason = fmt.Sprintf("quarantined: %s failed %d attempts; last: %s", what, last.Attempt, last.Reason)
	return p.store.UpdateItem(ctx, &ideaItem)
}

// workResponse writes one attempt at the in-character reply to a document
// and reviews it; an accepted reply is a training example.
func (p *Pipeline) workResponse(ctx context.Context, t jobs.Task) error {
	if ok, err := p.active(ctx, t); err != nil || !ok {
		return err
	}
	var pl taskPayload
	if err := json.Unmarshal(t.Payload, &pl); err != nil {
		return ethos.Errorf(ethos.Invalid, "task %s: payload: %w", t.Key, err)
	}
	_, ideaItem, err := p.loadIdea(ctx, pl.IdeaID)
	if err != nil || ideaItem.Status != ethos.ItemAccepted {
		return err
	}
	docItem, err := p.store.Item(ctx, pl.DocumentID)
	if err != nil {
		return err
	}
	var doc documentData
	if err := json.Unmarshal(docItem.Data, &doc); err != nil {
		return ethos.Errorf(ethos.Internal, "document %d: %w", docItem.ID, err)
	}
	g := p.settings.Generate
	r := &ethos.Item{RunID: p.runID, Stage: StageResponse, Key: t.Key, ParentID: docItem.ID, Attempt: pl.Attempt,
		Status: ethos.ItemPending, Data: mustJSON(responseData{Model: g.Responses.Model, Feedback: pl.Feedback})}
	if _, err := p.store.PutItem(ctx, r); err != nil {
		return err
	}
	if done, err := p.takeUp(ctx, r); err != nil {
		return err
	} else if !done {
		if err := p.writeResponse(ctx, t.Key, doc.Body, pl.Feedback, r); err != nil {
			return err
		}
	}
	switch r.Status {
	case ethos.ItemRejected:
		if r.Attempt < p.maxAttempts() {
			return p.enqueue(ctx, TaskResponse, respKey(ideaItem.Key, r.Attempt+1),
				taskPayload{IdeaID: ideaItem.ID, DocumentID: docItem.ID, Attempt: r.Attempt + 1, Feedback: r.Reason})
		}
		return p.quarantine(ctx, ideaItem, r, "reply")
	case ethos.ItemAccepted:
		if p.pairs() {
			// Also when the reply was accepted by an earlier try of
			// this task: enqueueing is idempotent.
			return p.enqueueRejected(ctx, ideaItem.ID, docItem.ID, r)
		}
	}
	return nil
}

// writeResponse makes the reply call, reviews the reply and saves the
// item as accepted or rejected. It returns an error only when the job
// should be retried or the run stopped.
func (p *Pipeline) writeResponse(ctx context.Context, key, document, feedback string, r *ethos.Item) error {
	g := p.settings.Generate
	prompt := ResponsePrompt(p.settings.Character, document)
	prompt.System = withFeedback(prompt.System, feedback, "")
	resp, callKey, err := p.call(ctx, StageResponse, key, g.Responses.Model, prompt, g.Responses.MaxTokens, g.Responses.Temperature, g.Responses.Stream)
	var reply string
	if err == nil {
		reply, err = ParseResponse(resp.Text)
	}
	data := responseData{Reply: reply, Model: g.Responses.Model, CallKey: callKey, StopReason: resp.StopReason}
	if err != nil {
		reject, ferr := p.failCall(ctx, err)
		if !reject {
			return p.giveUp(ctx, r, ferr)
		}
		r.Status, r.Reason = ethos.ItemRejected, failureReason(err)
	} else if data.Findings = p.rules.Reply(reply, resp.StopReason, resp.Usage.Out); len(data.Findings) > 0 {
		r.Status, r.Reason = ethos.ItemRejected, describeFindings(data.Findings)
	} else {
		r.Status = ethos.ItemAccepted
		if g.Review.LLM {
			scores, reason, err := p.traitReview(ctx, key, document, reply)
			if err != nil {
				return p.giveUp(ctx, r, err)
			}
			data.TraitScores, data.ReviewModel = scores, g.Review.Model
			if reason != "" {
				r.Status, r.Reason = ethos.ItemRejected, reason
			}
		}
	}
	if r.Status == ethos.ItemAccepted {
		if dupOf, sim, isDup := p.replyDups.CheckAndAdd(int(r.ID), reply); isDup {
			r.Status, r.Reason = ethos.ItemRejected, fmt.Sprintf("near-duplicate: of reply #%d (similarity %.2f)", dupOf, sim)
		}
	}
	r.Data = mustJSON(data)
	return p.store.UpdateItem(ctx, r)
}

// traitReview asks the review model to score the reply per trait. A reply
// that does not parse is asked again with the reason, up to three times;
// after that the reply is rejected for lack of a review — never given a
// default score. reason is non-empty when the reply fails the review.
func (p *Pipeline) traitReview(ctx context.Context, key, document, reply string) (map[string]TraitScore, string, error) {
	g := p.settings.Generate
	var lastErr error
	for attempt := 1; attempt <= 3; attempt++ {
		prompt := ReviewPrompt(p.settings.Character, document, reply)
		if lastErr != nil {
			prompt.User = withFeedback(prompt.User, "your reply could not be parsed ("+lastErr.Error()+")", "")
		}
		resp, err := p.completer.Complete(p.callContext(ctx, stageReview), ethos.Request{Model: g.Review.Model, System: prompt.System,
			Messages:    []ethos.Message{{Role: ethos.RoleUser, Content: prompt.User}},
			MaxTokens:   1024,
			CachePrefix: 1, // the review instructions repeat (see call)
			Metadata:    map[string]string{"run": p.runID, "stage": stageReview, "item": key}})
		if err == nil {
			err = ethos.CheckStop(resp)
		}
		if err != nil {
			if reject, ferr := p.failCall(ctx, err); !reject {
				return nil, "", ferr
			}
			lastErr = err
			continue
		}
		scores, err := ParseReview(resp.Text, p.settings.Character.Traits)
		if err != nil {
			lastErr = err
			continue
		}
		var low []string
		for _, tr := range p.settings.Character.Traits {
			if s := scores[tr.Name]; s.Score < g.Review.MinTraitScore {
				low = append(low, fmt.Sprintf("%s scored %d (< %d): %s", tr.Name, s.Score, g.Review.MinTraitScore, s.Reason))
			}
		}
		if len(low) > 0 {
			return scores, "trait review: " + strings.Join(low, "; "), nil
		}
		return scores, "", nil
	}
	return nil, fmt.Sprintf("trait review failed 3 times: %v", lastErr), nil
}

func (p *Pipeline) loadIdea(ctx context.Context, id int64) (ideaData, ethos.Item, error) {
	it, err := p.store.Item(ctx, id)
	if err != nil {
		return ideaData{}, it, err
	}
	var d ideaData
	if err := json.Unmarshal(it.Data, &d); err != nil {
		return d, it, ethos.Errorf(ethos.Internal, "idea %d: %w", id, err)
	}
	return d, it, nil
}

// maxExisting is how many of a category's accepted ideas an ideas prompt
// lists for the model to avoid; the near-duplicate check catches the rest.
const maxExisting = 30

// ideaSummaries lists the summaries of the latest ideas accepted in a
// category, for the model to avoid. The first call loads them from the
// store (a resumed run); later ideas are noted as they are accepted.
func (p *Pipeline) ideaSummaries(ctx context.Context, category string) ([]string, error) {
	p.summariesMu.Lock()
	defer p.summariesMu.Unlock()
	if p.summaries == nil {
		items, err := p.store.Items(ctx, ethos.ItemFilter{RunID: p.runID, Stage: StageIdea, Status: ethos.ItemAccepted})
		if err != nil {
			return nil, err
		}
		p.summaries = map[string][]string{}
		for _, it := range items {
			var d ideaData
			if json.Unmarshal(it.Data, &d) == nil {
				p.summaries[d.Category] = append(p.summaries[d.Category], d.Summary)
			}
		}
	}
	list := p.summaries[category]
	return slices.Clone(list[max(0, len(list)-maxExisting):]), nil
}

// noteIdea adds a newly accepted idea to its category's summaries.
func (p *Pipeline) noteIdea(category, summary string) {
	p.summariesMu.Lock()
	defer p.summariesMu.Unlock()
	if p.summaries != nil {
		p.summaries[category] = append(p.summaries[category], summary)
	}
}

func describeFindings(fs []review.Finding) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = f.Rule
		if f.Detail != "" {
			parts[i] += ": " + f.Detail
		}
	}
	return strings.Join(parts, "; ")
}

// failureReason records why a model call's output was rejected, led by
// its error kind (parse, truncated, refused) so reasons can be counted.
func failureReason(err error) string {
	return string(ethos.KindOf(err)) + ": " + err.Error()
}
