package pipeline_test

import (
	"testing"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/config"
	"github.com/ethos-toolkit/ethos/llm"
	"github.com/ethos-toolkit/ethos/pipeline"
)

// TestResolveModes: auto is batch for a stage planned to make at least
// MinRequests calls, an override wins over every stage's mode, and the
// pairs stage is resolved on a copy.
func TestResolveModes(t *testing.T) {
	t.Parallel()
	// The modes of ideas (5 to a call), documents, responses, review, pairs.
	type modes [5]string
	for _, tt := range []struct {
		examples int
		override string
		want     modes
	}{
		{400, "", modes{"online", "batch", "online", "online", "batch"}}, // ideas: 80 calls, under the threshold
		{1500, "", modes{"batch", "batch", "online", "online", "batch"}},
		{100, "", modes{"online", "online", "online", "online", "online"}},
		{100, "batch", modes{"batch", "batch", "batch", "batch", "batch"}},
		{4000, "online", modes{"online", "online", "online", "online", "online"}},
	} {
		pairs := &config.Pairs{Mode: "auto"}
		g := config.Generate{Ideas: config.Ideas{PerCall: 5, Mode: "auto"}, Documents: config.Documents{Mode: "auto"},
			Responses: config.Responses{Mode: "online"}, Review: config.Review{Mode: "online"}, Pairs: pairs}
		pipeline.ResolveModes(&g, config.Batch{MinRequests: 300}, tt.examples, tt.override)
		if got := (modes{g.Ideas.Mode, g.Documents.Mode, g.Responses.Mode, g.Review.Mode, g.Pairs.Mode}); got != tt.want {
			t.Errorf("%d examples, override %q: %v, want %v", tt.examples, tt.override, got, tt.want)
		}
		if pairs.Mode != "auto" {
			t.Errorf("the config's own pairs settings were resolved: %q", pairs.Mode)
		}
	}
}

// batchAdapter is an adapter with a batch API (of which nothing is called).
type batchAdapter struct {
	ethos.Completer
	ethos.BatchAPI
}

func TestBatchAPI(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	router := llm.NewRouter()
	router.Register("anthropic", func() (ethos.Completer, error) { return batchAdapter{}, nil })
	router.Register("openai", func() (ethos.Completer, error) { return pingAdapter{}, nil })
	api := pipeline.Providers{Config: cfg, Getenv: func(string) string { return "" }}.BatchAPI(router)
	if _, ok, err := api("anthropic"); !ok || err != nil {
		t.Errorf("anthropic: %v, %v; want its batch API", ok, err)
	}
	if _, ok, err := api("openrouter"); ok || err != nil {
		t.Errorf("openrouter, which names no batch API: %v, %v; want none and no error", ok, err)
	}
	if _, _, err := api("openai"); ethos.KindOf(err) != ethos.Config {
		t.Errorf("openai, whose adapter has no batch API: %v; want a Config error", err)
	}
	if _, _, err := api("nowhere"); ethos.KindOf(err) != ethos.Config {
		t.Errorf("an unknown provider: %v; want a Config error", err)
	}
}
