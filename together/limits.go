package together

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/ethos-toolkit/ethos"
)

// ModelLimits are what Together fine-tunes a base model with (the spec's
// FineTuneModelLimits, from GET /fine-tunes/models/limits). A zero
// learning-rate bound, epoch count or rank is one the answer did not give;
// MaxEvals is required by the spec, and 0 allows no evaluation.
type ModelLimits struct {
	Model           string
	MaxEpochs       int
	MaxEvals        int
	MinLearningRate float64
	MaxLearningRate float64
	// Full and LoRA are the batch sizes for full and LoRA training; nil
	// when the model cannot be trained that way.
	Full, LoRA *BatchLimits
	// MaxRank is the highest LoRA rank.
	MaxRank int
}

// BatchLimits bound the batch size of one kind of training: Max for SFT,
// MaxDPO for DPO (max_batch_size_dpo). A zero Max or MaxDPO is one the
// answer did not give.
type BatchLimits struct{ Min, Max, MaxDPO int }

// wireLimits is the spec's FineTuneModelLimits, read leniently.
type wireLimits struct {
	ModelName       string  `json:"model_name"`
	MaxNumEpochs    number  `json:"max_num_epochs"`
	MaxNumEvals     number  `json:"max_num_evals"`
	MaxLearningRate number  `json:"max_learning_rate"`
	MinLearningRate number  `json:"min_learning_rate"`
	FullTraining    *wireTL `json:"full_training"`
	LoraTraining    *wireTL `json:"lora_training"`
}

type wireTL struct {
	MaxBatchSize    number `json:"max_batch_size"`
	MaxBatchSizeDPO number `json:"max_batch_size_dpo"`
	MinBatchSize    number `json:"min_batch_size"`
	MaxRank         number `json:"max_rank"`
}

// ModelLimits asks GET /fine-tunes/models/limits what the base model
// takes. A model Together does not fine-tune is a NotFound error with the
// provider's message.
func (c *Client) ModelLimits(ctx context.Context, model string) (ModelLimits, error) {
	var w wireLimits
	if _, err := c.do(ctx, call{
		op: "fine-tunes.models.limits", method: http.MethodGet,
		path:    "/fine-tunes/models/limits?model_name=" + url.QueryEscape(model),
		subject: fmt.Sprintf("base model %q (for fine-tuning)", model), model: model,
	}, &w); err != nil {
		return ModelLimits{}, err
	}
	l := ModelLimits{Model: cmp.Or(w.ModelName, model), MaxEpochs: w.MaxNumEpochs.int(), MaxEvals: w.MaxNumEvals.int(),
		MinLearningRate: float64(w.MinLearningRate), MaxLearningRate: float64(w.MaxLearningRate)}
	if t := w.FullTraining; t != nil {
		l.Full = &BatchLimits{Min: t.MinBatchSize.int(), Max: t.MaxBatchSize.int(), MaxDPO: t.MaxBatchSizeDPO.int()}
	}
	if t := w.LoraTraining; t != nil {
		l.LoRA = &BatchLimits{Min: t.MinBatchSize.int(), Max: t.MaxBatchSize.int(), MaxDPO: t.MaxBatchSizeDPO.int()}
		l.MaxRank = t.MaxRank.int()
	}
	return l, nil
}

// CheckHyperparameters asks the base model's limits and refuses, with a
// Config error that lists every setting out of bounds and the bounds,
// hyperparameters Together would refuse: the batch size and LoRA rank
// (with the rank the job would send when it is left unset), epochs,
// evaluations and learning rate. Values left to the provider's default
// are not checked. It is what ethos asks before a file is uploaded.
func (c *Client) CheckHyperparameters(ctx context.Context, baseModel string, h ethos.Hyperparameters) error {
	l, err := c.ModelLimits(ctx, baseModel)
	if err != nil {
		return err
	}
	if problems := l.Check(h); len(problems) > 0 {
		return &ethos.Error{Kind: ethos.Config, Op: c.provider + ": fine-tunes.models.limits",
			Msg: fmt.Sprintf("%s does not take these settings (%s's limits for the model): %s; change them in ethos.yaml's finetune section or the flags; nothing was uploaded",
				baseModel, c.provider, strings.Join(problems, "; "))}
	}
	return nil
}

// Check lists the hyperparameters outside the limits, each with its
// bounds; nil when all are within them.
func (l ModelLimits) Check(h ethos.Hyperparameters) []string {
	var out []string
	kind, batch := "full", l.Full
	if h.LoRA {
		kind, batch = "LoRA", l.LoRA
	}
	if batch == nil {
		out = append(out, fmt.Sprintf("%s training is not offered for this model", kind))
	} else {
		// A DPO job takes two sides a pair, and Together bounds its batch
		// apart (max_batch_size_dpo), usually at half the SFT bound.
		most, training := batch.Max, kind+" training"
		if h.Method == ethos.FineTuneDPO && batch.MaxDPO > 0 {
			most, training = batch.MaxDPO, kind+" DPO training"
		}
		if h.BatchSize > 0 && (h.BatchSize < batch.Min || (most > 0 && h.BatchSize > most)) {
			out = append(out, fmt.Sprintf("batch size %d is outside %d to %d for %s (batch_size)", h.BatchSize, batch.Min, most, training))
		}
	}
	if h.LoRA {
		rank := h.LoRARank
		if rank == 0 {
			rank = DefaultLoRARank
		}
		if l.MaxRank > 0 && rank > l.MaxRank {
			out = append(out, fmt.Sprintf("LoRA rank %d is above the highest, %d (lora_r)", rank, l.MaxRank))
		}
	}
	if l.MaxEpochs > 0 && h.Epochs > l.MaxEpochs {
		out = append(out, fmt.Sprintf("%d epochs is above the most, %d (epochs)", h.Epochs, l.MaxEpochs))
	}
	if h.Evals > l.MaxEvals {
		out = append(out, fmt.Sprintf("%d evaluations is above the most, %d (n_evals)", h.Evals, l.MaxEvals))
	}
	if lr := h.LearningRate; lr > 0 && ((l.MinLearningRate > 0 && lr < l.MinLearningRate) || (l.MaxLearningRate > 0 && lr > l.MaxLearningRate)) {
		out = append(out, fmt.Sprintf("learning rate %s is outside %s to %s (learning_rate)",
			strconv.FormatFloat(lr, 'g', -1, 64), strconv.FormatFloat(l.MinLearningRate, 'g', -1, 64), strconv.FormatFloat(l.MaxLearningRate, 'g', -1, 64)))
	}
	return out
}
