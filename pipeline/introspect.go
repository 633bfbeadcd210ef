package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/generate"
	"github.com/ethos-toolkit/ethos/jobs"
)

// introspection has model, trained by the stage before, write about
// itself (served as serve serves it) and returns what it wrote.
func introspection(ctx context.Context, d Deps, gen generate.Settings, model ethos.Model, serve func(ethos.Model) (ethos.Model, error), o RunOptions) (*IntrospectionResult, error) {
	logf := d.Observer.Logf
	settings := introspectionSettings(d.Config, gen, model.Name)
	in := settings.Introspection
	logf("[3/6] introspection: %d self-reflections (%s) and %d dialogues of %d turns, written by %s", in.Reflections, generate.IntrospectionPromptSet, in.Dialogues, in.Turns, model.Name)
	ready := func() error {
		_, err := serve(model)
		return err
	}
	meta, err := introspect(ctx, d, settings, ready, o)
	if err != nil {
		return nil, fmt.Errorf("introspection: %w", err)
	}
	logf("      %d records → %s (%d texts accepted, %d rejected; $%.4f)", meta.Records, Rel(d.Dir, meta.Files.Dataset), meta.Accepted, meta.Rejected, meta.TotalCostUSD)
	return &IntrospectionResult{Run: meta.Run, Dataset: meta.Files.Dataset, Metadata: meta.Files.Metadata, Model: meta.Model, PromptSet: meta.PromptSet,
		Reflections: meta.Reflections, Dialogues: meta.Dialogues, Turns: meta.Turns, Accepted: meta.Accepted, Rejected: meta.Rejected,
		RejectedByReason: meta.RejectedByReason}, nil
}

// introspect runs (or continues) the introspection run of settings and
// writes its files; a run done before, whose files are in place, is
// returned as it is. ready makes the model callable, and is called only
// when the run has calls to make. Its tasks are worked here: an ethos
// worker does not take introspection runs.
func introspect(ctx context.Context, d Deps, settings generate.IntrospectionSettings, ready func() error, o RunOptions) (generate.IntrospectionMetadata, error) {
	out := settings.Outputs()
	id := settings.RunID()
	completed, err := CompletedRun(ctx, d.Store, id)
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
	unlock, err := d.Lock(ctx, "")
	if err != nil {
		return generate.IntrospectionMetadata{}, err
	}
	defer unlock()
	completer, err := d.Chain(ctx, o.MaxCost)
	if err != nil {
		return generate.IntrospectionMetadata{}, err
	}
	in := generate.NewIntrospection(d.Store, completer, settings)
	err = jobs.RunOn(ctx, d.Jobs, jobs.Config{Workers: o.Workers, Completer: completer, Tasks: in.Tasks(), Priorities: in.Priorities(), Queue: id}, jobs.Work{
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
				d.Observer.Logf("      continuing introspection run %s (%d interrupted jobs rescued)", id, rescued)
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
