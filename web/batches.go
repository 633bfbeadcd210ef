package web

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ethos-toolkit/ethos"
)

// overviewBatches is how many done batches the overview lists after the
// ones still working.
const overviewBatches = 20

// batchRow is a provider batch in a list: the store's record and its age,
// the same facts "ethos batches list" prints.
type batchRow struct {
	ethos.Batch
	// Age runs from its creation to now, or to its end once it ended.
	Age time.Duration `json:"age_ns"`
}

// Unfinished counts the requests that expired or were cancelled before
// the provider processed them (for templates).
func (b batchRow) Unfinished() int { return b.Counts.Expired + b.Counts.Cancelled }

func (s *Server) batchRows(batches []ethos.Batch) []batchRow {
	now := s.now()
	rows := make([]batchRow, len(batches))
	for i, b := range batches {
		end := now
		if !b.EndedAt.IsZero() {
			end = b.EndedAt
		}
		rows[i] = batchRow{Batch: b, Age: max(end.Sub(b.CreatedAt), 0)}
	}
	return rows
}

// overviewBatchList is the overview's batches: every batch not done, then
// the most recent done ones. It is nil when the store holds no batch, so
// the overview leaves the section out.
func (s *Server) overviewBatchList(ctx context.Context) *section[[]batchRow] {
	active, err := s.store.Batches(ctx, ethos.BatchFilter{Active: true})
	if err != nil {
		return &section[[]batchRow]{Err: err}
	}
	// The newest batches hold every active one, so asking for that many
	// more finds the most recent done ones.
	recent, err := s.store.Batches(ctx, ethos.BatchFilter{Limit: overviewBatches + len(active)})
	if err != nil {
		return &section[[]batchRow]{Err: err}
	}
	if len(recent) == 0 {
		return nil
	}
	list := active
	done := 0
	for _, b := range recent {
		if b.State.Done() && done < overviewBatches {
			list = append(list, b)
			done++
		}
	}
	sec := newSection(s.batchRows(list), nil)
	return &sec
}

// batchAttention is what the overview says of the listed batches that
// failed as a whole.
func batchAttention(rows []batchRow) []attention {
	var out []attention
	for _, b := range rows {
		if b.State == ethos.BatchFailed {
			id := strconv.FormatInt(b.ID, 10)
			out = append(out, attention{What: "batch", ID: id, Link: "/#batch-" + id, Why: "failed: " + b.Error})
		}
	}
	return out
}

// runBatches is the section of a run's page listing the batches that hold
// or answered its requests.
func (s *Server) runBatches(ctx context.Context, runID string) section[[]batchRow] {
	batches, err := s.store.Batches(ctx, ethos.BatchFilter{RunID: runID})
	return newSection(s.batchRows(batches), err)
}

// batchItemRow is one request of a batch in GET /api/batches/{id}: where
// it stands, without its request or response body.
type batchItemRow struct {
	Key         string               `json:"key"`
	RunID       string               `json:"run_id,omitempty"`
	Stage       string               `json:"stage,omitempty"`
	State       ethos.BatchItemState `json:"state"`
	Outcome     ethos.BatchOutcome   `json:"outcome,omitempty"`
	Submissions int                  `json:"submissions"`
	ErrorKind   ethos.Kind           `json:"error_kind,omitempty"`
	Error       string               `json:"error,omitempty"`
}

// batchData is GET /api/batches/{id}.
type batchData struct {
	batchRow
	Items []batchItemRow `json:"items"`
}

func (s *Server) apiBatches(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := ethos.BatchFilter{RunID: q.Get("run")}
	if a := q.Get("active"); a != "" {
		active, err := strconv.ParseBool(a)
		if err != nil {
			s.writeError(w, ethos.Errorf(ethos.Invalid, "active %q: want 1 or 0", a))
			return
		}
		f.Active = active
	}
	limit, err := limitParam(r, 0)
	if err != nil {
		s.writeError(w, err)
		return
	}
	f.Limit = limit
	batches, err := s.store.Batches(r.Context(), f)
	if err != nil {
		s.writeError(w, err)
		return
	}
	s.writeJSON(w, map[string]any{"batches": s.batchRows(batches)})
}

func (s *Server) apiBatch(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	// The label ("ethos-batch-7") names a batch as well as its ID does.
	raw := r.PathValue("id")
	id, err := strconv.ParseInt(strings.TrimPrefix(raw, "ethos-batch-"), 10, 64)
	if err != nil || id <= 0 {
		s.writeError(w, ethos.Errorf(ethos.Invalid, "batch %q: want a batch ID; GET /api/batches lists them", raw))
		return
	}
	b, err := s.store.GetBatch(ctx, id)
	if err != nil {
		s.writeError(w, err)
		return
	}
	items, err := s.store.BatchItems(ctx, id)
	if err != nil {
		s.writeError(w, err)
		return
	}
	d := batchData{batchRow: s.batchRows([]ethos.Batch{b})[0], Items: make([]batchItemRow, len(items))}
	for i, it := range items {
		d.Items[i] = batchItemRow{Key: it.Key, RunID: it.RunID, Stage: it.Stage, State: it.State, Outcome: it.Outcome,
			Submissions: it.Submissions, ErrorKind: it.ErrorKind, Error: it.Error}
	}
	s.writeJSON(w, d)
}
