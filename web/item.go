package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/generate"
	"github.com/ethos-toolkit/ethos/review"
)

// itemData is the example viewer and GET /api/runs/{id}/items/{item}: an
// item with its ancestors (idea → document → reply) and its children.
type itemData struct {
	RunID string   `json:"run_id"`
	Item  viewItem `json:"item"`
	// Chain is the item's ancestry from the root down to the item itself.
	Chain    []viewItem         `json:"chain"`
	Children section[[]itemRow] `json:"children"`
}

// viewItem is an item with its data decoded for display.
type viewItem struct {
	ethos.Item
	Idea     *ideaView     `json:"idea,omitempty"`
	Batch    *batchView    `json:"batch,omitempty"`
	Document *documentView `json:"document,omitempty"`
	Reply    *replyView    `json:"reply,omitempty"`
	// DataErr says why the data could not be decoded; the raw data is
	// shown instead.
	DataErr string `json:"data_error,omitempty"`
}

// The views mirror the JSON the generation stages store in Item.Data.
type ideaView struct {
	Category string `json:"category"`
	Batch    int    `json:"batch"`
	generate.Idea
}

type batchView struct {
	Category  string `json:"category"`
	Batch     int    `json:"batch"`
	Requested int    `json:"requested"`
	Received  int    `json:"received"`
	Model     string `json:"model"`
	CallKey   string `json:"call_key,omitempty"`
}

type documentView struct {
	generate.Document
	Model      string           `json:"model"`
	CallKey    string           `json:"call_key,omitempty"`
	StopReason ethos.StopReason `json:"stop_reason,omitempty"`
	Findings   []review.Finding `json:"findings,omitempty"`
}

type replyView struct {
	Reply       string                         `json:"reply"`
	Model       string                         `json:"model"`
	CallKey     string                         `json:"call_key,omitempty"`
	StopReason  ethos.StopReason               `json:"stop_reason,omitempty"`
	Findings    []review.Finding               `json:"findings,omitempty"`
	TraitScores map[string]generate.TraitScore `json:"trait_scores,omitempty"`
	ReviewModel string                         `json:"review_model,omitempty"`
}

// TraitList is the trait scores in name order, for templates.
func (r *replyView) TraitList() []traitScoreRow {
	out := make([]traitScoreRow, 0, len(r.TraitScores))
	for name, s := range r.TraitScores {
		out = append(out, traitScoreRow{name, s.Score, s.Reason})
	}
	slices.SortFunc(out, func(a, b traitScoreRow) int {
		switch {
		case a.Trait < b.Trait:
			return -1
		case a.Trait > b.Trait:
			return 1
		}
		return 0
	})
	return out
}

type traitScoreRow struct {
	Trait  string
	Score  int
	Reason string
}

// decodeItem decodes an item's data by its stage.
func decodeItem(it ethos.Item) viewItem {
	v := viewItem{Item: it}
	if len(it.Data) == 0 {
		return v
	}
	var err error
	switch it.Stage {
	case stageIdea:
		v.Idea = new(ideaView)
		err = json.Unmarshal(it.Data, v.Idea)
	case stageIdeas:
		v.Batch = new(batchView)
		err = json.Unmarshal(it.Data, v.Batch)
	case stageDocument:
		v.Document = new(documentView)
		err = json.Unmarshal(it.Data, v.Document)
	case stageResponse:
		v.Reply = new(replyView)
		err = json.Unmarshal(it.Data, v.Reply)
	default:
		return v
	}
	if err != nil {
		v.Idea, v.Batch, v.Document, v.Reply = nil, nil, nil, nil
		v.DataErr = err.Error()
	}
	return v
}

// RawData is the item's data as text, for stages the viewer does not
// know and data that did not decode.
func (v viewItem) RawData() string { return string(v.Data) }

// maxChain bounds the walk up an item's parents (a generation chain is
// four deep), so that a corrupt store with a cycle cannot hang a request.
const maxChain = 8

func (s *Server) itemData(ctx context.Context, runID string, id int64) (itemData, error) {
	it, err := s.store.Item(ctx, id)
	if err != nil {
		return itemData{}, err
	}
	if it.RunID != runID {
		return itemData{}, ethos.Errorf(ethos.NotFound, "item %d is not an item of run %s", id, runID)
	}
	d := itemData{RunID: runID, Item: decodeItem(it)}
	chain := []viewItem{d.Item}
	for p := it.ParentID; p != 0 && len(chain) < maxChain; {
		parent, err := s.store.Item(ctx, p)
		if err != nil {
			return itemData{}, err
		}
		chain = append(chain, decodeItem(parent))
		p = parent.ParentID
	}
	slices.Reverse(chain)
	d.Chain = chain
	children, err := s.store.Items(ctx, ethos.ItemFilter{RunID: runID, ParentID: id, Limit: 200})
	d.Children = newSection(itemRows(children), err)
	return d, nil
}

func (s *Server) handleItem(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	runID := r.PathValue("id")
	id, err := strconv.ParseInt(r.PathValue("item"), 10, 64)
	if err != nil {
		s.renderError(w, r, ethos.Errorf(ethos.Invalid, "item %q: want a number", r.PathValue("item")))
		return
	}
	d, err := s.itemData(ctx, runID, id)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	topic := topicRun + runID
	s.render(w, r, http.StatusOK, "item", &page{Title: "Item " + strconv.FormatInt(id, 10) + " of " + runID,
		Topic: topic, Version: s.fingerprint(ctx, topic), Data: d})
}

func pathEscape(s string) string { return url.PathEscape(s) }
