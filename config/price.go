package config

import (
	"strings"

	"github.com/ethos-toolkit/ethos"
)

// Price is what a model costs in USD per million tokens.
type Price struct {
	Input      float64 `json:"input"`
	Output     float64 `json:"output"`
	CacheRead  float64 `json:"cache_read"`
	CacheWrite float64 `json:"cache_write"`
	// Batch is what a call sent by batch costs as a share of the price
	// above (0.5: half); zero takes the provider's ("provider/*" entry, or
	// the built-in batch discount of the provider), and with none a batch
	// costs the online price.
	Batch float64 `json:"batch,omitempty"`
}

// builtinBatch is each provider's batch price as a share of its online
// price, per its price list: Anthropic's Message Batches and OpenAI's Batch
// API are billed at 50%, as is Together's Batch API. The sandbox follows
// Anthropic, whose API it speaks by default.
var builtinBatch = map[string]float64{"anthropic": 0.5, "openai": 0.5, "together": 0.5, "sandbox": 0.5}

// BatchMultiplier is what a call of modelRef sent by batch costs as a share
// of its online price: the model's price entry, its provider's "provider/*"
// entry, the provider's built-in discount, else 1.
func (c *Config) BatchMultiplier(modelRef string) float64 {
	if p, ok := c.Prices[modelRef]; ok && p.Batch > 0 {
		return p.Batch
	}
	provider, _, _ := strings.Cut(modelRef, "/")
	if p, ok := c.Prices[provider+"/*"]; ok && p.Batch > 0 {
		return p.Batch
	}
	if m, ok := builtinBatch[provider]; ok {
		return m
	}
	return 1
}

// Cost is the USD price of the tokens counted in u.
func (p Price) Cost(u ethos.Usage) float64 {
	return (float64(u.In)*p.Input +
		float64(u.Out)*p.Output +
		float64(u.CacheRead)*p.CacheRead +
		float64(u.CacheWrite)*p.CacheWrite) / 1e6
}

// anthropicPrice applies Anthropic's prompt-caching rates: reads cost a
// tenth of input, five-minute cache writes a quarter more than input.
func anthropicPrice(input, output float64) Price {
	return Price{Input: input, Output: output, CacheRead: input * 0.1, CacheWrite: input * 1.25}
}

// builtinPrices lists list prices of common models at the time of writing.
// They are estimates for the budget cap, not invoices: ethos.yaml can
// correct any of them. OpenAI bills cached input at a discount and does not
// charge for cache writes.
func builtinPrices() map[string]Price {
	return map[string]Price{
		"anthropic/claude-opus-4-1":   anthropicPrice(15, 75),
		"anthropic/claude-opus-4-5":   anthropicPrice(5, 25),
		"anthropic/claude-sonnet-4-5": anthropicPrice(3, 15),
		"anthropic/claude-haiku-4-5":  anthropicPrice(1, 5),

		"openai/gpt-4.1":      {Input: 2, Output: 8, CacheRead: 0.5},
		"openai/gpt-4.1-mini": {Input: 0.4, Output: 1.6, CacheRead: 0.1},
		"openai/gpt-4o":       {Input: 2.5, Output: 10, CacheRead: 1.25},
		"openai/gpt-4o-mini":  {Input: 0.15, Output: 0.6, CacheRead: 0.075},

		"together/meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo": {Input: 0.18, Output: 0.18},
		"together/meta-llama/Llama-3.3-70B-Instruct-Turbo":     {Input: 0.88, Output: 0.88},

		// Local models cost nothing per token.
		"ollama/*": {},
		"vllm/*":   {},
		// The sandbox is free, but a nominal price lets the budget cap be
		// shown working without spending anything.
		"sandbox/*": anthropicPrice(1, 5),
	}
}

// PriceOf returns the price of the model reference: an exact entry first,
// then the provider's "provider/*" entry. ok is false when neither exists.
func (c *Config) PriceOf(modelRef string) (Price, bool) {
	if p, ok := c.Prices[modelRef]; ok {
		return p, true
	}
	provider, _, found := strings.Cut(modelRef, "/")
	if !found {
		return Price{}, false
	}
	p, ok := c.Prices[provider+"/*"]
	return p, ok
}
