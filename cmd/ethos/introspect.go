package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/ethos-toolkit/ethos/generate"
	"github.com/ethos-toolkit/ethos/jobs"
)

// introspectionSettings are the settings of the introspection run in
// which model writes about itself, beside the generation run of gen.
func (p *project) introspectionSettings(gen generate.Settings, model string) generate.IntrospectionSettings {
	g, in := gen.Generate, p.cfg.FineTune.Introspection
	maxTokens := in.MaxTokens
	if maxTokens <= 0 {
		maxTokens = g.Responses.MaxTokens
	}
	return generate.IntrospectionSettings{
		Model: model, Character: gen.Character, Introspection: in, Review: g.Review,
		MaxTokens: maxTokens, Temperature: g.Responses.Temperature, IncludeSystem: g.Responses.IncludeSystem,
		Output: generate.IntrospectionOutput(gen.Output), Dir: gen.Dir, ConfigHash: gen.ConfigHash,
	}
}

// introspect runs (or continues) the introspection run of settings and
// writes its files; a run done before, whose files are in place, is
// returned as it is. ready makes the model callable, and is called only
// when the run has calls to make.
func (m *Main) introspect(ctx context.Context, p *project, settings generate.IntrospectionSettings, ready func() error, o pipelineOptions) (generate.IntrospectionMetadata, error) {
	out := settings.Outputs()
	id := settings.RunID()
	completed, err := completedRun(ctx, p, id)
	if err != nil {
		return generate.IntrospectionMetadata{}, err
	}
	if completed {
		var meta generate.IntrospectionMetadata
		data, err := os.ReadFile(out.Metadata)
		if _, serr := os.Stat(out.Dataset); err == nil && serr == nil && json.Unmarshal(data, &meta) == nil && meta.Run == id {
			return meta, nil
		}
	}
	if !completed {
		if err := ready(); err != nil {
			return generate.IntrospectionMetadata{}, err
		}
	}
	unlock, err := p.lock(ctx, "")
	if err != nil {
		return generate.IntrospectionMetadata{}, err
	}
	defer unlock()
	completer, err := p.Completer(ctx, o.maxCost)
	if err != nil {
		return generate.IntrospectionMetadata{}, err
	}
	in := generate.NewIntrospection(p.store, completer, settings)
	err = jobs.RunOn(ctx, p.jobs, jobs.Config{Workers: o.workers, Completer: completer, Tasks: in.Tasks(), Priorities: in.Priorities(), Queue: id}, jobs.Work{
		Rescue: jobs.RescueAll,
		Prepare: func(ctx context.Context, rescued int64) (bool, error) {
			resumed, err := in.Begin(ctx)
			completed = errors.Is(err, generate.ErrRunCompleted)
			switch {
			case completed:
				return false, nil
			case err != nil:
				return false, err
			case resumed:
				fmt.Fprintf(o.log, "      continuing introspection run %s (%d interrupted jobs rescued)\n", id, rescued)
			}
			return true, nil
		},
		Drive: func(ctx context.Context) error { return in.Drive(ctx, nil) },
	})
	if err != nil && ctx.Err() != nil && !completed {
		return generate.IntrospectionMetadata{}, interrupted(ctx, err, in.Interrupted, "ethos run")
	}
	if err != nil {
		return generate.IntrospectionMetadata{}, err
	}
	return in.Export(context.WithoutCancel(ctx), true)
}
