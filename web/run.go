package web

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/generate"
)

// The generation stages, in pipeline order.
const (
	stageIdeas    = generate.StageIdeas
	stageIdea     = generate.StageIdea
	stageDocument = generate.StageDocument
	stageResponse = generate.StageResponse
)

var stageOrder = []string{stageIdeas, stageIdea, stageDocument, stageResponse}

// itemsPageSize is how many items the run page lists at a time.
const itemsPageSize = 50

// quarantineListed is how many quarantined items the run page lists with
// their reasons.
const quarantineListed = 100

// runData is the run page and GET /api/runs/{id}.
type runData struct {
	Run         ethos.Run                `json:"run"`
	Target      int                      `json:"target,omitempty"`
	Examples    int                      `json:"examples"`
	Stages      section[[]stageRow]      `json:"stages"`
	Spend       section[[]spendRow]      `json:"spend"`
	PromptCache section[promptCacheData] `json:"prompt_cache"`
	Rejections  section[[]reasonRow]     `json:"rejections"`
	Quarantined section[[]itemRow]       `json:"quarantined"`
	Batches     section[[]batchRow]      `json:"batches"` // the provider batches holding or answering its requests
	Items       section[itemsPage]       `json:"items"`
}

// stageRow is a stage's item counts.
type stageRow struct {
	Stage       string `json:"stage"`
	Pending     int    `json:"pending"`
	Accepted    int    `json:"accepted"`
	Rejected    int    `json:"rejected"`
	Quarantined int    `json:"quarantined"`
	Total       int    `json:"total"`
	// Goal is what the stage must reach (the run's target, for replies),
	// 0 when there is none.
	Goal int `json:"goal,omitempty"`
}

// reasonRow counts rejections or quarantines of one kind.
type reasonRow struct {
	Reason      string `json:"reason"`
	Rejected    int    `json:"rejected"`
	Quarantined int    `json:"quarantined"`
}

// itemRow is an item in a list: its data reduced to a line.
type itemRow struct {
	ethos.Item
	Summary string `json:"summary"`
}

// itemsPage is a filtered page of a run's items.
type itemsPage struct {
	Stage  string    `json:"stage,omitempty"`
	Status string    `json:"status,omitempty"`
	After  int64     `json:"after,omitempty"`
	Items  []itemRow `json:"items"`
	// Next is the AfterID of the next page, 0 on the last.
	Next int64 `json:"next,omitempty"`
}

// itemStatuses are the statuses the items filter offers.
var itemStatuses = []ethos.ItemStatus{ethos.ItemPending, ethos.ItemAccepted, ethos.ItemRejected, ethos.ItemQuarantined, ethos.ItemFailed}

func (s *Server) runData(ctx context.Context, r *http.Request, run ethos.Run) runData {
	d := runData{Run: run, Target: runTarget(run)}
	counts, err := s.counts(ctx, run)
	rows := stageRows(counts)
	for i := range rows {
		if rows[i].Stage == stageResponse {
			rows[i].Goal = d.Target
			d.Examples = rows[i].Accepted
		}
	}
	d.Stages = newSection(rows, err)
	d.Spend = s.runSpend(ctx, run.ID, counts)
	d.PromptCache = s.runPromptCache(ctx, run.ID)
	d.Rejections = s.runRejections(ctx, run.ID, counts)
	if err != nil {
		d.Quarantined = section[[]itemRow]{Err: err}
	} else {
		q, err := s.listItems(ctx, ethos.ItemFilter{RunID: run.ID, Status: ethos.ItemQuarantined, Limit: quarantineListed, NoData: true}, counts)
		d.Quarantined = newSection(itemRows(q), err)
	}
	d.Batches = s.runBatches(ctx, run.ID)
	d.Items = s.itemsPage(ctx, r, run.ID, counts)
	return d
}

// listItems lists items like Items. A filter that names a status but no
// stage is asked of each stage that has items in that status and the
// answers merged: the store's index is by run, stage and status, so each
// of those is a seek where the single query would read the whole run.
func (s *Server) listItems(ctx context.Context, f ethos.ItemFilter, counts []ethos.ItemCount) ([]ethos.Item, error) {
	if f.Status == "" || f.Stage != "" || counts == nil {
		return s.store.Items(ctx, f)
	}
	var all []ethos.Item
	seen := map[string]bool{}
	for _, c := range counts {
		if c.Status != f.Status || c.Count == 0 || seen[c.Stage] {
			continue
		}
		seen[c.Stage] = true
		g := f
		g.Stage = c.Stage
		items, err := s.store.Items(ctx, g)
		if err != nil {
			return nil, err
		}
		all = append(all, items...)
	}
	slices.SortFunc(all, func(a, b ethos.Item) int { return cmp.Compare(a.ID, b.ID) })
	if f.Limit > 0 && len(all) > f.Limit {
		all = all[:f.Limit]
	}
	return all, nil
}

// stageRows folds item counts into one row per stage, pipeline stages
// first.
func stageRows(counts []ethos.ItemCount) []stageRow {
	by := map[string]*stageRow{}
	var names []string
	for _, c := range counts {
		row := by[c.Stage]
		if row == nil {
			row = &stageRow{Stage: c.Stage}
			by[c.Stage] = row
			names = append(names, c.Stage)
		}
		switch c.Status {
		case ethos.ItemPending:
			row.Pending += c.Count
		case ethos.ItemAccepted:
			row.Accepted += c.Count
		case ethos.ItemRejected:
			row.Rejected += c.Count
		case ethos.ItemQuarantined:
			row.Quarantined += c.Count
		}
		row.Total += c.Count
	}
	rank := func(stage string) int {
		if i := slices.Index(stageOrder, stage); i >= 0 {
			return i
		}
		return len(stageOrder)
	}
	slices.SortStableFunc(names, func(a, b string) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		return strings.Compare(a, b)
	})
	out := make([]stageRow, 0, len(names))
	for _, n := range names {
		out = append(out, *by[n])
	}
	return out
}

// itemsPage reads the items filter from the request (?stage=&status=&after=)
// and lists one page.
func (s *Server) itemsPage(ctx context.Context, r *http.Request, runID string, counts []ethos.ItemCount) section[itemsPage] {
	q := r.URL.Query()
	p := itemsPage{Stage: q.Get("stage"), Status: q.Get("status")}
	if p.Status != "" && !slices.Contains(itemStatuses, ethos.ItemStatus(p.Status)) {
		return section[itemsPage]{Value: p, Err: ethos.Errorf(ethos.Invalid, "status %q: want pending, accepted, rejected or quarantined", p.Status)}
	}
	if a := q.Get("after"); a != "" {
		after, err := strconv.ParseInt(a, 10, 64)
		if err != nil || after < 0 {
			return section[itemsPage]{Value: p, Err: ethos.Errorf(ethos.Invalid, "after %q: want an item ID", a)}
		}
		p.After = after
	}
	items, err := s.listItems(ctx, ethos.ItemFilter{RunID: runID, Stage: p.Stage, Status: ethos.ItemStatus(p.Status),
		AfterID: p.After, Limit: itemsPageSize + 1}, counts)
	if err != nil {
		return section[itemsPage]{Value: p, Err: err}
	}
	if len(items) > itemsPageSize {
		items = items[:itemsPageSize]
		p.Next = items[len(items)-1].ID
	}
	p.Items = itemRows(items)
	return newSection(p, nil)
}

func itemRows(items []ethos.Item) []itemRow {
	rows := make([]itemRow, len(items))
	for i, it := range items {
		rows[i] = itemRow{Item: it, Summary: summarize(it)}
		rows[i].Data = nil // lists show the summary; the item page shows the data
	}
	return rows
}

// summarize reduces an item's data to one line: an idea's summary, a
// document's title, the start of a reply.
func summarize(it ethos.Item) string {
	if len(it.Data) == 0 {
		return ""
	}
	var d struct {
		Summary  string `json:"summary"`
		Category string `json:"category"`
		Title    string `json:"title"`
		Type     string `json:"type"`
		Reply    string `json:"reply"`
	}
	if json.Unmarshal(it.Data, &d) != nil {
		return ""
	}
	switch {
	case d.Summary != "":
		return truncate(d.Summary, 120)
	case d.Title != "":
		return truncate(d.Title, 120)
	case d.Reply != "":
		return truncate(strings.Join(strings.Fields(d.Reply), " "), 120)
	case d.Category != "":
		return d.Category
	}
	return ""
}

// runSpend is a run's spend per stage: a background aggregate, since it
// reads every call of the run.
func (s *Server) runSpend(ctx context.Context, runID string, counts []ethos.ItemCount) section[[]spendRow] {
	version := s.runVersion(ctx, runID)
	c := s.snaps.get(ctx, topicRun+runID+"|spend", version, func(ctx context.Context) (any, error) {
		// Each stage is a pass over the run's calls, so only the stages
		// the run can have called for are asked about; calls of any other
		// stage show as "other".
		var total spendRow
		sums, err := s.store.SummarizeCalls(ctx, ethos.CallFilter{RunID: runID})
		if err != nil {
			return nil, err
		}
		for _, c := range sums {
			addRow(&total, summaryRow("", c))
		}
		var rows []spendRow
		var staged spendRow
		for _, stage := range runCallStages(counts) {
			sums, err := s.store.SummarizeCalls(ctx, ethos.CallFilter{RunID: runID, Stage: stage})
			if err != nil {
				return nil, err
			}
			row := spendRow{Name: stage}
			for _, c := range sums {
				addRow(&row, summaryRow("", c))
			}
			if row.Calls > 0 {
				rows = append(rows, row)
				addRow(&staged, row)
			}
		}
		if other := total.Calls - staged.Calls; other > 0 {
			rows = append(rows, spendRow{Name: "other", Calls: other, CacheHits: total.CacheHits - staged.CacheHits, Errors: total.Errors - staged.Errors,
				CostUSD: total.CostUSD - staged.CostUSD, Usage: ethos.Usage{In: total.Usage.In - staged.Usage.In, Out: total.Usage.Out - staged.Usage.Out}})
		}
		return rows, nil
	})
	return fromCache[[]spendRow](c)
}

// runPromptCache is what prompt caching did for a run's calls per stage:
// a background aggregate, like its spend.
func (s *Server) runPromptCache(ctx context.Context, runID string) section[promptCacheData] {
	version := s.runVersion(ctx, runID)
	c := s.snaps.get(ctx, topicRun+runID+"|promptcache", version, func(ctx context.Context) (any, error) {
		return s.promptCache(ctx, ethos.CallFilter{RunID: runID})
	})
	return fromCache[promptCacheData](c)
}

// runCallStages are the ledger stages a run's items point to: the stages
// of its items that call a model, and the LLM review of replies.
func runCallStages(counts []ethos.ItemCount) []string {
	var out []string
	has := map[string]bool{}
	for _, c := range counts {
		has[c.Stage] = true
	}
	for _, st := range callStages {
		if has[st] || (st == "review" && has[stageResponse]) {
			out = append(out, st)
		}
	}
	return out
}

// runRejections counts a run's rejected and quarantined items by reason
// class (a background aggregate).
func (s *Server) runRejections(ctx context.Context, runID string, counts []ethos.ItemCount) section[[]reasonRow] {
	version := s.runVersion(ctx, runID)
	c := s.snaps.get(ctx, topicRun+runID+"|rejections", version, func(ctx context.Context) (any, error) {
		by := map[string]*reasonRow{}
		for _, f := range statusFilters(runID, counts, ethos.ItemRejected, ethos.ItemQuarantined) {
			status := f.Status
			err := s.eachItem(ctx, f, func(it ethos.Item) {
				class := ethos.ReasonClass(it.Reason)
				row := by[class]
				if row == nil {
					row = &reasonRow{Reason: class}
					by[class] = row
				}
				if status == ethos.ItemRejected {
					row.Rejected++
				} else {
					row.Quarantined++
				}
			})
			if err != nil {
				return nil, err
			}
		}
		rows := make([]reasonRow, 0, len(by))
		for _, r := range by {
			rows = append(rows, *r)
		}
		slices.SortFunc(rows, func(a, b reasonRow) int {
			if d := (b.Rejected + b.Quarantined) - (a.Rejected + a.Quarantined); d != 0 {
				return d
			}
			return strings.Compare(a.Reason, b.Reason)
		})
		return rows, nil
	})
	return fromCache[[]reasonRow](c)
}

// statusFilters are filters for a run's items in each of statuses, one per
// stage that has such items, so that each scan is a range of the store's
// (run, stage, status) index.
func statusFilters(runID string, counts []ethos.ItemCount, statuses ...ethos.ItemStatus) []ethos.ItemFilter {
	var out []ethos.ItemFilter
	for _, st := range statuses {
		for _, c := range counts {
			if c.Status == st && c.Count > 0 {
				out = append(out, ethos.ItemFilter{RunID: runID, Stage: c.Stage, Status: st, NoData: true})
			}
		}
	}
	return out
}

// eachItem pages through the items matching f (whose AfterID and Limit it
// sets), so that a scan of a large run holds one page at a time.
func (s *Server) eachItem(ctx context.Context, f ethos.ItemFilter, fn func(ethos.Item)) error {
	const page = 1000
	f.Limit = page
	for {
		items, err := s.store.Items(ctx, f)
		if err != nil {
			return err
		}
		for _, it := range items {
			fn(it)
		}
		if len(items) < page {
			return nil
		}
		f.AfterID = items[len(items)-1].ID
	}
}

func (s *Server) handleRun(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	run, err := s.store.Run(ctx, id)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	if run.Kind == ethos.RunKindEval {
		http.Redirect(w, r, "/evals/"+pathEscape(id), http.StatusSeeOther)
		return
	}
	topic := topicRun + id
	s.render(w, r, http.StatusOK, "run", &page{Title: "Run " + id, Topic: topic,
		Version: s.fingerprint(ctx, topic), Data: s.runData(ctx, r, run)})
}
