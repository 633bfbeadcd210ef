package eval_test

import (
	"strings"
	"testing"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/config"
	"github.com/ethos-toolkit/ethos/eval"
)

func baseSettings() eval.Settings {
	cfg := config.Offline()
	return eval.Settings{
		EvalSpec: ethos.EvalSpec{
			Models: []ethos.EvalModel{{Name: "base", Ref: "sandbox/base"}, {Name: "tuned", Ref: "sandbox/ft-1"}},
			Judge:  "sandbox/judge", Prompts: 20, Seed: 9974, Samples: 1, SystemPrompt: true,
		},
		Character: cfg.Character, MaxTokens: 400, Generate: cfg.Generate, ConfigHash: cfg.Hash(),
	}.WithDefaults()
}

// TestSettingsID: what changes the question asked changes the ID; what
// does not (the config hash, the dataset's size and path, the reply
// stage) keeps it, so the same evaluation is continued.
func TestSettingsID(t *testing.T) {
	t.Parallel()
	id := baseSettings().ID()
	if !strings.HasPrefix(id, "eval-") || len(id) != len("eval-")+12 {
		t.Fatalf("ID %q", id)
	}
	same := map[string]func(*eval.Settings){
		"config hash":      func(s *eval.Settings) { s.ConfigHash = "other" },
		"dataset size":     func(s *eval.Settings) { s.Generate.Examples = 999 },
		"dataset path":     func(s *eval.Settings) { s.Generate.Output = "elsewhere.jsonl" },
		"generation seed":  func(s *eval.Settings) { s.Generate.Seed = 42 },
		"reply model":      func(s *eval.Settings) { s.Generate.Responses.Model = "anthropic/claude-opus-4-1" },
		"review threshold": func(s *eval.Settings) { s.Generate.Review.MinTraitScore = 5 },
	}
	for name, change := range same {
		s := baseSettings()
		change(&s)
		if s.ID() != id {
			t.Errorf("%s changed the ID", name)
		}
	}
	differ := map[string]func(*eval.Settings){
		"judge":          func(s *eval.Settings) { s.Judge = "sandbox/judge-biased" },
		"models":         func(s *eval.Settings) { s.Models[1].Ref = "sandbox/ft-2" },
		"prompts":        func(s *eval.Settings) { s.Prompts = 21 },
		"seed":           func(s *eval.Settings) { s.Seed = 1 },
		"system prompt":  func(s *eval.Settings) { s.SystemPrompt = false },
		"samples":        func(s *eval.Settings) { s.Samples = 2 },
		"traits":         func(s *eval.Settings) { s.Traits = s.Traits[:2] },
		"pointwise":      func(s *eval.Settings) { s.Pointwise = true },
		"max tokens":     func(s *eval.Settings) { s.MaxTokens = 1000 },
		"document model": func(s *eval.Settings) { s.Generate.Documents.Model = "anthropic/claude-sonnet-4-5" },
		"character":      func(s *eval.Settings) { s.Character.Traits[0].Definition += " More." },
		"judge prompts":  func(s *eval.Settings) { s.JudgeVersions = map[string]string{"judge_user.tmpl": "v1+000000000000"} },
		"training data":  func(s *eval.Settings) { s.TrainingSHA256 = map[string]string{"train.jsonl": "abc"} },
	}
	for name, change := range differ {
		s := baseSettings()
		s.Character.Traits = append([]ethos.Trait(nil), s.Character.Traits...)
		change(&s)
		if s.ID() == id {
			t.Errorf("%s did not change the ID", name)
		}
	}
}

func TestSettingsValidate(t *testing.T) {
	t.Parallel()
	if err := baseSettings().Validate(); err != nil {
		t.Fatalf("valid settings: %v", err)
	}
	s := baseSettings()
	s.Models = []ethos.EvalModel{{Name: "a b", Ref: "sandbox/base"}}
	s.Judge = "judge"
	s.Traits = []string{"overall", "kind"}
	s.Samples, s.MaxTokens, s.Prompts = 0, 0, 0
	err := s.Validate()
	if ethos.KindOf(err) != ethos.Config {
		t.Fatalf("err = %v, want a config error", err)
	}
	for _, want := range []string{
		"at least two models, got 1", `model name "a b"`, `judge "judge" must be provider/model`,
		`trait "overall" is always judged`, `trait "kind" is not one of the character's`,
		"want at least 1 held-out prompt", "samples: want at least 1", "max_tokens: want at least 1",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if !baseSettings().Sandbox {
		t.Error("sandbox models not marked as such")
	}
}
