package llm

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"hash"
	"sync"

	"github.com/ethos-toolkit/ethos"
)

// Key is the cache key of a request: the SHA-256 of its fully rendered
// form (model reference, system prompt, messages, max_tokens, temperature,
// stop sequences) and its sample index. Streaming, metadata and the
// prompt-cache mark do not change what the model is asked, so they are not
// part of it.
//
// The rendered form is json.Marshal's encoding of renderedRequest; it is
// streamed into the hash rather than built in memory, since keys of
// recorded calls must never change.
func Key(req ethos.Request) string {
	k := keyHashers.Get().(*keyHasher)
	defer keyHashers.Put(k)
	return k.key(req)
}

// CallKey is the ledger key of the call that answered req with resp: the
// key the Ledger put on resp, or Key(req) when the call did not pass
// through a Ledger.
func CallKey(req ethos.Request, resp ethos.Response) string {
	if resp.CallKey != "" {
		return resp.CallKey
	}
	return Key(req)
}

// renderedRequest is what a request's key covers, in the order and with
// the names it has always been encoded with.
type renderedRequest struct {
	Model       string          `json:"model"`
	System      string          `json:"system"`
	Messages    []ethos.Message `json:"messages"`
	MaxTokens   int             `json:"max_tokens"`
	Temperature *float64        `json:"temperature"`
	Stop        []string        `json:"stop"`
	Sample      int             `json:"sample"`
}

// keyHasher hashes a request's rendered form as a json.Encoder writes it.
// An Encoder writes Marshal's bytes followed by a newline, which is not
// part of the key: the hasher holds back the last byte it was given and
// hashes it only when more follows.
type keyHasher struct {
	hash     hash.Hash
	enc      *json.Encoder
	rendered renderedRequest
	held     [1]byte
	holding  bool
	sum      [sha256.Size]byte
	hex      [2 * sha256.Size]byte
}

var keyHashers = sync.Pool{New: func() any {
	k := &keyHasher{hash: sha256.New()}
	k.enc = json.NewEncoder(k)
	return k
}}

func (k *keyHasher) key(req ethos.Request) string {
	k.hash.Reset()
	k.holding = false
	k.rendered = renderedRequest{req.Model, req.System, req.Messages, req.MaxTokens, req.Temperature, req.Stop, req.Sample}
	err := k.enc.Encode(&k.rendered)
	// Drop the references to req so the pooled hasher keeps no prompt alive.
	k.rendered = renderedRequest{}
	if err != nil {
		// Every field is a plain value; encoding cannot fail on them.
		panic("llm: rendering request: " + err.Error())
	}
	if !k.holding || k.held[0] != '\n' {
		panic("llm: rendering request: the encoder did not end with a newline")
	}
	hex.Encode(k.hex[:], k.hash.Sum(k.sum[:0]))
	return string(k.hex[:])
}

// Write hashes p but its last byte, which it holds back.
func (k *keyHasher) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if k.holding {
		k.hash.Write(k.held[:])
	}
	k.hash.Write(p[:len(p)-1])
	k.held[0], k.holding = p[len(p)-1], true
	return len(p), nil
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
