package generate

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/ethos-toolkit/ethos"
)

// IntrospectionMetadata describes a finished introspection file.
type IntrospectionMetadata struct {
	Run             string                `json:"run"`
	Created         time.Time             `json:"created"`
	Model           string                `json:"model"` // the model that wrote about itself
	Character       string                `json:"character"`
	CharacterHash   string                `json:"character_hash"`
	PromptSet       string                `json:"prompt_set"` // IntrospectionPromptSet
	PromptSetSHA256 string                `json:"prompt_set_sha256"`
	Files           OutputPaths           `json:"files"`
	Settings        IntrospectionSettings `json:"settings"`
	// Records = Reflections + Dialogues, one SFT record each.
	Records     int `json:"records"`
	Reflections int `json:"reflections"`
	Dialogues   int `json:"dialogues"`
	// Turns is the number of turns of every dialogue; DialogueTurns
	// their sum over the file.
	Turns         int `json:"turns"`
	DialogueTurns int `json:"dialogue_turns"`
	// Accepted counts the texts the review accepted (answers and turns,
	// in the file or not); Rejected the attempts it rejected, and
	// RejectedByReason the same by rule or error class.
	Accepted         int            `json:"accepted"`
	Rejected         int            `json:"rejected"`
	RejectedByReason map[string]int `json:"rejected_by_reason"`
	// Quarantined counts the reflections and dialogues given up on after
	// every attempt at an answer or turn was rejected.
	Quarantined  map[string]int            `json:"quarantined"`
	Stages       map[string]map[string]int `json:"stages"` // stage → status → items
	Calls        map[string]StageCalls     `json:"calls"`
	TotalCostUSD float64                   `json:"total_cost_usd"`
	Started      time.Time                 `json:"started"`
	WallTime     string                    `json:"wall_time"`
}

// IntrospectionDetailed is one record with its provenance.
type IntrospectionDetailed struct {
	Record
	Run    string `json:"run"`
	Kind   string `json:"kind"`   // "reflection" or "dialogue"
	Index  int    `json:"index"`  // of the reflection or dialogue
	Prompt string `json:"prompt"` // the reflection prompt or the dialogue's subject
	Model  string `json:"model"`
	// CallKeys are the ledger keys of the calls that wrote the record's
	// assistant turns (and, in a dialogue, the other side's), in order.
	CallKeys []string `json:"call_keys"`
}

// Export writes the run's files — the SFT records (each reflection as one
// exchange; each dialogue from the side of its last speaker, so that it
// ends with the assistant), their provenance and the metadata — and
// completes the run. Files are renamed into place only when all are
// written.
func (in *Introspection) Export(ctx context.Context, force bool) (IntrospectionMetadata, error) {
	p := in.p
	out := in.settings.Outputs()
	meta := IntrospectionMetadata{
		Run: p.runID, Created: time.Now().UTC(), Model: in.settings.Model,
		Character: in.settings.Character.Name, CharacterHash: CharacterHash(in.settings.Character),
		PromptSet: in.prompts.Version, PromptSetSHA256: in.prompts.SHA256, Files: out, Settings: in.settings,
		Turns: in.settings.Introspection.Turns, RejectedByReason: map[string]int{}, Quarantined: map[string]int{},
		Stages: map[string]map[string]int{}, Calls: map[string]StageCalls{},
	}
	if err := out.CheckOutputs(force); err != nil {
		return meta, err
	}
	dataset, detailed, err := createOutputs(out)
	if err != nil {
		return meta, err
	}
	defer dataset.abort()
	defer detailed.abort()
	write := func(d IntrospectionDetailed) error {
		if err := dataset.encode(d.Record); err != nil {
			return err
		}
		meta.Records++
		return detailed.encode(d)
	}

	reflections, err := in.accepted(ctx, StageReflection)
	if err != nil {
		return meta, err
	}
	for _, d := range reflections {
		if err := write(IntrospectionDetailed{Record: in.record([]string{d.Prompt, d.Reply}), Run: p.runID, Kind: StageReflection,
			Index: d.Index, Prompt: d.Prompt, Model: d.Model, CallKeys: []string{d.CallKey}}); err != nil {
			return meta, err
		}
		meta.Reflections++
	}
	dialogues, err := in.accepted(ctx, StageDialogue)
	if err != nil {
		return meta, err
	}
	for _, d := range dialogues {
		texts, keys, err := in.dialogue(ctx, d.last)
		if err != nil {
			return meta, err
		}
		if len(texts)%2 == 1 { // the first speaker ends it: its view opens with the subject
			texts = append([]string{d.Prompt}, texts...)
		}
		if err := write(IntrospectionDetailed{Record: in.record(texts), Run: p.runID, Kind: StageDialogue,
			Index: d.Index, Prompt: d.Prompt, Model: in.settings.Model, CallKeys: keys}); err != nil {
			return meta, err
		}
		meta.Dialogues++
		meta.DialogueTurns += len(keys)
	}
	want := in.settings.Introspection
	if meta.Reflections != want.Reflections || meta.Dialogues != want.Dialogues {
		return meta, ethos.Errorf(ethos.Internal, "export: %d reflections and %d dialogues accepted, want %d and %d", meta.Reflections, meta.Dialogues, want.Reflections, want.Dialogues)
	}
	if err := in.summarize(ctx, &meta); err != nil {
		return meta, err
	}
	return meta, p.complete(ctx, meta, out.Metadata, dataset, detailed)
}

// acceptedItem is the data of an accepted reflection or dialogue, with
// the ID of its item's parent (a dialogue's last turn).
type acceptedItem struct {
	introData
	last int64
}

// accepted returns a stage's accepted items in the order of their index,
// whatever order they were accepted in.
func (in *Introspection) accepted(ctx context.Context, stage string) ([]acceptedItem, error) {
	items, err := in.p.store.Items(ctx, ethos.ItemFilter{RunID: in.p.runID, Stage: stage, Status: ethos.ItemAccepted})
	if err != nil {
		return nil, err
	}
	out := make([]acceptedItem, len(items))
	for i, it := range items {
		if err := json.Unmarshal(it.Data, &out[i].introData); err != nil {
			return nil, ethos.Errorf(ethos.Internal, "%s %d: %w", stage, it.ID, err)
		}
		out[i].last = it.ParentID
	}
	slices.SortFunc(out, func(a, b acceptedItem) int { return a.Index - b.Index })
	return out, nil
}

// dialogue returns the texts and call keys of the turns up to last.
func (in *Introspection) dialogue(ctx context.Context, last int64) ([]string, []string, error) {
	var texts, keys []string
	for id := last; id != 0; {
		it, err := in.p.store.Item(ctx, id)
		if err != nil {
			return nil, nil, err
		}
		var d introData
		if err := json.Unmarshal(it.Data, &d); err != nil {
			return nil, nil, ethos.Errorf(ethos.Internal, "turn %d: %w", it.ID, err)
		}
		texts, keys = append([]string{d.Reply}, texts...), append([]string{d.CallKey}, keys...)
		id = it.ParentID
	}
	return texts, keys, nil
}

// record is an SFT record of alternating user and assistant turns, the
// last the assistant's, with the character's system prompt first when
// the settings ask for it.
func (in *Introspection) record(texts []string) Record {
	var msgs []ethos.Message
	if in.settings.IncludeSystem {
		msgs = append(msgs, ethos.Message{Role: ethos.RoleSystem, Content: in.settings.Character.SystemPrompt})
	}
	for i, text := range texts {
		role := ethos.RoleUser
		if (len(texts)-i)%2 == 1 {
			role = ethos.RoleAssistant
		}
		msgs = append(msgs, ethos.Message{Role: role, Content: text})
	}
	return Record{Messages: msgs}
}

// summarize fills the counts, the rejection reasons and the calls.
func (in *Introspection) summarize(ctx context.Context, meta *IntrospectionMetadata) error {
	p := in.p
	counts, err := in.counts(ctx)
	if err != nil {
		return err
	}
	for stage, byStatus := range counts {
		for status, n := range byStatus {
			if meta.Stages[stage] == nil {
				meta.Stages[stage] = map[string]int{}
			}
			meta.Stages[stage][string(status)] = n
		}
	}
	meta.Accepted = counts[StageReflection][ethos.ItemAccepted] + counts[StageTurn][ethos.ItemAccepted]
	meta.Quarantined[StageReflection] = counts[StageReflection][ethos.ItemQuarantined]
	meta.Quarantined[StageDialogue] = counts[StageDialogue][ethos.ItemQuarantined]
	stages := []string{StageReflection, StageTurn}
	err = p.countRejections(ctx, stages, func(stage, reason string) {
		meta.Rejected++
		meta.RejectedByReason[stage+": "+ethos.ReasonClass(reason)]++
	})
	if err != nil {
		return err
	}
	if meta.TotalCostUSD, err = p.sumCalls(ctx, stages, meta.Calls); err != nil {
		return err
	}
	meta.Started, meta.WallTime, err = p.wallTime(ctx, meta.Created)
	return err
}
