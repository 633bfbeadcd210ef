package finetune_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/finetune"
)

func ptr[T any](v T) *T { return &v }

func TestOverridesApply(t *testing.T) {
	t.Parallel()
	project := ethos.Hyperparameters{Epochs: 3, LearningRate: 1e-5, BatchSize: 8, LoRA: true, LoRARank: 8, LoRAAlpha: 16, Suffix: "agora", Evals: 2}
	full := ethos.Hyperparameters{Epochs: 3, LearningRate: 1e-5, BatchSize: 8, Suffix: "agora"}
	for _, tt := range []struct {
		name     string
		base     ethos.Hyperparameters
		o        finetune.Overrides
		want     ethos.Hyperparameters
		wantKind ethos.Kind // of the error; "" for none
	}{
		{name: "nothing given keeps the project's", base: project, want: project},
		{name: "each setting given", base: project,
			o: finetune.Overrides{Epochs: ptr(1), LearningRate: ptr(2e-5), BatchSize: ptr(16), LoRARank: ptr(16), LoRAAlpha: ptr(32.0),
				LoRADropout: ptr(0.05), Suffix: ptr("v2"), Evals: ptr(4), WandbProject: "agora"},
			want: ethos.Hyperparameters{Epochs: 1, LearningRate: 2e-5, BatchSize: 16, LoRA: true, LoRARank: 16, LoRAAlpha: 32,
				LoRADropout: 0.05, Suffix: "v2", Evals: 4, WandbProject: "agora"}},
		{name: "a zero given is kept", base: project, o: finetune.Overrides{Evals: ptr(0), Suffix: ptr("")},
			want: ethos.Hyperparameters{Epochs: 3, LearningRate: 1e-5, BatchSize: 8, LoRA: true, LoRARank: 8, LoRAAlpha: 16}},
		{name: "full drops the LoRA settings", base: project, o: finetune.Overrides{Full: true},
			want: ethos.Hyperparameters{Epochs: 3, LearningRate: 1e-5, BatchSize: 8, Suffix: "agora", Evals: 2}},
		{name: "full wins over a LoRA setting", base: project, o: finetune.Overrides{Full: true, LoRARank: ptr(4)},
			want: ethos.Hyperparameters{Epochs: 3, LearningRate: 1e-5, BatchSize: 8, Suffix: "agora", Evals: 2}},
		{name: "a LoRA setting asks for LoRA", base: full, o: finetune.Overrides{LoRAAlpha: ptr(8.0)},
			want: ethos.Hyperparameters{Epochs: 3, LearningRate: 1e-5, BatchSize: 8, Suffix: "agora", LoRA: true, LoRAAlpha: 8}},
		{name: "lora", base: full, o: finetune.Overrides{LoRA: true},
			want: ethos.Hyperparameters{Epochs: 3, LearningRate: 1e-5, BatchSize: 8, Suffix: "agora", LoRA: true}},
		{name: "sft stays unnamed", base: full, o: finetune.Overrides{Method: ethos.FineTuneSFT}, want: full},
		{name: "dpo is named", base: full, o: finetune.Overrides{Method: ethos.FineTuneDPO, DPOBeta: ptr(0.2)},
			want: ethos.Hyperparameters{Epochs: 3, LearningRate: 1e-5, BatchSize: 8, Suffix: "agora", Method: ethos.FineTuneDPO, DPOBeta: 0.2}},
		{name: "a DPO setting of an SFT job", base: full, o: finetune.Overrides{DPOBeta: ptr(0.2)}, wantKind: ethos.Config},
		{name: "an unknown method", base: full, o: finetune.Overrides{Method: "ppo"}, wantKind: ethos.Invalid},
		{name: "lora and full at once", base: project, o: finetune.Overrides{LoRA: true, Full: true}, wantKind: ethos.Config},
		{name: "a negative epoch count", base: full, o: finetune.Overrides{Epochs: ptr(-1)}, wantKind: ethos.Config},
		{name: "dropout out of range", base: project, o: finetune.Overrides{LoRADropout: ptr(1.0)}, wantKind: ethos.Config},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.o.Apply(tt.base)
			if tt.wantKind != "" {
				if ethos.KindOf(err) != tt.wantKind {
					t.Fatalf("err %v (kind %v), want kind %v", err, ethos.KindOf(err), tt.wantKind)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestPollInterval(t *testing.T) {
	t.Parallel()
	if s, r := finetune.PollInterval("sandbox"), finetune.PollInterval("together"); s >= r || r != finetune.PollInterval("openai") {
		t.Errorf("sandbox polled every %v, together every %v, openai every %v: want the sandbox faster, the real providers alike",
			s, r, finetune.PollInterval("openai"))
	}
}
