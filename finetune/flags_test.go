package finetune_test

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/finetune"
)

func TestOverridesRegisterFlags(t *testing.T) {
	t.Parallel()
	parse := func(args ...string) (finetune.Overrides, error) {
		var o finetune.Overrides
		fs := flag.NewFlagSet("finetune create", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		o.RegisterFlags(fs)
		return o, fs.Parse(args)
	}
	for _, tt := range []struct {
		name string
		args []string
		want finetune.Overrides
	}{
		{name: "nothing given", want: finetune.Overrides{Method: ethos.FineTuneSFT}},
		{name: "each setting", args: []string{"--epochs", "1", "--learning-rate", "2e-5", "--batch-size", "16", "--lora", "--lora-r", "16",
			"--lora-alpha", "32", "--lora-dropout", "0.05", "--n-evals", "4", "--suffix", "v2", "--method", "dpo", "--dpo-beta", "0.2", "--wandb-project", "agora"},
			want: finetune.Overrides{Epochs: ptr(1), LearningRate: ptr(2e-5), BatchSize: ptr(16), LoRA: true, LoRARank: ptr(16), LoRAAlpha: ptr(32.0),
				LoRADropout: ptr(0.05), Evals: ptr(4), Suffix: ptr("v2"), Method: ethos.FineTuneDPO, DPOBeta: ptr(0.2), WandbProject: "agora"}},
		{name: "a zero given is given", args: []string{"--n-evals", "0", "--suffix", "", "--lora-dropout", "0"},
			want: finetune.Overrides{Evals: ptr(0), Suffix: ptr(""), LoRADropout: ptr(0.0), Method: ethos.FineTuneSFT}},
		{name: "full", args: []string{"--full"}, want: finetune.Overrides{Full: true, Method: ethos.FineTuneSFT}},
	} {
		got, err := parse(tt.args...)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
	for _, bad := range [][]string{{"--method", "ppo"}, {"--epochs", "two"}, {"--lora-dropout", "x"}} {
		if _, err := parse(bad...); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	if _, err := parse("--method", "ppo"); err == nil || !strings.Contains(err.Error(), "want sft or dpo") {
		t.Errorf("--method ppo: %v, want the methods named", err)
	}
}

func TestCreateOptionsRegisterFlags(t *testing.T) {
	t.Parallel()
	var o finetune.CreateOptions
	fs := flag.NewFlagSet("finetune create", flag.ContinueOnError)
	o.RegisterFlags(fs)
	err := fs.Parse([]string{"--provider", "together", "--model", "base", "--train", "t.jsonl", "--validation", "v.jsonl",
		"--run", "gen-1", "--from-checkpoint", "ft-1"})
	if err != nil {
		t.Fatal(err)
	}
	want := finetune.CreateOptions{Provider: "together", BaseModel: "base", TrainPath: "t.jsonl", ValidationPath: "v.jsonl", RunID: "gen-1", FromCheckpoint: "ft-1"}
	if diff := cmp.Diff(want, o); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestDeployOptionsValidate(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		o  finetune.DeployOptions
		ok bool
	}{
		{finetune.DeployOptions{}, true},
		{finetune.DeployOptions{InactiveTimeout: 15 * time.Minute, Interval: time.Second}, true},
		{finetune.DeployOptions{InactiveTimeout: 90 * time.Second}, false},
		{finetune.DeployOptions{InactiveTimeout: -time.Minute}, false},
		{finetune.DeployOptions{Interval: -1}, false},
	} {
		err := tt.o.Validate()
		if (err == nil) != tt.ok || (err != nil && ethos.KindOf(err) != ethos.Config) {
			t.Errorf("%+v: Validate = %v, want ok %t (else a Config error)", tt.o, err, tt.ok)
		}
	}
}
