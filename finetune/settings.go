package finetune

import (
	"time"

	"github.com/ethos-toolkit/ethos"
)

// PollInterval is how often a job on provider is asked for its state
// while it is followed: the sandbox trains in seconds, real providers in
// tens of minutes.
func PollInterval(provider string) time.Duration {
	if provider == "sandbox" {
		return 500 * time.Millisecond
	}
	return 30 * time.Second
}

// Overrides are settings given for one job (the command line's flags)
// over those its project gives; a nil field keeps the project's.
type Overrides struct {
	Epochs, BatchSize, LoRARank, Evals            *int
	LearningRate, LoRAAlpha, LoRADropout, DPOBeta *float64
	Suffix                                        *string
	// LoRA asks for adapter training, as does any LoRA setting given;
	// Full asks for full fine-tuning and wins over a LoRA setting. Both
	// at once is an error.
	LoRA, Full bool
	// Method is FineTuneDPO to train by DPO; "" and FineTuneSFT keep SFT.
	Method string
	// WandbProject names the Weights & Biases project of this job.
	WandbProject string
}

// Apply returns h with the overrides applied and validated. SFT stays
// unnamed in the result, so that a job's request (and the intent a rerun
// finds) is what it was before DPO; a job that is not LoRA carries no
// LoRA settings.
func (o Overrides) Apply(h ethos.Hyperparameters) (ethos.Hyperparameters, error) {
	if o.Method != "" && o.Method != ethos.FineTuneSFT && o.Method != ethos.FineTuneDPO {
		return h, ethos.Errorf(ethos.Invalid, "method %q: want %s or %s", o.Method, ethos.FineTuneSFT, ethos.FineTuneDPO)
	}
	if o.LoRA && o.Full {
		return h, ethos.Errorf(ethos.Config, "LoRA and full fine-tuning exclude each other (--lora, --full)")
	}
	h.WandbProject = o.WandbProject
	set(&h.Epochs, o.Epochs)
	set(&h.LearningRate, o.LearningRate)
	set(&h.BatchSize, o.BatchSize)
	if o.LoRA || o.LoRARank != nil || o.LoRAAlpha != nil || o.LoRADropout != nil {
		h.LoRA = true
	}
	if o.Full {
		h.LoRA = false
	}
	set(&h.LoRARank, o.LoRARank)
	set(&h.LoRAAlpha, o.LoRAAlpha)
	set(&h.LoRADropout, o.LoRADropout)
	set(&h.Suffix, o.Suffix)
	if o.Method == ethos.FineTuneDPO {
		h.Method = ethos.FineTuneDPO
	}
	set(&h.DPOBeta, o.DPOBeta)
	set(&h.Evals, o.Evals)
	if err := h.Validate(); err != nil {
		return h, err
	}
	if !h.LoRA {
		h.LoRARank, h.LoRAAlpha, h.LoRADropout = 0, 0, 0
	}
	return h, nil
}

// set sets *dst to *v when v is given.
func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}
