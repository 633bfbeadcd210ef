package jobs

import (
	"context"

	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivershared/baseservice"
	"github.com/riverqueue/river/rivershared/riverpilot"
)

// fetchPilot is River's standard pilot except that it fetches no more
// tasks than the work gate can soon take: River would otherwise lock as
// many available jobs as it has workers (thousands, so that calls waiting
// on a slow provider never run short of them), and with a fast provider
// the backlog would sit in memory, a goroutine and a job row each, waiting
// for its turn at the gate. Tasks waiting on a model call or a rate limit
// do not count, so at a real provider's pace this changes nothing.
type fetchPilot struct {
	riverpilot.StandardPilot
	gate *workGate
}

func (p *fetchPilot) JobGetAvailable(ctx context.Context, exec riverdriver.Executor, state riverpilot.ProducerState, params *riverdriver.JobGetAvailableParams) (*riverdriver.JobGetAvailableResult, error) {
	room := p.gate.room()
	if room <= 0 {
		// River fetches again on its next poll, or sooner when a task is
		// inserted; the gate frees up as local work ends.
		return &riverdriver.JobGetAvailableResult{}, nil
	}
	capped := *params
	capped.MaxToLock = min(params.MaxToLock, room)
	return p.StandardPilot.JobGetAvailable(ctx, exec, state, &capped)
}

// pilotedDriver is a River driver with the fetch pilot: River asks its
// driver for a pilot (the plugin hook its own extensions use).
type pilotedDriver[TTx any] struct {
	riverdriver.Driver[TTx]
	pilot *fetchPilot
}

func (d pilotedDriver[TTx]) PluginInit(*baseservice.Archetype) {}

func (d pilotedDriver[TTx]) PluginPilot() riverpilot.Pilot { return d.pilot }
