package pipeline

import (
	"context"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/config"
)

// Models is the model registry pricing consults: what a trained model is
// based on and how it is served.
type Models interface {
	Model(ctx context.Context, name string) (ethos.Model, error)
	Models(ctx context.Context) ([]ethos.Model, error)
}

// Pricer prices calls from the configuration's price table and the model
// registry (an llm.BatchPricer):
//
//   - a model with an entry under prices: (or a built-in price) costs that;
//   - a model served on a dedicated endpoint costs nothing per token: it is
//     billed by the endpoint's hour, counted in what serving spent;
//   - a registered fine-tuned model without a price of its own costs what
//     its base model does (as LoRA serving does on Together);
//   - anything else has no price (known is false).
//
// A call sent by batch costs the batch multiplier of the model, for a
// trained model that of its provider's base model.
type Pricer struct {
	Config *config.Config
	Models Models
}

// Cost is the USD cost of usage u of model, and whether model has a price.
func (p Pricer) Cost(model string, u ethos.Usage) (float64, bool) {
	price, ok := p.Config.PriceOf(model)
	if !ok && p.servedDedicated(model) {
		return 0, true
	}
	if !ok {
		if m, err := p.Models.Model(context.Background(), model); err == nil {
			price, ok = p.Config.PriceOf(m.Provider + "/" + m.BaseModel)
		}
	}
	if !ok {
		return 0, false
	}
	return price.Cost(u), true
}

// BatchMultiplier is what a call of model sent by batch costs as a share
// of its online price.
func (p Pricer) BatchMultiplier(model string) float64 {
	if m, err := p.Models.Model(context.Background(), model); err == nil && m.Provider != "" {
		// A trained model is billed as its provider bills batches.
		return p.Config.BatchMultiplier(m.Provider + "/" + m.BaseModel)
	}
	return p.Config.BatchMultiplier(model)
}

// servedDedicated reports whether ref names a registered model served on
// a dedicated endpoint, by its registry name or the name it is called by.
func (p Pricer) servedDedicated(ref string) bool {
	models, err := p.Models.Models(context.Background())
	if err != nil {
		return false
	}
	for _, m := range models {
		if m.Serving == ethos.ServingDedicated && (m.CallAs == ref || m.Name == ref) {
			return true
		}
	}
	return false
}
