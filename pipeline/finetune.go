package pipeline

import (
	"fmt"
	"path/filepath"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/config"
	"github.com/ethos-toolkit/ethos/finetune"
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

// FineTuneCreateOptions completes a job asked for by hand (ethos finetune
// create) from a configuration's finetune section: the provider and the
// base model default to the section's, but a provider other than the
// section's needs its base model named, since the section's model is
// another provider's; the hyperparameters are the section's under o, and
// an evaluation count needs a validation file, the file it evaluates.
// Every refusal comes before any upload. The files' paths are made
// absolute: the job records where its dataset is, for any process, from
// any directory.
func FineTuneCreateOptions(ft config.FineTune, opts finetune.CreateOptions, o finetune.Overrides) (finetune.CreateOptions, error) {
	for _, path := range []*string{&opts.TrainPath, &opts.ValidationPath} {
		if abs, err := filepath.Abs(*path); *path != "" && err == nil {
			*path = abs
		}
	}
	if opts.Provider == "" {
		opts.Provider = ft.Provider
	} else if opts.BaseModel == "" && opts.Provider != ft.Provider {
		return opts, ethos.Errorf(ethos.Config, "--model is required when --provider (%s) is not finetune.provider (%s)", opts.Provider, ft.Provider)
	}
	if opts.BaseModel == "" {
		opts.BaseModel = ft.Model
	}
	if err := ethos.CheckFineTuneProvider(opts.Provider); err != nil {
		return opts, fmt.Errorf("--provider: %w", err)
	}
	if o.Evals != nil && opts.ValidationPath == "" {
		return opts, ethos.Errorf(ethos.Config, "--n-evals needs --validation FILE: the evaluations are of the validation file")
	}
	h, err := o.Apply(FineTuneSettings(ft, opts.Provider, opts.ValidationPath != ""))
	if err != nil {
		return opts, fmt.Errorf("%w (check the flags and ethos.yaml's finetune section)", err)
	}
	opts.Hyperparameters = h
	return opts, nil
}
