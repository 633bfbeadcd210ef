package web

import (
	"context"
	"net/http"
	"time"

	"github.com/ethos-toolkit/ethos"
)

// jobData is the fine-tune job page and GET /api/finetune/{id}.
type jobData struct {
	Job      ethos.FineTuneJob              `json:"job"`
	Events   section[[]ethos.FineTuneEvent] `json:"events"`
	Timeline []timelineEntry                `json:"timeline"`
	Model    *ethos.Model                   `json:"model,omitempty"` // the registry entry the job produced
	Progress float64                        `json:"progress"`        // 0–1 from steps or epochs, 0 when unknown
	Notice   string                         `json:"notice,omitempty"`
	// EarlierEvents counts the events the page leaves out (the oldest);
	// the API and the loss curve have them all.
	EarlierEvents int `json:"-"`
}

// timelineEntry is one moment of a job's life: creation, each change of
// status its events report, the end.
type timelineEntry struct {
	At      time.Time `json:"at"`
	What    string    `json:"what"`
	Level   string    `json:"level,omitempty"`
	Current bool      `json:"current,omitempty"`
}

// timeline picks the moments worth a line out of a job's events: the
// first event of each type (queued, started, the first checkpoint, …),
// every error, and the job's own creation and end. The events table has
// the rest.
func timeline(j ethos.FineTuneJob, events []ethos.FineTuneEvent) []timelineEntry {
	out := []timelineEntry{{At: j.CreatedAt, What: "created on " + j.Provider + " from " + j.BaseModel}}
	seen := map[string]bool{}
	for _, e := range events {
		if e.Level == "error" || (e.Type != "" && !seen[e.Type]) {
			what := e.Message
			if e.Type != "" {
				what = e.Type + ": " + e.Message
			}
			out = append(out, timelineEntry{At: e.CreatedAt, What: what, Level: e.Level})
			seen[e.Type] = true
		}
	}
	if j.FinishedAt != nil {
		out = append(out, timelineEntry{At: *j.FinishedAt, What: string(j.State) + " (" + j.Status + ")"})
	} else {
		out = append(out, timelineEntry{At: j.UpdatedAt, What: "now " + j.Status, Current: true})
	}
	return out
}

func (s *Server) jobData(ctx context.Context, id string) (jobData, error) {
	j, err := s.store.Job(ctx, id)
	if err != nil {
		return jobData{}, err
	}
	d := jobData{Job: j}
	events, err := s.store.Events(ctx, id)
	d.Events = newSection(events, err)
	d.Timeline = timeline(j, events)
	if n := len(events) - maxEventsShown; n > 0 {
		d.EarlierEvents = n
	}
	p := j.Progress
	switch {
	case p.TotalSteps > 0:
		d.Progress = float64(p.Step) / float64(p.TotalSteps)
	case p.Epochs > 0:
		d.Progress = float64(p.Epoch) / float64(p.Epochs)
	}
	if j.State == ethos.FineTuneCompleted {
		d.Progress = 1
	}
	if models, err := s.store.Models(ctx); err == nil {
		for _, m := range models {
			if m.JobID == id {
				d.Model = &m
				break
			}
		}
	}
	return d, nil
}

// lossChart is a job's training and validation loss by step, from its
// events.
func lossChart(events []ethos.FineTuneEvent) chart {
	c := chart{Title: "Loss", XLabel: "step", YLabel: "loss"}
	train := chartSeries{Label: "training loss"}
	val := chartSeries{Label: "validation loss"}
	hasVal := false
	for i, e := range events {
		if e.Loss == nil && e.ValLoss == nil {
			continue
		}
		x := float64(e.Step)
		if e.Step == 0 {
			x = float64(i) // providers that give no step: event order
		}
		if n := len(c.X); n > 0 && c.X[n-1] >= x {
			// The same step reported again (a checkpoint, then the
			// epoch's end): the later report stands. uPlot wants x
			// increasing.
			if c.X[n-1] == x {
				if e.Loss != nil {
					train.Values[n-1] = e.Loss
				}
				if e.ValLoss != nil {
					val.Values[n-1] = e.ValLoss
					hasVal = true
				}
			}
			continue
		}
		c.X = append(c.X, x)
		train.Values = append(train.Values, e.Loss)
		val.Values = append(val.Values, e.ValLoss)
		hasVal = hasVal || e.ValLoss != nil
	}
	c.Series = []chartSeries{train}
	if hasVal {
		c.Series = append(c.Series, val)
	}
	return c
}

// maxEventsShown bounds the events table of the job page.
const maxEventsShown = 200

// ShownEvents are the events the page lists: the newest maxEventsShown.
func (d jobData) ShownEvents() []ethos.FineTuneEvent {
	return d.Events.Value[d.EarlierEvents:]
}

func (s *Server) handleJob(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	d, err := s.jobData(ctx, id)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	switch r.URL.Query().Get("cancel") {
	case "requested":
		d.Notice = "Cancellation requested."
	}
	topic := topicJob + id
	s.render(w, r, http.StatusOK, "job", &page{Title: "Fine-tune " + id, Nav: "finetune", Topic: topic,
		Version: s.fingerprint(ctx, topic), Data: d})
}

// handleCancel is the cancel button: a POST with the CSRF token, answered
// by a redirect back to the job (or an error page saying why not).
func (s *Server) handleCancel(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if s.opts.Canceller == nil {
		s.renderError(w, r, ethos.Errorf(ethos.Config, "this dashboard cannot cancel jobs: it was started without a fine-tune service"))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if !s.checkCSRF(r) {
		s.renderError(w, r, &ethos.Error{Kind: ethos.Auth, Msg: "cancel refused: the form's CSRF token is missing or stale; reload the job page and press cancel again"})
		return
	}
	if err := s.opts.Canceller(r.Context(), id); err != nil {
		s.renderError(w, r, err)
		return
	}
	http.Redirect(w, r, "/finetune/"+pathEscape(id)+"?cancel=requested", http.StatusSeeOther)
}

// modelsData is the models page and GET /api/models.
type modelsData struct {
	Models section[[]modelRow]          `json:"models"`
	Jobs   section[[]ethos.FineTuneJob] `json:"finetune_jobs"`
}

// modelRow is a registry entry with the run that made its dataset.
type modelRow struct {
	ethos.Model
	RunID string `json:"run_id,omitempty"`
}

func (s *Server) modelsData(ctx context.Context) modelsData {
	var d modelsData
	models, err := s.store.Models(ctx)
	jobsList, jerr := s.store.Jobs(ctx, ethos.FineTuneFilter{})
	d.Jobs = newSection(jobsList, jerr)
	byID := map[string]ethos.FineTuneJob{}
	for _, j := range jobsList {
		byID[j.ID] = j
	}
	rows := make([]modelRow, len(models))
	for i, m := range models {
		rows[i] = modelRow{Model: m, RunID: byID[m.JobID].RunID}
	}
	d.Models = newSection(rows, err)
	return d
}

func (s *Server) handleModels(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	s.render(w, r, http.StatusOK, "models", &page{Title: "Models", Nav: "models", Topic: topicModels,
		Version: s.fingerprint(ctx, topicModels), Data: s.modelsData(ctx)})
}
