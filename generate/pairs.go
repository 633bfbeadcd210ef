package generate

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/jobs"
	"github.com/ethos-toolkit/ethos/llm"
)

// The preference-pair stage (generate.pairs): for every accepted reply —
// the teacher answering in character, the chosen side — the student, the
// model being trained, answers the same document as itself, with no
// system prompt: the rejected side. A run with pairs counts an example
// once both sides are accepted, and writes them to <out>.pairs.jsonl in
// the providers' preference format beside the SFT records.
const (
	StageRejected = "rejected" // one attempt at the student's answer
	TaskRejected  = "generate.rejected"
)

// rejectedData is the payload of a rejected item.
type rejectedData struct {
	Reply      string           `json:"reply"`
	Model      string           `json:"model"`
	CallKey    string           `json:"call_key,omitempty"`
	StopReason ethos.StopReason `json:"stop_reason,omitempty"`
}

// pairPayload travels with rejected tasks.
type pairPayload struct {
	IdeaID     int64 `json:"idea_id"`
	DocumentID int64 `json:"document_id"`
	ResponseID int64 `json:"response_id"`
	Attempt    int   `json:"attempt"`
}

// pairs reports whether the run writes preference pairs.
func (p *Pipeline) pairs() bool {
	return p.settings.Generate.Pairs != nil && p.settings.StopAfter == ""
}

func rejKey(respKey string, attempt int) string {
	return fmt.Sprintf("rej/%s/%d", strings.TrimPrefix(respKey, "resp/"), attempt)
}

// enqueueRejected queues the first attempt at the rejected side of an
// accepted reply.
func (p *Pipeline) enqueueRejected(ctx context.Context, ideaID, docID int64, r *ethos.Item) error {
	return p.enqueue(ctx, TaskRejected, rejKey(r.Key, 1), pairPayload{IdeaID: ideaID, DocumentID: docID, ResponseID: r.ID, Attempt: 1})
}

// workRejected asks the student for one answer to an accepted reply's
// document and reviews it with the reply rules; an answer the review
// rejects (or one identical to the chosen reply) is asked again as
// another sample, and after the last attempt the pair's idea is
// quarantined, so the run asks for another.
func (p *Pipeline) workRejected(ctx context.Context, t jobs.Task) error {
	if ok, err := p.active(ctx, t); err != nil || !ok {
		return err
	}
	var pl pairPayload
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
	respItem, err := p.store.Item(ctx, pl.ResponseID)
	if err != nil {
		return err
	}
	var doc documentData
	var chosen responseData
	if err := json.Unmarshal(docItem.Data, &doc); err != nil {
		return ethos.Errorf(ethos.Internal, "document %d: %w", docItem.ID, err)
	}
	if err := json.Unmarshal(respItem.Data, &chosen); err != nil {
		return ethos.Errorf(ethos.Internal, "reply %d: %w", respItem.ID, err)
	}
	student := p.settings.Generate.Pairs.Student
	it := &ethos.Item{RunID: p.runID, Stage: StageRejected, Key: t.Key, ParentID: respItem.ID, Attempt: pl.Attempt,
		Status: ethos.ItemPending, Data: mustJSON(rejectedData{Model: student})}
	if _, err := p.store.PutItem(ctx, it); err != nil {
		return err
	}
	if done, err := p.takeUp(ctx, it); err != nil {
		return err
	} else if !done {
		if err := p.writeRejected(ctx, t.Key, doc.Body, chosen.Reply, it); err != nil {
			return err
		}
	}
	if it.Status == ethos.ItemRejected {
		if it.Attempt < p.maxAttempts() {
			next := pl
			next.Attempt++
			return p.enqueue(ctx, TaskRejected, rejKey(respItem.Key, next.Attempt), next)
		}
		return p.quarantine(ctx, ideaItem, it, "the student's answer")
	}
	if it.Status == ethos.ItemAccepted && p.confirming() {
		return p.enqueueConfirm(ctx, pl, it)
	}
	return nil
}

// writeRejected makes the student's call, reviews the answer and saves the
// item as accepted or rejected. It returns an error only when the job
// should be retried or the run stopped.
func (p *Pipeline) writeRejected(ctx context.Context, key, document, chosen string, it *ethos.Item) error {
	g := p.settings.Generate
	maxTokens := g.Pairs.MaxTokens
	if maxTokens <= 0 {
		maxTokens = g.Responses.MaxTokens
	}
	req := ethos.Request{
		Model:     g.Pairs.Student,
		Messages:  []ethos.Message{{Role: ethos.RoleUser, Content: document}},
		MaxTokens: maxTokens,
		// The same prompt every attempt: another sample, not another
		// question, is what a rejected answer is asked again as.
		Sample:   it.Attempt - 1,
		Metadata: map[string]string{"run": p.runID, "stage": StageRejected, "item": key},
	}
	resp, err := p.completer.Complete(p.callContext(ctx, StageRejected), req)
	reply := strings.TrimSpace(resp.Text)
	if err == nil {
		err = ethos.CheckStop(resp)
	}
	data := rejectedData{Reply: reply, Model: g.Pairs.Student, CallKey: llm.CallKey(req, resp), StopReason: resp.StopReason}
	switch {
	case err != nil:
		if err := p.rejectFailed(ctx, it, err); err != nil {
			return err
		}
	case reply == strings.TrimSpace(chosen):
		it.Status, it.Reason = ethos.ItemRejected, "identical to the chosen reply: a pair must differ"
	default:
		if findings := p.rules.Reply(reply, resp.StopReason, resp.Usage.Out); len(findings) > 0 {
			it.Status, it.Reason = ethos.ItemRejected, describeFindings(findings)
		} else {
			it.Status = ethos.ItemAccepted
		}
	}
	it.Data = mustJSON(data)
	return p.store.UpdateItem(ctx, it)
}

// PreferenceRecord is one line of <out>.pairs.jsonl: the format Together
// (preference_openai) and OpenAI take for DPO. The input carries no system
// prompt: the trained model is to prefer the character's answer unprompted.
type PreferenceRecord struct {
	Input              PreferenceInput `json:"input"`
	PreferredOutput    []ethos.Message `json:"preferred_output"`
	NonPreferredOutput []ethos.Message `json:"non_preferred_output"`
}

// PreferenceInput is the conversation both sides answer.
type PreferenceInput struct {
	Messages []ethos.Message `json:"messages"`
}

func preferenceRecord(document, chosen, rejected string) PreferenceRecord {
	return PreferenceRecord{
		Input:              PreferenceInput{Messages: []ethos.Message{{Role: ethos.RoleUser, Content: document}}},
		PreferredOutput:    []ethos.Message{{Role: ethos.RoleAssistant, Content: chosen}},
		NonPreferredOutput: []ethos.Message{{Role: ethos.RoleAssistant, Content: rejected}},
	}
}

// acceptedRejected returns the accepted rejected side of reply r, if any.
func (p *Pipeline) acceptedRejected(ctx context.Context, r ethos.Item) (ethos.Item, rejectedData, bool, error) {
	items, err := p.store.Items(ctx, ethos.ItemFilter{RunID: p.runID, Stage: StageRejected, ParentID: r.ID, Status: ethos.ItemAccepted, Limit: 1})
	if err != nil || len(items) == 0 {
		return ethos.Item{}, rejectedData{}, false, err
	}
	var d rejectedData
	if err := json.Unmarshal(items[0].Data, &d); err != nil {
		return ethos.Item{}, d, false, ethos.Errorf(ethos.Internal, "rejected %d: %w", items[0].ID, err)
	}
	return items[0], d, true, nil
}
