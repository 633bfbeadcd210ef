package pipeline_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/config"
	"github.com/ethos-toolkit/ethos/finetune"
	"github.com/ethos-toolkit/ethos/pipeline"
)

func TestFineTuneSettings(t *testing.T) {
	t.Parallel()
	ft := config.FineTune{Epochs: 3, LearningRate: 1e-5, BatchSize: 8, LoRA: true, LoRAR: 8, LoRAAlpha: 16, LoRADropout: 0.05,
		Suffix: "agora", NEvals: 4}
	noLoRA := ft
	noLoRA.LoRA = false
	for _, tt := range []struct {
		name       string
		ft         config.FineTune
		provider   string
		validation bool
		want       ethos.Hyperparameters
	}{
		{"together with validation", ft, "together", true, ethos.Hyperparameters{Epochs: 3, LearningRate: 1e-5, BatchSize: 8,
			LoRA: true, LoRARank: 8, LoRAAlpha: 16, LoRADropout: 0.05, Suffix: "agora", Evals: 4}},
		// Evaluations are of the validation file: none without one.
		{"together without validation", ft, "together", false, ethos.Hyperparameters{Epochs: 3, LearningRate: 1e-5, BatchSize: 8,
			LoRA: true, LoRARank: 8, LoRAAlpha: 16, LoRADropout: 0.05, Suffix: "agora"}},
		{"full fine-tuning carries no LoRA settings", noLoRA, "sandbox", false, ethos.Hyperparameters{Epochs: 3, LearningRate: 1e-5,
			BatchSize: 8, Suffix: "agora"}},
		// OpenAI's learning rate is a multiplier, and it takes no LoRA
		// settings or evaluation count: its defaults stand.
		{"openai", ft, "openai", true, ethos.Hyperparameters{Epochs: 3, BatchSize: 8, Suffix: "agora"}},
	} {
		if diff := cmp.Diff(tt.want, pipeline.FineTuneSettings(tt.ft, tt.provider, tt.validation)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestFineTuneCreateOptions(t *testing.T) {
	t.Parallel()
	ft := config.FineTune{Provider: "sandbox", Model: "base", Epochs: 3, LearningRate: 1e-5, BatchSize: 8, Suffix: "agora", NEvals: 4}
	train, err := filepath.Abs("train.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		opts    finetune.CreateOptions
		o       finetune.Overrides
		want    finetune.CreateOptions
		wantErr string // in the error; "" for none
	}{
		{name: "the section's provider and model", opts: finetune.CreateOptions{TrainPath: "train.jsonl", RunID: "gen-1"},
			want: finetune.CreateOptions{Provider: "sandbox", BaseModel: "base", TrainPath: train, RunID: "gen-1",
				Hyperparameters: ethos.Hyperparameters{Epochs: 3, LearningRate: 1e-5, BatchSize: 8, Suffix: "agora"}}},
		{name: "the section's provider, another model", opts: finetune.CreateOptions{Provider: "sandbox", BaseModel: "other", TrainPath: train},
			o: finetune.Overrides{Epochs: ptr(1)},
			want: finetune.CreateOptions{Provider: "sandbox", BaseModel: "other", TrainPath: train,
				Hyperparameters: ethos.Hyperparameters{Epochs: 1, LearningRate: 1e-5, BatchSize: 8, Suffix: "agora"}}},
		{name: "another provider and its model", opts: finetune.CreateOptions{Provider: "openai", BaseModel: "gpt-4o-mini", TrainPath: train},
			want: finetune.CreateOptions{Provider: "openai", BaseModel: "gpt-4o-mini", TrainPath: train,
				Hyperparameters: ethos.Hyperparameters{Epochs: 3, BatchSize: 8, Suffix: "agora"}}},
		{name: "evaluations with a validation file", opts: finetune.CreateOptions{TrainPath: train, ValidationPath: "val.jsonl"},
			want: finetune.CreateOptions{Provider: "sandbox", BaseModel: "base", TrainPath: train, ValidationPath: filepath.Join(filepath.Dir(train), "val.jsonl"),
				Hyperparameters: ethos.Hyperparameters{Epochs: 3, LearningRate: 1e-5, BatchSize: 8, Suffix: "agora", Evals: 4}}},
		{name: "another provider needs its model", opts: finetune.CreateOptions{Provider: "together", TrainPath: train}, wantErr: "--model is required"},
		{name: "an unknown provider", opts: finetune.CreateOptions{Provider: "bogus", BaseModel: "m", TrainPath: train}, wantErr: `unknown fine-tuning provider "bogus"`},
		{name: "evaluations need a validation file", opts: finetune.CreateOptions{TrainPath: train}, o: finetune.Overrides{Evals: ptr(2)},
			wantErr: "--n-evals needs --validation"},
		{name: "lora and full", opts: finetune.CreateOptions{TrainPath: train}, o: finetune.Overrides{LoRA: true, Full: true}, wantErr: "exclude each other"},
	} {
		got, err := pipeline.FineTuneCreateOptions(ft, tt.opts, tt.o)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || ethos.KindOf(err) != ethos.Config {
				t.Errorf("%s: err %v, want a Config error saying %q", tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

func ptr[T any](v T) *T { return &v }
