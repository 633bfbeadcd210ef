package generate

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/internal/judgeprompt"
	"github.com/ethos-toolkit/ethos/jobs"
	"github.com/ethos-toolkit/ethos/llm"
)

// The confirmation of a pair (generate.pairs.confirm): once both sides are
// accepted, a judge compares them on every trait, in both orders, with the
// evaluation's pairwise prompt. The pair counts only when the chosen side
// wins on every trait in both orders; otherwise it is dropped with the
// reason (the run asks for another), and its confirm item keeps every
// verdict. A judge reply that does not parse is asked again once with the
// parser's message; a second one drops the pair as unparsed, never as a
// verdict.
const (
	StageConfirm = "confirm" // the judge's verdicts on one pair
	TaskConfirm  = "generate.confirm"

	// confirmMaxTokens bounds a judge's reply: two lines.
	confirmMaxTokens = 600
)

// confirmData is the payload of a confirm item.
type confirmData struct {
	Judge    string         `json:"judge"`
	Verdicts []pairVerdict  `json:"verdicts,omitempty"`
	CallKeys []string       `json:"call_keys,omitempty"`
	Losses   map[string]int `json:"losses,omitempty"` // trait → orders the chosen side did not win
}

// pairVerdict is the judge's verdict on one trait in one order.
type pairVerdict struct {
	Trait        string        `json:"trait"`
	ChosenFirst  bool          `json:"chosen_first"`
	Verdict      ethos.Verdict `json:"verdict"`
	Reason       string        `json:"reason"`
	ChosenWins   bool          `json:"chosen_wins"`
	ParseRetried bool          `json:"parse_retried,omitempty"`
}

// confirming reports whether pairs are confirmed by a judge.
func (p *Pipeline) confirming() bool {
	return p.pairs() && p.settings.Generate.Pairs.Confirm
}

func (p *Pipeline) confirmJudge() string {
	return p.settings.Generate.Pairs.ConfirmJudge(p.settings.Generate.Review.Model)
}

func confirmKey(rejKey string) string { return "conf/" + strings.TrimPrefix(rejKey, "rej/") }

// confirmPayload travels with confirm tasks.
type confirmPayload struct {
	pairPayload
	RejectedID int64 `json:"rejected_id"`
}

// workConfirm asks the judge about one pair and records whether it stands.
func (p *Pipeline) workConfirm(ctx context.Context, t jobs.Task) error {
	if ok, err := p.active(ctx, t); err != nil || !ok {
		return err
	}
	var pl confirmPayload
	if err := json.Unmarshal(t.Payload, &pl); err != nil {
		return ethos.Errorf(ethos.Invalid, "task %s: payload: %w", t.Key, err)
	}
	_, ideaItem, err := p.loadIdea(ctx, pl.IdeaID)
	if err != nil || ideaItem.Status != ethos.ItemAccepted {
		return err
	}
	var doc documentData
	var chosen responseData
	var rejected rejectedData
	for id, dst := range map[int64]any{pl.DocumentID: &doc, pl.ResponseID: &chosen, pl.RejectedID: &rejected} {
		it, err := p.store.Item(ctx, id)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(it.Data, dst); err != nil {
			return ethos.Errorf(ethos.Internal, "item %d: %w", id, err)
		}
	}
	it := &ethos.Item{RunID: p.runID, Stage: StageConfirm, Key: t.Key, ParentID: pl.RejectedID, Attempt: 1,
		Status: ethos.ItemPending, Data: mustJSON(confirmData{Judge: p.confirmJudge()})}
	if _, err := p.store.PutItem(ctx, it); err != nil {
		return err
	}
	if done, err := p.takeUp(ctx, it); err != nil {
		return err
	} else if !done {
		if err := p.judgePair(ctx, it, doc.Body, chosen.Reply, rejected.Reply); err != nil {
			return err
		}
	}
	if it.Status == ethos.ItemRejected {
		return p.quarantine(ctx, ideaItem, it, "the pair's confirmation")
	}
	return nil
}

// judgePair asks the judge for every trait in both orders and saves the
// item accepted when the chosen side wins each time, else rejected with
// the traits it did not win. Each call goes through the ledger, so a task
// run again after an interruption pays only for the calls not answered.
func (p *Pipeline) judgePair(ctx context.Context, it *ethos.Item, document, chosen, rejected string) error {
	data := confirmData{Judge: p.confirmJudge(), Losses: map[string]int{}}
	var unparsed []string
	for _, trait := range p.settings.Character.Traits {
		for _, chosenFirst := range []bool{true, false} {
			a, b := chosen, rejected
			if !chosenFirst {
				a, b = rejected, chosen
			}
			v, reason, retried, keys, err := p.askJudge(ctx, it.Key, trait.Name, document, a, b)
			data.CallKeys = append(data.CallKeys, keys...)
			switch {
			case err != nil && ethos.KindOf(err) == ethos.Parse:
				unparsed = append(unparsed, fmt.Sprintf("%s (%v)", trait.Name, err))
				continue
			case err != nil:
				if err := p.rejectFailed(ctx, it, err); err != nil {
					return err
				}
				it.Data = mustJSON(data)
				return p.store.UpdateItem(ctx, it)
			}
			wins := (chosenFirst && v > ethos.Tie) || (!chosenFirst && v < ethos.Tie)
			data.Verdicts = append(data.Verdicts, pairVerdict{Trait: trait.Name, ChosenFirst: chosenFirst, Verdict: v, Reason: reason, ChosenWins: wins, ParseRetried: retried})
			if !wins {
				data.Losses[trait.Name]++
			}
		}
	}
	switch {
	case len(unparsed) > 0:
		it.Status, it.Reason = ethos.ItemRejected, "unparsed: the judge's reply did not parse twice on "+strings.Join(unparsed, "; ")
	case len(data.Losses) > 0:
		var lost []string
		for _, name := range sortedKeys(data.Losses) {
			lost = append(lost, fmt.Sprintf("%s (%d of 2 orders)", name, data.Losses[name]))
		}
		it.Status, it.Reason = ethos.ItemRejected, "not confirmed: the judge did not prefer the chosen side on "+strings.Join(lost, ", ")
	default:
		it.Status = ethos.ItemAccepted
	}
	it.Data = mustJSON(data)
	return p.store.UpdateItem(ctx, it)
}

// askJudge asks the judge to compare a (shown first) with b on trait, once
// more with the parser's message when the reply does not parse.
func (p *Pipeline) askJudge(ctx context.Context, key, trait, document, a, b string) (v ethos.Verdict, reason string, retried bool, keys []string, err error) {
	feedback := ""
	for attempt := 1; attempt <= 2; attempt++ {
		req := judgeprompt.JudgePrompt(p.settings.Character, trait, document, a, b, feedback).Request(p.confirmJudge(), confirmMaxTokens)
		req.Metadata = map[string]string{"run": p.runID, "stage": StageConfirm, "item": key}
		resp, cerr := p.completer.Complete(p.callContext(ctx, StageConfirm), req)
		keys = append(keys, llm.CallKey(req, resp))
		if cerr == nil {
			cerr = ethos.CheckStop(resp)
		}
		if cerr != nil {
			return 0, "", attempt > 1, keys, cerr
		}
		v, reason, err = judgeprompt.ParseVerdict(resp.Text)
		if err == nil {
			return v, reason, attempt > 1, keys, nil
		}
		feedback = err.Error()
	}
	return 0, "", true, keys, err
}

// enqueueConfirm queues the confirmation of an accepted rejected side.
func (p *Pipeline) enqueueConfirm(ctx context.Context, pl pairPayload, rej *ethos.Item) error {
	return p.enqueue(ctx, TaskConfirm, confirmKey(rej.Key), confirmPayload{pairPayload: pl, RejectedID: rej.ID})
}

// confirmed reports whether the accepted rejected side rej has an
// accepted confirmation (always, when pairs are not confirmed).
func (p *Pipeline) confirmed(ctx context.Context, rej ethos.Item) (bool, error) {
	if !p.confirming() {
		return true, nil
	}
	items, err := p.store.Items(ctx, ethos.ItemFilter{RunID: p.runID, Stage: StageConfirm, ParentID: rej.ID, Status: ethos.ItemAccepted, Limit: 1, NoData: true})
	return len(items) > 0, err
}
