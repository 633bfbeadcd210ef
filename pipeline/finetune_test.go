package pipeline_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/config"
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
