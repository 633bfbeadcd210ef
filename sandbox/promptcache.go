package sandbox

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"sync"
	"time"
)

// The sandbox's prompt cache answers what the providers' caches would
// bill, from hashes of prompt prefixes; it never changes an answer's text.
//
// Anthropic (cache_control on a text block, or at the top level for the
// last block) caches the prompt up to and including a marked block — the
// system blocks, then each message's blocks, in order — when that prefix
// is at least the model's minimum (Options.CacheMinTokens, default
// DefaultCacheMinTokens). The first request with a prefix writes it
// (usage.cache_creation_input_tokens); a later one within the TTL (five
// minutes from the last use, or an hour for ttl "1h") reads it
// (cache_read_input_tokens), and a mark also finds a prefix cached at one
// of the 20 blocks before it. At most four blocks may be marked.
// input_tokens counts what was neither read nor written.
//
// OpenAI-style requests are cached with no mark: a prompt of 1,024 tokens
// or more reads the longest prefix, in steps of 128 tokens from 1,024,
// that an earlier prompt of the same model had, and the whole prompt's
// prefixes are kept for the next one. prompt_tokens still counts every
// input token and prompt_tokens_details.cached_tokens the ones read.
//
// Entries are per API key and model, expire on Options.Now's clock, and
// there are at most maxCacheEntries of them (the oldest go first), so
// memory stays bounded however long the sandbox runs. A request's cache
// use is decided when it arrives, so concurrent requests with one new
// prefix count one write and then reads, whatever order they finish in.

// DefaultCacheMinTokens is the shortest prefix a sandbox model caches
// through cache_control, unless Options.CacheMinTokens says otherwise: the
// minimum of Claude Sonnet 4.5 and most current Claude models.
const DefaultCacheMinTokens = 1024

// OpenAI's automatic caching: prompts of at least openaiCacheMin tokens,
// cached in steps of openaiCacheStep.
const (
	openaiCacheMin  = 1024
	openaiCacheStep = 128
)

// Cache entries and lifetimes.
const (
	maxCacheEntries  = 1 << 16
	maxCacheMarks    = 4
	cacheLookback    = 20
	defaultCacheTTL  = 5 * time.Minute
	extendedCacheTTL = time.Hour
)

// cachePart is one text block of a prompt, in the order the provider
// caches them; ttl is non-zero when the block carries cache_control.
type cachePart struct {
	role string
	text string
	ttl  time.Duration
}

// cacheControl is the spec's CacheControlEphemeral.
type cacheControl struct {
	Type string `json:"type"`
	TTL  string `json:"ttl"`
}

// ttl checks c and returns its lifetime; a nil mark has none.
func (c *cacheControl) ttl() (time.Duration, error) {
	if c == nil {
		return 0, nil
	}
	if c.Type != "ephemeral" {
		return 0, fmt.Errorf("type: Input should be 'ephemeral'")
	}
	switch c.TTL {
	case "", "5m":
		return defaultCacheTTL, nil
	case "1h":
		return extendedCacheTTL, nil
	}
	return 0, fmt.Errorf("ttl: Input should be '5m' or '1h'")
}

// UnmarshalJSON refuses the fields CacheControlEphemeral lacks, as the
// API does (additionalProperties false).
func (c *cacheControl) UnmarshalJSON(b []byte) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return err
	}
	if f := extraField(fields, []string{"ttl", "type"}); f != "" {
		return fmt.Errorf("cache_control.%s: Extra inputs are not permitted", f)
	}
	type plain cacheControl
	return json.Unmarshal(b, (*plain)(c))
}

func roleParts(role string, parts []cachePart) []cachePart {
	for i := range parts {
		parts[i].role = role
	}
	return parts
}

// markAutomatic applies a top-level cache_control to the last block and
// refuses more marks than the API allows.
func markAutomatic(parts []cachePart, top *cacheControl) *apiError {
	ttl, err := top.ttl()
	if err != nil {
		return invalid("cache_control.%v", err)
	}
	if ttl > 0 && len(parts) > 0 && parts[len(parts)-1].ttl == 0 {
		parts[len(parts)-1].ttl = ttl
	}
	marks := 0
	for _, p := range parts {
		if p.ttl > 0 {
			marks++
		}
	}
	if marks > maxCacheMarks {
		return invalid("A maximum of %d blocks with cache_control may be provided. Found %d.", maxCacheMarks, marks)
	}
	return nil
}

// promptCache holds the prefixes cached so far.
type promptCache struct {
	mu      sync.Mutex
	entries map[[32]byte]time.Time // prefix hash → expiry
	order   [][32]byte             // insertion order, for eviction
}

// fresh reports whether h is cached at now, and extends its life by ttl.
func (c *promptCache) fresh(h [32]byte, now time.Time, ttl time.Duration) bool {
	exp, ok := c.entries[h]
	if !ok || !now.Before(exp) {
		return false
	}
	if e := now.Add(ttl); e.After(exp) {
		c.entries[h] = e
	}
	return true
}

// put caches h until now+ttl, dropping the oldest entries past the cap.
func (c *promptCache) put(h [32]byte, now time.Time, ttl time.Duration) {
	if c.entries == nil {
		c.entries = map[[32]byte]time.Time{}
	}
	if _, ok := c.entries[h]; !ok {
		for len(c.entries) >= maxCacheEntries && len(c.order) > 0 {
			delete(c.entries, c.order[0])
			c.order = c.order[1:]
		}
		c.order = append(c.order, h)
	}
	if e := now.Add(ttl); e.After(c.entries[h]) {
		c.entries[h] = e
	}
}

// cacheUse is what a request read from and wrote to the cache, in tokens.
type cacheUse struct{ read, write int }

// prefixHashes returns the running hash and token count after each part,
// seeded with the API key and model (caches are not shared across
// either).
func prefixHashes(key, model string, parts []cachePart) ([][32]byte, []int) {
	hashes := make([][32]byte, len(parts))
	tokens := make([]int, len(parts))
	h := sha256.Sum256([]byte(key + "\x00" + model))
	n := 0
	for i, p := range parts {
		h = sha256.Sum256(append(append(append(h[:], p.role...), 0), p.text...))
		hashes[i] = h
		n += CountTokens(p.text)
		tokens[i] = n
	}
	return hashes, tokens
}

// anthropic decides the cache use of a request whose blocks are parts,
// for a model that caches prefixes of at least minTokens.
func (c *promptCache) anthropic(key, model string, parts []cachePart, minTokens int, now time.Time) cacheUse {
	var marks []int
	for i, p := range parts {
		if p.ttl > 0 {
			marks = append(marks, i)
		}
	}
	if len(marks) == 0 {
		return cacheUse{}
	}
	hashes, tokens := prefixHashes(key, model, parts)
	c.mu.Lock()
	defer c.mu.Unlock()
	// The longest cached prefix a mark finds, looking back from it.
	hit := -1
	for _, m := range marks {
		for j := m; j >= 0 && j > m-cacheLookback; j-- {
			if j > hit && c.fresh(hashes[j], now, parts[m].ttl) {
				hit = j
				break
			}
		}
	}
	var use cacheUse
	if hit >= 0 {
		use.read = tokens[hit]
	}
	// Marks past the hit, long enough to cache, are written.
	for _, m := range marks {
		if m > hit && tokens[m] >= minTokens {
			c.put(hashes[m], now, parts[m].ttl)
			use.write = tokens[m] - use.read
		}
	}
	return use
}

// openai decides the cached tokens of a prompt of in tokens whose parts
// are parts: the longest cached prefix at a 128-token step from 1,024.
func (c *promptCache) openai(key, model string, parts []cachePart, in int, now time.Time) int {
	if in < openaiCacheMin {
		return 0
	}
	// The prompt as one byte string; a token is four bytes (CountTokens).
	var text []byte
	for _, p := range parts {
		text = append(append(append(text, p.role...), 0), p.text...)
	}
	seed := sha256.Sum256([]byte(key + "\x00" + model))
	c.mu.Lock()
	defer c.mu.Unlock()
	cached := 0
	for t := openaiCacheMin; t <= in && 4*t <= len(text); t += openaiCacheStep {
		h := sha256.Sum256(append(seed[:], text[:4*t]...))
		if c.fresh(h, now, defaultCacheTTL) {
			cached = t
		}
		c.put(h, now, defaultCacheTTL)
	}
	return cached
}
