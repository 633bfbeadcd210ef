package generate

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/ethos-toolkit/ethos"
)

// AcceptedDocument is a context document a run accepted, with the
// category of the idea it was written for.
type AcceptedDocument struct {
	Key      string `json:"key"` // the document item's key
	Category string `json:"category"`
	Document
}

// Documents lists the documents the run accepted, in the order they were
// made. A run with StopAfter set to StageDocument ends here, and its
// documents (each ending with a request to the assistant) are prompts no
// reply has been written for: evaluations use them as held-out prompts.
func (p *Pipeline) Documents(ctx context.Context) ([]AcceptedDocument, error) {
	byKey := map[string]string{}
	for _, c := range p.settings.Character.Categories {
		byKey[p.categoryKey(c.Name)] = c.Name
	}
	var out []AcceptedDocument
	for after := int64(0); ; {
		items, err := p.store.Items(ctx, ethos.ItemFilter{RunID: p.runID, Stage: StageDocument, Status: ethos.ItemAccepted, AfterID: after, Limit: 500})
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			after = it.ID
			var d documentData
			if err := json.Unmarshal(it.Data, &d); err != nil {
				return nil, ethos.Errorf(ethos.Internal, "run %s: document %s: %w", p.runID, it.Key, err)
			}
			// Keys are "doc/<category key>/<batch>/<index>/<attempt>".
			parts := strings.Split(it.Key, "/")
			cat := ""
			if len(parts) > 1 {
				cat = byKey[parts[1]]
			}
			out = append(out, AcceptedDocument{Key: it.Key, Category: cat, Document: d.Document})
		}
		if len(items) < 500 {
			return out, nil
		}
	}
}
