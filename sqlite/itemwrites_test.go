package sqlite_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/ethos-toolkit/ethos"
)

// Many concurrent item writes share transactions: a write that fails (a
// missing parent) fails alone, writes of one key made in the same batch
// create one row and hand the others that row, and updates land.
func TestItemWritesCommitTogether(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := openTemp(t)
	if err := db.CreateRun(ctx, &ethos.Run{ID: "r", Kind: "generate"}); err != nil {
		t.Fatal(err)
	}
	const n = 300
	items := make([]*ethos.Item, n)
	created := make([]bool, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		it := &ethos.Item{RunID: "r", Stage: "idea", Key: fmt.Sprintf("k%d", i%100), Status: ethos.ItemAccepted, Data: []byte(fmt.Sprintf(`{"i":%d}`, i))}
		if i%50 == 7 { // keys k7 and k57 are only ever orphans
			it.Key, it.ParentID = fmt.Sprintf("orphan%d", i), 1_000_000
		}
		items[i] = it
		wg.Go(func() {
			created[i], errs[i] = db.PutItem(ctx, it)
			if errs[i] == nil && created[i] {
				it.Status, it.Reason = ethos.ItemRejected, "updated"
				errs[i] = db.UpdateItem(ctx, it)
			}
		})
	}
	wg.Wait()
	ids := map[string]int64{}
	made := map[string]int{}
	for i, it := range items {
		if i%50 == 7 {
			if ethos.KindOf(errs[i]) != ethos.NotFound {
				t.Errorf("item with a missing parent: %v, want not found", errs[i])
			}
			continue
		}
		if errs[i] != nil {
			t.Fatalf("item %d: %v", i, errs[i])
		}
		if created[i] {
			made[it.Key]++
		}
		if id, ok := ids[it.Key]; ok && id != it.ID {
			t.Errorf("key %s came back with IDs %d and %d", it.Key, id, it.ID)
		}
		ids[it.Key] = it.ID
	}
	for k, c := range made {
		if c != 1 {
			t.Errorf("key %s created %d times", k, c)
		}
	}
	if len(made) != 98 {
		t.Errorf("%d keys created, want 98", len(made))
	}
	stored, err := db.Items(ctx, ethos.ItemFilter{RunID: "r"})
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 98 {
		t.Errorf("%d items stored, want 98", len(stored))
	}
	for _, it := range stored {
		if it.Status != ethos.ItemRejected || it.Reason != "updated" {
			t.Errorf("item %s: %s %q, want the update", it.Key, it.Status, it.Reason)
		}
	}
}
