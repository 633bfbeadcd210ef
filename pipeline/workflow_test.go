package pipeline_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/config"
	"github.com/ethos-toolkit/ethos/dataset"
	"github.com/ethos-toolkit/ethos/eval"
	"github.com/ethos-toolkit/ethos/generate"
	"github.com/ethos-toolkit/ethos/pipeline"
)

// TestRecipeStages: a recipe's stages, the name each model has in the
// evaluation and the method each trains by.
func TestRecipeStages(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		recipe  string
		stages  []string
		names   []string
		methods []string
	}{
		{"", []string{"sft"}, []string{"tuned"}, []string{"sft"}},
		{"sft", []string{"sft"}, []string{"tuned"}, []string{"sft"}},
		{"dpo", []string{"dpo"}, []string{"dpo"}, []string{"dpo"}},
		{"sft+dpo", []string{"sft", "dpo"}, []string{"sft", "dpo"}, []string{"sft", "dpo"}},
		{"dpo+introspection", []string{"dpo", "introspection"}, []string{"dpo", "introspection"}, []string{"dpo", "sft"}},
	} {
		stages := pipeline.RecipeStages(tt.recipe)
		var names, methods []string
		for _, s := range stages {
			names = append(names, pipeline.EvalName(stages, s))
			methods = append(methods, pipeline.StageMethod(s))
		}
		if !slices.Equal(stages, tt.stages) || !slices.Equal(names, tt.names) || !slices.Equal(methods, tt.methods) {
			t.Errorf("recipe %q: stages %v named %v by %v; want %v named %v by %v", tt.recipe, stages, names, methods, tt.stages, tt.names, tt.methods)
		}
	}
}

func TestParseEvalModels(t *testing.T) {
	t.Parallel()
	got, err := pipeline.ParseEvalModels(" base = sandbox/base, ,tuned=sandbox/ft-7f3a")
	want := []ethos.EvalModel{{Name: "base", Ref: "sandbox/base"}, {Name: "tuned", Ref: "sandbox/ft-7f3a"}}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("got %v, %v; want %v", got, err, want)
	}
	for _, bad := range []string{"", "base=sandbox/base", "sandbox/base,sandbox/writer"} {
		if _, err := pipeline.ParseEvalModels(bad); ethos.KindOf(err) != ethos.Config {
			t.Errorf("%q: %v, want a Config error", bad, err)
		}
	}
}

// FuzzParseEvalModels: any input either names at least two models, each
// with its name and reference trimmed, or is a Config error.
func FuzzParseEvalModels(f *testing.F) {
	for _, s := range []string{"base=sandbox/base,tuned=sandbox/ft-7f3a", "a=b", "=,=", " x = y ,z=w,", "base"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		models, err := pipeline.ParseEvalModels(v)
		if err != nil {
			if ethos.KindOf(err) != ethos.Config {
				t.Fatalf("%q: %v is not a Config error", v, err)
			}
			return
		}
		if len(models) < 2 {
			t.Fatalf("%q: %d models", v, len(models))
		}
		for _, m := range models {
			if m.Name != strings.TrimSpace(m.Name) || m.Ref != strings.TrimSpace(m.Ref) || strings.Contains(m.Ref, ",") {
				t.Fatalf("%q: model %+v", v, m)
			}
		}
	})
}

func TestDefaultEvalModels(t *testing.T) {
	t.Parallel()
	reg := registry{{Name: "sandbox/ft-new", Provider: "sandbox", BaseModel: "base"}, {Name: "sandbox/ft-old", Provider: "sandbox", BaseModel: "base"}}
	got, err := pipeline.DefaultEvalModels(t.Context(), reg)
	want := []ethos.EvalModel{{Name: "base", Ref: "sandbox/base"}, {Name: "tuned", Ref: "sandbox/ft-new"}}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("got %v, %v; want %v", got, err, want)
	}
	for _, reg := range []registry{nil, {{Name: "sandbox/ft-x", Provider: "sandbox"}}} {
		if _, err := pipeline.DefaultEvalModels(t.Context(), reg); ethos.KindOf(err) != ethos.Config {
			t.Errorf("registry %v: %v, want a Config error", reg, err)
		}
	}
}

// TestTrainingFiles is the contamination rule: the files given, else the
// datasets of the models compared and the generated dataset, each once
// and only where it exists.
func TestTrainingFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name string) string {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("{}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	train, generated, given := write("data/train.jsonl"), write("data/agora.jsonl"), write("other.jsonl")
	reg := registry{
		{Name: "sandbox/ft-a", DatasetPath: "data/train.jsonl"},
		{Name: "sandbox/ft-b", DatasetPath: train},             // the same file, by absolute path
		{Name: "sandbox/ft-c", DatasetPath: "data/gone.jsonl"}, // no longer there
	}
	models := []ethos.EvalModel{{Name: "base", Ref: "sandbox/base"}, {Name: "a", Ref: "sandbox/ft-a"}, {Name: "b", Ref: "sandbox/ft-b"}, {Name: "c", Ref: "sandbox/ft-c"}}
	got, err := pipeline.TrainingFiles(t.Context(), reg, dir, "data/agora.jsonl", nil, models)
	if err != nil || !slices.Equal(got, []string{train, generated}) {
		t.Errorf("from the registry: %q, %v; want %q", got, err, []string{train, generated})
	}
	got, err = pipeline.TrainingFiles(t.Context(), reg, dir, "data/agora.jsonl", []string{given, given}, models)
	if err != nil || !slices.Equal(got, []string{given}) {
		t.Errorf("given: %q, %v; want %q", got, err, []string{given})
	}
	if _, err := pipeline.TrainingFiles(t.Context(), reg, dir, "", []string{filepath.Join(dir, "missing.jsonl")}, models); ethos.KindOf(err) != ethos.Config {
		t.Errorf("a missing file given: %v, want a Config error", err)
	}
}

// TestResolveEvalModes: auto is resolved from each stage's planned calls,
// an override wins over the config, and the held-out prompts' stages
// follow the generation's rule.
func TestResolveEvalModes(t *testing.T) {
	t.Parallel()
	cfg := config.Offline()
	cfg.Batch.MinRequests = 100
	cfg.Eval.AnswerMode, cfg.Eval.JudgeMode = config.ModeAuto, config.ModeAuto
	cfg.Generate.Documents.Mode = config.ModeAuto
	models := []ethos.EvalModel{{Name: "a", Ref: "sandbox/a"}, {Name: "b", Ref: "sandbox/b"}}
	for _, tt := range []struct {
		prompts             int
		override            string
		answer, judge, docs string
	}{
		// 20 prompts: 40 answers, 20×(traits+1)×2 verdicts.
		{20, "", config.ModeOnline, config.ModeBatch, config.ModeOnline},
		{60, "", config.ModeBatch, config.ModeBatch, config.ModeOnline},
		{200, "", config.ModeBatch, config.ModeBatch, config.ModeBatch},
		{200, config.ModeOnline, config.ModeOnline, config.ModeOnline, config.ModeOnline},
	} {
		s := eval.Settings{EvalSpec: ethos.EvalSpec{Prompts: tt.prompts, Samples: 1, Models: models}, Generate: cfg.Generate}
		pipeline.ResolveEvalModes(&s, cfg, tt.override)
		if s.AnswerMode != tt.answer || s.JudgeMode != tt.judge || s.Generate.Documents.Mode != tt.docs {
			t.Errorf("%d prompts, override %q: answers %s, judge %s, documents %s; want %s, %s, %s",
				tt.prompts, tt.override, s.AnswerMode, s.JudgeMode, s.Generate.Documents.Mode, tt.answer, tt.judge, tt.docs)
		}
	}
}

// TestEvalSettings: the config's defaults, the flags over them, and a bad
// system-prompt choice refused.
func TestEvalSettings(t *testing.T) {
	t.Parallel()
	cfg := config.Offline()
	d := pipeline.Deps{Config: cfg, Dir: t.TempDir(), Store: openStore(t)}
	s, err := pipeline.EvalSettings(t.Context(), d, pipeline.EvalInputs{Models: "base=sandbox/base,tuned=sandbox/tuned", Traits: "overall, curious,,humble"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Judge != cfg.Eval.Judge || s.Prompts != cfg.Eval.Prompts || s.Seed != cfg.Generate.Seed+eval.DefaultSeedOffset ||
		!slices.Equal(s.Traits, []string{"curious", "humble"}) || len(s.TrainingFiles) != 0 {
		t.Errorf("defaults: judge %s, %d prompts, seed %d, traits %q, training files %q", s.Judge, s.Prompts, s.Seed, s.Traits, s.TrainingFiles)
	}
	s, err = pipeline.EvalSettings(t.Context(), d, pipeline.EvalInputs{Models: "a=sandbox/a,b=sandbox/b", Judge: "sandbox/other", Prompts: 7, Seed: 3, SystemPrompt: config.WithoutSystemPrompt})
	if err != nil || s.Judge != "sandbox/other" || s.Prompts != 7 || s.Seed != 3 || s.SystemPrompt {
		t.Errorf("given: %+v, %v", s.EvalSpec, err)
	}
	if _, err := pipeline.EvalSettings(t.Context(), d, pipeline.EvalInputs{Models: "a=sandbox/a,b=sandbox/b", SystemPrompt: "sometimes"}); ethos.KindOf(err) != ethos.Config {
		t.Errorf("--system-prompt sometimes: %v, want a Config error", err)
	}
}

// TestGenerateSettings: the config's defaults, the choices over them, and
// the working directory stored with the run without changing its ID.
func TestGenerateSettings(t *testing.T) {
	t.Parallel()
	cfg := config.Offline()
	cfg.Character.Categories[0].Weight = 2
	project, work := t.TempDir(), t.TempDir()
	s, err := pipeline.GenerateSettings(cfg, project, pipeline.GenerateInputs{WorkDir: work})
	if err != nil {
		t.Fatal(err)
	}
	if s.Examples != cfg.Generate.Examples || s.Seed != cfg.Generate.Seed || s.Output != filepath.Join(project, cfg.Generate.Output) ||
		s.Dir != work || s.Weights[cfg.Character.Categories[0].Name] != 2 || s.Character.SystemPrompt != cfg.Character.SystemPrompt {
		t.Errorf("defaults: %d examples, seed %d, output %s, dir %s, weights %v", s.Examples, s.Seed, s.Output, s.Dir, s.Weights)
	}
	elsewhere, err := pipeline.GenerateSettings(cfg, project, pipeline.GenerateInputs{WorkDir: t.TempDir()})
	if err != nil || elsewhere.RunID() != s.RunID() {
		t.Errorf("the working directory changed the run's ID: %s, %s (%v)", elsewhere.RunID(), s.RunID(), err)
	}
	out := filepath.Join(work, "x.jsonl")
	g, err := pipeline.GenerateSettings(cfg, project, pipeline.GenerateInputs{Examples: 7, Seed: 9, SystemPrompt: "Be brief.", Output: out, WorkDir: work})
	if err != nil || g.Examples != 7 || g.Seed != 9 || g.Output != out || g.Character.SystemPrompt != "Be brief." || g.RunID() == s.RunID() {
		t.Errorf("given: %d examples, seed %d, output %s, prompt %q (%v)", g.Examples, g.Seed, g.Output, g.Character.SystemPrompt, err)
	}
}

// TestWrittenMetadata: a run's files count as written when all are there
// and the metadata is the run's own.
func TestWrittenMetadata(t *testing.T) {
	t.Parallel()
	out := generate.Outputs(filepath.Join(t.TempDir(), "agora.jsonl"))
	write := func(path string, data []byte) {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	meta, _ := json.Marshal(generate.Metadata{Run: "run-1", Examples: 3})
	write(out.Dataset, nil)
	write(out.Metadata, meta)
	if _, ok := pipeline.WrittenMetadata(out, "run-1"); ok {
		t.Error("written without the detailed file")
	}
	write(out.Detailed, nil)
	if m, ok := pipeline.WrittenMetadata(out, "run-1"); !ok || m.Examples != 3 {
		t.Errorf("all files there: %+v, %v", m, ok)
	}
	if _, ok := pipeline.WrittenMetadata(out, "run-2"); ok {
		t.Error("another run's files count as written")
	}
}

// TestPlanGeneration: a call per example for documents and replies, ideas
// PerCall to a call, and a stage by batch estimated at the batch price.
func TestPlanGeneration(t *testing.T) {
	t.Parallel()
	cfg := config.Offline()
	cfg.Prices = map[string]config.Price{"sandbox/writer": {Input: 1, Output: 2, Batch: 0.5}}
	s, err := pipeline.GenerateSettings(cfg, t.TempDir(), pipeline.GenerateInputs{Examples: 40, WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	s.Generate.Documents.Mode = config.ModeBatch
	plan, quotas := pipeline.PlanGeneration(cfg, s)
	total := 0
	for _, q := range quotas {
		total += q
	}
	if total != 40 || len(plan) < 3 {
		t.Fatalf("quotas %v, plan %+v", quotas, plan)
	}
	byStage := map[string]pipeline.StagePlan{}
	for _, sp := range plan {
		byStage[sp.Stage] = sp
	}
	if byStage["documents"].Calls != 40 || byStage["responses"].Calls != 40 || byStage["ideas"].Calls > 40 || byStage["ideas"].Calls < 1 {
		t.Errorf("calls: %+v", byStage)
	}
	docs := byStage["documents"]
	if !docs.PriceKnown || docs.CostUSD != docs.BatchUSD || docs.BatchUSD >= docs.OnlineUSD {
		t.Errorf("documents by batch: %+v", docs)
	}
	if r := byStage["responses"]; r.CostUSD != r.OnlineUSD || r.WorstUSD < r.CostUSD {
		t.Errorf("responses online: %+v", r)
	}
}

func TestFirstProblems(t *testing.T) {
	t.Parallel()
	rep := &dataset.Report{Problems: []dataset.Problem{{Line: 1, Severity: dataset.SeverityWarning}, {Line: 2, Severity: dataset.SeverityError},
		{Line: 3, Severity: dataset.SeverityError}, {Line: 4, Severity: dataset.SeverityError}}}
	var lines []int
	for _, p := range pipeline.FirstProblems(rep, 2) {
		lines = append(lines, p.Line)
	}
	if diff := cmp.Diff([]int{2, 3}, lines); diff != "" {
		t.Errorf("first problems (-want +got):\n%s", diff)
	}
}
