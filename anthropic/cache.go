package anthropic

import (
	"strings"

	sdk "github.com/anthropics/anthropic-sdk-go/v2"

	"github.com/ethos-toolkit/ethos"
)

// minCacheTokens are the shortest prefixes each model caches, from
// Anthropic's prompt-caching documentation ("Cache limitations"). A
// breakpoint on a shorter prefix is accepted and caches nothing. Names
// match by prefix, so dated snapshots (claude-sonnet-4-5-20250929) find
// their family.
var minCacheTokens = []struct {
	prefix string
	tokens int
}{
	{"claude-opus-4-6", 4096},
	{"claude-opus-4-5", 4096},
	{"claude-haiku-4-5", 4096},
	{"claude-3-5-haiku", 2048},
	{"claude-3-haiku", 2048},
	{"claude-sonnet-4-6", 1024},
	{"claude-sonnet-4-5", 1024},
	{"claude-opus-4-1", 1024},
	{"claude-opus-4", 1024},
	{"claude-sonnet-4", 1024},
	{"claude-3-7-sonnet", 1024},
}

// DefaultMinCacheTokens is the minimum assumed for a model the table does
// not name (the sandbox's models, a model newer than this list): the
// smallest documented minimum of the current models.
const DefaultMinCacheTokens = 1024

// MinCacheTokens is the shortest prompt prefix, in tokens, that model
// caches.
func MinCacheTokens(model string) int {
	for _, m := range minCacheTokens {
		if strings.HasPrefix(model, m.prefix) {
			return m.tokens
		}
	}
	return DefaultMinCacheTokens
}

// cachePrefixTokens estimates the tokens of the first n parts of req (the
// system prompt, when there is one, then the messages), as
// ethos.Request.CachePrefix counts them.
func cachePrefixTokens(req ethos.Request, n int) int {
	tokens := 0
	if req.System != "" && n > 0 {
		tokens += ethos.EstimateTokens(req.System)
		n--
	}
	for _, m := range req.Messages[:min(n, len(req.Messages))] {
		tokens += ethos.EstimateTokens(m.Content)
	}
	return tokens
}

// markCache puts cache_control on the block that ends the first
// req.CachePrefix parts of p, when that prefix is long enough for the
// model to cache; a shorter one is left unmarked (the API would accept the
// mark and cache nothing). p.Messages holds one block per message of req,
// consecutive messages of one role merged into one turn, in order.
func markCache(req ethos.Request, p *sdk.MessageNewParams) {
	n := min(req.CachePrefix, req.CacheParts())
	if n <= 0 || cachePrefixTokens(req, n) < MinCacheTokens(req.Model) {
		return
	}
	if req.System != "" {
		if n == 1 {
			p.System[len(p.System)-1].CacheControl = sdk.NewCacheControlEphemeralParam()
			return
		}
		n--
	}
	// The n-th message's block: walk the turns, counting blocks.
	for i := range p.Messages {
		blocks := turnBlocks(&p.Messages[i])
		if blocks == nil {
			continue
		}
		if n <= len(*blocks) {
			if tb := (*blocks)[n-1].OfText; tb != nil {
				tb.CacheControl = sdk.NewCacheControlEphemeralParam()
			}
			return
		}
		n -= len(*blocks)
	}
}
