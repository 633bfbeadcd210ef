package config

import (
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/internal/redact"
)

// validate checks the decoded configuration: required settings, ranges,
// uniqueness and references between sections. It runs after decoding
// because a model reference may name a provider the file defines further
// down.
func (d *decoder) validate(c *Config) {
	d.validateCharacter(c.Character)
	d.validateProviders(c)
	d.validatePrices(c)

	g := c.Generate
	d.atLeast("generate.examples", g.Examples, 1)
	d.required("generate.output", g.Output)
	d.modelRef(c, "generate.ideas.model", g.Ideas.Model)
	d.atLeast("generate.ideas.per_call", g.Ideas.PerCall, 1)
	d.atLeast("generate.ideas.max_tokens", g.Ideas.MaxTokens, 1)
	d.temperature("generate.ideas.temperature", g.Ideas.Temperature)
	d.modelRef(c, "generate.documents.model", g.Documents.Model)
	d.atLeast("generate.documents.pages", g.Documents.Pages, 1)
	d.atLeast("generate.documents.max_tokens", g.Documents.MaxTokens, 1)
	d.temperature("generate.documents.temperature", g.Documents.Temperature)
	d.modelRef(c, "generate.responses.model", g.Responses.Model)
	d.atLeast("generate.responses.max_tokens", g.Responses.MaxTokens, 1)
	d.temperature("generate.responses.temperature", g.Responses.Temperature)
	if g.Review.Model != "" || g.Review.LLM {
		d.modelRef(c, "generate.review.model", g.Review.Model)
	}
	if pr := g.Pairs; pr != nil {
		d.modelRef(c, "generate.pairs.student", pr.Student)
		if pr.Judge != "" {
			d.modelRef(c, "generate.pairs.judge", pr.Judge)
		} else if pr.Confirm {
			d.modelRef(c, "generate.review.model", g.Review.Model)
		}
		d.atLeast("generate.pairs.max_tokens", pr.MaxTokens, 0)
		if !slices.Contains(Modes, pr.Mode) {
			d.fail("generate.pairs.mode", "unknown mode %s; want online, batch or auto", quote(pr.Mode))
		}
	}
	d.intBetween("generate.review.min_trait_score", g.Review.MinTraitScore, 1, 5)
	d.atLeast("generate.review.max_attempts", g.Review.MaxAttempts, 1)
	d.atLeast("generate.review.min_words", g.Review.MinWords, 0)
	d.atLeast("generate.review.max_words", g.Review.MaxWords, 1)
	if g.Review.MaxWords >= 1 && g.Review.MinWords > g.Review.MaxWords {
		// Point at whichever of the two the file set; min_words if both.
		path := "generate.review.min_words"
		if _, ok := d.lines[path]; !ok {
			path = "generate.review.max_words"
		}
		d.fail(path, "min_words %d is above max_words %d", g.Review.MinWords, g.Review.MaxWords)
	}

	f := c.FineTune
	switch f.Provider {
	case "together", "openai", "sandbox":
	default:
		d.fail("finetune.provider", "unknown fine-tuning provider %s; want together, openai or sandbox", quote(f.Provider))
	}
	d.required("finetune.model", f.Model)
	d.atLeast("finetune.epochs", f.Epochs, 1)
	if !(f.LearningRate > 0 && f.LearningRate <= 1) {
		d.fail("finetune.learning_rate", "must be above 0 and at most 1, got %g", f.LearningRate)
	}
	d.atLeast("finetune.batch_size", f.BatchSize, 1)
	d.atLeast("finetune.lora_r", f.LoRAR, 1)
	d.atLeast("finetune.lora_alpha", f.LoRAAlpha, 1)
	d.fraction("finetune.lora_dropout", f.LoRADropout)
	if !suffixPattern.MatchString(f.Suffix) {
		d.fail("finetune.suffix", "must be 1 to 40 letters, digits, '-', '_' or '.', got %s", quote(f.Suffix))
	}
	d.fraction("finetune.validation", f.Validation)
	d.atLeast("finetune.n_evals", f.NEvals, 0)
	if f.Recipe != "" && !slices.Contains(Recipes, f.Recipe) {
		d.fail("finetune.recipe", "unknown recipe %s; want sft, dpo (preference pairs: the replies against the student's answers), sft+dpo (DPO continued from the SFT model) or dpo+introspection (SFT on the DPO model's self-reflections and self-interactions, continued from it)", quote(f.Recipe))
	}
	in := f.Introspection
	d.atLeast("finetune.introspection.reflections", in.Reflections, 0)
	d.atLeast("finetune.introspection.dialogues", in.Dialogues, 0)
	d.atLeast("finetune.introspection.max_tokens", in.MaxTokens, 0)
	if in.Dialogues > 0 {
		d.atLeast("finetune.introspection.turns", in.Turns, 2)
	}
	if f.Recipe == RecipeDPOIntrospection && in.Reflections+in.Dialogues == 0 {
		d.fail("finetune.introspection", "the recipe dpo+introspection needs introspection data: set reflections or dialogues above 0")
	}

	e := c.Eval
	d.modelRef(c, "eval.judge", e.Judge)
	if e.Baseline != "" {
		d.modelRef(c, "eval.baseline", e.Baseline)
	}
	d.atLeast("eval.prompts", e.Prompts, 1)
	d.atLeast("eval.samples", e.Samples, 1)
	d.atLeast("eval.max_tokens", e.MaxTokens, 1)
	d.temperature("eval.temperature", e.Temperature)
	if e.SystemPrompt != WithSystemPrompt && e.SystemPrompt != WithoutSystemPrompt {
		d.fail("eval.system_prompt", "must be %q or %q, got %s", WithSystemPrompt, WithoutSystemPrompt, quote(e.SystemPrompt))
	}

	for _, m := range []struct{ path, mode string }{
		{"generate.ideas.mode", g.Ideas.Mode}, {"generate.documents.mode", g.Documents.Mode},
		{"generate.responses.mode", g.Responses.Mode}, {"generate.review.mode", g.Review.Mode},
		{"eval.answer_mode", e.AnswerMode}, {"eval.judge_mode", e.JudgeMode},
	} {
		if !slices.Contains(Modes, m.mode) {
			d.fail(m.path, "unknown mode %s; want online, batch (the provider's batch API, at its batch price) or auto (batch for a stage of at least batch.min_requests calls)", quote(m.mode))
		}
	}
	d.atLeast("batch.min_requests", c.Batch.MinRequests, 1)
	d.atLeast("batch.max_submissions", c.Batch.MaxSubmissions, 1)
	if c.Batch.Window <= 0 {
		d.fail("batch.window", "must be above 0, got %s", c.Batch.Window)
	}
	if c.Batch.Poll <= 0 {
		d.fail("batch.poll", "must be above 0, got %s", c.Batch.Poll)
	}

	if c.Budget.MaxUSD < 0 {
		d.fail("budget.max_usd", "must be 0 (no cap) or more, got %g", c.Budget.MaxUSD)
	}
	d.required("store.path", c.Store.Path)

	s := c.Sandbox
	statuses := make([]int, 0, len(s.ErrorRates))
	for status := range s.ErrorRates {
		statuses = append(statuses, status)
	}
	sort.Ints(statuses)
	sum := 0.0
	for _, status := range statuses {
		rate := s.ErrorRates[status]
		sum += rate
		d.probability(join("sandbox.error_rates", itoa(status)), rate)
	}
	if sum > 1+1e-9 {
		d.fail("sandbox.error_rates", "rates add up to %.6g; at most 1", sum)
	}
	if t := c.FineTune.InactiveTimeout; t < time.Minute || t%time.Minute != 0 {
		d.fail("finetune.inactive_timeout", "must be whole minutes, at least 1m (Together counts it in minutes), got %s", t)
	}
	d.nonNegativeDuration("sandbox.latency", int64(s.Latency))
	d.nonNegativeDuration("sandbox.jitter", int64(s.Jitter))
	d.probability("sandbox.cut_stream_rate", s.CutStreamRate)
	for _, name := range slices.Sorted(maps.Keys(s.Defects)) {
		d.probability(join("sandbox.defects", name), s.Defects[name])
	}
	d.atLeast("sandbox.rpm", s.RPM, 0)
	d.atLeast("sandbox.tpm", s.TPM, 0)
	d.atLeast("sandbox.input_tpm", s.InputTPM, 0)
	d.atLeast("sandbox.output_tpm", s.OutputTPM, 0)
	d.nonNegativeDuration("sandbox.batch_time", int64(s.BatchTime))
	d.probability("sandbox.batch_error_rate", s.BatchErrorRate)
	d.probability("sandbox.batch_expire_rate", s.BatchExpireRate)
	if s.BatchErrorRate+s.BatchExpireRate > 1+1e-9 {
		d.fail("sandbox.batch_expire_rate", "batch_error_rate and batch_expire_rate add up to %.6g; at most 1", s.BatchErrorRate+s.BatchExpireRate)
	}
}

var (
	suffixPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,40}$`)
	envVarPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

func (d *decoder) validateCharacter(ch ethos.Character) {
	if _, ok := d.lines["character"]; !ok {
		return // reported as a missing section
	}
	d.required("character.name", ch.Name)
	d.required("character.system_prompt", ch.SystemPrompt)
	if len(ch.Traits) == 0 {
		d.fail("character.traits", "at least one trait is required")
	}
	names := make(map[string]string)
	for i, t := range ch.Traits {
		p := "character.traits[" + itoa(i) + "]"
		d.required(p+".name", t.Name)
		d.required(p+".definition", t.Definition)
		d.unique(names, p+".name", "trait", t.Name)
	}
	if len(ch.Categories) == 0 {
		d.fail("character.categories", "at least one category is required")
	}
	names = make(map[string]string)
	for i, cat := range ch.Categories {
		p := "character.categories[" + itoa(i) + "]"
		d.required(p+".name", cat.Name)
		d.unique(names, p+".name", "category", cat.Name)
		if cat.Weight < 0 {
			d.fail(p+".weight", "must be 0 (the default weight, 1) or more, got %g", cat.Weight)
		}
	}
}

// unique reports name when another entry already has it, ignoring case:
// trait names key judge scores, and "Curious" and "curious" would collide.
func (d *decoder) unique(seen map[string]string, path, what, name string) {
	if name == "" {
		return
	}
	key := strings.ToLower(name)
	if first, dup := seen[key]; dup {
		d.fail(path, "duplicate %s name %s (first at line %d)", what, quote(name), d.lineOf(first))
		return
	}
	seen[key] = path
}

func (d *decoder) validateProviders(c *Config) {
	builtin := builtinProviders()
	for _, name := range c.ProviderNames() {
		p := c.Providers[name]
		path := join("providers", name)
		_, isBuiltin := builtin[name]
		switch p.Type {
		case TypeAnthropic, TypeOpenAI:
		case "":
			d.fail(path+".type", "required for a new provider: %s or %s", TypeAnthropic, TypeOpenAI)
		default:
			d.fail(path+".type", "unknown provider type %s; want %s or %s", quote(p.Type), TypeAnthropic, TypeOpenAI)
		}
		if p.BaseURL != "" {
			if _, ok := ethos.HTTPURL(p.BaseURL); !ok {
				d.fail(path+".base_url", "must be an http or https URL, got %s", quote(redact.URLs(p.BaseURL)))
			}
		} else if !isBuiltin && p.BaseURLEnv == "" {
			d.fail(path+".base_url", "required for a new provider (or set base_url_env)")
		}
		if p.BaseURLEnv != "" && !envVarPattern.MatchString(p.BaseURLEnv) {
			d.fail(path+".base_url_env", "must name an environment variable, got %s", quote(p.BaseURLEnv))
		}
		if p.APIKeyEnv != "" && !envVarPattern.MatchString(p.APIKeyEnv) {
			// Never echo this value: a key pasted here by mistake must not
			// end up in a terminal scrollback or a CI log.
			d.fail(path+".api_key_env", "must name an environment variable (like ANTHROPIC_API_KEY) that holds the key, not the key itself")
		}
		if p.Batch != "" && !slices.Contains(BatchAPIs, p.Batch) {
			d.fail(path+".batch", "unknown batch API %s; want anthropic, openai or together (or leave it out for none)", quote(p.Batch))
		}
		d.atLeast(path+".rpm", p.RPM, 0)
		d.atLeast(path+".tpm", p.TPM, 0)
		d.atLeast(path+".max_concurrency", p.MaxConcurrency, AutoConcurrency)
		if p.Timeout <= 0 {
			d.fail(path+".timeout", "must be positive, got %s", p.Timeout)
		}
		if p.RateLimitTimeout < 0 {
			d.fail(path+".rate_limit_timeout", "must not be negative, got %s", p.RateLimitTimeout)
		}
		switch {
		case p.OutputLimit == "":
		case p.Type == TypeAnthropic:
			d.fail(path+".output_limit", "applies to type %s providers only; the Messages API takes max_tokens", TypeOpenAI)
		case p.OutputLimit != OutputLimitMaxTokens && p.OutputLimit != OutputLimitMaxCompletionTokens:
			d.fail(path+".output_limit", "must be %s (most OpenAI-compatible servers) or %s (OpenAI), got %s", OutputLimitMaxTokens, OutputLimitMaxCompletionTokens, quote(p.OutputLimit))
		}
	}
}

func (d *decoder) validatePrices(c *Config) {
	refs := make([]string, 0, len(c.Prices))
	for ref := range c.Prices {
		refs = append(refs, ref)
	}
	sort.Strings(refs)
	for _, ref := range refs {
		path := join("prices", ref)
		if _, set := d.lines[path]; !set {
			continue // built-in entries are valid by construction
		}
		if d.modelRef(c, path, ref) {
			p := c.Prices[ref]
			for _, f := range []struct {
				name  string
				value float64
			}{{"input", p.Input}, {"output", p.Output}, {"cache_read", p.CacheRead}, {"cache_write", p.CacheWrite}} {
				if f.value < 0 {
					d.fail(path+"."+f.name, "must be 0 or more USD per million tokens, got %g", f.value)
				}
			}
			if p.Batch < 0 || p.Batch > 1 {
				d.fail(path+".batch", "is the batch price as a share of the online price, from 0 to 1 (0.5 for half price), got %g", p.Batch)
			}
		}
	}
}

// modelRef checks that ref is "provider/model" with a configured provider.
func (d *decoder) modelRef(c *Config, path, ref string) bool {
	r, msg := parseModelRef(ref)
	if msg != "" {
		d.fail(path, "%s", msg)
		return false
	}
	if _, ok := c.Providers[r.Provider]; !ok {
		d.fail(path, "%s", c.unknownProvider(r.Provider))
		return false
	}
	return true
}

func (d *decoder) required(path, value string) {
	if strings.TrimSpace(value) == "" {
		d.fail(path, "required")
	}
}

func (d *decoder) atLeast(path string, n, lo int) {
	if n < lo {
		d.fail(path, "must be at least %d, got %d", lo, n)
	}
}

func (d *decoder) intBetween(path string, n, lo, hi int) {
	if n < lo || n > hi {
		d.fail(path, "must be between %d and %d, got %d", lo, hi, n)
	}
}

func (d *decoder) temperature(path string, t *float64) {
	if t != nil && (*t < 0 || *t > 2) {
		d.fail(path, "must be between 0 and 2, got %g", *t)
	}
}

func (d *decoder) probability(path string, p float64) {
	if p < 0 || p > 1 {
		d.fail(path, "must be between 0 and 1, got %g", p)
	}
}

// fraction is a share that must leave something over: [0, 1).
func (d *decoder) fraction(path string, f float64) {
	if f < 0 || f >= 1 {
		d.fail(path, "must be at least 0 and below 1, got %g", f)
	}
}

func (d *decoder) nonNegativeDuration(path string, ns int64) {
	if ns < 0 {
		d.fail(path, "must not be negative")
	}
}

// fail reports a problem found after decoding at the line of the setting,
// or of its nearest enclosing setting present in the file.
//
// A setting inside a value of the wrong shape ("character: [a]") was never
// decoded; reporting its absence too would bury the real problem.
func (d *decoder) fail(path, format string, args ...any) {
	for p := path; p != ""; p = parent(p) {
		if d.misshapen[p] {
			return
		}
	}
	d.add(d.lineOf(path), path, format, args...)
}

// lineOf finds the line of path or, when the file does not set it (a
// default, or a required field left out), of the closest section around
// it. Files that set nothing around it get line 1.
func (d *decoder) lineOf(path string) int {
	for p := path; p != ""; p = parent(p) {
		if line, ok := d.lines[p]; ok {
			return line
		}
	}
	return 1
}

// parent strips the last element of a field path: "a.b[2]" → "a.b",
// `a["x.y"].z` → `a["x.y"]`.
func parent(path string) string {
	if strings.HasSuffix(path, "]") {
		if i := strings.LastIndex(path, "["); i >= 0 {
			return path[:i]
		}
	}
	i := strings.LastIndexAny(path, ".]")
	switch {
	case i < 0:
		return ""
	case path[i] == ']':
		return path[:i+1]
	}
	return path[:i]
}

func itoa(n int) string { return strconv.Itoa(n) }
