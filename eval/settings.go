package eval

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/config"
	"github.com/ethos-toolkit/ethos/dedup"
	"github.com/ethos-toolkit/ethos/generate"
	"github.com/ethos-toolkit/ethos/internal/prompttext"
)

// Task names of an evaluation's steps. Each is a durable job kind.
const (
	TaskAnswer = "eval.answer" // one model's answer to one prompt (one sample)
	TaskJudge  = "eval.judge"  // one pairwise judgment, in one order
	TaskScore  = "eval.score"  // one pointwise trait score of one answer
)

// StageHeldOut is the item stage under which an evaluation records the
// candidate prompts it refused, with the reason.
const StageHeldOut = "heldout"

// DefaultSeedOffset is added to the generation seed to get an
// evaluation's default seed, so that held-out prompts come from other
// draws than the training data's.
const DefaultSeedOffset = 9973

// JudgeAttempts is how many times a judge is asked for a reply it can be
// held to: the first request and two more that say what was wrong.
const JudgeAttempts = 3

// Settings are what an evaluation is asked to do. They are stored as the
// run's Params: the EvalSpec is embedded, so its fields are at the top of
// that JSON and the Params read as an ethos.EvalSpec. An evaluation's ID is
// derived from them, so running the same command again continues it.
type Settings struct {
	ethos.EvalSpec
	Character ethos.Character `json:"character"`
	// MaxTokens and Temperature apply to the models' answers.
	MaxTokens   int      `json:"max_tokens"`
	Temperature *float64 `json:"temperature,omitempty"`
	// Generate configures the idea and document stages that write the
	// held-out prompts; unused with a prompts file.
	Generate config.Generate `json:"generate"`
	// PromptsSHA256 is the hex SHA-256 of the prompts file, when there is
	// one; TrainingSHA256 that of each training file, by path.
	PromptsSHA256  string            `json:"prompts_sha256,omitempty"`
	TrainingSHA256 map[string]string `json:"training_sha256,omitempty"`
	// Dedup is the Jaccard similarity at or above which a prompt counts as
	// a near-duplicate of a training prompt (default 0.7).
	Dedup float64 `json:"dedup"`
	// Versions of the judge prompts and of the generation prompts.
	JudgeVersions    map[string]string `json:"judge_versions"`
	GenerateVersions map[string]string `json:"generate_versions,omitempty"`
	// ConfigHash identifies the configuration, for provenance only.
	ConfigHash string `json:"config_hash"`
	// AnswerMode and JudgeMode say how the answers and the judge's
	// verdicts (and scores) are asked for: config.ModeOnline (the
	// default) or config.ModeBatch. They change the price, not what is
	// asked, so they are not part of the ID.
	AnswerMode string `json:"answer_mode,omitempty"`
	JudgeMode  string `json:"judge_mode,omitempty"`
}

// ID derives the evaluation's ID from its settings: the same settings give
// the same evaluation, so an interrupted one is continued by running it
// again. Everything that changes what is asked or judged counts; the
// configuration hash (budgets, prices) does not.
func (s Settings) ID() string {
	b, err := json.Marshal(struct {
		Spec           ethos.EvalSpec
		Character      ethos.Character
		MaxTokens      int
		Temperature    *float64
		Generate       *config.Generate
		PromptsSHA256  string
		TrainingSHA256 map[string]string
		Dedup          float64
		Judge, Gen     map[string]string
	}{s.EvalSpec, s.Character, s.MaxTokens, s.Temperature, s.heldOutGenerate(), s.PromptsSHA256, s.TrainingSHA256, s.Dedup,
		s.JudgeVersions, s.GenerateVersions})
	if err != nil {
		panic("eval: encoding settings: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return "eval-" + hex.EncodeToString(sum[:6])
}

// heldOutGenerate is the generation settings that shape the held-out
// prompts — the idea and document stages and how often an item is written
// again — or nil when they come from a file. The rest (the dataset's size,
// path and seed, the reply and review stages) plays no part, so changing it
// neither starts a new evaluation nor a new held-out run.
func (s Settings) heldOutGenerate() *config.Generate {
	if s.PromptsFile != "" {
		return nil
	}
	g := config.Generate{Ideas: s.Generate.Ideas, Documents: s.Generate.Documents}
	g.Review.MaxAttempts = s.Generate.Review.MaxAttempts
	g.Ideas.Mode, g.Documents.Mode = "", "" // how they are sent, not what
	return &g
}

// modelNameRE is what a model's name may be: it appears in keys and
// reports, never shown to the judge.
var modelNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$`)

// WithDefaults fills the settings a caller may leave out: every trait of
// the character, one sample, the dedup threshold and the prompt versions.
func (s Settings) WithDefaults() Settings {
	if len(s.Traits) == 0 {
		for _, t := range s.Character.Traits {
			s.Traits = append(s.Traits, t.Name)
		}
	}
	if s.Samples == 0 {
		s.Samples = 1
	}
	if s.Dedup <= 0 {
		s.Dedup = dedup.DefaultThreshold
	}
	if s.JudgeVersions == nil {
		s.JudgeVersions = TemplateVersions()
	}
	if s.GenerateVersions == nil && s.PromptsFile == "" {
		s.GenerateVersions = generate.TemplateVersions()
	}
	s.Sandbox = s.Sandbox || strings.HasPrefix(s.Judge, "sandbox/")
	for _, m := range s.Models {
		s.Sandbox = s.Sandbox || strings.HasPrefix(m.Ref, "sandbox/")
	}
	return s
}

// Validate reports every problem with the settings at once, as a Config
// error.
func (s Settings) Validate() error {
	var probs []string
	bad := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	if len(s.Models) < 2 {
		bad("an evaluation compares at least two models, got %d", len(s.Models))
	}
	seen := map[string]bool{}
	for _, m := range s.Models {
		if !modelNameRE.MatchString(m.Name) {
			bad("model name %q: use letters, digits, '.', '_' and '-' (at most 40), e.g. base or tuned", m.Name)
		}
		if seen[m.Name] {
			bad("model name %q is used twice", m.Name)
		}
		seen[m.Name] = true
		if _, _, ok := ethos.SplitModel(m.Ref); !ok {
			bad("model %s: reference %q must be provider/model, e.g. sandbox/base", m.Name, m.Ref)
		}
	}
	if _, _, ok := ethos.SplitModel(s.Judge); !ok {
		bad("judge %q must be provider/model, e.g. anthropic/claude-sonnet-4-5", s.Judge)
	}
	if len(s.Character.Traits) == 0 {
		bad("the character has no traits to judge")
	}
	for _, t := range s.Traits {
		if t == ethos.TraitOverall {
			bad("trait %q is always judged; do not list it", t)
			continue
		}
		if !slices.ContainsFunc(s.Character.Traits, func(ct ethos.Trait) bool { return ct.Name == t }) {
			bad("trait %q is not one of the character's (%s)", t, prompttext.TraitNames(s.Character.Traits))
		}
	}
	if s.PromptsFile == "" && s.Prompts < 1 {
		bad("prompts: want at least 1 held-out prompt, got %d", s.Prompts)
	}
	if s.Prompts < 0 {
		bad("prompts: must not be negative, got %d", s.Prompts)
	}
	if s.PromptsFile == "" && len(s.Character.Categories) == 0 {
		bad("the character has no categories to write held-out prompts for; give a prompts file")
	}
	if s.Samples < 1 {
		bad("samples: want at least 1, got %d", s.Samples)
	}
	if s.MaxTokens < 1 {
		bad("max_tokens: want at least 1, got %d", s.MaxTokens)
	}
	if s.SystemPrompt && strings.TrimSpace(s.Character.SystemPrompt) == "" {
		bad("answers with the system prompt were asked for, but the character has none")
	}
	if len(probs) > 0 {
		return ethos.Errorf(ethos.Config, "eval: %s", strings.Join(probs, "; "))
	}
	return nil
}

// pairs lists every unordered pair of models, in the order of the spec.
func (s Settings) pairs() [][2]string {
	var out [][2]string
	for i, a := range s.Models {
		for _, b := range s.Models[i+1:] {
			out = append(out, [2]string{a.Name, b.Name})
		}
	}
	return out
}

// judgedTraits are the traits judged pairwise: the chosen ones, then
// TraitOverall.
func (s Settings) judgedTraits() []string {
	return append(slices.Clone(s.Traits), ethos.TraitOverall)
}

// ref is the model reference of a model name.
func (s Settings) ref(name string) string {
	for _, m := range s.Models {
		if m.Name == name {
			return m.Ref
		}
	}
	return ""
}
