package pipeline

import (
	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/config"
	"github.com/ethos-toolkit/ethos/llm"
)

// ResolveModes fixes how each generation stage of g sends its calls for a
// run of examples: override (batch or online, from the command line) when
// given, else the stage's mode, with auto resolved by b from the calls the
// stage is planned to make (ideas come PerCall to a call; every other
// stage makes one call per example). A pairs stage's settings are copied
// before they change, so the config they came from keeps its own mode.
func ResolveModes(g *config.Generate, b config.Batch, examples int, override string) {
	ideaCalls := (examples + max(g.Ideas.PerCall, 1) - 1) / max(g.Ideas.PerCall, 1)
	resolveModes(b, override, []stageCalls{{&g.Ideas.Mode, ideaCalls}, {&g.Documents.Mode, examples},
		{&g.Responses.Mode, examples}, {&g.Review.Mode, examples}, {pairsMode(g), examples}})
}

// stageCalls are a stage's mode (nil for a stage a run does not have) and
// the calls it is planned to make.
type stageCalls struct {
	mode  *string
	calls int
}

// resolveModes sets each stage's mode to override when given, then
// resolves auto by b from the stage's planned calls.
func resolveModes(b config.Batch, override string, stages []stageCalls) {
	for _, s := range stages {
		if s.mode == nil {
			continue
		}
		if override != "" {
			*s.mode = override
		}
		*s.mode = b.ResolveMode(*s.mode, s.calls)
	}
}

// pairsMode is the pairs stage's mode, or nil for a run without pairs. The
// stage settings are copied first, so the config they came from keeps its
// own mode.
func pairsMode(g *config.Generate) *string {
	if g.Pairs == nil {
		return nil
	}
	pairs := *g.Pairs
	g.Pairs = &pairs
	return &g.Pairs.Mode
}

// BatchAPI returns the batch API of a provider routed by router (the
// Batcher's API): none when its settings name no batch API
// (providers.<name>.batch), and a Config error when they name one its
// adapter does not speak.
func (ps Providers) BatchAPI(router *llm.Router) func(provider string) (ethos.BatchAPI, bool, error) {
	return func(provider string) (ethos.BatchAPI, bool, error) {
		prov, err := ps.Config.ResolveProvider(provider, ps.Getenv)
		if err != nil {
			return nil, false, err
		}
		if prov.Batch == "" {
			return nil, false, nil
		}
		adapter, err := router.Adapter(provider)
		if err != nil {
			return nil, false, err
		}
		api, ok := adapter.(ethos.BatchAPI)
		if !ok {
			return nil, false, ethos.Errorf(ethos.Config, "providers.%s.batch: %s, but its %s adapter has no batch API; leave batch out to call it online", provider, prov.Batch, prov.Type)
		}
		return api, true, nil
	}
}
