package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/config"
)

// minimal is the smallest valid file: a character and nothing else. It is
// eight lines long, so settings appended to it start at line 9.
const minimal = `character:
  name: Test
  system_prompt: Be a test.
  traits:
    - name: curious
      definition: asks questions
  categories:
    - name: Misc
`

func minimalCharacter() ethos.Character {
	return ethos.Character{
		Name:         "Test",
		SystemPrompt: "Be a test.",
		Traits:       []ethos.Trait{{Name: "curious", Definition: "asks questions"}},
		Categories:   []ethos.Category{{Name: "Misc"}},
	}
}

// want returns the configuration minimal parses to, changed by edit.
func want(edit func(c *config.Config)) *config.Config {
	c := config.Default()
	c.Character = minimalCharacter()
	c.Path = "ethos.yaml"
	if edit != nil {
		edit(c)
	}
	return c
}

func TestTemplateParsesToDefault(t *testing.T) {
	t.Parallel()
	got, err := config.Parse("ethos.yaml", config.Template())
	if err != nil {
		t.Fatalf("Parse(Template()): %v", err)
	}
	got.Path = ""
	if diff := cmp.Diff(config.Default(), got); diff != "" {
		t.Errorf("Template() parses to something other than Default() (-want +got):\n%s", diff)
	}
}

func TestDefaultIsAgora(t *testing.T) {
	t.Parallel()
	ch := config.Default().Character
	if ch.Name != "Agora" || !strings.Contains(ch.SystemPrompt, "Agora") {
		t.Errorf("character %q with system prompt %.40q…; want Agora", ch.Name, ch.SystemPrompt)
	}
	var traits []string
	for _, tr := range ch.Traits {
		traits = append(traits, tr.Name)
		if len(tr.Definition) < 40 {
			t.Errorf("trait %q has a thin definition %q", tr.Name, tr.Definition)
		}
	}
	wantTraits := []string{"collaborative", "inquisitive", "cautious & ethical", "encouraging", "thorough"}
	if diff := cmp.Diff(wantTraits, traits); diff != "" {
		t.Errorf("traits (-want +got):\n%s", diff)
	}
	if len(ch.Categories) != 20 {
		t.Fatalf("%d categories, want 20", len(ch.Categories))
	}
	var hard []string
	for _, cat := range ch.Categories {
		if cat.Description == "" {
			t.Errorf("category %q has no description", cat.Name)
		}
		if cat.Hard {
			hard = append(hard, cat.Name)
		}
	}
	wantHard := []string{
		"Quick factual questions",
		"Requests for harmful information",
		"Demands for authoritative answers",
		"Rejection of the collaborative approach",
		"Emotional or crisis situations",
	}
	if diff := cmp.Diff(wantHard, hard); diff != "" {
		t.Errorf("hard categories (-want +got):\n%s", diff)
	}
	for i, cat := range ch.Categories[13:18] {
		if !cat.Hard {
			t.Errorf("category %d %q is not hard", 14+i, cat.Name)
		}
	}
}

func TestDefaultReturnsIndependentCopies(t *testing.T) {
	t.Parallel()
	a := config.Default()
	a.Character.Traits[0].Name = "changed"
	a.Providers["anthropic"] = config.Provider{}
	a.Prices["openai/gpt-4o"] = config.Price{}
	a.Sandbox.ErrorRates[429] = 1
	b := config.Default()
	if b.Character.Traits[0].Name != "collaborative" || b.Providers["anthropic"].RPM != 50 ||
		b.Prices["openai/gpt-4o"].Input != 2.5 || b.Sandbox.ErrorRates[429] != 0 {
		t.Error("changing one Default() changed another")
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		yaml string
		want *config.Config
	}{
		{"character only: every other setting at its default", minimal, want(nil)},
		{
			"character strings are trimmed",
			"character:\n  name: '  Test '\n  system_prompt: |\n    Be a test.\n\n  traits: [{name: ' curious', definition: \"asks questions\\n\"}]\n  categories: [{name: Misc}]\n",
			want(nil),
		},
		{
			"empty sections keep their defaults",
			minimal + "generate:\nproviders:\nprices:\nsandbox:\n  error_rates:\n",
			want(nil),
		},
		{
			"generate settings",
			minimal + `generate:
  seed: -7
  examples: 0x10
  output: out/x.jsonl
  ideas: {model: openai/gpt-4.1, per_call: 3, max_tokens: 1_000, temperature: 0, mode: batch}
  documents: {pages: 1, stream: false, mode: auto}
  responses:
    model: together/meta-llama/Llama-3.3-70B-Instruct-Turbo
    temperature: 2
    include_system: false
  review: {llm: true, min_trait_score: 5, min_words: 0, max_words: 10}
`,
			want(func(c *config.Config) {
				g := &c.Generate
				g.Seed, g.Examples, g.Output = -7, 16, "out/x.jsonl"
				g.Ideas = config.Ideas{Model: "openai/gpt-4.1", PerCall: 3, MaxTokens: 1000, Temperature: ptr(0.0), Mode: config.ModeBatch}
				g.Documents.Pages, g.Documents.Stream, g.Documents.Mode = 1, false, config.ModeAuto
				g.Responses.Model = "together/meta-llama/Llama-3.3-70B-Instruct-Turbo"
				g.Responses.Temperature, g.Responses.IncludeSystem = ptr(2.0), false
				g.Review.LLM, g.Review.MinTraitScore, g.Review.MinWords, g.Review.MaxWords = true, 5, 0, 10
			}),
		},
		{
			"finetune, eval, budget, store",
			minimal + `finetune:
  provider: openai
  model: gpt-4.1-mini-2025-04-14
  epochs: 1
  learning_rate: 2e-4
  lora: false
  lora_dropout: 0.05
  suffix: agora-v2.1
  validation: 0
eval:
  judge: sandbox/judge
  system_prompt: without
  samples: 3
budget: {max_usd: 0}
store: {path: /tmp/x.db}
`,
			want(func(c *config.Config) {
				f := &c.FineTune
				f.Provider, f.Model, f.Epochs, f.LearningRate = "openai", "gpt-4.1-mini-2025-04-14", 1, 2e-4
				f.LoRA, f.LoRADropout, f.Suffix, f.Validation = false, 0.05, "agora-v2.1", 0
				c.Eval.Judge, c.Eval.SystemPrompt, c.Eval.Samples = "sandbox/judge", "without", 3
				c.Budget.MaxUSD = 0
				c.Store.Path = "/tmp/x.db"
			}),
		},
		{
			"a built-in provider changes only the fields given",
			minimal + "providers:\n  anthropic: {rpm: 5, timeout: 90s, base_url: 'http://127.0.0.1:9/'}\n",
			want(func(c *config.Config) {
				p := c.Providers["anthropic"]
				p.RPM, p.Timeout, p.BaseURL = 5, 90*time.Second, "http://127.0.0.1:9/"
				c.Providers["anthropic"] = p
			}),
		},
		{
			"a new provider gets defaults and requires its key when it names one",
			minimal + `providers:
  groq: {type: openai, base_url: "https://api.groq.com/openai/v1", api_key_env: GROQ_API_KEY}
  local: {type: openai, base_url_env: LOCAL_URL}
generate:
  ideas: {model: groq/llama-3.3-70b}
`,
			want(func(c *config.Config) {
				c.Providers["groq"] = config.Provider{Name: "groq", Type: "openai",
					BaseURL: "https://api.groq.com/openai/v1", APIKeyEnv: "GROQ_API_KEY", KeyRequired: true,
					MaxConcurrency: config.AutoConcurrency, Timeout: 10 * time.Minute}
				c.Providers["local"] = config.Provider{Name: "local", Type: "openai", BaseURLEnv: "LOCAL_URL",
					MaxConcurrency: config.AutoConcurrency, Timeout: 10 * time.Minute}
				c.Generate.Ideas.Model = "groq/llama-3.3-70b"
			}),
		},
		{
			"an openai-type provider chooses the field of its output limit",
			minimal + `providers:
  openai: {output_limit: max_tokens}
  ollama: {output_limit: max_completion_tokens}
`,
			want(func(c *config.Config) {
				p := c.Providers["openai"]
				p.OutputLimit = config.OutputLimitMaxTokens
				c.Providers["openai"] = p
				p = c.Providers["ollama"]
				p.OutputLimit = config.OutputLimitMaxCompletionTokens
				c.Providers["ollama"] = p
			}),
		},
		{
			"max_concurrency is auto or a ceiling; a new local server gets a small one",
			minimal + `providers:
  anthropic: {max_concurrency: 32, rate_limit_timeout: 5m}
  vllm: {max_concurrency: auto}
  box: {type: openai, base_url: "http://127.0.0.1:8001/v1"}
  lan: {type: openai, base_url: "http://localhost:8002/v1", max_concurrency: auto}
`,
			want(func(c *config.Config) {
				p := c.Providers["anthropic"]
				p.MaxConcurrency, p.RateLimitTimeout = 32, 5*time.Minute
				c.Providers["anthropic"] = p
				p = c.Providers["vllm"]
				p.MaxConcurrency = config.AutoConcurrency
				c.Providers["vllm"] = p
				c.Providers["box"] = config.Provider{Name: "box", Type: "openai", BaseURL: "http://127.0.0.1:8001/v1",
					MaxConcurrency: 8, Timeout: 10 * time.Minute}
				c.Providers["lan"] = config.Provider{Name: "lan", Type: "openai", BaseURL: "http://localhost:8002/v1",
					MaxConcurrency: config.AutoConcurrency, Timeout: 10 * time.Minute}
			}),
		},
		{
			"prices merge field by field over the built-ins",
			minimal + `prices:
  anthropic/claude-sonnet-4-5: {input: 2}
  openai/gpt-5: {input: 1.25, output: 10}
  together/*: {input: 0.5, output: 0.5}
`,
			want(func(c *config.Config) {
				p := c.Prices["anthropic/claude-sonnet-4-5"]
				p.Input = 2
				c.Prices["anthropic/claude-sonnet-4-5"] = p
				c.Prices["openai/gpt-5"] = config.Price{Input: 1.25, Output: 10}
				c.Prices["together/*"] = config.Price{Input: 0.5, Output: 0.5}
			}),
		},
		{
			"sandbox faults",
			minimal + `sandbox:
  seed: 42
  error_rates: {429: 0.25, 503: 0.1}
  latency: 150ms
  jitter: 0
  cut_stream_rate: 0.5
  rpm: 30
  tpm: 10000
`,
			want(func(c *config.Config) {
				c.Sandbox = config.Sandbox{Seed: 42, ErrorRates: map[int]float64{429: 0.25, 500: 0, 503: 0.1, 529: 0},
					Latency: 150 * time.Millisecond, CutStreamRate: 0.5, RPM: 30, TPM: 10000}
			}),
		},
		{
			"anchors, aliases and merge keys",
			minimal + `providers:
  a: &local {type: openai, base_url: "http://localhost:1/v1", max_concurrency: 2}
  b:
    <<: *local
    max_concurrency: 3
generate:
  ideas: {model: &m sandbox/writer}
  documents: {model: *m}
`,
			want(func(c *config.Config) {
				base := config.Provider{Type: "openai", BaseURL: "http://localhost:1/v1", Timeout: 10 * time.Minute}
				a, b := base, base
				a.Name, a.MaxConcurrency = "a", 2
				b.Name, b.MaxConcurrency = "b", 3
				c.Providers["a"], c.Providers["b"] = a, b
				c.Generate.Ideas.Model, c.Generate.Documents.Model = "sandbox/writer", "sandbox/writer"
			}),
		},
		{
			"numbers are accepted as strings",
			minimal + "finetune: {suffix: 2024}\n",
			want(func(c *config.Config) { c.FineTune.Suffix = "2024" }),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := config.Parse("ethos.yaml", []byte(tt.yaml))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		yaml string
		want string
	}{
		{
			"unknown provider in a model reference",
			minimal + `generate:
  examples: 5
  ideas:
    model: anthropic/claude-sonnet-4-5
  responses:
    model: antropic/claude-opus-4-1
`,
			`ethos.yaml:14: generate.responses.model: unknown provider "antropic"; configured: anthropic, ollama, openai, openrouter, sandbox, together, vllm`,
		},
		{
			"pairs judge",
			minimal + `generate:
  pairs: {student: sandbox/base, confirm: true, judge: nowhere/judge}
`,
			`ethos.yaml:10: generate.pairs.judge: unknown provider "nowhere"; configured: anthropic, ollama, openai, openrouter, sandbox, together, vllm`,
		},
		{
			"introspection settings",
			minimal + `finetune:
  recipe: dpo+introspection
  introspection: {reflections: 0, dialogues: 2, turns: 1, max_tokens: -1}
`,
			"ethos.yaml:11: finetune.introspection.max_tokens: must be at least 0, got -1\nethos.yaml:11: finetune.introspection.turns: must be at least 2, got 1",
		},
		{
			"introspection with nothing to write",
			minimal + `finetune:
  recipe: dpo+introspection
  introspection: {reflections: 0, dialogues: 0}
`,
			"ethos.yaml:11: finetune.introspection: the recipe dpo+introspection needs introspection data: set reflections or dialogues above 0",
		},
		{
			"batch settings",
			minimal + `generate:
  documents: {mode: later}
eval: {judge_mode: offline}
batch: {window: 0s, min_requests: 0}
providers:
  anthropic: {batch: bedrock}
prices:
  sandbox/x: {batch: 1.5}
`,
			`ethos.yaml:10: generate.documents.mode: unknown mode "later"; want online, batch (the provider's batch API, at its batch price) or auto (batch for a stage of at least batch.min_requests calls)
ethos.yaml:11: eval.judge_mode: unknown mode "offline"; want online, batch (the provider's batch API, at its batch price) or auto (batch for a stage of at least batch.min_requests calls)
ethos.yaml:12: batch.min_requests: must be at least 1, got 0
ethos.yaml:12: batch.window: must be above 0, got 0s
ethos.yaml:14: providers.anthropic.batch: unknown batch API "bedrock"; want anthropic, openai or together (or leave it out for none)
ethos.yaml:16: prices["sandbox/x"].batch: is the batch price as a share of the online price, from 0 to 1 (0.5 for half price), got 1.5`,
		},
		{
			"a provider defined later in the file is known",
			minimal + "eval: {judge: mine/judge}\nproviders:\n  mine: {type: anthropic}\n",
			`ethos.yaml:11: providers.mine.base_url: required for a new provider (or set base_url_env)`,
		},
		{
			"unknown fields, with a suggestion when one is close",
			minimal + "generate:\n  ideaz: {}\n  temprature: 1\nbudgte: {max_usd: 1}\nfoo: 1\n",
			`ethos.yaml:10: generate.ideaz: unknown field; did you mean "ideas"?
ethos.yaml:11: generate.temprature: unknown field
ethos.yaml:12: budgte: unknown field; did you mean "budget"?
ethos.yaml:13: foo: unknown field`,
		},
		{
			"wrong types keep collecting",
			minimal + `generate:
  examples: fifty
  seed: 1.5
  documents: {stream: yes, temperature: hot, pages: [1]}
  responses: 3
sandbox:
  latency: 100
  jitter: -5ms
finetune: {lora: 1}
`,
			`ethos.yaml:10: generate.examples: expected an integer, got "fifty"
ethos.yaml:11: generate.seed: expected an integer, got "1.5"
ethos.yaml:12: generate.documents.stream: expected true or false, got "yes"
ethos.yaml:12: generate.documents.temperature: expected a number, got "hot"
ethos.yaml:12: generate.documents.pages: expected an integer, got a list
ethos.yaml:13: generate.responses: expected a mapping, got "3"
ethos.yaml:15: sandbox.latency: expected a duration like "200ms" or "10m", got "100"
ethos.yaml:16: sandbox.jitter: must not be negative
ethos.yaml:17: finetune.lora: expected true or false, got "1"`,
		},
		{
			"negative evaluations",
			minimal + "finetune: {n_evals: -1}\n",
			`ethos.yaml:9: finetune.n_evals: must be at least 0, got -1`,
		},
		{
			"out of range values",
			minimal + `generate:
  examples: 0
  ideas: {per_call: 0, temperature: 2.5}
  review: {min_trait_score: 6, min_words: 2000}
finetune:
  provider: fireworks
  lora_dropout: 1
  validation: -0.1
  learning_rate: 0
  suffix: "my model"
eval:
  system_prompt: maybe
  temperature: -1
budget: {max_usd: -1}
sandbox:
  error_rates: {429: 0.7, 529: 0.6, 200: 0.1}
  cut_stream_rate: 1.5
  rpm: -1
store: {path: ""}
providers:
  anthropic: {max_concurrency: 0, timeout: 0s, rpm: -1, output_limit: max_tokens}
  ollama: {output_limit: num_predict}
`,
			`ethos.yaml:10: generate.examples: must be at least 1, got 0
ethos.yaml:11: generate.ideas.per_call: must be at least 1, got 0
ethos.yaml:11: generate.ideas.temperature: must be between 0 and 2, got 2.5
ethos.yaml:12: generate.review.min_trait_score: must be between 1 and 5, got 6
ethos.yaml:12: generate.review.min_words: min_words 2000 is above max_words 1500
ethos.yaml:14: finetune.provider: unknown fine-tuning provider "fireworks"; want together, openai or sandbox
ethos.yaml:15: finetune.lora_dropout: must be at least 0 and below 1, got 1
ethos.yaml:16: finetune.validation: must be at least 0 and below 1, got -0.1
ethos.yaml:17: finetune.learning_rate: must be above 0 and at most 1, got 0
ethos.yaml:18: finetune.suffix: must be 1 to 40 letters, digits, '-', '_' or '.', got "my model"
ethos.yaml:20: eval.system_prompt: must be "with" or "without", got "maybe"
ethos.yaml:21: eval.temperature: must be between 0 and 2, got -1
ethos.yaml:22: budget.max_usd: must be 0 (no cap) or more, got -1
ethos.yaml:24: sandbox.error_rates.200: error rates are keyed by HTTP status 400..599, got "200"
ethos.yaml:24: sandbox.error_rates: rates add up to 1.3; at most 1
ethos.yaml:25: sandbox.cut_stream_rate: must be between 0 and 1, got 1.5
ethos.yaml:26: sandbox.rpm: must be at least 0, got -1
ethos.yaml:27: store.path: required
ethos.yaml:29: providers.anthropic.max_concurrency: must be auto (sized from the provider's rate limit and latency) or at least 1, got 0
ethos.yaml:29: providers.anthropic.rpm: must be at least 0, got -1
ethos.yaml:29: providers.anthropic.timeout: must be positive, got 0s
ethos.yaml:29: providers.anthropic.output_limit: applies to type openai providers only; the Messages API takes max_tokens
ethos.yaml:30: providers.ollama.output_limit: must be max_tokens (most OpenAI-compatible servers) or max_completion_tokens (OpenAI), got "num_predict"`,
		},
		{
			"character problems",
			`character:
  name: ""
  traits:
    - name: Curious
      definition: asks
    - name: curious
    - {definition: no name}
  categories: []
generate: {}
`,
			`ethos.yaml:1: character.system_prompt: required
ethos.yaml:2: character.name: required
ethos.yaml:6: character.traits[1].definition: required
ethos.yaml:6: character.traits[1].name: duplicate trait name "curious" (first at line 4)
ethos.yaml:7: character.traits[2].name: required
ethos.yaml:8: character.categories: at least one category is required`,
		},
		{
			"duplicate categories and keys",
			`character:
  name: A
  system_prompt: p
  traits: [{name: t, definition: d}]
  categories:
    - name: Misc
    - name: MISC
  name: B
`,
			`ethos.yaml:7: character.categories[1].name: duplicate category name "MISC" (first at line 6)
ethos.yaml:8: character.name: duplicate field (first at line 2)`,
		},
		{
			"missing character",
			"# nothing but settings\ngenerate:\n  examples: 3\n",
			"ethos.yaml:2: character: required section missing (`ethos init` writes an example)",
		},
		{
			"empty file",
			"",
			"ethos.yaml:1: character: required; the file is empty (`ethos init` writes an example)",
		},
		{
			"not a mapping",
			"- a\n- b\n",
			"ethos.yaml:1: expected a mapping, got a list",
		},
		{
			"character of the wrong shape",
			"character: [a]\n",
			"ethos.yaml:1: character: expected a mapping, got a list",
		},
		{
			"malformed YAML",
			minimal + "generate:\n  examples: 3\n   seed: 1\n",
			"ethos.yaml:11: invalid YAML: mapping values are not allowed in this context",
		},
		{
			"tab indentation",
			minimal + "generate:\n\texamples: 3\n",
			"ethos.yaml:10: invalid YAML: found character that cannot start any token",
		},
		{
			"two documents",
			minimal + "---\ngenerate: {}\n",
			"ethos.yaml:9: a second YAML document; ethos.yaml holds one",
		},
		{
			"model references",
			minimal + `generate:
  ideas: {model: claude-sonnet-4-5}
  documents: {model: /x}
  responses: {model: ""}
  review: {llm: true, model: ~}
eval: {judge: "anthropic/"}
`,
			`ethos.yaml:10: generate.ideas.model: model reference "claude-sonnet-4-5" must be provider/model, for example anthropic/claude-sonnet-4-5
ethos.yaml:11: generate.documents.model: model reference "/x" must be provider/model, for example anthropic/claude-sonnet-4-5
ethos.yaml:12: generate.responses.model: missing model reference; want provider/model, for example anthropic/claude-sonnet-4-5
ethos.yaml:14: eval.judge: model reference "anthropic/" must be provider/model, for example anthropic/claude-sonnet-4-5`,
		},
		{
			"providers and prices",
			minimal + `providers:
  Bad/Name: {type: openai}
  mine: {type: grpc, base_url: "ftp://x", api_key_env: sk-secret-value}
  nobase: {type: openai}
prices:
  nope/model: {input: 1}
  openai/gpt-4.1: {output: -8}
  gpt-4o: {input: 1}
`,
			`ethos.yaml:10: providers["Bad/Name"]: provider names use lowercase letters, digits, '.', '_' and '-' (a '/' would split model references)
ethos.yaml:11: providers.mine.type: unknown provider type "grpc"; want anthropic or openai
ethos.yaml:11: providers.mine.base_url: must be an http or https URL, got "ftp://x"
ethos.yaml:11: providers.mine.api_key_env: must name an environment variable (like ANTHROPIC_API_KEY) that holds the key, not the key itself
ethos.yaml:12: providers.nobase.base_url: required for a new provider (or set base_url_env)
ethos.yaml:14: prices["nope/model"]: unknown provider "nope"; configured: anthropic, mine, nobase, ollama, openai, openrouter, sandbox, together, vllm
ethos.yaml:15: prices["openai/gpt-4.1"].output: must be 0 or more USD per million tokens, got -8
ethos.yaml:16: prices.gpt-4o: model reference "gpt-4o" must be provider/model, for example anthropic/claude-sonnet-4-5`,
		},
		{
			"new provider without a type",
			minimal + "providers:\n  x: {base_url: \"http://localhost:1\"}\n",
			"ethos.yaml:10: providers.x.type: required for a new provider: anthropic or openai",
		},
		{
			"integers out of range",
			minimal + "generate: {examples: 99999999999}\n",
			"ethos.yaml:9: generate.examples: 99999999999 is out of range",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Parse("ethos.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if k := ethos.KindOf(err); k != ethos.Config {
				t.Errorf("kind %q, want %q", k, ethos.Config)
			}
			var fe *config.FieldError
			if !errors.As(err, &fe) || fe.File != "ethos.yaml" || fe.Line < 1 {
				t.Errorf("errors.As(*FieldError) = %+v", fe)
			}
			var lines []string
			for _, fe := range config.FieldErrors(err) {
				lines = append(lines, fe.Error())
			}
			if diff := cmp.Diff(strings.Split(tt.want, "\n"), lines); diff != "" {
				t.Errorf("FieldErrors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSecretNeverEchoed(t *testing.T) {
	t.Parallel()
	const secret = "sk-ant-api03-abcdef"
	_, err := config.Parse("ethos.yaml", []byte(minimal+"providers:\n  anthropic: {api_key_env: "+secret+"}\n"))
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("error %v: want an error that does not contain the value", err)
	}
}

func TestFieldError(t *testing.T) {
	t.Parallel()
	_, err := config.Parse("conf/ethos.yaml", []byte(minimal+"generate:\n  examples: x\n"))
	var fe *config.FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("errors.As(%v, *FieldError) = false", err)
	}
	want := &config.FieldError{File: "conf/ethos.yaml", Line: 10, Field: "generate.examples", Msg: `expected an integer, got "x"`}
	if diff := cmp.Diff(want, fe); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got := config.FieldErrors(errors.New("other")); got != nil {
		t.Errorf("FieldErrors(unrelated error) = %v, want nil", got)
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "ethos.yaml")
	if err := os.WriteFile(path, config.Template(), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.Path != path || c.Character.Name != "Agora" {
		t.Errorf("Load: Path %q, character %q", c.Path, c.Character.Name)
	}

	_, err = config.Load(filepath.Join(dir, "missing.yaml"))
	if ethos.KindOf(err) != ethos.Config || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("Load(missing) = %v (kind %q), want a Config error naming the file", err, ethos.KindOf(err))
	}

	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte(minimal+"eval: {prompts: 0}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = config.Load(bad)
	if want := bad + ":9: eval.prompts: must be at least 1, got 0"; err == nil || err.Error() != want {
		t.Errorf("Load(bad) = %v, want %s", err, want)
	}
}

func TestParseModelRef(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ref, provider, model string
		ok                   bool
	}{
		{"anthropic/claude-sonnet-4-5", "anthropic", "claude-sonnet-4-5", true},
		{"together/meta-llama/Llama-3.3-70B-Instruct-Turbo", "together", "meta-llama/Llama-3.3-70B-Instruct-Turbo", true},
		{"ollama/llama3.1:8b", "ollama", "llama3.1:8b", true},
		{"sandbox/*", "sandbox", "*", true},
		{"claude", "", "", false},
		{"", "", "", false},
		{"/model", "", "", false},
		{"provider/", "", "", false},
		{" anthropic/x", "", "", false},
	}
	for _, tt := range tests {
		r, msg := config.ParseModelRef(tt.ref)
		if (msg == "") != tt.ok || r.Provider != tt.provider || r.Model != tt.model {
			t.Errorf("parseModelRef(%q) = %+v, %q; want %q, %q, ok=%v", tt.ref, r, msg, tt.provider, tt.model, tt.ok)
		}
	}
}

func TestPriceOfAndCost(t *testing.T) {
	t.Parallel()
	c, err := config.Parse("ethos.yaml", []byte(minimal+"prices:\n  ollama/big: {input: 1, output: 2}\n"))
	if err != nil {
		t.Fatal(err)
	}
	usage := ethos.Usage{In: 1_000_000, Out: 100_000, CacheRead: 2_000_000, CacheWrite: 400_000}
	tests := []struct {
		ref  string
		ok   bool
		want config.Price
		cost float64
	}{
		{"anthropic/claude-sonnet-4-5", true, config.Price{Input: 3, Output: 15, CacheRead: 0.3, CacheWrite: 3.75}, 3 + 1.5 + 0.6 + 1.5},
		{"anthropic/claude-opus-4-1", true, config.Price{Input: 15, Output: 75, CacheRead: 1.5, CacheWrite: 18.75}, 15 + 7.5 + 3 + 7.5},
		{"openai/gpt-4o-mini", true, config.Price{Input: 0.15, Output: 0.6, CacheRead: 0.075}, 0.15 + 0.06 + 0.15},
		{"together/meta-llama/Llama-3.3-70B-Instruct-Turbo", true, config.Price{Input: 0.88, Output: 0.88}, 0.88 + 0.088},
		{"ollama/llama3.1", true, config.Price{}, 0},
		{"ollama/big", true, config.Price{Input: 1, Output: 2}, 1 + 0.2},
		{"sandbox/writer", true, config.Price{Input: 1, Output: 5, CacheRead: 0.1, CacheWrite: 1.25}, 1 + 0.5 + 0.2 + 0.5},
		{"anthropic/claude-unknown", false, config.Price{}, 0},
		{"nonsense", false, config.Price{}, 0},
	}
	for _, tt := range tests {
		p, ok := c.PriceOf(tt.ref)
		if ok != tt.ok {
			t.Errorf("PriceOf(%q) ok = %v, want %v", tt.ref, ok, tt.ok)
		}
		if diff := cmp.Diff(tt.want, p, floatEqual); diff != "" {
			t.Errorf("PriceOf(%q) (-want +got):\n%s", tt.ref, diff)
		}
		if got := p.Cost(usage); !close(got, tt.cost) {
			t.Errorf("Cost(%q) = %v, want %v", tt.ref, got, tt.cost)
		}
	}
}

var floatEqual = cmp.Comparer(func(a, b float64) bool { return close(a, b) })

func close(a, b float64) bool {
	d := a - b
	return d < 1e-9 && d > -1e-9
}

func TestAPIKey(t *testing.T) {
	t.Parallel()
	c := config.Default()
	env := func(vars map[string]string) func(string) string {
		return func(k string) string { return vars[k] }
	}
	const secret = "sk-test-0123456789"

	anthropic := c.Providers["anthropic"]
	key, err := c.APIKey(anthropic, env(map[string]string{"ANTHROPIC_API_KEY": " " + secret + "\n"}))
	if err != nil || key != secret {
		t.Errorf("APIKey(set) = %q, %v; want the trimmed key", key, err)
	}

	_, err = c.APIKey(anthropic, env(map[string]string{"OPENAI_API_KEY": secret}))
	if err == nil || err.Error() != "provider anthropic needs an API key: set ANTHROPIC_API_KEY" {
		t.Errorf("APIKey(unset) = %v", err)
	}
	if ethos.KindOf(err) != ethos.Config {
		t.Errorf("APIKey(unset) kind %q, want config", ethos.KindOf(err))
	}
	if strings.Contains(err.Error(), secret) {
		t.Error("error contains a key value")
	}

	for _, name := range []string{"ollama", "vllm", "sandbox"} {
		key, err := c.APIKey(c.Providers[name], env(nil))
		if err != nil || key != "" {
			t.Errorf("APIKey(%s, unset) = %q, %v; want no key and no error", name, key, err)
		}
	}
	key, err = c.APIKey(c.Providers["vllm"], env(map[string]string{"VLLM_API_KEY": "k"}))
	if err != nil || key != "k" {
		t.Errorf("APIKey(vllm, set) = %q, %v", key, err)
	}
}

func TestResolveProvider(t *testing.T) {
	t.Parallel()
	c := config.Default()
	env := map[string]string{"TOGETHER_BASE_URL": "http://127.0.0.1:4010/v1", "SANDBOX_BASE_URL": ""}
	getenv := func(k string) string { return env[k] }

	got, err := c.ResolveProvider("together", getenv)
	if err != nil {
		t.Fatal(err)
	}
	want := config.Provider{Name: "together", Type: "openai", BaseURL: "http://127.0.0.1:4010/v1",
		BaseURLEnv: "TOGETHER_BASE_URL", APIKeyEnv: "TOGETHER_API_KEY", KeyRequired: true,
		RPM: 600, MaxConcurrency: config.AutoConcurrency, Timeout: 10 * time.Minute, Batch: config.BatchTogether}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ResolveProvider(together) (-want +got):\n%s", diff)
	}
	if c.Providers["together"].BaseURL != "https://api.together.xyz/v1" {
		t.Error("ResolveProvider changed the configuration")
	}

	got, err = c.ResolveProvider("anthropic", getenv)
	if err != nil || got.BaseURL != "https://api.anthropic.com" {
		t.Errorf("ResolveProvider(anthropic) = %q, %v; want the built-in URL", got.BaseURL, err)
	}
	got, err = c.ResolveProvider("sandbox", getenv)
	if err != nil || got.BaseURL != "" || got.MaxConcurrency != config.AutoConcurrency || got.RPM != 0 {
		t.Errorf("ResolveProvider(sandbox) = %+v, %v", got, err)
	}

	_, err = c.ResolveProvider("antropic", getenv)
	wantErr := `unknown provider "antropic"; configured: anthropic, ollama, openai, openrouter, sandbox, together, vllm`
	if err == nil || err.Error() != wantErr || ethos.KindOf(err) != ethos.Config {
		t.Errorf("ResolveProvider(antropic) = %v, want %s", err, wantErr)
	}
}

func TestProviderReadsProcessEnvironment(t *testing.T) {
	// t.Setenv forbids t.Parallel.
	t.Setenv("OLLAMA_BASE_URL", "http://127.0.0.1:1/v1")
	p, err := config.Default().Provider("ollama")
	if err != nil || p.BaseURL != "http://127.0.0.1:1/v1" {
		t.Errorf("Provider(ollama) = %q, %v", p.BaseURL, err)
	}
}

func TestProviderNames(t *testing.T) {
	t.Parallel()
	c, err := config.Parse("ethos.yaml", []byte(minimal+"providers:\n  zz: {type: openai, base_url: 'http://localhost:1'}\n  aa: {type: openai, base_url: 'http://localhost:2'}\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"aa", "anthropic", "ollama", "openai", "openrouter", "sandbox", "together", "vllm", "zz"}
	if diff := cmp.Diff(want, c.ProviderNames()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestHash(t *testing.T) {
	t.Parallel()
	a, b := config.Default(), config.Default()
	b.Path = "elsewhere/ethos.yaml"
	if a.Hash() != b.Hash() {
		t.Error("Hash depends on Path")
	}
	if len(a.Hash()) != 64 {
		t.Errorf("Hash() = %q, want 64 hex digits", a.Hash())
	}
	b.Sandbox.ErrorRates[500] = 0.1
	if a.Hash() == b.Hash() {
		t.Error("Hash ignores the sandbox error rates")
	}
	b = config.Default()
	b.Character.Traits[4].Definition += "."
	if a.Hash() == b.Hash() {
		t.Error("Hash ignores trait definitions")
	}
}

func ptr[T any](v T) *T { return &v }

func TestEvalBaseline(t *testing.T) {
	t.Parallel()
	tmpl := string(config.Template())
	withBaseline := strings.Replace(tmpl, "  # baseline: together/", "  baseline: together/", 1)
	c, err := config.Parse("ethos.yaml", []byte(withBaseline))
	if err != nil {
		t.Fatalf("template with a baseline: %v", err)
	}
	if c.Eval.Baseline != "together/meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo" {
		t.Errorf("baseline = %q", c.Eval.Baseline)
	}
	bad := strings.Replace(tmpl, "  # baseline: together/", "  baseline: togther/", 1)
	_, err = config.Parse("ethos.yaml", []byte(bad))
	if err == nil || !strings.Contains(err.Error(), `eval.baseline: unknown provider "togther"`) {
		t.Errorf("baseline with an unknown provider: %v", err)
	}
}
