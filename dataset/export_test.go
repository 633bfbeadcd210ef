package dataset_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/dataset"
	"github.com/ethos-toolkit/ethos/generate"
)

// TestGenerateRecordsPassProviderChecks writes records of generate's
// export type the way its Export encodes them (one JSON line each, HTML
// characters not escaped), with and without the system turn, and checks
// that neither provider would refuse the file. cmd/ethos's
// TestDatasetCheckOnGeneratedData does the same with a real run.
func TestGenerateRecordsPassProviderChecks(t *testing.T) {
	t.Parallel()
	for _, includeSystem := range []bool{true, false} {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		for i, p := range pairs {
			var rec generate.Record
			if includeSystem {
				rec.Messages = append(rec.Messages, ethos.Message{Role: ethos.RoleSystem, Content: system + " Speak plainly & kindly; use <em> only for emphasis."})
			}
			rec.Messages = append(rec.Messages,
				ethos.Message{Role: ethos.RoleUser, Content: fmt.Sprintf("MEMO %d — to: the assistant\n\n%s\n\nThanks, Zoë", i, p[0])},
				ethos.Message{Role: ethos.RoleAssistant, Content: p[1] + "\n\n– Agora"})
			if err := enc.Encode(rec); err != nil {
				t.Fatal(err)
			}
		}
		for _, provider := range []string{"together", "openai", "sandbox"} {
			rep, err := dataset.Check(t.Context(), bytes.NewReader(buf.Bytes()), "data/agora.jsonl", dataset.Options{Provider: provider})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Errors() != 0 || rep.Warnings() != 0 || rep.Examples != len(pairs) {
				t.Errorf("system %v, %s: %d examples, problems:\n%s", includeSystem, provider, rep.Examples, messages(rep))
			}
			if want := map[bool]string{true: "conversation", false: "chat"}[provider != "openai"]; rep.Format != want {
				t.Errorf("%s: format %q, want %q", provider, rep.Format, want)
			}
		}
		if includeSystem && !strings.Contains(buf.String(), "<em>") {
			t.Fatal("the test data lost its HTML characters")
		}
	}
}
