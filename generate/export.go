package generate

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ethos-toolkit/ethos"
)

// OutputPaths are the three files a run writes. They never overlap: the
// detailed and metadata files are named from the dataset file's stem.
type OutputPaths struct {
	Dataset  string `json:"dataset"`  // training records only
	Detailed string `json:"detailed"` // each example with its provenance
	Metadata string `json:"metadata"` // settings, counts, costs, timings
}

// Outputs derives the output paths from the dataset path.
func Outputs(dataset string) OutputPaths {
	stem := strings.TrimSuffix(dataset, ".jsonl")
	return OutputPaths{Dataset: stem + ".jsonl", Detailed: stem + ".detailed.jsonl", Metadata: stem + ".metadata.json"}
}

// CheckOutputs fails with a Config error when any output exists, unless
// force is set: nothing is overwritten by accident.
func (o OutputPaths) CheckOutputs(force bool) error {
	if force {
		return nil
	}
	for _, path := range []string{o.Dataset, o.Detailed, o.Metadata} {
		if _, err := os.Stat(path); err == nil {
			return ethos.Errorf(ethos.Config, "%s already exists; choose another --output or pass --force to replace it", path)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return ethos.Errorf(ethos.Config, "checking %s: %w", path, err)
		}
	}
	return nil
}

// Record is one training record.
type Record struct {
	Messages []ethos.Message `json:"messages"`
}

// Detailed is one example with its provenance.
type Detailed struct {
	Record
	Run         string                `json:"run"`
	ExampleID   int64                 `json:"example_id"`
	Category    string                `json:"category"`
	Idea        Idea                  `json:"idea"`
	Document    DocumentInfo          `json:"document"`
	Models      map[string]string     `json:"models"`
	CallKeys    map[string]string     `json:"call_keys"`
	Attempts    map[string]int        `json:"attempts"`
	TraitScores map[string]TraitScore `json:"trait_scores,omitempty"`
}

// DocumentInfo describes the context document of an example.
type DocumentInfo struct {
	Title string `json:"title"`
	Type  string `json:"type"`
	Words int    `json:"words"`
}

// Metadata describes a finished dataset.
type Metadata struct {
	Run            string                    `json:"run"`
	Created        time.Time                 `json:"created"`
	Examples       int                       `json:"examples"`
	Seed           int64                     `json:"seed"`
	Files          OutputPaths               `json:"files"`
	ConfigHash     string                    `json:"config_hash"`
	CharacterHash  string                    `json:"character_hash"`
	Character      string                    `json:"character"`
	IncludeSystem  bool                      `json:"include_system"`
	PromptVersions map[string]string         `json:"prompt_versions"`
	Models         map[string]string         `json:"models"`
	Settings       Settings                  `json:"settings"`
	Stages         map[string]map[string]int `json:"stages"`     // stage → status → items
	Categories     map[string][2]int         `json:"categories"` // category → {examples, planned}
	Rejections     map[string]int            `json:"rejections"` // reason → count
	Calls          map[string]StageCalls     `json:"calls"`      // stage → calls, tokens, cost
	TotalCostUSD   float64                   `json:"total_cost_usd"`
	WallTime       string                    `json:"wall_time"`
	FirstCall      time.Time                 `json:"first_call,omitzero"`
	LastCall       time.Time                 `json:"last_call,omitzero"`
}

// StageCalls sums a stage's model calls from the ledger.
type StageCalls struct {
	Calls     int            `json:"calls"`
	CacheHits int            `json:"cache_hits"`
	Errors    map[string]int `json:"errors,omitempty"`
	Usage     ethos.Usage    `json:"usage"`
	CostUSD   float64        `json:"cost_usd"`
}

// Export writes the run's dataset: exactly the planned number of examples
// per category (the earliest accepted ones), with the detailed and
// metadata files beside it. Each file is written to a temporary name and
// renamed into place, so an interruption never leaves a partial file.
func (p *Pipeline) Export(ctx context.Context, out OutputPaths, force bool) (Metadata, error) {
	if err := out.CheckOutputs(force); err != nil {
		return Metadata{}, err
	}
	quotas := PlanCategories(p.settings.Character.Categories, p.settings.Examples, p.settings.Weights)
	byID := func(stage string) (map[int64]ethos.Item, error) {
		items, err := p.store.Items(ctx, ethos.ItemFilter{RunID: p.runID, Stage: stage})
		m := make(map[int64]ethos.Item, len(items))
		for _, it := range items {
			m[it.ID] = it
		}
		return m, err
	}
	ideas, err := byID(StageIdea)
	if err != nil {
		return Metadata{}, err
	}
	docs, err := byID(StageDocument)
	if err != nil {
		return Metadata{}, err
	}
	replies, err := p.store.Items(ctx, ethos.ItemFilter{RunID: p.runID, Stage: StageResponse})
	if err != nil {
		return Metadata{}, err
	}

	g := p.settings.Generate
	models := map[string]string{"ideas": g.Ideas.Model, "documents": g.Documents.Model, "responses": g.Responses.Model}
	if g.Review.LLM {
		models["review"] = g.Review.Model
	}
	meta := Metadata{
		Run: p.runID, Created: time.Now().UTC(), Seed: p.settings.Seed, Files: out,
		ConfigHash: p.settings.ConfigHash, CharacterHash: CharacterHash(p.settings.Character),
		Character: p.settings.Character.Name, IncludeSystem: g.Responses.IncludeSystem,
		PromptVersions: TemplateVersions(), Models: models, Settings: p.settings,
		Stages: map[string]map[string]int{}, Categories: map[string][2]int{}, Rejections: map[string]int{},
		Calls: map[string]StageCalls{},
	}
	var records []Record
	var detailed []Detailed
	taken := map[string]int{}
	for _, r := range replies { // in ID order: the earliest accepted first
		if r.Status != ethos.ItemAccepted {
			continue
		}
		doc, ok := docs[r.ParentID]
		if !ok {
			return meta, ethos.Errorf(ethos.Internal, "reply %d: document %d missing", r.ID, r.ParentID)
		}
		ideaItem, ok := ideas[doc.ParentID]
		if !ok {
			return meta, ethos.Errorf(ethos.Internal, "document %d: idea %d missing", doc.ID, doc.ParentID)
		}
		var rd responseData
		var dd documentData
		var id ideaData
		if err := errors.Join(json.Unmarshal(r.Data, &rd), json.Unmarshal(doc.Data, &dd), json.Unmarshal(ideaItem.Data, &id)); err != nil {
			return meta, ethos.Errorf(ethos.Internal, "reply %d: %w", r.ID, err)
		}
		if taken[id.Category] >= quotas[id.Category] {
			continue
		}
		taken[id.Category]++
		rec := p.record(dd.Body, rd.Reply)
		records = append(records, rec)
		detailed = append(detailed, Detailed{
			Record: rec, Run: p.runID, ExampleID: r.ID, Category: id.Category, Idea: id.Idea,
			Document:    DocumentInfo{Title: dd.Title, Type: dd.Type, Words: len(strings.Fields(dd.Body))},
			Models:      map[string]string{"ideas": g.Ideas.Model, "documents": dd.Model, "responses": rd.Model, "review": rd.ReviewModel},
			CallKeys:    map[string]string{"document": dd.CallKey, "response": rd.CallKey},
			Attempts:    map[string]int{"document": doc.Attempt, "response": r.Attempt},
			TraitScores: rd.TraitScores,
		})
	}
	if len(records) != p.settings.Examples {
		return meta, ethos.Errorf(ethos.Internal, "export: %d examples selected, want %d", len(records), p.settings.Examples)
	}
	meta.Examples = len(records)
	for name, q := range quotas {
		meta.Categories[name] = [2]int{taken[name], q}
	}
	if err := p.summarize(ctx, &meta); err != nil {
		return meta, err
	}

	if err := os.MkdirAll(filepath.Dir(out.Dataset), 0o755); err != nil {
		return meta, ethos.Errorf(ethos.Config, "creating %s: %w", filepath.Dir(out.Dataset), err)
	}
	if err := writeJSONL(out.Dataset, records); err != nil {
		return meta, err
	}
	if err := writeJSONL(out.Detailed, detailed); err != nil {
		return meta, err
	}
	b, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return meta, ethos.Errorf(ethos.Internal, "encoding metadata: %w", err)
	}
	if err := writeAtomic(out.Metadata, append(b, '\n')); err != nil {
		return meta, err
	}
	return meta, p.store.SetRunStatus(ctx, p.runID, ethos.RunCompleted, "")
}

// record builds the training record for a document and its reply.
func (p *Pipeline) record(document, reply string) Record {
	var msgs []ethos.Message
	if p.settings.Generate.Responses.IncludeSystem {
		msgs = append(msgs, ethos.Message{Role: ethos.RoleSystem, Content: p.settings.Character.SystemPrompt})
	}
	msgs = append(msgs, ethos.Message{Role: ethos.RoleUser, Content: document}, ethos.Message{Role: ethos.RoleAssistant, Content: reply})
	return Record{Messages: msgs}
}

// summarize fills the counts, rejection reasons and per-stage costs.
func (p *Pipeline) summarize(ctx context.Context, meta *Metadata) error {
	counts, err := p.store.CountItems(ctx, p.runID)
	if err != nil {
		return err
	}
	for _, c := range counts {
		if meta.Stages[c.Stage] == nil {
			meta.Stages[c.Stage] = map[string]int{}
		}
		meta.Stages[c.Stage][string(c.Status)] = c.Count
	}
	for _, stage := range []string{StageIdeas, StageIdea, StageDocument, StageResponse} {
		for _, status := range []ethos.ItemStatus{ethos.ItemRejected, ethos.ItemQuarantined} {
			items, err := p.store.Items(ctx, ethos.ItemFilter{RunID: p.runID, Stage: stage, Status: status})
			if err != nil {
				return err
			}
			for _, it := range items {
				meta.Rejections[stage+": "+reasonClass(it.Reason)]++
			}
		}
	}
	calls, err := p.store.Calls(ctx, ethos.CallFilter{RunID: p.runID})
	if err != nil {
		return err
	}
	for _, c := range calls {
		sc := meta.Calls[c.Stage]
		sc.Calls++
		if c.CacheHit {
			sc.CacheHits++
		}
		if c.ErrorKind != "" {
			if sc.Errors == nil {
				sc.Errors = map[string]int{}
			}
			sc.Errors[string(c.ErrorKind)]++
		}
		sc.Usage.In += c.Usage.In
		sc.Usage.Out += c.Usage.Out
		sc.CostUSD += c.CostUSD
		meta.Calls[c.Stage] = sc
		meta.TotalCostUSD += c.CostUSD
		if meta.FirstCall.IsZero() || c.CreatedAt.Before(meta.FirstCall) {
			meta.FirstCall = c.CreatedAt
		}
		if c.CreatedAt.After(meta.LastCall) {
			meta.LastCall = c.CreatedAt
		}
	}
	if !meta.FirstCall.IsZero() {
		meta.WallTime = meta.LastCall.Sub(meta.FirstCall).Round(time.Millisecond).String()
	}
	return nil
}

// reasonClass reduces a rejection reason to its rule or error class, so
// that reasons can be counted.
func reasonClass(reason string) string {
	if reason == "" {
		return "unknown"
	}
	for _, sep := range []string{":", " (", ";"} {
		if i := strings.Index(reason, sep); i > 0 {
			reason = reason[:i]
		}
	}
	fields := strings.Fields(reason)
	if len(fields) > 4 {
		fields = fields[:4]
	}
	return strings.Join(fields, " ")
}

func writeJSONL[T any](path string, rows []T) error {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	for _, r := range rows {
		if err := enc.Encode(r); err != nil {
			return ethos.Errorf(ethos.Internal, "encoding %s: %w", path, err)
		}
	}
	return writeAtomic(path, []byte(b.String()))
}

// writeAtomic writes data beside path and renames it into place.
func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return ethos.Errorf(ethos.Config, "writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriter(tmp)
	if _, err := w.Write(data); err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return ethos.Errorf(ethos.Internal, "writing %s: %w", path, err)
	}
	return nil
}
