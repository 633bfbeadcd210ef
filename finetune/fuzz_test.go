package finetune

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ethos-toolkit/ethos"
)

// FuzzOutputModelOf reads arbitrary provider payloads: it never panics,
// and a name it finds is one of the payload's name fields, trimmed.
func FuzzOutputModelOf(f *testing.F) {
	f.Add([]byte(`{"model_output_name":"acme/x"}`))
	f.Add([]byte(`{"fine_tuned_model":null,"output_name":" y "}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		name := OutputModelOf(ethos.FineTuneJob{Payload: payload})
		if name == "" {
			return
		}
		if name != strings.TrimSpace(name) {
			t.Fatalf("name %q is not trimmed", name)
		}
		var p map[string]any
		if err := json.Unmarshal(payload, &p); err != nil {
			t.Fatalf("name %q from a payload that is not a JSON object: %v", name, err)
		}
		found := false
		// encoding/json matches field names without regard to case.
		for key, value := range p {
			for _, k := range []string{"model_output_name", "output_name", "fine_tuned_model"} {
				if v, ok := value.(string); ok && strings.EqualFold(key, k) && strings.TrimSpace(v) == name {
					found = true
				}
			}
		}
		if !found {
			t.Fatalf("name %q is in none of the payload's name fields: %s", name, payload)
		}
		if got := StateOf(name); got == "" {
			t.Fatal("StateOf returned an empty state")
		}
	})
}
