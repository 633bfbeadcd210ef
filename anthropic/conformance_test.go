package anthropic_test

import (
	"testing"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/anthropic"
	"github.com/ethos-toolkit/ethos/llmtest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	llmtest.RunConformance(t,
		func(t *testing.T, baseURL string) ethos.Completer {
			c, err := anthropic.New(anthropic.Config{BaseURL: baseURL, APIKey: "sandbox-key"})
			if err != nil {
				t.Fatal(err)
			}
			return c
		},
		func(sandboxURL string) string { return sandboxURL })
}

func TestBatchConformance(t *testing.T) {
	t.Parallel()
	llmtest.RunBatchConformance(t,
		func(t *testing.T, baseURL string) llmtest.BatchAdapter {
			c, err := anthropic.New(anthropic.Config{BaseURL: baseURL, APIKey: "sandbox-key"})
			if err != nil {
				t.Fatal(err)
			}
			return c
		},
		func(sandboxURL string) string { return sandboxURL }, false)
}
