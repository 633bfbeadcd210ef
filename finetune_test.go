package ethos_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/ethos-toolkit/ethos"
)

func TestHyperparametersValidate(t *testing.T) {
	t.Parallel()
	lora := func(h ethos.Hyperparameters) ethos.Hyperparameters { h.LoRA = true; return h }
	tests := []struct {
		name string
		h    ethos.Hyperparameters
		want string // in the error; "" for valid
	}{
		{"provider defaults", ethos.Hyperparameters{}, ""},
		{"typical LoRA", lora(ethos.Hyperparameters{Epochs: 3, LearningRate: 1e-5, BatchSize: 8, LoRARank: 16, LoRAAlpha: 32, LoRADropout: 0.05}), ""},
		{"dropout 0", lora(ethos.Hyperparameters{LoRADropout: 0}), ""},
		{"dropout 1", lora(ethos.Hyperparameters{LoRADropout: 1}), "LoRA dropout 1 is outside [0, 1)"},
		{"dropout above 1", lora(ethos.Hyperparameters{LoRADropout: 1.5}), "LoRA dropout 1.5"},
		{"negative dropout", lora(ethos.Hyperparameters{LoRADropout: -0.1}), "LoRA dropout -0.1"},
		{"NaN dropout", lora(ethos.Hyperparameters{LoRADropout: math.NaN()}), "LoRA dropout NaN"},
		{"negative rank", lora(ethos.Hyperparameters{LoRARank: -1}), "LoRA rank -1"},
		{"negative alpha", lora(ethos.Hyperparameters{LoRAAlpha: -2}), "LoRA alpha -2"},
		{"infinite alpha", lora(ethos.Hyperparameters{LoRAAlpha: math.Inf(1)}), "LoRA alpha +Inf"},
		{"LoRA settings of a full fine-tune are not sent", ethos.Hyperparameters{LoRADropout: 1}, ""},
		{"negative epochs", ethos.Hyperparameters{Epochs: -1}, "epochs -1"},
		{"negative batch", ethos.Hyperparameters{BatchSize: -4}, "batch size -4"},
		{"negative learning rate", ethos.Hyperparameters{LearningRate: -1e-5}, "learning rate -1e-05"},
		{"infinite learning rate", ethos.Hyperparameters{LearningRate: math.Inf(1)}, "learning rate +Inf"},
		{"sft named", ethos.Hyperparameters{Method: ethos.FineTuneSFT}, ""},
		{"dpo with its settings", ethos.Hyperparameters{Method: ethos.FineTuneDPO, DPOBeta: 0.2, RPOAlpha: 0.5, SimPOGamma: 1}, ""},
		{"unknown method", ethos.Hyperparameters{Method: "ppo"}, `training method "ppo"`},
		{"dpo_beta without dpo", ethos.Hyperparameters{DPOBeta: 0.1}, "dpo_beta is a DPO setting, but the job trains with sft"},
		{"simpo_gamma on an sft job", ethos.Hyperparameters{Method: ethos.FineTuneSFT, SimPOGamma: 0.5}, "simpo_gamma is a DPO setting"},
		{"negative dpo_beta", ethos.Hyperparameters{Method: ethos.FineTuneDPO, DPOBeta: -0.1}, "dpo_beta -0.1"},
		{"NaN rpo_alpha", ethos.Hyperparameters{Method: ethos.FineTuneDPO, RPOAlpha: math.NaN()}, "rpo_alpha NaN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.h.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if ethos.KindOf(err) != ethos.Config || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v (kind %q), want a config error saying %q", err, ethos.KindOf(err), tt.want)
			}
		})
	}
}

func TestCheckFineTuneProvider(t *testing.T) {
	t.Parallel()
	for _, name := range ethos.FineTuneProviders {
		if err := ethos.CheckFineTuneProvider(name); err != nil {
			t.Errorf("CheckFineTuneProvider(%q) = %v", name, err)
		}
	}
	for _, name := range []string{"", "bogus", "Together", "anthropic"} {
		err := ethos.CheckFineTuneProvider(name)
		if ethos.KindOf(err) != ethos.Config || !strings.Contains(err.Error(), "want together, openai or sandbox") {
			t.Errorf("CheckFineTuneProvider(%q) = %v, want a config error listing the providers", name, err)
		}
	}
}

// TestWandbURL: the job object's wandb_url, only when it is an http(s)
// URL, since the dashboard links to it.
func TestWandbURL(t *testing.T) {
	t.Parallel()
	for payload, want := range map[string]string{
		`{"wandb_url":"https://wandb.ai/acme/agora/runs/ft-1"}`: "https://wandb.ai/acme/agora/runs/ft-1",
		`{"wandb_url":"javascript:alert(1)"}`:                   "",
		`{"wandb_url":""}`:                                      "",
		`{"id":"ft-1"}`:                                         "",
		`not json`:                                              "",
		``:                                                      "",
	} {
		j := ethos.FineTuneJob{Payload: json.RawMessage(payload)}
		if got := j.WandbURL(); got != want {
			t.Errorf("WandbURL of %s = %q, want %q", payload, got, want)
		}
	}
}
