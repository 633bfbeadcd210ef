package main

import (
	"context"

	"github.com/ethos-toolkit/ethos/config"
	"github.com/ethos-toolkit/ethos/pipeline"
)

// preflight is the project's pipeline.Preflight: what would stop a command
// part-way, checked before its first paid call.
type preflight struct{ *pipeline.Preflight }

// newPreflight starts the checks of a command that may spend up to
// commandCap (--max-cost; 0 for none) on top of the project's budget.
func (p *project) newPreflight(commandCap float64) preflight {
	return preflight{pipeline.NewPreflight(p.cfg, p.configFile(), p.Router(), p.pricer(), commandCap)}
}

// configFile names the project's config as the user knows it.
func (p *project) configFile() string {
	if p.cfg.Path == "" {
		return "ethos.yaml"
	}
	return rel(p.dir, p.cfg.Path)
}

// generation checks the models a generation run calls.
func (pf preflight) generation(g config.Generate) { pf.Generation(g) }

// pipelineEval checks what ethos run's fine-tune and evaluation steps
// will call.
func (pf preflight) pipelineEval() { pf.FineTuneAndEval() }

// err is every problem found, as one configuration error (exit 2).
func (pf preflight) err(ctx context.Context) error { return pf.Err(ctx) }
