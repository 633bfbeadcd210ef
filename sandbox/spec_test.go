package sandbox

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"github.com/ethos-toolkit/ethos/internal/wire/wiretest"
)

// TestAnthropicFieldsFollowTheSpec: the fields the sandbox's Messages
// endpoint accepts are exactly the properties of CreateMessageParams and
// of each input message in the spec bundled with the anthropic-sdk-go
// module the
// build uses, so the sandbox refuses what the API refuses (temperature
// among them) and nothing the API takes.
func TestAnthropicFieldsFollowTheSpec(t *testing.T) {
	t.Parallel()
	var spec struct {
		Components struct {
			Schemas map[string]struct {
				Properties           map[string]json.RawMessage `json:"properties"`
				AdditionalProperties json.RawMessage            `json:"additionalProperties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(wiretest.AnthropicSpec(t), &spec); err != nil {
		t.Fatal(err)
	}
	for name, fields := range map[string][]string{"CreateMessageParams": anthropicFields, "UserInputMessage": anthropicTurnFields,
		"AssistantInputMessage": anthropicTurnFields, "SystemInputMessage": anthropicTurnFields} {
		schema, ok := spec.Components.Schemas[name]
		if !ok {
			t.Fatalf("the spec has no %s", name)
		}
		if string(schema.AdditionalProperties) != "false" {
			t.Errorf("%s allows properties it does not declare: the sandbox must not refuse them", name)
		}
		var want []string
		for k := range schema.Properties {
			want = append(want, k)
		}
		slices.Sort(want)
		if diff := cmp.Diff(want, fields); diff != "" {
			t.Errorf("the sandbox's fields of %s differ from the spec's (-spec +sandbox):\n%s", name, diff)
		}
	}
}

// TestTogetherCreateFieldsFollowTheSpec: the fields the sandbox's POST
// /fine-tunes accepts are the properties the Together spec (the copy in
// together/testdata) declares for its body.
func TestTogetherCreateFieldsFollowTheSpec(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join("..", "together", "testdata", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Paths map[string]map[string]struct {
			RequestBody struct {
				Content map[string]struct {
					Schema struct {
						Properties map[string]any `yaml:"properties"`
					} `yaml:"schema"`
				} `yaml:"content"`
			} `yaml:"requestBody"`
		} `yaml:"paths"`
	}
	if err := yaml.Unmarshal(raw, &spec); err != nil {
		t.Fatal(err)
	}
	var want []string
	for k := range spec.Paths["/fine-tunes"]["post"].RequestBody.Content["application/json"].Schema.Properties {
		want = append(want, k)
	}
	slices.Sort(want)
	if diff := cmp.Diff(want, togetherCreateFields); diff != "" {
		t.Errorf("the sandbox's fields of POST /fine-tunes differ from the spec's (-spec +sandbox):\n%s", diff)
	}
}
