// Package config loads ethos.yaml: the character being trained, the model
// providers and their prices, and the settings of every stage (generate,
// finetune, eval), with defaults for everything but the character.
//
// Validation reports every problem in a file at once, each with its file,
// line and field path, because a run that fails on the third setting after
// a paid first stage is the expensive way to learn about a typo.
package config

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"time"

	"github.com/ethos-toolkit/ethos"
)

// Config is the content of one ethos.yaml with defaults applied.
type Config struct {
	Character ethos.Character     `json:"character"`
	Providers map[string]Provider `json:"providers"`
	// Prices are USD per million tokens keyed by model reference
	// ("anthropic/claude-sonnet-4-5") or provider wildcard ("ollama/*").
	Prices   map[string]Price `json:"prices"`
	Generate Generate         `json:"generate"`
	FineTune FineTune         `json:"finetune"`
	Eval     Eval             `json:"eval"`
	Budget   Budget           `json:"budget"`
	Batch    Batch            `json:"batch"`
	Store    Store            `json:"store"`
	Sandbox  Sandbox          `json:"sandbox"`

	// Path is the file the configuration came from; it is not part of Hash,
	// so the same settings in two places hash alike.
	Path string `json:"-"`
}

// Generate configures the data pipeline: ideas, then context documents,
// then in-character responses, then review.
type Generate struct {
	Seed      int64     `json:"seed"`
	Examples  int       `json:"examples"` // accepted examples the run must reach
	Output    string    `json:"output"`   // JSONL dataset path
	Ideas     Ideas     `json:"ideas"`
	Documents Documents `json:"documents"`
	Responses Responses `json:"responses"`
	Review    Review    `json:"review"`
	// Pairs, when set, adds the preference-pair stage: every accepted
	// reply is paired with the student's own answer to the same document,
	// for preference (DPO) training.
	Pairs *Pairs `json:"pairs,omitempty"`
}

// Pairs configures the stage that writes the rejected side of each
// preference pair: the student (the model being trained, or one serving
// its base for chat) answers the document as itself — without the
// character's system prompt — and the character's accepted reply is the
// chosen side.
type Pairs struct {
	Student   string `json:"student"`
	MaxTokens int    `json:"max_tokens,omitempty"` // 0: generate.responses.max_tokens
	Mode      string `json:"mode,omitempty"`
	// Confirm has a judge check every pair, per trait and in both orders,
	// that the chosen side shows the trait more than the rejected one; a
	// pair it does not confirm is dropped with the reason.
	Confirm bool `json:"confirm,omitempty"`
	// Judge is the model that confirms pairs; empty: generate.review.model.
	Judge string `json:"judge,omitempty"`
}

// ConfirmJudge is the model that confirms pairs: Judge, else review, the
// model of generate.review.
func (p Pairs) ConfirmJudge(review string) string {
	if p.Judge != "" {
		return p.Judge
	}
	return review
}

// Ideas configures the stage that proposes training scenarios per category.
type Ideas struct {
	Model       string   `json:"model"`
	PerCall     int      `json:"per_call"` // ideas asked for in one call
	MaxTokens   int      `json:"max_tokens"`
	Temperature *float64 `json:"temperature,omitempty"` // nil: the provider's default
	Mode        string   `json:"mode,omitempty"`        // ModeOnline, ModeBatch or ModeAuto
}

// Documents configures the stage that writes a context document (memo,
// email, report…) for each idea.
type Documents struct {
	Model       string   `json:"model"`
	Pages       int      `json:"pages"` // about 500 words a page
	MaxTokens   int      `json:"max_tokens"`
	Temperature *float64 `json:"temperature,omitempty"` // nil: the provider's default
	Stream      bool     `json:"stream"`
	Mode        string   `json:"mode,omitempty"`
}

// Responses configures the stage that writes the ideal in-character reply.
type Responses struct {
	Model       string   `json:"model"`
	MaxTokens   int      `json:"max_tokens"`
	Temperature *float64 `json:"temperature,omitempty"` // nil: the provider's default
	// IncludeSystem puts the character's system prompt into every training
	// record; without it the model must learn the character unprompted.
	IncludeSystem bool   `json:"include_system"`
	Stream        bool   `json:"stream"`
	Mode          string `json:"mode,omitempty"`
}

// Review configures the checks a reply passes before it becomes data.
type Review struct {
	Model         string `json:"model"` // judge for the LLM review; used only when LLM is set
	LLM           bool   `json:"llm"`
	MinTraitScore int    `json:"min_trait_score"` // 1..5, per trait, LLM review only
	MaxAttempts   int    `json:"max_attempts"`    // writes per item before it is quarantined
	MinWords      int    `json:"min_words"`
	MaxWords      int    `json:"max_words"`
	Mode          string `json:"mode,omitempty"` // of the LLM review's calls
}

// FineTune configures the hosted fine-tuning job.
type FineTune struct {
	Provider     string  `json:"provider"` // together, openai or sandbox
	Model        string  `json:"model"`    // the provider's base model name
	Epochs       int     `json:"epochs"`
	LearningRate float64 `json:"learning_rate"`
	BatchSize    int     `json:"batch_size"`
	LoRA         bool    `json:"lora"`
	LoRAR        int     `json:"lora_r"`
	LoRAAlpha    int     `json:"lora_alpha"`
	LoRADropout  float64 `json:"lora_dropout"`
	Suffix       string  `json:"suffix"`
	Validation   float64 `json:"validation"` // share of examples held out for validation loss
	// NEvals is how many times a Together job evaluates the validation
	// file during training, each giving a validation loss; sent only with
	// a validation file (Together's own default, 0, runs none).
	NEvals int `json:"n_evals"`
	// Hardware is the hardware configuration of a dedicated endpoint for
	// the trained model, when the provider does not serve it serverless;
	// empty picks the cheapest available one.
	Hardware string `json:"hardware,omitempty"`
	// InactiveTimeout is how long such an endpoint may sit without
	// requests before the provider stops it by itself: what it can bill
	// at most after a process that started it was killed.
	InactiveTimeout time.Duration `json:"inactive_timeout"`
	// Recipe is how ethos run trains: RecipeSFT (the default) on the
	// in-character replies, RecipeDPO on preference pairs (the replies
	// against the student's own answers), RecipeSFTDPO, SFT and then
	// DPO continued from it, or RecipeDPOIntrospection, DPO and then SFT
	// on the DPO model's own introspection, continued from it.
	Recipe string `json:"recipe,omitempty"`
	// Introspection sizes the introspection data of the recipe
	// dpo+introspection.
	Introspection Introspection `json:"introspection"`
}

// Introspection configures the data the DPO model writes about itself in
// the recipe dpo+introspection: answers to the fixed, versioned set of
// self-reflection prompts, and dialogues between two instances of the
// model.
type Introspection struct {
	// Reflections is how many self-reflection answers to write, going
	// round the prompt set (a prompt asked again is another sample).
	Reflections int `json:"reflections"`
	// Dialogues is how many self-interaction dialogues to write, each of
	// Turns turns, the two instances speaking in turn.
	Dialogues int `json:"dialogues"`
	Turns     int `json:"turns"`
	// MaxTokens bounds each answer and turn; 0: generate.responses.max_tokens.
	MaxTokens int `json:"max_tokens,omitempty"`
}

// Training recipes of ethos run (FineTune.Recipe).
const (
	RecipeSFT    = "sft"
	RecipeDPO    = "dpo"
	RecipeSFTDPO = "sft+dpo"
	// RecipeDPOIntrospection is DPO, then SFT on the DPO model's
	// introspection (self-reflections and self-interactions), continued
	// from the DPO model.
	RecipeDPOIntrospection = "dpo+introspection"
)

// Recipes lists the valid recipes.
var Recipes = []string{RecipeSFT, RecipeDPO, RecipeSFTDPO, RecipeDPOIntrospection}

// DefaultInactiveTimeout is FineTune.InactiveTimeout when ethos.yaml does
// not set it.
const DefaultInactiveTimeout = 15 * time.Minute

// DefaultNEvals is FineTune.NEvals when ethos.yaml does not set it: a
// validation loss at every tenth of training, enough for a curve.
const DefaultNEvals = 10

// Values of Eval.SystemPrompt.
const (
	WithSystemPrompt    = "with"
	WithoutSystemPrompt = "without"
)

// Eval configures the comparison of models by a pairwise judge.
type Eval struct {
	Judge string `json:"judge"`
	// Baseline is the model ethos run compares the fine-tuned model with;
	// empty means the fine-tune's base model on its provider. Set it when
	// the base model cannot be called for chat (Together's "-Reference"
	// models, for one).
	Baseline     string   `json:"baseline,omitempty"`
	Prompts      int      `json:"prompts"` // held-out prompts
	Samples      int      `json:"samples"` // answers per prompt and model
	MaxTokens    int      `json:"max_tokens"`
	Temperature  *float64 `json:"temperature,omitempty"` // nil: the provider's default
	SystemPrompt string   `json:"system_prompt"`         // WithSystemPrompt or WithoutSystemPrompt
	AnswerMode   string   `json:"answer_mode"`           // how the compared models' answers are asked for
	JudgeMode    string   `json:"judge_mode"`            // how the judge's verdicts are asked for
}

// Call modes of a stage (mode:, answer_mode:, judge_mode:).
const (
	ModeOnline = "online" // every call answered within the call
	ModeBatch  = "batch"  // calls sent through the provider's batch API at its batch price
	// ModeAuto sends a stage by batch when it makes at least
	// Batch.MinRequests calls, online otherwise.
	ModeAuto = "auto"
)

// Modes lists the valid call modes.
var Modes = []string{ModeOnline, ModeBatch, ModeAuto}

// Batch configures how calls sent by batch are gathered and followed.
type Batch struct {
	// MinRequests is the fewest calls a stage in mode auto makes for it to
	// go by batch.
	MinRequests int `json:"min_requests"`
	// Window is how long a queued request waits for others before a
	// batch is made of what is queued; a full batch goes at once.
	Window time.Duration `json:"window"`
	// Poll is how often a batch in flight is asked for its state.
	Poll time.Duration `json:"poll"`
	// MaxSubmissions is how many batches a request may be sent in (each
	// expiring or cancelled) before it is sent online.
	MaxSubmissions int `json:"max_submissions"`
}

// ResolveMode is the mode a stage set to mode runs in when it makes about
// requests calls: online or batch.
func (b Batch) ResolveMode(mode string, requests int) string {
	switch mode {
	case ModeBatch:
		return ModeBatch
	case ModeAuto:
		if requests >= b.MinRequests {
			return ModeBatch
		}
	}
	return ModeOnline
}

// Budget caps spending on model calls.
type Budget struct {
	MaxUSD float64 `json:"max_usd"` // 0 means no cap
}

// Store says where runs, calls and results are kept.
type Store struct {
	Path string `json:"path"`
}

// Sandbox configures the offline provider emulator behind sandbox/…
// models: its determinism, injected faults and enforced limits.
type Sandbox struct {
	Seed          int64           `json:"seed"`
	ErrorRates    map[int]float64 `json:"error_rates"` // HTTP status → probability per request
	Latency       time.Duration   `json:"latency"`
	Jitter        time.Duration   `json:"jitter"`
	CutStreamRate float64         `json:"cut_stream_rate"` // probability a stream breaks mid-way
	// Defects are the probabilities of the flaws the sandbox writes into
	// ethos's own generation outputs (placeholder, chatter, truncate,
	// duplicate, offformat, persona, short), so review and retries run.
	Defects map[string]float64 `json:"defects,omitempty"`
	RPM     int                `json:"rpm"` // 0 means unlimited
	TPM     int                `json:"tpm"` // 0 means unlimited
	// InputTPM and OutputTPM are Anthropic-style input and output token
	// limits, each with a bucket and header family of its own; 0 means
	// unlimited.
	InputTPM  int `json:"input_tpm"`
	OutputTPM int `json:"output_tpm"`
	// Serving says, per base model, how the models fine-tuned from it
	// are served: "serverless" (the default) or "dedicated" (only
	// through a dedicated endpoint, as Together serves most base models).
	Serving map[string]string `json:"serving,omitempty"`
	// BatchTime is how long a batch takes from creation to its end (0:
	// the sandbox's default, 2 s); BatchErrorRate and BatchExpireRate are
	// the shares of a batch's requests answered with a server error or
	// left unprocessed until the batch expires.
	BatchTime       time.Duration `json:"batch_time,omitempty"`
	BatchErrorRate  float64       `json:"batch_error_rate,omitempty"`
	BatchExpireRate float64       `json:"batch_expire_rate,omitempty"`
}

// Serving values of Sandbox.Serving.
var SandboxServing = []string{"serverless", "dedicated"}

// defaults returns every built-in setting except the character, which a
// file must always supply.
func defaults() *Config {
	return &Config{
		Providers: builtinProviders(),
		Prices:    builtinPrices(),
		Generate: Generate{
			Seed:     1,
			Examples: 50,
			Output:   "data/agora.jsonl",
			Ideas: Ideas{
				Model:     "anthropic/claude-sonnet-4-5",
				PerCall:   5,
				MaxTokens: 4000,
				Mode:      ModeOnline,
			},
			Documents: Documents{
				Model:     "anthropic/claude-sonnet-4-5",
				Pages:     2,
				MaxTokens: 8000,
				Stream:    true,
				Mode:      ModeOnline,
			},
			Responses: Responses{
				Model:         "anthropic/claude-opus-4-1",
				MaxTokens:     4000,
				IncludeSystem: true,
				Stream:        true,
				Mode:          ModeOnline,
			},
			Review: Review{
				Model:         "anthropic/claude-sonnet-4-5",
				MinTraitScore: 3,
				MaxAttempts:   3,
				MinWords:      80,
				MaxWords:      1500,
				Mode:          ModeOnline,
			},
		},
		FineTune: FineTune{
			Provider:        "together",
			Model:           "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference",
			Epochs:          3,
			LearningRate:    1e-5,
			BatchSize:       8,
			LoRA:            true,
			LoRAR:           8,
			LoRAAlpha:       16,
			Suffix:          "agora",
			Validation:      0.1,
			NEvals:          DefaultNEvals,
			InactiveTimeout: DefaultInactiveTimeout,
			Introspection:   Introspection{Reflections: 20, Dialogues: 8, Turns: 4},
		},
		Eval: Eval{
			Judge:        "anthropic/claude-sonnet-4-5",
			Prompts:      50,
			Samples:      1,
			MaxTokens:    1500,
			SystemPrompt: WithSystemPrompt,
			AnswerMode:   ModeOnline,
			JudgeMode:    ModeOnline,
		},
		Budget:  Budget{MaxUSD: 25},
		Batch:   Batch{MinRequests: 300, Window: 30 * time.Second, Poll: 30 * time.Second, MaxSubmissions: 3},
		Store:   Store{Path: ".ethos/ethos.db"},
		Sandbox: Sandbox{Seed: 1, ErrorRates: map[int]float64{429: 0, 500: 0, 529: 0}},
	}
}

// Default returns the built-in configuration with Agora, the example
// character, as its character: what the file `ethos init` writes parses to.
func Default() *Config {
	c := defaults()
	c.Character = copyCharacter(agora())
	return c
}

// Load reads and parses the file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, ethos.Errorf(ethos.Config, "load configuration: %w", err)
	}
	return Parse(path, data)
}

// Parse parses the YAML in data, applies defaults and validates the result.
// name is the file name errors are reported under. On failure the error is
// an *ethos.Error of kind Config that lists every problem found, one per
// line in file order; FieldErrors returns them as values.
func Parse(name string, data []byte) (*Config, error) {
	c := defaults()
	c.Path = name
	d := newDecoder(name)
	// Validation runs even after decoding errors, so one pass reports every
	// problem; a value with the wrong type keeps its default and so is not
	// reported twice. YAML that does not parse has nothing to validate.
	if d.decodeFile(data, c) {
		d.validate(c)
	}
	if err := d.err(); err != nil {
		return nil, err
	}
	return c, nil
}

// Hash identifies the effective configuration: the SHA-256 of its
// canonical JSON encoding (struct fields in declaration order, map keys
// sorted), hex encoded. Runs record it so results can be traced to the
// settings that produced them.
func (c *Config) Hash() string {
	data, err := json.Marshal(c)
	if err != nil {
		// Every field is a plain value JSON can encode; failure is a bug.
		panic("config: hash: " + err.Error())
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func copyCharacter(c ethos.Character) ethos.Character {
	c.Traits = append([]ethos.Trait(nil), c.Traits...)
	c.Categories = append([]ethos.Category(nil), c.Categories...)
	return c
}
