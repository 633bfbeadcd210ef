package finetune

import (
	"encoding/json"
	"strings"

	"github.com/ethos-toolkit/ethos"
)

// states maps the providers' job statuses to ethos's coarse states: Together
// (pending, queued, running, compressing, uploading — the trained model is
// being uploaded —, cancel_requested, cancelled, error, user_error,
// completed) and OpenAI (validating_files, queued, running, succeeded,
// failed, cancelled). The sandbox speaks Together's.
var states = map[string]ethos.FineTuneState{
	"pending":          ethos.FineTunePending,
	"queued":           ethos.FineTunePending,
	"validating_files": ethos.FineTunePending,
	"running":          ethos.FineTuneRunning,
	"compressing":      ethos.FineTuneRunning,
	"uploading":        ethos.FineTuneRunning,
	"cancel_requested": ethos.FineTuneRunning,
	"completed":        ethos.FineTuneCompleted,
	"succeeded":        ethos.FineTuneCompleted,
	"error":            ethos.FineTuneFailed,
	"user_error":       ethos.FineTuneFailed,
	"failed":           ethos.FineTuneFailed,
	"cancelled":        ethos.FineTuneCancelled,
}

// StateOf maps a provider's job status to ethos's state. A status ethos
// does not know is Unknown: shown as it is and never taken for final.
func StateOf(status string) ethos.FineTuneState {
	if s, ok := states[strings.ToLower(strings.TrimSpace(status))]; ok {
		return s
	}
	return ethos.FineTuneUnknown
}

// OutputModelOf is the provider's name of the model a job trains: the
// backend's reading of it, else the name in the job's payload — Together's
// model_output_name (or output_name), OpenAI's fine_tuned_model. It is
// empty until the provider names the model.
func OutputModelOf(j ethos.FineTuneJob) string {
	if j.OutputModel != "" {
		return j.OutputModel
	}
	if len(j.Payload) == 0 {
		return ""
	}
	var p struct {
		ModelOutputName string `json:"model_output_name"`
		OutputName      string `json:"output_name"`
		FineTunedModel  string `json:"fine_tuned_model"`
	}
	if json.Unmarshal(j.Payload, &p) != nil {
		return ""
	}
	for _, name := range []string{p.ModelOutputName, p.OutputName, p.FineTunedModel} {
		if name = strings.TrimSpace(name); name != "" {
			return name
		}
	}
	return ""
}

// ModelName is the reference ethos calls a job's trained model by:
// "provider/output model" (e.g. "together/acme/Llama-3-8B-agora-ab12",
// "openai/ft:gpt-4o-mini:acme::abc", "sandbox/ft-7f3a"), or "" while the
// provider has not named it.
func ModelName(j ethos.FineTuneJob) string {
	out := OutputModelOf(j)
	if out == "" {
		return ""
	}
	return j.Provider + "/" + out
}

// progressOf is a job's progress as the provider's job object and events
// report it: the furthest step and epoch seen, the most recent loss. Nothing
// is estimated.
func progressOf(remote ethos.FineTuneProgress, events []ethos.FineTuneEvent, h ethos.Hyperparameters) ethos.FineTuneProgress {
	p := remote
	var loss *float64
	for _, ev := range events {
		p.Step = max(p.Step, ev.Step)
		p.Epoch = max(p.Epoch, ev.Epoch)
		if ev.Loss != nil {
			loss = ev.Loss
		}
	}
	if p.Loss == nil && loss != nil {
		l := *loss
		p.Loss = &l
	}
	if p.Epochs == 0 {
		p.Epochs = h.Epochs
	}
	return p
}
