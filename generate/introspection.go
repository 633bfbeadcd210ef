package generate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/config"
	"github.com/ethos-toolkit/ethos/jobs"
	"github.com/ethos-toolkit/ethos/llm"
)

// The introspection stage (recipe dpo+introspection): once the DPO model
// is trained and callable, it writes data about itself — answers to the
// fixed, versioned set of self-reflection prompts, and dialogues between
// two instances of itself — which, reviewed like any data, becomes an SFT
// file for a job continued from the DPO checkpoint.
//
// It is a run of its own (kind "introspection"), on the same machinery as
// a generation run: every answer and every turn is an item in the store,
// made by a durable task whose call goes through the ledger, so a run
// killed part-way continues with no answered call asked again.
const (
	TaskReflection = "introspection.reflection"
	TaskTurn       = "introspection.turn"

	StageReflection = "reflection" // one attempt at a self-reflection answer
	StageTurn       = "turn"       // one attempt at a turn of a dialogue
	StageDialogue   = "dialogue"   // a dialogue, accepted once its last turn is
)

// IntrospectionSettings are what an introspection run is asked to do; its
// ID is derived from them, so the same settings continue the same run.
type IntrospectionSettings struct {
	// Model is the trained model that writes about itself, as the
	// registry names it.
	Model         string               `json:"model"`
	Character     ethos.Character      `json:"character"`
	Introspection config.Introspection `json:"introspection"`
	// Review holds the rules every answer and turn passes (length, attempts).
	Review      config.Review `json:"review"`
	MaxTokens   int           `json:"max_tokens"`
	Temperature *float64      `json:"temperature,omitempty"`
	// IncludeSystem puts the character's system prompt into every
	// training record, as generate.responses.include_system does.
	IncludeSystem bool   `json:"include_system"`
	Output        string `json:"output"` // the SFT file, <out>.introspection.jsonl
	// Dir is the directory a relative Output is relative to; not part of
	// the run's ID.
	Dir        string `json:"dir,omitempty"`
	ConfigHash string `json:"config_hash,omitempty"` // not part of the run's ID
}

// IntrospectionOutput is the SFT file of the introspection data beside a
// generation run's dataset.
func IntrospectionOutput(dataset string) string {
	return strings.TrimSuffix(dataset, ".jsonl") + ".introspection.jsonl"
}

// Outputs are the run's files: the SFT records, each with its provenance,
// and the metadata.
func (s IntrospectionSettings) Outputs() OutputPaths {
	out := s.Output
	if s.Dir != "" && !filepath.IsAbs(out) {
		out = filepath.Join(s.Dir, out)
	}
	return Outputs(out)
}

// RunID derives the run's ID from what shapes its data, the prompt set
// included.
func (s IntrospectionSettings) RunID() string {
	s.Dir, s.ConfigHash, s.Review.Mode = "", "", ""
	b, err := json.Marshal(struct {
		Settings  IntrospectionSettings
		PromptSet string
	}{s, IntrospectionPrompts().SHA256})
	if err != nil {
		panic("generate: encoding introspection settings: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return "intro-" + hex.EncodeToString(sum[:6])
}

// Introspection is one introspection run. It uses a Pipeline's machinery
// (the store, the completer, the review rules, the task helpers) under its
// own run ID.
type Introspection struct {
	p        *Pipeline
	settings IntrospectionSettings
	prompts  PromptSet
}

// NewIntrospection returns the run of settings, whose calls go through
// completer and whose items live in store.
func NewIntrospection(store ethos.Store, completer ethos.Completer, settings IntrospectionSettings) *Introspection {
	g := config.Generate{Review: settings.Review}
	g.Responses.MaxTokens = settings.MaxTokens
	p := NewPipeline(store, completer, Settings{Character: settings.Character, Generate: g, Output: settings.Output, Dir: settings.Dir})
	p.runID = settings.RunID()
	return &Introspection{p: p, settings: settings, prompts: IntrospectionPrompts()}
}

// RunID is the run's ID.
func (in *Introspection) RunID() string { return in.p.runID }

// Tasks are the handlers to register with the job queue.
func (in *Introspection) Tasks() map[string]jobs.TaskFunc {
	return map[string]jobs.TaskFunc{TaskReflection: in.workReflection, TaskTurn: in.workTurn}
}

// Priorities put a dialogue's next turn first: it finishes a dialogue.
func (in *Introspection) Priorities() map[string]int {
	return map[string]int{TaskTurn: jobs.PriorityFirst, TaskReflection: jobs.PriorityDefault}
}

type reflectionPayload struct {
	Index    int    `json:"index"`
	Attempt  int    `json:"attempt"`
	Feedback string `json:"feedback,omitempty"`
}

type turnPayload struct {
	Dialogue int    `json:"dialogue"`
	Turn     int    `json:"turn"` // 1-based
	Attempt  int    `json:"attempt"`
	PrevID   int64  `json:"prev_id,omitempty"` // the accepted turn before, 0 for the first
	Feedback string `json:"feedback,omitempty"`
}

// introData is the payload of a reflection or turn item.
type introData struct {
	Prompt     string           `json:"prompt"` // the reflection prompt or the dialogue's subject
	Index      int              `json:"index"`  // of the reflection or dialogue
	Turn       int              `json:"turn,omitempty"`
	Speaker    string           `json:"speaker,omitempty"` // "a" or "b" in a dialogue
	Reply      string           `json:"reply"`
	Model      string           `json:"model"`
	CallKey    string           `json:"call_key,omitempty"`
	StopReason ethos.StopReason `json:"stop_reason,omitempty"`
	Feedback   string           `json:"feedback,omitempty"`
}

func reflectionKey(index, attempt int) string { return fmt.Sprintf("refl/%04d/%d", index, attempt) }
func turnKey(dialogue, turn, attempt int) string {
	return fmt.Sprintf("turn/%04d/%02d/%d", dialogue, turn, attempt)
}
func dialogueKey(dialogue int) string { return fmt.Sprintf("dlg/%04d", dialogue) }

// reflectionPrompt is the prompt of reflection index and how many times
// it was asked before (the prompt set is gone round).
func (in *Introspection) reflectionPrompt(index int) (string, int) {
	n := len(in.prompts.Reflections)
	return in.prompts.Reflections[index%n], index / n
}

func (in *Introspection) opener(dialogue int) string {
	return in.prompts.Openers[dialogue%len(in.prompts.Openers)]
}

// workReflection asks the model one self-reflection prompt and reviews the
// answer; a rejected answer is asked again with the reason, and after the
// last attempt the reflection is quarantined (the run asks another).
func (in *Introspection) workReflection(ctx context.Context, t jobs.Task) error {
	p := in.p
	if ok, err := p.active(ctx, t); err != nil || !ok {
		return err
	}
	var pl reflectionPayload
	if err := json.Unmarshal(t.Payload, &pl); err != nil {
		return ethos.Errorf(ethos.Invalid, "task %s: payload: %w", t.Key, err)
	}
	prompt, round := in.reflectionPrompt(pl.Index)
	it := &ethos.Item{RunID: p.runID, Stage: StageReflection, Key: t.Key, Attempt: pl.Attempt, Status: ethos.ItemPending,
		Data: mustJSON(introData{Prompt: prompt, Index: pl.Index, Model: in.settings.Model, Feedback: pl.Feedback})}
	if _, err := p.store.PutItem(ctx, it); err != nil {
		return err
	}
	if done, err := p.takeUp(ctx, it); err != nil {
		return err
	} else if !done {
		system := withFeedback(reflectionSystem(round), pl.Feedback, "")
		msgs := []ethos.Message{{Role: ethos.RoleUser, Content: prompt}}
		if err := in.write(ctx, it, StageReflection, system, msgs, introData{Prompt: prompt, Index: pl.Index, Feedback: pl.Feedback}); err != nil {
			return err
		}
	}
	if it.Status != ethos.ItemRejected {
		return nil
	}
	if it.Attempt < p.maxAttempts() {
		next := reflectionPayload{Index: pl.Index, Attempt: pl.Attempt + 1, Feedback: it.Reason}
		return p.enqueue(ctx, TaskReflection, reflectionKey(next.Index, next.Attempt), next)
	}
	it.Status = ethos.ItemQuarantined
	return p.store.UpdateItem(ctx, it)
}

// workTurn writes one turn of a dialogue: the speaker sees the dialogue so
// far with its own turns as the assistant's. An accepted turn queues the
// next, and the last completes the dialogue; a turn rejected on every
// attempt quarantines the dialogue (the run starts another).
func (in *Introspection) workTurn(ctx context.Context, t jobs.Task) error {
	p := in.p
	if ok, err := p.active(ctx, t); err != nil || !ok {
		return err
	}
	var pl turnPayload
	if err := json.Unmarshal(t.Payload, &pl); err != nil {
		return ethos.Errorf(ethos.Invalid, "task %s: payload: %w", t.Key, err)
	}
	subject := in.opener(pl.Dialogue)
	speaker := "a"
	if pl.Turn%2 == 0 {
		speaker = "b"
	}
	base := introData{Prompt: subject, Index: pl.Dialogue, Turn: pl.Turn, Speaker: speaker, Feedback: pl.Feedback}
	it := &ethos.Item{RunID: p.runID, Stage: StageTurn, Key: t.Key, ParentID: pl.PrevID, Attempt: pl.Attempt, Status: ethos.ItemPending}
	d := base
	d.Model = in.settings.Model
	it.Data = mustJSON(d)
	if _, err := p.store.PutItem(ctx, it); err != nil {
		return err
	}
	if done, err := p.takeUp(ctx, it); err != nil {
		return err
	} else if !done {
		turns, err := in.turnsBefore(ctx, pl.PrevID)
		if err != nil {
			return err
		}
		system := withFeedback(dialogueSystem(subject), pl.Feedback, "")
		if err := in.write(ctx, it, StageTurn, system, dialogueView(subject, turns, pl.Turn), base); err != nil {
			return err
		}
	}
	switch it.Status {
	case ethos.ItemAccepted:
		if pl.Turn < in.settings.Introspection.Turns {
			next := turnPayload{Dialogue: pl.Dialogue, Turn: pl.Turn + 1, Attempt: 1, PrevID: it.ID}
			return p.enqueue(ctx, TaskTurn, turnKey(next.Dialogue, next.Turn, 1), next)
		}
		_, err := p.store.PutItem(ctx, &ethos.Item{RunID: p.runID, Stage: StageDialogue, Key: dialogueKey(pl.Dialogue),
			ParentID: it.ID, Attempt: 1, Status: ethos.ItemAccepted, Data: mustJSON(introData{Prompt: subject, Index: pl.Dialogue})})
		return err
	case ethos.ItemRejected:
		if it.Attempt < p.maxAttempts() {
			next := turnPayload{Dialogue: pl.Dialogue, Turn: pl.Turn, Attempt: pl.Attempt + 1, PrevID: pl.PrevID, Feedback: it.Reason}
			return p.enqueue(ctx, TaskTurn, turnKey(next.Dialogue, next.Turn, next.Attempt), next)
		}
		it.Status = ethos.ItemQuarantined
		if err := p.store.UpdateItem(ctx, it); err != nil {
			return err
		}
		_, err := p.store.PutItem(ctx, &ethos.Item{RunID: p.runID, Stage: StageDialogue, Key: dialogueKey(pl.Dialogue),
			ParentID: it.ID, Attempt: 1, Status: ethos.ItemQuarantined, Data: mustJSON(introData{Prompt: subject, Index: pl.Dialogue}),
			Reason: fmt.Sprintf("quarantined: turn %d failed %d attempts; last: %s", pl.Turn, it.Attempt, it.Reason)})
		return err
	}
	return nil
}

// turnsBefore returns the accepted turns of a dialogue up to and
// including last, in order (each turn's parent is the one before).
func (in *Introspection) turnsBefore(ctx context.Context, last int64) ([]string, error) {
	var turns []string
	for id := last; id != 0; {
		it, err := in.p.store.Item(ctx, id)
		if err != nil {
			return nil, err
		}
		var d introData
		if err := json.Unmarshal(it.Data, &d); err != nil {
			return nil, ethos.Errorf(ethos.Internal, "turn %d: %w", it.ID, err)
		}
		turns = append([]string{d.Reply}, turns...)
		id = it.ParentID
	}
	return turns, nil
}

// dialogueView is the conversation as the speaker of turn (1-based) sees
// it: the subject opens it for the first speaker, and the speaker's own
// turns are the assistant's, the other's the user's.
func dialogueView(subject string, turns []string, turn int) []ethos.Message {
	var msgs []ethos.Message
	if turn%2 == 1 {
		msgs = append(msgs, ethos.Message{Role: ethos.RoleUser, Content: subject})
	}
	for i, text := range turns {
		role := ethos.RoleUser
		if (i+1)%2 == turn%2 { // spoken by the same side as turn
			role = ethos.RoleAssistant
		}
		msgs = append(msgs, ethos.Message{Role: role, Content: text})
	}
	return msgs
}

// write makes an item's call, reviews the answer with the reply rules and
// saves the item accepted or rejected. It returns an error only when the
// job should be retried or the run stopped.
func (in *Introspection) write(ctx context.Context, it *ethos.Item, stage, system string, msgs []ethos.Message, data introData) error {
	p := in.p
	req := ethos.Request{
		Model: in.settings.Model, System: system, Messages: msgs,
		MaxTokens: in.settings.MaxTokens, Temperature: in.settings.Temperature,
		Metadata: map[string]string{"run": p.runID, "stage": stage, "item": it.Key},
	}
	resp, err := p.completer.Complete(p.callContext(ctx, stage), req)
	if err == nil {
		err = ethos.CheckStop(resp)
	}
	data.Reply, data.Model, data.CallKey, data.StopReason = strings.TrimSpace(resp.Text), in.settings.Model, llm.CallKey(req, resp), resp.StopReason
	switch {
	case err != nil:
		if err := p.rejectFailed(ctx, it, err); err != nil {
			return err
		}
	default:
		if findings := p.rules.Reply(data.Reply, resp.StopReason, resp.Usage.Out); len(findings) > 0 {
			it.Status, it.Reason = ethos.ItemRejected, describeFindings(findings)
		} else {
			it.Status = ethos.ItemAccepted
		}
	}
	it.Data = mustJSON(data)
	return p.store.UpdateItem(ctx, it)
}

// Begin creates the run, or takes it up where an earlier process left it
// (queueing again the tasks of its pending and failed items). It reports
// whether the run was resumed; ErrRunCompleted for a finished run.
func (in *Introspection) Begin(ctx context.Context) (resumed bool, err error) {
	p := in.p
	if resumed, err := p.startRun(ctx, "introspection", in.settings.ConfigHash, in.settings.Character, in.settings); err != nil || !resumed {
		return resumed, err
	}
	return true, p.requeueStages(ctx, []string{StageReflection, StageTurn}, in.requeue)
}

// requeue enqueues the task that makes it, with the payload it was given.
func (in *Introspection) requeue(ctx context.Context, it ethos.Item) error {
	var d introData
	if err := json.Unmarshal(it.Data, &d); err != nil {
		return ethos.Errorf(ethos.Internal, "item %s: %w", it.Key, err)
	}
	if it.Stage == StageReflection {
		return in.p.enqueue(ctx, TaskReflection, it.Key, reflectionPayload{Index: d.Index, Attempt: it.Attempt, Feedback: d.Feedback})
	}
	return in.p.enqueue(ctx, TaskTurn, it.Key, turnPayload{Dialogue: d.Index, Turn: d.Turn, Attempt: it.Attempt, PrevID: it.ParentID, Feedback: d.Feedback})
}

// Interrupted records that the run stopped because its process was
// interrupted; Begin takes it up again.
func (in *Introspection) Interrupted(ctx context.Context) error {
	return ethos.MarkInterrupted(ctx, in.p.store, in.p.runID)
}

// IntrospectionProgress is a snapshot of a run for progress displays.
type IntrospectionProgress struct {
	Reflections, Dialogues [2]int // {accepted, wanted}
}

// limit is the most reflections or dialogues a run starts for want of
// them: enough to replace every quarantined one twice over.
func limit(want int) int { return 2*want + 5 }

// Drive keeps the run supplied with reflections and dialogues until it has
// the numbers asked for — one more for each quarantined — or cannot get
// them (a *Shortfall), or the run fails. ctx carries the job client.
func (in *Introspection) Drive(ctx context.Context, progress func(IntrospectionProgress)) error {
	p := in.p
	want := in.settings.Introspection
	started := [2]int{} // reflections, dialogues enqueued by this process
	idle := 0
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		if err := p.stopped(ctx); err != nil {
			return err
		}
		busy, err := jobs.QueueBusy(ctx) // before the counts: jobs.QueueBusy
		if err != nil {
			return err
		}
		counts, err := in.counts(ctx)
		if err != nil {
			return err
		}
		refl, dlg := counts[StageReflection], counts[StageDialogue]
		if progress != nil {
			progress(IntrospectionProgress{Reflections: [2]int{refl[ethos.ItemAccepted], want.Reflections}, Dialogues: [2]int{dlg[ethos.ItemAccepted], want.Dialogues}})
		}
		if refl[ethos.ItemAccepted] >= want.Reflections && dlg[ethos.ItemAccepted] >= want.Dialogues {
			return nil
		}
		var tasks []jobs.Task
		for i := started[0]; i < min(want.Reflections+refl[ethos.ItemQuarantined], limit(want.Reflections)); i++ {
			tasks = append(tasks, jobs.Task{Name: TaskReflection, RunID: p.runID, Key: reflectionKey(i, 1), Payload: mustJSON(reflectionPayload{Index: i, Attempt: 1})})
			started[0] = i + 1
		}
		for i := started[1]; i < min(want.Dialogues+dlg[ethos.ItemQuarantined], limit(want.Dialogues)); i++ {
			tasks = append(tasks, jobs.Task{Name: TaskTurn, RunID: p.runID, Key: turnKey(i, 1, 1), Payload: mustJSON(turnPayload{Dialogue: i, Turn: 1, Attempt: 1})})
			started[1] = i + 1
		}
		if err := enqueueMany(ctx, tasks); err != nil {
			return err
		}
		if len(tasks) == 0 && !busy {
			idle++
		} else {
			idle = 0
		}
		if idle >= idleTicksBeforeShortfall {
			sf := &Shortfall{Target: want.Reflections + want.Dialogues, Got: refl[ethos.ItemAccepted] + dlg[ethos.ItemAccepted], PerCategory: map[string][2]int{},
				Why: fmt.Sprintf("%d items failed at the provider (a rerun retries them); %d reflections and %d dialogues quarantined after %d rejected attempts",
					refl[ethos.ItemFailed]+counts[StageTurn][ethos.ItemFailed], refl[ethos.ItemQuarantined], dlg[ethos.ItemQuarantined], p.maxAttempts())}
			for name, got := range map[string][2]int{"reflections": {refl[ethos.ItemAccepted], want.Reflections}, "dialogues": {dlg[ethos.ItemAccepted], want.Dialogues}} {
				if got[0] < got[1] {
					sf.PerCategory[name] = got
				}
			}
			return p.fallShort(ctx, sf)
		}
		if err := waitTick(ctx, t); err != nil {
			return err
		}
	}
}

// counts are the run's items by stage and status.
func (in *Introspection) counts(ctx context.Context) (map[string]map[ethos.ItemStatus]int, error) {
	counts, err := in.p.store.CountItems(ctx, in.p.runID)
	if err != nil {
		return nil, err
	}
	out := map[string]map[ethos.ItemStatus]int{StageReflection: {}, StageTurn: {}, StageDialogue: {}}
	for _, c := range counts {
		if out[c.Stage] == nil {
			out[c.Stage] = map[ethos.ItemStatus]int{}
		}
		out[c.Stage][c.Status] = c.Count
	}
	return out, nil
}
