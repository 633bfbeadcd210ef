package pipeline

import (
	"github.com/ethos-toolkit/ethos/config"
	"github.com/ethos-toolkit/ethos/llm"
)

// Providers reads the providers' settings of a configuration, with
// variables (keys, base URLs) looked up by Getenv.
type Providers struct {
	Config *config.Config
	Getenv func(string) string
}

// Limits are a provider's configured rate limits. An unknown provider
// gets one call at a time: the router reports it on its first call.
func (ps Providers) Limits(provider string) llm.Limits {
	prov, err := ps.Config.ResolveProvider(provider, ps.Getenv)
	if err != nil {
		return llm.Limits{MaxConcurrency: 1}
	}
	return llm.Limits{RPM: prov.RPM, TPM: prov.TPM, MaxConcurrency: prov.MaxConcurrency, RateLimitTimeout: prov.RateLimitTimeout}
}

// ShareKey is the key under which processes share a provider's limits:
// its name and a hash of its API key (see llm.ShareKey). A provider that
// is unknown or has no key shares under its name alone; the router and
// the adapter report those on the first call.
func (ps Providers) ShareKey(provider string) string {
	prov, err := ps.Config.ResolveProvider(provider, ps.Getenv)
	if err != nil {
		return provider
	}
	key, err := ps.Config.APIKey(prov, ps.Getenv)
	if err != nil {
		return provider
	}
	return llm.ShareKey(provider, key)
}
