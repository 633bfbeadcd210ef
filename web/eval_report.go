package web

import (
	"context"

	"github.com/ethos-toolkit/ethos"
)

// evalReport is the statistics of an eval as eval/report computes them.
type evalReport struct{}

// evalReport computes an eval's statistics.
func (s *Server) evalReport(ctx context.Context, run ethos.Run, spec *ethos.EvalSpec, prompts []ethos.EvalPrompt,
	answers []ethos.Answer, judgments []ethos.Judgment, scores []ethos.TraitScore, loadErr error) section[*evalReport] {
	if loadErr != nil {
		return section[*evalReport]{Err: loadErr}
	}
	return section[*evalReport]{Err: ethos.Errorf(ethos.Internal, "statistics for evals are not built into this dashboard yet")}
}
