package pipeline

import (
	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/config"
)

// FineTuneSettings are the hyperparameters a configuration's finetune
// section gives a job on provider, with or without a validation file.
// OpenAI takes no LoRA settings or evaluation count and its learning rate
// is a multiplier, so for it those are left to OpenAI's defaults; the
// evaluation count needs a validation file to evaluate.
func FineTuneSettings(ft config.FineTune, provider string, validation bool) ethos.Hyperparameters {
	h := ethos.Hyperparameters{Epochs: ft.Epochs, BatchSize: ft.BatchSize, Suffix: ft.Suffix}
	if provider != "openai" {
		h.LearningRate, h.LoRA = ft.LearningRate, ft.LoRA
		if ft.LoRA {
			h.LoRARank, h.LoRAAlpha, h.LoRADropout = ft.LoRAR, float64(ft.LoRAAlpha), ft.LoRADropout
		}
		if validation {
			h.Evals = ft.NEvals
		}
	}
	return h
}
