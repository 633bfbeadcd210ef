package openai_test

import (
	"testing"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/llmtest"
	"github.com/ethos-toolkit/ethos/openai"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	llmtest.RunConformance(t,
		func(t *testing.T, baseURL string) ethos.Completer {
			c, err := openai.New(openai.Config{Provider: "sandbox", BaseURL: baseURL, APIKey: "sandbox-key"})
			if err != nil {
				t.Fatal(err)
			}
			return c
		},
		func(sandboxURL string) string { return sandboxURL + "/v1" })
}

func TestBatchConformance(t *testing.T) {
	t.Parallel()
	for _, dialect := range []string{openai.DialectOpenAI, openai.DialectTogether} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			llmtest.RunBatchConformance(t,
				func(t *testing.T, baseURL string) llmtest.BatchAdapter {
					c, err := openai.New(openai.Config{Provider: "sandbox", BaseURL: baseURL, APIKey: "sandbox-key", BatchDialect: dialect})
					if err != nil {
						t.Fatal(err)
					}
					return c
				},
				func(sandboxURL string) string { return sandboxURL + "/v1" }, true)
		})
	}
}
