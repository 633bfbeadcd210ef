package finetune

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", name, diff)
	}
}

func TestWriteRegistry(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 3, 14, 15, 9, 0, 0, time.UTC)
	finished := at.Add(-time.Hour)
	models := []ethos.Model{
		{Name: "sandbox/ft-7f3a", Provider: "sandbox", ProviderModel: "ft-7f3a", BaseModel: "base", JobID: "ft-7f3a",
			DatasetPath: "data/agora.jsonl", DatasetSHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
			Hyperparameters: ethos.Hyperparameters{Epochs: 3, LearningRate: 1e-5, BatchSize: 8, LoRA: true, LoRARank: 8, LoRAAlpha: 16, LoRADropout: 0.05, Suffix: "agora"},
			CreatedAt:       finished, Evals: []string{"eval-1", "eval-2"}, Parent: "sandbox/ft-5e6f", Recipe: "sft+dpo"},
		{Name: "openai/ft:gpt-4o-mini:acme:agora:9xY", Provider: "openai", ProviderModel: "ft:gpt-4o-mini:acme:agora:9xY",
			BaseModel: "gpt-4o-mini-2024-07-18", JobID: "ftjob-abc", DatasetPath: "data/odd|name.jsonl", DatasetSHA256: "abc",
			Hyperparameters: ethos.Hyperparameters{Epochs: 2}, CostUSD: 4.2, CreatedAt: at.Add(-48 * time.Hour)},
	}
	jobs := map[string]ethos.FineTuneJob{
		"ft-7f3a": {ID: "ft-7f3a", RunID: "gen-20250314-agora", CreatedAt: finished.Add(-30 * time.Minute), FinishedAt: &finished},
	}
	var b bytes.Buffer
	if err := WriteRegistry(&b, models, jobs, at); err != nil {
		t.Fatal(err)
	}
	golden(t, "registry.md", b.Bytes())

	b.Reset()
	if err := WriteRegistry(&b, nil, nil, at); err != nil {
		t.Fatal(err)
	}
	golden(t, "registry-empty.md", b.Bytes())
}

func TestRecordedPath(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ dir, path, recorded, resolved string }{
		{"/p/project", "/p/project/data/agora.jsonl", "data/agora.jsonl", "/p/project/data/agora.jsonl"},
		{"/p/project", "/p/project/data/../data/agora.jsonl", "data/agora.jsonl", "/p/project/data/agora.jsonl"},
		{"/p/project", "/p/other/agora.jsonl", "/p/other/agora.jsonl", "/p/other/agora.jsonl"},
		{"/p/project", "/p/project-b/agora.jsonl", "/p/project-b/agora.jsonl", "/p/project-b/agora.jsonl"},
		{"/p/project", "/p/project/..data/agora.jsonl", "..data/agora.jsonl", "/p/project/..data/agora.jsonl"},
		{"", "/p/project/data/agora.jsonl", "/p/project/data/agora.jsonl", "/p/project/data/agora.jsonl"},
		{"/p/project", "", "", ""},
	} {
		recorded := RecordedPath(tc.dir, tc.path)
		got := []string{recorded, ResolvePath(tc.dir, recorded)}
		if diff := cmp.Diff([]string{tc.recorded, tc.resolved}, got); diff != "" {
			t.Errorf("RecordedPath(%q, %q) and back (-want +got):\n%s", tc.dir, tc.path, diff)
		}
	}
	// An older record by absolute path stays readable where it is.
	if got := ResolvePath("/moved", "/p/project/data/agora.jsonl"); got != "/p/project/data/agora.jsonl" {
		t.Errorf("absolute record resolved to %q", got)
	}
}

// registryStore is a RegistryStore of fixed models and jobs.
type registryStore struct {
	models []ethos.Model
	jobs   []ethos.FineTuneJob
}

func (s registryStore) Models(context.Context) ([]ethos.Model, error) { return s.models, nil }
func (s registryStore) Jobs(context.Context, ethos.FineTuneFilter) ([]ethos.FineTuneJob, error) {
	return s.jobs, nil
}

// TestWriteRegistryFile: the registry of the store's models, with their
// jobs' dates, written into a directory made for it.
func TestWriteRegistryFile(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 3, 14, 15, 9, 0, 0, time.UTC)
	finished := at.Add(-time.Hour)
	store := registryStore{
		models: []ethos.Model{{Name: "sandbox/ft-1", Provider: "sandbox", BaseModel: "base", JobID: "ft-1", CreatedAt: finished}},
		jobs:   []ethos.FineTuneJob{{ID: "ft-1", RunID: "gen-1", CreatedAt: finished.Add(-time.Hour), FinishedAt: &finished}},
	}
	path := filepath.Join(t.TempDir(), "docs", "MODELS.md")
	n, err := WriteRegistryFile(t.Context(), store, path, at)
	if err != nil || n != 1 {
		t.Fatalf("WriteRegistryFile = %d, %v", n, err)
	}
	var want bytes.Buffer
	if err := WriteRegistry(&want, store.models, map[string]ethos.FineTuneJob{"ft-1": store.jobs[0]}, at); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want.String(), string(got)); diff != "" || !strings.Contains(string(got), "gen-1") {
		t.Errorf("registry file (-want +got):\n%s", diff)
	}
}
