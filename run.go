package ethos

import (
	"context"
	"encoding/json"
	"strings"
	"time"
)

// RunStatus is the state of a pipeline run.
type RunStatus string

// Run states. A run is final once completed, failed or cancelled; a
// failed or interrupted run can be resumed, which sets it running again.
const (
	RunRunning   RunStatus = "running"
	RunCompleted RunStatus = "completed"
	RunFailed    RunStatus = "failed" // stopped short: shortfall, budget, auth…; Error says why
	RunCancelled RunStatus = "cancelled"
	// RunInterrupted is a run whose process was stopped (Ctrl-C, a
	// shutdown) before it finished: nothing went wrong, and running the
	// same command again continues it.
	RunInterrupted RunStatus = "interrupted"
)

// MarkInterrupted records that the process working on run id stopped
// because it was interrupted: a run still running becomes interrupted; a
// run that completed or failed meanwhile keeps its status, which says more,
// and a run not stored yet has nothing to mark.
func MarkInterrupted(ctx context.Context, s RunStore, id string) error {
	run, err := s.Run(ctx, id)
	switch {
	case KindOf(err) == NotFound:
		return nil
	case err != nil:
		return err
	case run.Status != RunRunning:
		return nil
	}
	return s.SetRunStatus(ctx, id, RunInterrupted, "")
}

// Run is one execution of a pipeline, such as a generation of a dataset.
type Run struct {
	ID            string          `json:"id"`   // e.g. "gen-20261125-153012-ab12"
	Kind          string          `json:"kind"` // "generate", "eval", …
	Status        RunStatus       `json:"status"`
	ConfigHash    string          `json:"config_hash"`
	CharacterHash string          `json:"character_hash"`
	Params        json.RawMessage `json:"params"` // the run's resolved settings, as JSON
	Error         string          `json:"error,omitempty"`
	CreatedAt     time.Time       `json:"created_at"`
	UpdatedAt     time.Time       `json:"updated_at"`
}

// ItemStatus is the state of one item of a run.
type ItemStatus string

// Item states. Pending items are being worked on; accepted items passed
// their stage; rejected items failed an attempt and are being written
// again; quarantined items failed every attempt and are kept with their
// reason, never used. Failed items could not be made because the provider
// kept failing (5xx, timeouts, 429s that never cleared) until their task
// gave up; their reason leads with the error kind, and running the run
// again retries them.
const (
	ItemPending     ItemStatus = "pending"
	ItemAccepted    ItemStatus = "accepted"
	ItemRejected    ItemStatus = "rejected"
	ItemQuarantined ItemStatus = "quarantined"
	ItemFailed      ItemStatus = "failed"
)

// Item is one unit of work of a run at one stage: an idea, a document, a
// reply. Key is unique within the run and names the item's place in the
// plan (e.g. "idea/07-ethical-dilemmas/3", "doc/<idea key>/2"), so that a
// resumed run finds what it already has instead of making it again.
type Item struct {
	ID        int64           `json:"id"`
	RunID     string          `json:"run_id"`
	Stage     string          `json:"stage"` // "idea", "document", "response"
	Key       string          `json:"key"`
	ParentID  int64           `json:"parent_id,omitempty"`
	Attempt   int             `json:"attempt"`
	Status    ItemStatus      `json:"status"`
	Reason    string          `json:"reason,omitempty"` // why rejected or quarantined
	Data      json.RawMessage `json:"data,omitempty"`   // the stage's payload, as JSON
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

// ReasonClass reduces an item's rejection reason to its rule or error
// class ("near-duplicate", "chatter", "rate_limited"), so that reasons can
// be counted: the text before the first ":", " (" or ";", at most four
// words of it.
func ReasonClass(reason string) string {
	if reason == "" {
		return "unknown"
	}
	for _, sep := range []string{":", " (", ";"} {
		if i := strings.Index(reason, sep); i > 0 {
			reason = reason[:i]
		}
	}
	fields := strings.Fields(reason)
	if len(fields) > 4 {
		fields = fields[:4]
	}
	return strings.Join(fields, " ")
}

// ItemFilter selects items. Zero fields match everything.
type ItemFilter struct {
	RunID    string
	Stage    string
	Status   ItemStatus
	ParentID int64
	AfterID  int64 // for paging: only items with ID > AfterID
	Limit    int   // 0 means no limit; results are in ID order
	// NoData leaves Data out of the results, for callers that only count
	// or look at keys and statuses (cheaper for large runs).
	NoData bool
}

// ItemCount is the number of items of one stage in one status.
type ItemCount struct {
	Stage  string     `json:"stage"`
	Status ItemStatus `json:"status"`
	Count  int        `json:"count"`
}

// RunStore keeps runs and their items.
type RunStore interface {
	// CreateRun stores a new run; a run with the same ID is a Conflict.
	CreateRun(ctx context.Context, r *Run) error
	// Run returns the run with id, or a NotFound error.
	Run(ctx context.Context, id string) (Run, error)
	// RunStatus returns the status of the run with id, or a NotFound
	// error. It is what a task checks before it works: the status alone,
	// without reading the run's params.
	RunStatus(ctx context.Context, id string) (RunStatus, error)
	// Runs lists runs of kind ("" for all), newest first.
	Runs(ctx context.Context, kind string, limit int) ([]Run, error)
	// SetRunStatus changes a run's status and error text.
	SetRunStatus(ctx context.Context, id string, status RunStatus, errText string) error

	// PutItem inserts it unless an item with the same run and key exists,
	// in which case it loads that item into it instead. created reports
	// which happened. This is what makes every stage idempotent.
	PutItem(ctx context.Context, it *Item) (created bool, err error)
	// UpdateItem saves the status, reason, attempt and data of an item.
	UpdateItem(ctx context.Context, it *Item) error
	// Item returns one item by ID, or a NotFound error.
	Item(ctx context.Context, id int64) (Item, error)
	// Items lists items matching f in ID order.
	Items(ctx context.Context, f ItemFilter) ([]Item, error)
	// CountItems counts a run's items per stage and status.
	CountItems(ctx context.Context, runID string) ([]ItemCount, error)
	// CountItemsByKeySegment counts a run's items of stage in status by
	// the second "/"-separated segment of their keys, which for most
	// stages is the category ("idea/<category key>/<batch>/…"): "b" for
	// "a/b/c" and for "a/b", "" for a key without a "/". Stage and
	// status match exactly; segments without items are absent.
	CountItemsByKeySegment(ctx context.Context, runID, stage string, status ItemStatus) (map[string]int, error)
}
