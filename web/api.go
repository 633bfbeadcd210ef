package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/ethos-toolkit/ethos"
)

// statusOf is the one mapping from an error kind to an HTTP status.
func statusOf(err error) int {
	switch ethos.KindOf(err) {
	case ethos.NotFound:
		return http.StatusNotFound
	case ethos.Invalid, ethos.Config:
		return http.StatusBadRequest
	case ethos.Auth:
		return http.StatusForbidden
	case ethos.Conflict:
		return http.StatusConflict
	case ethos.RateLimited, ethos.Quota:
		return http.StatusTooManyRequests
	case ethos.Overloaded, ethos.Transient:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// errorPage is the error page's data.
type errorPage struct {
	Status int
	Kind   ethos.Kind
	Text   string
}

// renderError answers with the error page.
func (s *Server) renderError(w http.ResponseWriter, r *http.Request, err error) {
	status := statusOf(err)
	s.render(w, r, status, "error", &page{Title: http.StatusText(status),
		Data: errorPage{Status: status, Kind: ethos.KindOf(err), Text: err.Error()}})
}

// writeJSON answers with v as indented JSON.
func (s *Server) writeJSON(w http.ResponseWriter, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		s.writeError(w, ethos.Errorf(ethos.Internal, "web: encoding JSON: %w", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(buf.Bytes())
}

// writeError answers an API request with {"error": {"kind", "message"}}.
func (s *Server) writeError(w http.ResponseWriter, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(statusOf(err))
	json.NewEncoder(w).Encode(map[string]errorJSON{"error": {Kind: ethos.KindOf(err), Message: err.Error()}})
}

// apiEndpoint describes one route of the JSON API in its index.
type apiEndpoint struct {
	Path        string `json:"path"`
	Page        string `json:"page,omitempty"` // the HTML page showing the same data
	Description string `json:"description"`
}

// apiIndex is GET /api/: every endpoint of the JSON API.
var apiIndex = []apiEndpoint{
	{"/api/overview", "/", "runs, fine-tune jobs, evals and provider batches with their states; spend by provider, model and stage; live rates; errors by kind; queue depth; what failed"},
	{"/api/runs", "/", "runs, newest first, with item counts (?kind=generate|eval, ?limit=N)"},
	{"/api/runs/{id}", "/runs/{id}", "a run: per-stage progress, spend, rejections by reason, quarantined items, its provider batches, a page of items (?stage=&status=&after=)"},
	{"/api/runs/{id}/items", "/runs/{id}", "a page of a run's items (?stage=&status=pending|accepted|rejected|quarantined&after=ID)"},
	{"/api/runs/{id}/items/{item}", "/runs/{id}/items/{item}", "an item with its chain (idea → document → reply), review findings and children"},
	{"/api/runs/{id}/series", "/runs/{id}", "a run's accepted, rejected and quarantined items over time"},
	{"/api/runs/{id}/dataset", "/runs/{id}/dataset", "a generation run's dataset: examples per category, trait coverage, length histograms, duplicate clusters"},
	{"/api/batches", "/", "provider batches, newest first, with state, counts, age and the runs they hold (?active=1, ?run=ID, ?limit=N)"},
	{"/api/batches/{id}", "/", "a provider batch with its requests: key, run, stage, state, outcome, error (no request or response bodies)"},
	{"/api/finetune", "/models", "fine-tune jobs, newest first"},
	{"/api/finetune/{id}", "/finetune/{id}", "a fine-tune job with its events, timeline and registry entry"},
	{"/api/finetune/{id}/loss", "/finetune/{id}", "a job's loss curve by step"},
	{"/api/models", "/models", "the model registry, linked to jobs, datasets and evals"},
	{"/api/evals/{id}", "/evals/{id}", "an eval: settings, answer and judgment counts, statistics, a side-by-side prompt (?prompt=KEY)"},
	{"/metrics", "", "Prometheus metrics (text exposition), series prefixed ethos_"},
	{"/events?topic=T", "", "server-sent events: \"change\" when the store part T (overview, models, run:ID, job:ID, eval:ID) changes"},
}

func (s *Server) handleAPIIndex(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, map[string]any{"endpoints": apiIndex})
}

func (s *Server) apiNotFound(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, ethos.Errorf(ethos.NotFound, "no API endpoint %s; GET /api/ lists them", r.URL.Path))
}

func (s *Server) apiOverview(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, s.overview(r.Context()))
}

func (s *Server) apiRuns(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	limit, err := limitParam(r, overviewRuns)
	if err != nil {
		s.writeError(w, err)
		return
	}
	runs, err := s.store.Runs(ctx, r.URL.Query().Get("kind"), limit)
	if err != nil {
		s.writeError(w, err)
		return
	}
	rows := make([]runRow, len(runs))
	for i, run := range runs {
		rows[i] = s.runRow(ctx, run)
	}
	s.writeJSON(w, map[string]any{"runs": rows})
}

// limitParam reads ?limit=N (1 to 1000), def when it is absent.
func limitParam(r *http.Request, def int) (int, error) {
	l := r.URL.Query().Get("limit")
	if l == "" {
		return def, nil
	}
	n, err := strconv.Atoi(l)
	if err != nil || n < 1 || n > 1000 {
		return 0, ethos.Errorf(ethos.Invalid, "limit %q: want 1 to 1000", l)
	}
	return n, nil
}

func (s *Server) apiRun(w http.ResponseWriter, r *http.Request) {
	run, err := s.store.Run(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, err)
		return
	}
	s.writeJSON(w, s.runData(r.Context(), r, run))
}

func (s *Server) apiItems(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	run, err := s.store.Run(r.Context(), id)
	if err != nil {
		s.writeError(w, err)
		return
	}
	counts, err := s.counts(r.Context(), run)
	if err != nil {
		s.writeError(w, err)
		return
	}
	p := s.itemsPage(r.Context(), r, id, counts)
	if p.Err != nil {
		s.writeError(w, p.Err)
		return
	}
	s.writeJSON(w, p.Value)
}

func (s *Server) apiItem(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("item"), 10, 64)
	if err != nil {
		s.writeError(w, ethos.Errorf(ethos.Invalid, "item %q: want a number", r.PathValue("item")))
		return
	}
	d, err := s.itemData(r.Context(), r.PathValue("id"), id)
	if err != nil {
		s.writeError(w, err)
		return
	}
	s.writeJSON(w, d)
}

func (s *Server) apiDataset(w http.ResponseWriter, r *http.Request) {
	run, err := s.store.Run(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, err)
		return
	}
	s.writeJSON(w, s.dataset(r.Context(), run))
}

func (s *Server) apiJobs(w http.ResponseWriter, r *http.Request) {
	jobs, err := s.store.Jobs(r.Context(), ethos.FineTuneFilter{})
	if err != nil {
		s.writeError(w, err)
		return
	}
	s.writeJSON(w, map[string]any{"finetune_jobs": jobs})
}

func (s *Server) apiJob(w http.ResponseWriter, r *http.Request) {
	d, err := s.jobData(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, err)
		return
	}
	s.writeJSON(w, d)
}

func (s *Server) apiJobLoss(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := s.store.Job(r.Context(), id); err != nil {
		s.writeError(w, err)
		return
	}
	events, err := s.store.Events(r.Context(), id)
	s.writeJSON(w, newSection(lossChart(events), err))
}

func (s *Server) apiModels(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, s.modelsData(r.Context()))
}

func (s *Server) apiEval(w http.ResponseWriter, r *http.Request) {
	run, err := s.store.Run(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, err)
		return
	}
	s.writeJSON(w, s.evalData(r.Context(), r, run))
}
