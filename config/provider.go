package config

import (
	"os"
	"sort"
	"strings"
	"time"

	"github.com/ethos-toolkit/ethos"
)

// Provider types: the wire protocol a provider speaks.
const (
	TypeAnthropic = "anthropic" // Anthropic Messages API
	TypeOpenAI    = "openai"    // OpenAI chat completions, or any compatible endpoint
)

// Provider is a named model endpoint. Model references name it before the
// first slash: "together/meta-llama/Llama-3.3-70B-Instruct-Turbo" is model
// "meta-llama/Llama-3.3-70B-Instruct-Turbo" at provider "together".
type Provider struct {
	Name    string `json:"name"`
	Type    string `json:"type"` // TypeAnthropic or TypeOpenAI
	BaseURL string `json:"base_url"`
	// BaseURLEnv names an environment variable that, when set, overrides
	// BaseURL; it follows the SDKs' own conventions (ANTHROPIC_BASE_URL).
	BaseURLEnv string `json:"base_url_env"`
	// APIKeyEnv names the environment variable holding the API key. Keys
	// live only in the environment, never in ethos.yaml or the store.
	APIKeyEnv   string `json:"api_key_env"`
	KeyRequired bool   `json:"key_required"`
	// RPM and TPM are client-side request and token rates per minute; 0
	// leaves the limit to the provider's rate-limit headers.
	RPM int `json:"rpm"`
	TPM int `json:"tpm"`
	// MaxConcurrency is a fixed ceiling on requests in flight, for servers
	// whose capacity is their hardware (vLLM, Ollama). AutoConcurrency (0,
	// "auto" in ethos.yaml) sizes it from the provider's rate limit and
	// latency instead, as hosted providers need (see llm.Limiter).
	MaxConcurrency int           `json:"max_concurrency"`
	Timeout        time.Duration `json:"timeout"` // longest a single call may take
	// RateLimitTimeout is how long the provider may answer nothing but
	// 429s before the run stops as out of quota; 0 means 15 minutes.
	RateLimitTimeout time.Duration `json:"rate_limit_timeout,omitempty"`
	// OutputLimit is the request field an openai-type provider takes the
	// output limit in: OutputLimitMaxCompletionTokens (OpenAI itself,
	// whose reasoning models require it) or OutputLimitMaxTokens (the
	// default; Ollama and other compatible servers ignore the other one,
	// and then write without a limit).
	OutputLimit string `json:"output_limit,omitempty"`
	// Batch is the batch API the provider offers, for stages whose mode
	// is batch: BatchAnthropic (Message Batches), BatchOpenAI (the Batch
	// API) or BatchTogether (Together's); empty for none, when such
	// stages call it online.
	Batch string `json:"batch,omitempty"`
}

// Batch APIs a provider may offer (Provider.Batch).
const (
	BatchAnthropic = "anthropic"
	BatchOpenAI    = "openai"
	BatchTogether  = "together"
)

// BatchAPIs lists the valid values of Provider.Batch, "" (none) aside.
var BatchAPIs = []string{BatchAnthropic, BatchOpenAI, BatchTogether}

// The request fields an output limit can be sent in (Provider.OutputLimit).
const (
	OutputLimitMaxTokens           = "max_tokens"
	OutputLimitMaxCompletionTokens = "max_completion_tokens"
)

// OutputLimitField is the request field an openai-type provider is sent
// the output limit in: OutputLimit, or max_tokens when it is unset.
func (p Provider) OutputLimitField() string {
	if p.OutputLimit == "" {
		return OutputLimitMaxTokens
	}
	return p.OutputLimit
}

// AutoConcurrency is the MaxConcurrency of a provider whose requests in
// flight follow its rate limit and latency.
const AutoConcurrency = 0

// Defaults for a provider a file adds under a new name: a local server
// (a loopback base URL) gets a small fixed concurrency, anything else is
// sized automatically.
const (
	localProviderConcurrency = 8
	newProviderTimeout       = 10 * time.Minute
)

// builtinProviders is the table of providers ethos knows without
// configuration. ethos.yaml may change any field of these or add more.
//
// The request rates are conservative starting points for a low account
// tier; the rate limiter tightens or relaxes them from the providers'
// headers, and sizes the requests in flight from them (AutoConcurrency).
// Only local servers have a fixed concurrency: their hardware is the limit. The
// sandbox has an empty BaseURL: ethos then starts the emulator in-process
// on a loopback port, unless SANDBOX_BASE_URL points at a running one.
func builtinProviders() map[string]Provider {
	const timeout = 10 * time.Minute
	ps := []Provider{
		{Name: "anthropic", Type: TypeAnthropic, BaseURL: "https://api.anthropic.com",
			BaseURLEnv: "ANTHROPIC_BASE_URL", APIKeyEnv: "ANTHROPIC_API_KEY", KeyRequired: true,
			RPM: 50, MaxConcurrency: AutoConcurrency, Timeout: timeout, Batch: BatchAnthropic},
		{Name: "openai", Type: TypeOpenAI, BaseURL: "https://api.openai.com/v1",
			BaseURLEnv: "OPENAI_BASE_URL", APIKeyEnv: "OPENAI_API_KEY", KeyRequired: true,
			RPM: 500, MaxConcurrency: AutoConcurrency, Timeout: timeout,
			OutputLimit: OutputLimitMaxCompletionTokens, Batch: BatchOpenAI},
		{Name: "together", Type: TypeOpenAI, BaseURL: "https://api.together.xyz/v1",
			BaseURLEnv: "TOGETHER_BASE_URL", APIKeyEnv: "TOGETHER_API_KEY", KeyRequired: true,
			RPM: 600, MaxConcurrency: AutoConcurrency, Timeout: timeout, Batch: BatchTogether},
		{Name: "openrouter", Type: TypeOpenAI, BaseURL: "https://openrouter.ai/api/v1",
			BaseURLEnv: "OPENROUTER_BASE_URL", APIKeyEnv: "OPENROUTER_API_KEY", KeyRequired: true,
			RPM: 60, MaxConcurrency: AutoConcurrency, Timeout: timeout},
		// Local servers: no key by default and no rate limit, only the
		// concurrency the hardware can serve.
		{Name: "vllm", Type: TypeOpenAI, BaseURL: "http://localhost:8000/v1",
			BaseURLEnv: "VLLM_BASE_URL", APIKeyEnv: "VLLM_API_KEY",
			MaxConcurrency: 16, Timeout: timeout},
		{Name: "ollama", Type: TypeOpenAI, BaseURL: "http://localhost:11434/v1",
			BaseURLEnv:     "OLLAMA_BASE_URL",
			MaxConcurrency: 2, Timeout: timeout},
		{Name: "sandbox", Type: TypeAnthropic, BaseURL: "",
			BaseURLEnv:     "SANDBOX_BASE_URL",
			MaxConcurrency: AutoConcurrency, Timeout: timeout, Batch: BatchAnthropic},
	}
	m := make(map[string]Provider, len(ps))
	for _, p := range ps {
		m[p.Name] = p
	}
	return m
}

// ProviderNames returns the names of the configured providers, sorted.
func (c *Config) ProviderNames() []string {
	names := make([]string, 0, len(c.Providers))
	for name := range c.Providers {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Provider returns the named provider with its base URL taken from the
// process environment when its BaseURLEnv variable is set.
func (c *Config) Provider(name string) (Provider, error) {
	return c.ResolveProvider(name, os.Getenv)
}

// ResolveProvider is Provider with the environment lookup supplied by the
// caller; a nil getenv reads the process environment.
func (c *Config) ResolveProvider(name string, getenv func(string) string) (Provider, error) {
	p, ok := c.Providers[name]
	if !ok {
		return Provider{}, ethos.Errorf(ethos.Config, "%s", c.unknownProvider(name))
	}
	if getenv == nil {
		getenv = os.Getenv
	}
	if p.BaseURLEnv != "" {
		if u := strings.TrimSpace(getenv(p.BaseURLEnv)); u != "" {
			p.BaseURL = u
		}
	}
	return p, nil
}

// APIKey returns the API key of p from the environment. A provider that
// requires a key and has none is a Config error that names the variable to
// set; the key itself never appears in an error. A provider without
// APIKeyEnv, or an optional key that is unset, yields "".
func (c *Config) APIKey(p Provider, getenv func(string) string) (string, error) {
	if p.APIKeyEnv == "" {
		if p.KeyRequired {
			return "", ethos.Errorf(ethos.Config, "provider %s needs an API key but names no api_key_env in ethos.yaml", p.Name)
		}
		return "", nil
	}
	if getenv == nil {
		getenv = os.Getenv
	}
	key := strings.TrimSpace(getenv(p.APIKeyEnv))
	if key == "" && p.KeyRequired {
		return "", ethos.Errorf(ethos.Config, "provider %s needs an API key: set %s", p.Name, p.APIKeyEnv)
	}
	return key, nil
}

// parseModelRef parses ref, or says what is wrong with its shape. Whether
// the provider exists is checked separately.
func parseModelRef(ref string) (ethos.ModelRef, string) {
	r, err := ethos.ParseModelRef(ref)
	switch {
	case err != nil:
		return ethos.ModelRef{}, err.Error()
	case strings.TrimSpace(ref) != ref || strings.ContainsAny(r.Provider, " \t\n"):
		return ethos.ModelRef{}, "model reference " + quote(ref) + " contains spaces"
	}
	return r, ""
}

func (c *Config) unknownProvider(name string) string {
	return "unknown provider " + quote(name) + "; configured: " + strings.Join(c.ProviderNames(), ", ")
}
