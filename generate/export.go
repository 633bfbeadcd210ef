package generate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/internal/atomicfile"
	"github.com/ethos-toolkit/ethos/internal/prompttext"
)

// OutputPaths are the three files a run writes. They never overlap: the
// detailed and metadata files are named from the dataset file's stem.
type OutputPaths struct {
	Dataset  string `json:"dataset"`  // training records only
	Detailed string `json:"detailed"` // each example with its provenance
	Metadata string `json:"metadata"` // settings, counts, costs, timings
	// Pairs holds the preference pairs, for a run with generate.pairs.
	Pairs string `json:"pairs,omitempty"`
}

// Outputs derives the output paths from the dataset path.
func Outputs(dataset string) OutputPaths {
	stem := strings.TrimSuffix(dataset, ".jsonl")
	return OutputPaths{Dataset: stem + ".jsonl", Detailed: stem + ".detailed.jsonl", Metadata: stem + ".metadata.json"}
}

// Outputs are the files the run writes: those of Outputs(OutputPath()),
// and the pairs file when the run writes preference pairs.
func (s Settings) Outputs() OutputPaths {
	out := Outputs(s.OutputPath())
	if s.Generate.Pairs != nil && s.StopAfter == "" {
		out.Pairs = strings.TrimSuffix(out.Dataset, ".jsonl") + ".pairs.jsonl"
	}
	return out
}

// CheckOutputs fails with a Config error when any output exists, unless
// force is set: nothing is overwritten by accident.
func (o OutputPaths) CheckOutputs(force bool) error {
	if force {
		return nil
	}
	for _, path := range []string{o.Dataset, o.Detailed, o.Metadata, o.Pairs} {
		if path == "" {
			continue
		}
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
	// Rejected is the student's answer, the pair's rejected side, for a
	// run with generate.pairs.
	Rejected string `json:"rejected,omitempty"`
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
	Started        time.Time                 `json:"started"`
	// WallTime runs from the run's start to this export, interruptions included.
	WallTime string `json:"wall_time"`
}

// StageCalls sums a stage's model calls from the ledger.
type StageCalls struct {
	Calls       int            `json:"calls"`
	CacheHits   int            `json:"cache_hits"`
	Errors      map[string]int `json:"errors,omitempty"`
	Usage       ethos.Usage    `json:"usage"`
	CostUSD     float64        `json:"cost_usd"`
	MeanLatency string         `json:"mean_latency"`
}

// Export writes the run's dataset: exactly the planned number of examples
// per category (the earliest accepted ones), with the detailed and
// metadata files beside it. It streams the examples page by page, so its
// memory does not grow with the dataset, and writes each file under a
// temporary name renamed into place, so an interruption never leaves a
// partial file.
func (p *Pipeline) Export(ctx context.Context, out OutputPaths, force bool) (Metadata, error) {
	if err := out.CheckOutputs(force); err != nil {
		return Metadata{}, err
	}
	meta, err := p.export(ctx, out)
	if err != nil {
		// The run is not done until its files are: a write that failed
		// (a full disk, a directory it may not write) leaves it failed,
		// with the reason, rather than running for ever; the same
		// command writes them again.
		msg := fmt.Sprintf("writing the run's files: %v; fix that and run the same command again to write them", err)
		if serr := p.store.SetRunStatus(context.WithoutCancel(ctx), p.runID, ethos.RunFailed, msg); serr != nil {
			return meta, fmt.Errorf("%w (and recording it failed: %v)", err, serr)
		}
	}
	return meta, err
}

// export writes the run's files (see Export).
func (p *Pipeline) export(ctx context.Context, out OutputPaths) (Metadata, error) {
	quotas := PlanCategories(p.settings.Character.Categories, p.settings.Examples, p.settings.Weights)
	g := p.settings.Generate
	models := map[string]string{"ideas": g.Ideas.Model, "documents": g.Documents.Model, "responses": g.Responses.Model}
	if g.Review.LLM {
		models["review"] = g.Review.Model
	}
	if p.pairs() {
		models["student"] = g.Pairs.Student
		if p.confirming() {
			models["pair_judge"] = p.confirmJudge()
		}
	}
	meta := Metadata{
		Run: p.runID, Created: time.Now().UTC(), Seed: p.settings.Seed, Files: out,
		ConfigHash: p.settings.ConfigHash, CharacterHash: CharacterHash(p.settings.Character),
		Character: p.settings.Character.Name, IncludeSystem: g.Responses.IncludeSystem,
		PromptVersions: TemplateVersions(), Models: models, Settings: p.settings,
		Stages: map[string]map[string]int{}, Categories: map[string][2]int{}, Rejections: map[string]int{},
		Calls: map[string]StageCalls{},
	}
	dataset, detailed, err := createOutputs(out)
	if err != nil {
		return meta, err
	}
	defer dataset.abort()
	defer detailed.abort()
	var pairs *jsonLines
	if p.pairs() {
		if out.Pairs == "" {
			return meta, ethos.Errorf(ethos.Internal, "export: a run with pairs needs a pairs path (Settings.Outputs)")
		}
		if pairs, err = createAtomic(out.Pairs); err != nil {
			return meta, err
		}
		defer pairs.abort()
	}

	taken := map[string]int{}
	const page = 500
	for after := int64(0); ; {
		replies, err := p.store.Items(ctx, ethos.ItemFilter{RunID: p.runID, Stage: StageResponse, Status: ethos.ItemAccepted, AfterID: after, Limit: page})
		if err != nil {
			return meta, err
		}
		for _, r := range replies { // in ID order: the earliest accepted first
			after = r.ID
			doc, err := p.store.Item(ctx, r.ParentID)
			if err != nil {
				return meta, ethos.Errorf(ethos.Internal, "reply %d: its document: %w", r.ID, err)
			}
			ideaItem, err := p.store.Item(ctx, doc.ParentID)
			if err != nil {
				return meta, ethos.Errorf(ethos.Internal, "document %d: its idea: %w", doc.ID, err)
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
			var rejected rejectedData
			if pairs != nil {
				rjItem, rj, ok, err := p.acceptedRejected(ctx, r)
				if err != nil {
					return meta, err
				}
				if ok {
					ok, err = p.confirmed(ctx, rjItem)
				}
				if err != nil {
					return meta, err
				}
				if !ok {
					continue // no pair yet (or one the judge did not confirm): not an example
				}
				rejected = rj
				if err := pairs.encode(preferenceRecord(dd.Body, rd.Reply, rj.Reply)); err != nil {
					return meta, err
				}
			}
			taken[id.Category]++
			rec := p.record(dd.Body, rd.Reply)
			if err := dataset.encode(rec); err != nil {
				return meta, err
			}
			if err := detailed.encode(Detailed{
				Record: rec, Run: p.runID, ExampleID: r.ID, Category: id.Category, Idea: id.Idea,
				Document:    DocumentInfo{Title: dd.Title, Type: dd.Type, Words: prompttext.Words(dd.Body)},
				Models:      map[string]string{"ideas": g.Ideas.Model, "documents": dd.Model, "responses": rd.Model, "review": rd.ReviewModel},
				CallKeys:    map[string]string{"document": dd.CallKey, "response": rd.CallKey},
				Attempts:    map[string]int{"document": doc.Attempt, "response": r.Attempt},
				TraitScores: rd.TraitScores,
				Rejected:    rejected.Reply,
			}); err != nil {
				return meta, err
			}
			meta.Examples++
		}
		if len(replies) < page {
			break
		}
	}
	if meta.Examples != p.settings.Examples {
		return meta, ethos.Errorf(ethos.Internal, "export: %d examples selected, want %d", meta.Examples, p.settings.Examples)
	}
	for name, q := range quotas {
		meta.Categories[name] = [2]int{taken[name], q}
	}
	if err := p.summarize(ctx, &meta); err != nil {
		return meta, err
	}
	files := []*jsonLines{dataset, detailed}
	if pairs != nil {
		files = append(files, pairs)
	}
	return meta, p.complete(ctx, meta, out.Metadata, files...)
}

// complete renames files into place, writes the metadata beside them and
// completes the run: the metadata is written last, so a run whose
// metadata is in place has all its files.
func (p *Pipeline) complete(ctx context.Context, meta any, metaPath string, files ...*jsonLines) error {
	b, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return ethos.Errorf(ethos.Internal, "encoding metadata: %w", err)
	}
	for _, f := range files {
		if err := f.commit(); err != nil {
			return err
		}
	}
	if err := writeAtomic(metaPath, append(b, '\n')); err != nil {
		return err
	}
	return p.store.SetRunStatus(ctx, p.runID, ethos.RunCompleted, "")
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

// summarize fills the counts, rejection reasons and per-stage calls.
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
	err = p.countRejections(ctx, []string{StageIdeas, StageIdea, StageDocument, StageResponse, StageRejected, StageConfirm}, func(stage, reason string) {
		meta.Rejections[stage+": "+ethos.ReasonClass(reason)]++
	})
	if err != nil {
		return err
	}
	if meta.TotalCostUSD, err = p.sumCalls(ctx, []string{StageIdeas, StageDocument, StageResponse, "review", StageRejected, StageConfirm}, meta.Calls); err != nil {
		return err
	}
	meta.Started, meta.WallTime, err = p.wallTime(ctx, meta.Created)
	return err
}

// countRejections calls add for every rejected or quarantined item of
// stages, with its reason.
func (p *Pipeline) countRejections(ctx context.Context, stages []string, add func(stage, reason string)) error {
	for _, stage := range stages {
		for _, status := range []ethos.ItemStatus{ethos.ItemRejected, ethos.ItemQuarantined} {
			items, err := p.store.Items(ctx, ethos.ItemFilter{RunID: p.runID, Stage: stage, Status: status, NoData: true})
			if err != nil {
				return err
			}
			for _, it := range items {
				add(stage, it.Reason)
			}
		}
	}
	return nil
}

// sumCalls adds the ledger's calls of each of stages to calls and returns
// their cost.
func (p *Pipeline) sumCalls(ctx context.Context, stages []string, calls map[string]StageCalls) (float64, error) {
	cost := 0.0
	for _, stage := range stages {
		sums, err := p.store.SummarizeCalls(ctx, ethos.CallFilter{RunID: p.runID, Stage: stage})
		if err != nil {
			return cost, err
		}
		cost += addCalls(calls, stage, sums)
	}
	return cost, nil
}

// wallTime is when the run started and how long it has taken until now,
// interruptions included.
func (p *Pipeline) wallTime(ctx context.Context, now time.Time) (time.Time, string, error) {
	run, err := p.store.Run(ctx, p.runID)
	if err != nil {
		return time.Time{}, "", err
	}
	return run.CreatedAt, now.Sub(run.CreatedAt).Round(time.Millisecond).String(), nil
}

// createOutputs creates the dataset and detailed files of out (and their
// directory), each written under a temporary name until committed.
func createOutputs(out OutputPaths) (dataset, detailed *jsonLines, err error) {
	if err := os.MkdirAll(filepath.Dir(out.Dataset), 0o755); err != nil {
		return nil, nil, ethos.Errorf(ethos.Config, "creating %s: %w", filepath.Dir(out.Dataset), err)
	}
	if dataset, err = createAtomic(out.Dataset); err != nil {
		return nil, nil, err
	}
	if detailed, err = createAtomic(out.Detailed); err != nil {
		dataset.abort()
		return nil, nil, err
	}
	return dataset, detailed, nil
}

// addCalls adds a stage's summed calls to calls and returns their cost.
func addCalls(calls map[string]StageCalls, stage string, sums []ethos.CallSummary) float64 {
	cost := 0.0
	for _, s := range sums {
		sc := calls[stage]
		sc.Calls += s.Calls
		sc.CacheHits += s.CacheHits
		for kind, n := range s.Errors {
			if sc.Errors == nil {
				sc.Errors = map[string]int{}
			}
			sc.Errors[string(kind)] += n
		}
		sc.Usage.In += s.Usage.In
		sc.Usage.Out += s.Usage.Out
		sc.CostUSD += s.CostUSD
		sc.MeanLatency = s.Latency.Round(time.Millisecond).String()
		calls[stage] = sc
		cost += s.CostUSD
	}
	return cost
}

// jsonLines is a JSON-lines file written under a temporary name and
// renamed into place by commit; abort (a no-op after commit) removes it.
// Like the metadata, it keeps the mode of a new temporary file (0600).
type jsonLines struct {
	f   *atomicfile.File
	enc *json.Encoder
}

func createAtomic(path string) (*jsonLines, error) {
	f, err := atomicfile.Create(path, 0o600)
	if err != nil {
		return nil, ethos.Errorf(ethos.Config, "writing %s: %w", path, err)
	}
	enc := json.NewEncoder(f)
	enc.SetEscapeHTML(false)
	return &jsonLines{f: f, enc: enc}, nil
}

// encode writes v as one JSON line.
func (j *jsonLines) encode(v any) error {
	if err := j.enc.Encode(v); err != nil {
		return ethos.Errorf(ethos.Internal, "writing %s: %w", j.f.Path(), err)
	}
	return nil
}

func (j *jsonLines) commit() error {
	if err := j.f.Commit(); err != nil {
		return ethos.Errorf(ethos.Internal, "writing %s: %w", j.f.Path(), err)
	}
	return nil
}

func (j *jsonLines) abort() { j.f.Abort() }

// writeAtomic writes data beside path and renames it into place.
func writeAtomic(path string, data []byte) error {
	f, err := atomicfile.Create(path, 0o600)
	if err != nil {
		return ethos.Errorf(ethos.Config, "writing %s: %w", path, err)
	}
	defer f.Abort()
	f.Write(data)
	if err := f.Commit(); err != nil {
		return ethos.Errorf(ethos.Internal, "writing %s: %w", path, err)
	}
	return nil
}
