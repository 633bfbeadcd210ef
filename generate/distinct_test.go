package generate

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/sqlite"
)

// Many tasks storing near-identical ideas at once: exactly one is accepted
// and every other is rejected naming that one's real ID, although the
// store writes run outside the lock.
func TestPutDistinctConcurrentNearDuplicates(t *testing.T) {
	ctx := t.Context()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ethos.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p := NewPipeline(db, nil, Settings{Examples: 1})
	if err := db.CreateRun(ctx, &ethos.Run{ID: p.RunID(), Kind: "generate"}); err != nil {
		t.Fatal(err)
	}
	const text = "A regional hospital must decide how to share scarce ventilators between two wards during a winter surge"
	const n = 24
	items := make([]*ethos.Item, n)
	var wg sync.WaitGroup
	for i := range n {
		items[i] = &ethos.Item{RunID: p.RunID(), Stage: StageIdea, Key: fmt.Sprintf("idea/x/%d", i), Attempt: 1, Status: ethos.ItemAccepted, Data: []byte(`{}`)}
		wg.Go(func() {
			// Every fourth text differs by a word: still a near-duplicate.
			txt := text
			if i%4 == 0 {
				txt += " again"
			}
			if _, err := p.putDistinct(ctx, items[i], p.ideaDups, txt, "idea"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	var accepted []*ethos.Item
	for _, it := range items {
		if it.Status == ethos.ItemAccepted {
			accepted = append(accepted, it)
		}
	}
	if len(accepted) != 1 {
		t.Fatalf("%d of %d near-identical ideas accepted, want 1", len(accepted), n)
	}
	reason := regexp.MustCompile(`^near-duplicate: of idea #(\d+) \(similarity`)
	for _, it := range items {
		if it.Status == ethos.ItemAccepted {
			continue
		}
		m := reason.FindStringSubmatch(it.Reason)
		if m == nil {
			t.Errorf("item %s: status %s, reason %q", it.Key, it.Status, it.Reason)
			continue
		}
		if id, _ := strconv.Atoi(m[1]); int64(id) != accepted[0].ID {
			t.Errorf("item %s repeats #%d, want the accepted #%d", it.Key, id, accepted[0].ID)
		}
	}
	if got := p.ideaDups.Len(); got != 1 {
		t.Errorf("index holds %d texts, want 1", got)
	}
	if len(p.provisional) != 0 {
		t.Errorf("%d provisional entries left", len(p.provisional))
	}
}
