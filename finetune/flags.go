package finetune

import (
	"errors"
	"flag"
	"fmt"
	"strconv"

	"github.com/ethos-toolkit/ethos"
)

// RegisterFlags registers on fs the flags of a job's request that set o:
// --provider, --model, --train, --validation, --run and --from-checkpoint.
// The provider and the model left empty are the project's (see
// pipeline.FineTuneCreateOptions); the settings are Overrides'.
func (o *CreateOptions) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.Provider, "provider", "", "together, openai or sandbox (default: finetune.provider)")
	fs.StringVar(&o.BaseModel, "model", "", "the provider's base `model` (default: finetune.model)")
	fs.StringVar(&o.TrainPath, "train", "", "the training `file` (JSONL), e.g. data/agora.jsonl")
	fs.StringVar(&o.ValidationPath, "validation", "", "a validation `file`, for validation loss")
	fs.StringVar(&o.RunID, "run", "", "the generation run `ID` that made the dataset, recorded with the job")
	fs.StringVar(&o.FromCheckpoint, "from-checkpoint", "", "continue training from an earlier job of the same provider (its `ID`; Together also takes a model name or ID:step) instead of from --model")
}

// RegisterFlags registers on fs the flags of one job's settings that set
// o: --epochs, --learning-rate, --batch-size, --lora, --full, --lora-r,
// --lora-alpha, --lora-dropout, --n-evals, --suffix, --method, --dpo-beta
// and --wandb-project. A setting's field is set only when its flag is
// given, so an explicit zero is told from the project's setting; --method
// refuses anything but sft or dpo as it is parsed.
func (o *Overrides) RegisterFlags(fs *flag.FlagSet) {
	fs.Var(optional(&o.Epochs, strconv.Atoi), "epochs", "training `epochs` (default: finetune.epochs)")
	fs.Var(optional(&o.LearningRate, parseFloat), "learning-rate", "learning `rate` (default: finetune.learning_rate; for OpenAI a multiplier, its default unless given)")
	fs.Var(optional(&o.BatchSize, strconv.Atoi), "batch-size", "batch `size` (default: finetune.batch_size)")
	fs.BoolVar(&o.LoRA, "lora", false, "train a LoRA adapter (default: finetune.lora)")
	fs.BoolVar(&o.Full, "full", false, "full fine-tuning instead of LoRA")
	fs.Var(optional(&o.LoRARank, strconv.Atoi), "lora-r", "LoRA `rank` (default: finetune.lora_r)")
	fs.Var(optional(&o.LoRAAlpha, parseFloat), "lora-alpha", "LoRA `alpha` (default: finetune.lora_alpha)")
	fs.Var(optional(&o.LoRADropout, parseFloat), "lora-dropout", "LoRA `dropout` (default: finetune.lora_dropout)")
	fs.Var(optional(&o.Evals, strconv.Atoi), "n-evals", "with --validation, `evaluations` of it during training, each a validation loss (Together; default: finetune.n_evals)")
	fs.Var(optional(&o.Suffix, func(s string) (string, error) { return s, nil }), "suffix", "`suffix` of the trained model's name (default: finetune.suffix)")
	o.Method = ethos.FineTuneSFT
	fs.Var((*method)(&o.Method), "method", "the training `method`: sft (conversations) or dpo (preference pairs, e.g. data/agora.pairs.jsonl); a file of the other kind is refused before upload")
	fs.Var(optional(&o.DPOBeta, parseFloat), "dpo-beta", "DPO's `beta`, how closely training keeps to the model it starts from (default: the provider's, Together 0.1)")
	fs.StringVar(&o.WandbProject, "wandb-project", "", "Weights & Biases `project` (Together; the key comes from WANDB_API_KEY)")
}

func parseFloat(s string) (float64, error) { return strconv.ParseFloat(s, 64) }

// optionalValue is the flag.Value of a setting that is nil until given.
type optionalValue[T any] struct {
	dst   **T
	parse func(string) (T, error)
}

func optional[T any](dst **T, parse func(string) (T, error)) flag.Value {
	return &optionalValue[T]{dst: dst, parse: parse}
}

func (v *optionalValue[T]) Set(s string) error {
	x, err := v.parse(s)
	if ne := (*strconv.NumError)(nil); errors.As(err, &ne) {
		return ne.Err // "invalid syntax", as the flag package says it
	}
	if err != nil {
		return err
	}
	*v.dst = &x
	return nil
}

func (v *optionalValue[T]) String() string {
	if v == nil || v.dst == nil || *v.dst == nil {
		return ""
	}
	return fmt.Sprint(**v.dst)
}

// method is the flag.Value of --method.
type method string

func (m *method) Set(s string) error {
	if s != ethos.FineTuneSFT && s != ethos.FineTuneDPO {
		return fmt.Errorf("want %s or %s", ethos.FineTuneSFT, ethos.FineTuneDPO)
	}
	*m = method(s)
	return nil
}

func (m *method) String() string { return string(*m) }
