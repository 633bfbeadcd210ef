package llm

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/ethos-toolkit/ethos"
)

// Key is the cache key of a request: the SHA-256 of its fully rendered
// form (model reference, system prompt, messages, max_tokens, temperature,
// stop sequences) and its sample index. Streaming, metadata and the
// prompt-cache mark do not change what the model is asked, so they are not
// part of it.
func Key(req ethos.Request) string {
	rendered := struct {
		Model       string          `json:"model"`
		System      string          `json:"system"`
		Messages    []ethos.Message `json:"messages"`
		MaxTokens   int             `json:"max_tokens"`
		Temperature *float64        `json:"temperature"`
		Stop        []string        `json:"stop"`
		Sample      int             `json:"sample"`
	}{req.Model, req.System, req.Messages, req.MaxTokens, req.Temperature, req.Stop, req.Sample}
	b, err := json.Marshal(rendered)
	if err != nil {
		// Every field is a plain value; Marshal cannot fail on them.
		panic("llm: rendering request: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// EstimateTokens is a conservative estimate of the tokens a text costs
// (about four bytes a token for English), used for budgets and rate limits
// before the provider reports the real count.
func EstimateTokens(s string) int {
	return ethos.EstimateTokens(s)
}

// EstimateInput estimates the input tokens of a request.
func EstimateInput(req ethos.Request) int {
	n := EstimateTokens(req.System)
	for _, m := range req.Messages {
		n += EstimateTokens(m.Content) + 4
	}
	return n
}
