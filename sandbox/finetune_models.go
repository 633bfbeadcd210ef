package sandbox

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Which models fine-tuning serves and which persona each speaks with: the
// completed jobs' models, the base models a job may start from and the
// parents a continued job names.

// tunedJob finds the completed job whose model a chat request calls by
// this name: the fine-tuned model's own name when its base model is
// served serverless (Options.Serving), or the name of a started endpoint
// that serves it (see endpoints.go).
func (s *Server) tunedJob(model string) (*ftJob, bool) {
	if m := s.endpointModel(model); m != "" {
		return s.completedJob(m)
	}
	j, ok := s.completedJob(model)
	if !ok || s.opts.Serving[j.Model] == ServingDedicated {
		return nil, false
	}
	return j, true
}

// completedJob finds the job whose completed model is named model.
func (s *Server) completedJob(model string) (*ftJob, bool) {
	if !strings.HasPrefix(model, "ft-") && !strings.HasPrefix(model, "ft:") {
		return nil, false
	}
	jobs, err := s.ft.store.listJobs()
	if err != nil {
		return nil, false
	}
	now := s.opts.Now()
	for _, j := range jobs {
		if j.OutputModel == model {
			return j, j.view(now).phase == phaseCompleted
		}
	}
	return nil, false
}

// tunedPersona is the persona of a completed fine-tuned model.
func (s *Server) tunedPersona(model string) (Persona, bool) {
	j, ok := s.tunedJob(model)
	if !ok {
		return Persona{}, false
	}
	return j.Persona, true
}

// tunedWriter is the writer of a completed fine-tuned model.
func (s *Server) tunedWriter(model string) (Writer, bool) {
	j, ok := s.tunedJob(model)
	if !ok {
		return nil, false
	}
	p := j.Persona
	return func(pr Prompt) string { return plainReply(pr, p) }, true
}

// listModels is what /v1/models lists: the server's models, then the
// completed fine-tuned models, oldest first.
func (s *Server) listModels() []string {
	out := slices.Clone(s.models)
	jobs, err := s.ft.store.listJobs()
	if err != nil {
		return out
	}
	now := s.opts.Now()
	for i := len(jobs) - 1; i >= 0; i-- {
		if jobs[i].view(now).phase == phaseCompleted {
			out = append(out, jobs[i].OutputModel)
		}
	}
	return out
}

// baseModelOK says whether a base model can be fine-tuned.
func (s *Server) baseModelOK(model string) bool {
	if model == "base" || model == FailTrainModel || slices.Contains(s.opts.Models, model) {
		return true
	}
	if _, ok := s.opts.Personas[model]; ok {
		return true
	}
	return strings.HasSuffix(model, "-Reference") || strings.HasPrefix(model, "gpt-")
}

// parentJob finds the completed job a continued job starts from: by its
// ID or its output model's name, either followed by ":step" (the sandbox
// keeps one persona a job, so every checkpoint of a job is its final
// model). The error is the answer to give.
func (s *Server) parentJob(ref, param string) (*ftJob, *ftError) {
	name := ref
	if i := strings.LastIndex(ref, ":"); i > 0 && !strings.HasPrefix(ref, "ft:") {
		if _, err := strconv.Atoi(ref[i+1:]); err == nil {
			name = ref[:i]
		}
	}
	jobs, err := s.ft.store.listJobs()
	if err != nil {
		return nil, internalError(err)
	}
	now := s.opts.Now()
	for _, j := range jobs {
		if j.ID != name && j.OutputModel != name {
			continue
		}
		if v := j.view(now); v.phase != phaseCompleted {
			return nil, &ftError{status: 400, param: param, msg: fmt.Sprintf("%s: job %s has not completed (it is %s), so there is no checkpoint to continue from", ref, j.ID, v.phase)}
		}
		return j, nil
	}
	return nil, &ftError{status: 400, param: param, msg: fmt.Sprintf("%s names no fine-tuning job or fine-tuned model", ref)}
}

// basePersona is the persona a fine-tuned model starts from.
func (s *Server) basePersona(model string) Persona {
	if p, ok := s.opts.Personas[model]; ok {
		return p
	}
	return WeakPersona
}
