package storetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/google/go-cmp/cmp"
)

// runTests are the subtests of the RunStore contract.
var runTests = []struct {
	name string
	fn   func(t *testing.T, s ethos.Store)
}{
	{"CreateAndGetRun", testCreateAndGetRun},
	{"RunsKindOrderLimit", testRunsListing},
	{"DuplicateRunConflicts", testDuplicateRun},
	{"UnknownRunNotFound", testUnknownRun},
	{"SetRunStatus", testSetRunStatus},
	{"InvalidJSONRejected", testInvalidJSON},
	{"PutItemIdempotent", testPutItemIdempotent},
	{"PutItemUnknownRunOrParent", testPutItemUnknownRun},
	{"UpdateItem", testUpdateItem},
	{"ItemsFilter", testItemsFilter},
	{"CountItems", testCountItems},
	{"CountItemsByKeySegment", testCountItemsByKeySegment},
	{"ConcurrentPutItemSameKey", testConcurrentPutSameKey},
	{"ConcurrentPutItemDistinctKeys", testConcurrentPutDistinct},
}

// cmpJSON compares JSON documents by meaning, not by spelling: a store may
// keep JSON in a normalised form (Postgres jsonb) as long as it keeps what
// it says.
var cmpJSON = cmp.Comparer(func(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return bytes.Equal(a, b)
	}
	return cmp.Equal(va, vb)
})

// now is the current time at the precision every store keeps.
func now() time.Time { return time.Now().Truncate(time.Microsecond) }

func createRun(t *testing.T, s ethos.Store, r *ethos.Run) {
	t.Helper()
	if err := s.CreateRun(t.Context(), r); err != nil {
		t.Fatalf("CreateRun(%s): %v", r.ID, err)
	}
}

func getRun(t *testing.T, s ethos.Store, id string) ethos.Run {
	t.Helper()
	r, err := s.Run(t.Context(), id)
	if err != nil {
		t.Fatalf("Run(%s): %v", id, err)
	}
	return r
}

func putItem(t *testing.T, s ethos.Store, it *ethos.Item) bool {
	t.Helper()
	created, err := s.PutItem(t.Context(), it)
	if err != nil {
		t.Fatalf("PutItem(%s/%s): %v", it.RunID, it.Key, err)
	}
	return created
}

func getItem(t *testing.T, s ethos.Store, id int64) ethos.Item {
	t.Helper()
	it, err := s.Item(t.Context(), id)
	if err != nil {
		t.Fatalf("Item(%d): %v", id, err)
	}
	return it
}

func listItems(t *testing.T, s ethos.Store, f ethos.ItemFilter) []ethos.Item {
	t.Helper()
	items, err := s.Items(t.Context(), f)
	if err != nil {
		t.Fatalf("Items(%+v): %v", f, err)
	}
	return items
}

func wantKind(t *testing.T, what string, err error, want ethos.Kind) {
	t.Helper()
	if got := ethos.KindOf(err); got != want {
		t.Errorf("%s = %v (kind %q), want kind %q", what, err, got, want)
	}
}

func newRun(id, kind string) *ethos.Run {
	return &ethos.Run{ID: id, Kind: kind, ConfigHash: "cfg-" + id, CharacterHash: "char-" + id}
}

func testCreateAndGetRun(t *testing.T, s ethos.Store) {
	full := &ethos.Run{
		ID: "gen-1", Kind: "generate", Status: ethos.RunRunning,
		ConfigHash: "c0ffee", CharacterHash: "beef",
		Params:    json.RawMessage(`{"ideas": 40, "model": "anthropic/claude-sonnet-4-5", "stages": ["idea", "document"]}`),
		CreatedAt: base.In(time.FixedZone("CET", 3600)),
	}
	createRun(t, s, full)
	if !full.CreatedAt.Equal(base) || full.CreatedAt.Location() != time.UTC {
		t.Errorf("after CreateRun, CreatedAt = %v, want %v in UTC", full.CreatedAt, base)
	}
	if !full.UpdatedAt.Equal(full.CreatedAt) {
		t.Errorf("after CreateRun, UpdatedAt = %v, want CreatedAt %v", full.UpdatedAt, full.CreatedAt)
	}
	if diff := cmp.Diff(*full, getRun(t, s, "gen-1"), cmpJSON); diff != "" {
		t.Errorf("Run(gen-1) mismatch (-want +got):\n%s", diff)
	}

	// A bare run: the store fills in the status and the times, and keeps
	// no params as none.
	before := now()
	bare := &ethos.Run{ID: "eval-1", Kind: "eval"}
	createRun(t, s, bare)
	after := time.Now()
	if bare.Status != ethos.RunRunning {
		t.Errorf("bare run: Status = %q, want %q", bare.Status, ethos.RunRunning)
	}
	if bare.CreatedAt.Before(before) || bare.CreatedAt.After(after) || bare.CreatedAt.Location() != time.UTC {
		t.Errorf("bare run: CreatedAt = %v, want UTC between %v and %v", bare.CreatedAt, before, after)
	}
	got := getRun(t, s, "eval-1")
	if diff := cmp.Diff(*bare, got); diff != "" {
		t.Errorf("Run(eval-1) mismatch (-want +got):\n%s", diff)
	}
	if got.Params != nil {
		t.Errorf("Run(eval-1).Params = %q, want nil", got.Params)
	}

	if err := s.CreateRun(t.Context(), nil); ethos.KindOf(err) != ethos.Invalid {
		t.Errorf("CreateRun(nil) = %v, want kind invalid", err)
	}
	wantKind(t, "CreateRun(empty ID)", s.CreateRun(t.Context(), &ethos.Run{Kind: "generate"}), ethos.Invalid)
}

func testRunsListing(t *testing.T, s ethos.Store) {
	// Created out of time order.
	for _, sp := range []struct {
		id, kind string
		at       time.Duration
	}{
		{"g2", "generate", 2 * time.Minute},
		{"e1", "eval", time.Minute},
		{"g0", "generate", 0},
		{"g3", "generate", 3 * time.Minute},
		{"e4", "eval", 4 * time.Minute},
	} {
		r := newRun(sp.id, sp.kind)
		r.CreatedAt = base.Add(sp.at)
		createRun(t, s, r)
	}
	tests := []struct {
		name  string
		kind  string
		limit int
		want  []string
	}{
		{"all newest first", "", 0, []string{"e4", "g3", "g2", "e1", "g0"}},
		{"kind", "generate", 0, []string{"g3", "g2", "g0"}},
		{"limit", "", 2, []string{"e4", "g3"}},
		{"kind and limit", "eval", 1, []string{"e4"}},
		{"limit above count", "eval", 10, []string{"e4", "e1"}},
		{"no match", "finetune", 0, []string{}},
	}
	for _, tt := range tests {
		runs, err := s.Runs(t.Context(), tt.kind, tt.limit)
		if err != nil {
			t.Fatalf("Runs(%s): %v", tt.name, err)
		}
		got := []string{}
		for _, r := range runs {
			got = append(got, r.ID)
			if r.Kind == "" || r.ConfigHash != "cfg-"+r.ID {
				t.Errorf("Runs(%s): run %s read back as %+v", tt.name, r.ID, r)
			}
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Runs(%s) IDs mismatch (-want +got):\n%s", tt.name, diff)
		}
	}
}

func testDuplicateRun(t *testing.T, s ethos.Store) {
	first := newRun("r1", "generate")
	first.Params = json.RawMessage(`{"n":1}`)
	createRun(t, s, first)
	second := newRun("r1", "eval")
	second.Params = json.RawMessage(`{"n":2}`)
	wantKind(t, "CreateRun(duplicate)", s.CreateRun(t.Context(), second), ethos.Conflict)
	if diff := cmp.Diff(*first, getRun(t, s, "r1"), cmpJSON); diff != "" {
		t.Errorf("a duplicate CreateRun changed the run (-want +got):\n%s", diff)
	}
}

func testUnknownRun(t *testing.T, s ethos.Store) {
	ctx := t.Context()
	_, err := s.Run(ctx, "nope")
	wantKind(t, "Run(nope)", err, ethos.NotFound)
	_, err = s.RunStatus(ctx, "nope")
	wantKind(t, "RunStatus(nope)", err, ethos.NotFound)
	wantKind(t, "SetRunStatus(nope)", s.SetRunStatus(ctx, "nope", ethos.RunFailed, "x"), ethos.NotFound)
	if runs, err := s.Runs(ctx, "", 0); err != nil || len(runs) != 0 {
		t.Errorf("Runs on an empty store = %v, %v; want none", runs, err)
	}
	if counts, err := s.CountItems(ctx, "nope"); err != nil || len(counts) != 0 {
		t.Errorf("CountItems(nope) = %v, %v; want none", counts, err)
	}
	if items := listItems(t, s, ethos.ItemFilter{RunID: "nope"}); len(items) != 0 {
		t.Errorf("Items(nope) = %v, want none", items)
	}
}

func testSetRunStatus(t *testing.T, s ethos.Store) {
	ctx := t.Context()
	r := newRun("r1", "generate")
	r.CreatedAt = base
	createRun(t, s, r)

	before := now()
	if err := s.SetRunStatus(ctx, "r1", ethos.RunFailed, "budget: run would pass $5.00"); err != nil {
		t.Fatalf("SetRunStatus(failed): %v", err)
	}
	failed := getRun(t, s, "r1")
	want := *r
	want.Status, want.Error, want.UpdatedAt = ethos.RunFailed, "budget: run would pass $5.00", failed.UpdatedAt
	if diff := cmp.Diff(want, failed); diff != "" {
		t.Errorf("run after SetRunStatus(failed) mismatch (-want +got):\n%s", diff)
	}
	if status, err := s.RunStatus(ctx, "r1"); err != nil || status != ethos.RunFailed {
		t.Errorf("RunStatus after SetRunStatus(failed) = %q, %v; want %q", status, err, ethos.RunFailed)
	}
	if failed.UpdatedAt.Before(before) || failed.UpdatedAt.Location() != time.UTC {
		t.Errorf("UpdatedAt = %v, want UTC and not before %v", failed.UpdatedAt, before)
	}

	// Resuming clears the error; UpdatedAt never goes back.
	if err := s.SetRunStatus(ctx, "r1", ethos.RunRunning, ""); err != nil {
		t.Fatalf("SetRunStatus(running): %v", err)
	}
	resumed := getRun(t, s, "r1")
	if status, err := s.RunStatus(ctx, "r1"); err != nil || status != ethos.RunRunning {
		t.Errorf("RunStatus after SetRunStatus(running) = %q, %v; want %q", status, err, ethos.RunRunning)
	}
	if resumed.Status != ethos.RunRunning || resumed.Error != "" {
		t.Errorf("resumed run: status %q, error %q; want running and no error", resumed.Status, resumed.Error)
	}
	if resumed.UpdatedAt.Before(failed.UpdatedAt) || !resumed.CreatedAt.Equal(base) {
		t.Errorf("resumed run: CreatedAt %v, UpdatedAt %v; want %v and not before %v", resumed.CreatedAt, resumed.UpdatedAt, base, failed.UpdatedAt)
	}
}

func testInvalidJSON(t *testing.T, s ethos.Store) {
	ctx := t.Context()
	bad := newRun("bad", "generate")
	bad.Params = json.RawMessage(`{"ideas": 40`)
	wantKind(t, "CreateRun(invalid params)", s.CreateRun(ctx, bad), ethos.Invalid)
	_, err := s.Run(ctx, "bad")
	wantKind(t, "Run after a rejected CreateRun", err, ethos.NotFound)

	createRun(t, s, newRun("r1", "generate"))
	_, err = s.PutItem(ctx, &ethos.Item{RunID: "r1", Stage: "idea", Key: "k", Data: json.RawMessage(`not json`)})
	wantKind(t, "PutItem(invalid data)", err, ethos.Invalid)
	if items := listItems(t, s, ethos.ItemFilter{}); len(items) != 0 {
		t.Errorf("a rejected PutItem stored %d items", len(items))
	}

	it := &ethos.Item{RunID: "r1", Stage: "idea", Key: "k", Data: json.RawMessage(`{"ok":true}`)}
	putItem(t, s, it)
	stored := *it
	it.Status, it.Data = ethos.ItemAccepted, json.RawMessage(`{"ok":`)
	wantKind(t, "UpdateItem(invalid data)", s.UpdateItem(ctx, it), ethos.Invalid)
	if diff := cmp.Diff(stored, getItem(t, s, it.ID), cmpJSON); diff != "" {
		t.Errorf("a rejected UpdateItem changed the item (-want +got):\n%s", diff)
	}
}

func testPutItemIdempotent(t *testing.T, s ethos.Store) {
	ctx := t.Context()
	createRun(t, s, newRun("r1", "generate"))
	createRun(t, s, newRun("r2", "generate"))

	before := now()
	first := &ethos.Item{RunID: "r1", Stage: "idea", Key: "idea/03-honesty/1", Data: json.RawMessage(`{"idea":"first"}`)}
	if !putItem(t, s, first) {
		t.Fatal("first PutItem: created = false")
	}
	if first.ID == 0 || first.Status != ethos.ItemPending {
		t.Errorf("first PutItem: ID %d, status %q; want an ID and pending", first.ID, first.Status)
	}
	if first.CreatedAt.Before(before) || !first.UpdatedAt.Equal(first.CreatedAt) {
		t.Errorf("first PutItem: CreatedAt %v, UpdatedAt %v; want not before %v and equal", first.CreatedAt, first.UpdatedAt, before)
	}
	if diff := cmp.Diff(*first, getItem(t, s, first.ID), cmpJSON); diff != "" {
		t.Errorf("Item after PutItem mismatch (-want +got):\n%s", diff)
	}

	// The item moves on; putting the key again returns it as it is now,
	// not what the second caller brought.
	first.Status, first.Attempt, first.Data = ethos.ItemAccepted, 2, json.RawMessage(`{"idea":"revised"}`)
	if err := s.UpdateItem(ctx, first); err != nil {
		t.Fatalf("UpdateItem: %v", err)
	}
	again := &ethos.Item{
		RunID: "r1", Stage: "document", Key: "idea/03-honesty/1", Attempt: 7,
		Status: ethos.ItemRejected, Reason: "other", Data: json.RawMessage(`{"idea":"second"}`),
	}
	if putItem(t, s, again) {
		t.Error("second PutItem with the same key: created = true")
	}
	if diff := cmp.Diff(*first, *again, cmpJSON); diff != "" {
		t.Errorf("second PutItem did not load the stored item (-stored +loaded):\n%s", diff)
	}
	if n := len(listItems(t, s, ethos.ItemFilter{RunID: "r1"})); n != 1 {
		t.Errorf("run r1 has %d items, want 1", n)
	}

	// Keys are unique per run, not across runs.
	other := &ethos.Item{RunID: "r2", Stage: "idea", Key: "idea/03-honesty/1"}
	if !putItem(t, s, other) {
		t.Error("PutItem of the same key in another run: created = false")
	}
	if other.ID == first.ID {
		t.Errorf("items of two runs share ID %d", other.ID)
	}

	if _, err := s.PutItem(ctx, nil); ethos.KindOf(err) != ethos.Invalid {
		t.Errorf("PutItem(nil) = %v, want kind invalid", err)
	}
}

func testPutItemUnknownRun(t *testing.T, s ethos.Store) {
	ctx := t.Context()
	orphan := &ethos.Item{RunID: "nope", Stage: "idea", Key: "k"}
	_, err := s.PutItem(ctx, orphan)
	wantKind(t, "PutItem(unknown run)", err, ethos.NotFound)
	if orphan.ID != 0 {
		t.Errorf("a failed PutItem set ID %d", orphan.ID)
	}

	createRun(t, s, newRun("r1", "generate"))
	_, err = s.PutItem(ctx, &ethos.Item{RunID: "r1", Stage: "document", Key: "doc", ParentID: 424242})
	wantKind(t, "PutItem(unknown parent)", err, ethos.NotFound)
	if items := listItems(t, s, ethos.ItemFilter{}); len(items) != 0 {
		t.Errorf("failed PutItems stored %d items", len(items))
	}
}

func testUpdateItem(t *testing.T, s ethos.Store) {
	ctx := t.Context()
	createRun(t, s, newRun("r1", "generate"))
	idea := &ethos.Item{RunID: "r1", Stage: "idea", Key: "idea/1"}
	putItem(t, s, idea)
	doc := &ethos.Item{RunID: "r1", Stage: "document", Key: "doc/idea/1/0", ParentID: idea.ID, Data: json.RawMessage(`{"draft":1}`)}
	putItem(t, s, doc)

	before := now()
	doc.Status, doc.Reason, doc.Attempt = ethos.ItemRejected, "judge: off-character", 1
	doc.Data = json.RawMessage(`{"draft":2,"text":"Patience is…"}`)
	if err := s.UpdateItem(ctx, doc); err != nil {
		t.Fatalf("UpdateItem: %v", err)
	}
	if doc.UpdatedAt.Before(before) || doc.UpdatedAt.Before(doc.CreatedAt) {
		t.Errorf("UpdatedAt = %v, want not before %v", doc.UpdatedAt, before)
	}
	if diff := cmp.Diff(*doc, getItem(t, s, doc.ID), cmpJSON); diff != "" {
		t.Errorf("Item after UpdateItem mismatch (-want +got):\n%s", diff)
	}

	// Quarantine with the data cleared: no data reads back as nil.
	doc.Status, doc.Reason, doc.Attempt, doc.Data = ethos.ItemQuarantined, "3 attempts rejected", 3, nil
	if err := s.UpdateItem(ctx, doc); err != nil {
		t.Fatalf("UpdateItem(quarantine): %v", err)
	}
	got := getItem(t, s, doc.ID)
	if diff := cmp.Diff(*doc, got); diff != "" {
		t.Errorf("Item after quarantine mismatch (-want +got):\n%s", diff)
	}
	if got.Data != nil {
		t.Errorf("cleared Data reads back as %q, want nil", got.Data)
	}

	// Only status, reason, attempt and data change.
	moved := *idea
	moved.RunID, moved.Stage, moved.Key, moved.Status = "r2", "other", "other", ethos.ItemAccepted
	if err := s.UpdateItem(ctx, &moved); err != nil {
		t.Fatalf("UpdateItem(idea): %v", err)
	}
	want := *idea
	want.Status, want.UpdatedAt = ethos.ItemAccepted, moved.UpdatedAt
	if diff := cmp.Diff(want, getItem(t, s, idea.ID)); diff != "" {
		t.Errorf("UpdateItem changed more than it saves (-want +got):\n%s", diff)
	}

	wantKind(t, "UpdateItem(unknown ID)", s.UpdateItem(ctx, &ethos.Item{ID: 424242, Status: ethos.ItemAccepted}), ethos.NotFound)
	wantKind(t, "UpdateItem(nil)", s.UpdateItem(ctx, nil), ethos.Invalid)
	_, err := s.Item(ctx, 424242)
	wantKind(t, "Item(unknown ID)", err, ethos.NotFound)
}

func testItemsFilter(t *testing.T, s ethos.Store) {
	createRun(t, s, newRun("r1", "generate"))
	createRun(t, s, newRun("r2", "generate"))
	ids := make(map[string]int64)
	put := func(run, stage, key, parent string, status ethos.ItemStatus) {
		it := &ethos.Item{RunID: run, Stage: stage, Key: key, ParentID: ids[parent], Status: status,
			Data: json.RawMessage(fmt.Sprintf(`{"key":%q}`, key))}
		putItem(t, s, it)
		ids[key] = it.ID
	}
	put("r1", "idea", "i1", "", ethos.ItemAccepted)
	put("r1", "idea", "i2", "", ethos.ItemAccepted)
	put("r2", "idea", "x1", "", ethos.ItemAccepted)
	put("r1", "document", "d1a", "i1", ethos.ItemAccepted)
	put("r1", "document", "d1b", "i1", ethos.ItemQuarantined)
	put("r1", "document", "d2a", "i2", ethos.ItemPending)
	put("r2", "document", "xd", "x1", ethos.ItemPending)
	put("r1", "response", "r1a", "d1a", ethos.ItemPending)
	put("r1", "idea", "i3", "", ethos.ItemRejected)

	tests := []struct {
		name string
		f    ethos.ItemFilter
		want []string
	}{
		{"everything in ID order", ethos.ItemFilter{}, []string{"i1", "i2", "x1", "d1a", "d1b", "d2a", "xd", "r1a", "i3"}},
		{"run", ethos.ItemFilter{RunID: "r2"}, []string{"x1", "xd"}},
		{"stage", ethos.ItemFilter{RunID: "r1", Stage: "idea"}, []string{"i1", "i2", "i3"}},
		{"stage across runs", ethos.ItemFilter{Stage: "document"}, []string{"d1a", "d1b", "d2a", "xd"}},
		{"status", ethos.ItemFilter{RunID: "r1", Status: ethos.ItemPending}, []string{"d2a", "r1a"}},
		{"stage and status", ethos.ItemFilter{RunID: "r1", Stage: "document", Status: ethos.ItemAccepted}, []string{"d1a"}},
		{"parent", ethos.ItemFilter{ParentID: ids["i1"]}, []string{"d1a", "d1b"}},
		{"parent and status", ethos.ItemFilter{ParentID: ids["i1"], Status: ethos.ItemQuarantined}, []string{"d1b"}},
		{"after", ethos.ItemFilter{RunID: "r1", AfterID: ids["d1a"]}, []string{"d1b", "d2a", "r1a", "i3"}},
		{"after the last", ethos.ItemFilter{AfterID: ids["i3"]}, []string{}},
		{"limit", ethos.ItemFilter{RunID: "r1", Limit: 2}, []string{"i1", "i2"}},
		{"after and limit", ethos.ItemFilter{RunID: "r1", AfterID: ids["i2"], Limit: 2}, []string{"d1a", "d1b"}},
		{"limit above count", ethos.ItemFilter{RunID: "r2", Limit: 50}, []string{"x1", "xd"}},
		{"everything combined", ethos.ItemFilter{RunID: "r1", Stage: "document", Status: ethos.ItemAccepted, ParentID: ids["i1"], AfterID: ids["i1"], Limit: 1}, []string{"d1a"}},
		{"no match", ethos.ItemFilter{RunID: "r1", Stage: "judgment"}, []string{}},
	}
	for _, tt := range tests {
		got := []string{}
		for _, it := range listItems(t, s, tt.f) {
			got = append(got, it.Key)
			// Every field is the item's own, whatever the filter.
			if diff := cmp.Diff(getItem(t, s, it.ID), it, cmpJSON); diff != "" {
				t.Errorf("Items(%s): item %s differs from Item (-Item +listed):\n%s", tt.name, it.Key, diff)
			}
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Items(%s) keys mismatch (-want +got):\n%s", tt.name, diff)
		}
	}

	// Paging with AfterID and Limit visits every item once, in order.
	// A store that ignored AfterID would page for ever, so the pages are
	// bounded by the 7 items of r1.
	var paged []ethos.Item
	after := int64(0)
	for range 4 {
		page := listItems(t, s, ethos.ItemFilter{RunID: "r1", AfterID: after, Limit: 3})
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		after = page[len(page)-1].ID
	}
	if diff := cmp.Diff(listItems(t, s, ethos.ItemFilter{RunID: "r1"}), paged, cmpJSON); diff != "" {
		t.Errorf("paged items differ from the full listing (-full +paged):\n%s", diff)
	}

	// NoData lists the same items without their payloads.
	lean := listItems(t, s, ethos.ItemFilter{RunID: "r1", Stage: "idea", NoData: true})
	if len(lean) != 3 {
		t.Fatalf("Items(NoData) = %d items, want 3", len(lean))
	}
	for _, it := range lean {
		want := getItem(t, s, it.ID)
		want.Data = nil
		if diff := cmp.Diff(want, it); diff != "" {
			t.Errorf("Items(NoData) item %s: want every field but Data (-want +got):\n%s", it.Key, diff)
		}
	}

	// Listed items are whole.
	full := listItems(t, s, ethos.ItemFilter{ParentID: ids["d1a"]})
	if len(full) != 1 {
		t.Fatalf("Items(parent d1a) = %d items, want 1", len(full))
	}
	if diff := cmp.Diff(getItem(t, s, ids["r1a"]), full[0], cmpJSON); diff != "" {
		t.Errorf("listed item differs from Item (-Item +listed):\n%s", diff)
	}
	if full[0].ParentID != ids["d1a"] || string(full[0].Data) == "" {
		t.Errorf("listed item lost its parent or data: %+v", full[0])
	}
}

func testCountItems(t *testing.T, s ethos.Store) {
	createRun(t, s, newRun("r1", "generate"))
	createRun(t, s, newRun("r2", "generate"))
	createRun(t, s, newRun("empty", "generate"))
	n := 0
	put := func(run, stage string, status ethos.ItemStatus, count int) {
		for range count {
			n++
			putItem(t, s, &ethos.Item{RunID: run, Stage: stage, Key: fmt.Sprintf("k%d", n), Status: status})
		}
	}
	put("r1", "response", ethos.ItemPending, 2)
	put("r1", "idea", ethos.ItemAccepted, 3)
	put("r1", "document", ethos.ItemQuarantined, 1)
	put("r1", "document", ethos.ItemAccepted, 4)
	put("r2", "idea", ethos.ItemAccepted, 5)
	put("r1", "idea", ethos.ItemAccepted, 1)

	tests := []struct {
		run  string
		want []ethos.ItemCount
	}{
		{"r1", []ethos.ItemCount{
			{Stage: "document", Status: ethos.ItemAccepted, Count: 4},
			{Stage: "document", Status: ethos.ItemQuarantined, Count: 1},
			{Stage: "idea", Status: ethos.ItemAccepted, Count: 4},
			{Stage: "response", Status: ethos.ItemPending, Count: 2},
		}},
		{"r2", []ethos.ItemCount{{Stage: "idea", Status: ethos.ItemAccepted, Count: 5}}},
		{"empty", nil},
	}
	for _, tt := range tests {
		got, err := s.CountItems(t.Context(), tt.run)
		if err != nil {
			t.Fatalf("CountItems(%s): %v", tt.run, err)
		}
		if diff := cmp.Diff(tt.want, got, cmpEmpty); diff != "" {
			t.Errorf("CountItems(%s) mismatch (-want +got):\n%s", tt.run, diff)
		}
	}
}

func testCountItemsByKeySegment(t *testing.T, s ethos.Store) {
	createRun(t, s, newRun("r1", "generate"))
	createRun(t, s, newRun("r2", "generate"))
	createRun(t, s, newRun("empty", "generate"))
	put := func(run, stage string, status ethos.ItemStatus, keys ...string) {
		for _, key := range keys {
			putItem(t, s, &ethos.Item{RunID: run, Stage: stage, Key: key, Status: status})
		}
	}
	// Categories whose keys share a prefix ("01-care", "01-care-2",
	// "01-car"), keys of one or two segments, an empty segment, and a
	// segment of multi-byte characters.
	put("r1", "idea", ethos.ItemAccepted,
		"idea/01-care/000/0", "idea/01-care/000/1", "idea/01-care/001/0",
		"idea/01-care-2/000/0", "idea/01-car/000/0",
		"idea", "idea/solo", "idea//000/0", "idea/02-ça-été/000/0")
	put("r1", "idea", ethos.ItemRejected, "idea/01-care/000/2", "idea/03-other/000/0")
	put("r1", "response", ethos.ItemAccepted, "resp/01-care/000/0/1")
	put("r2", "idea", ethos.ItemAccepted, "idea/01-care/000/0")

	tests := []struct {
		run, stage string
		status     ethos.ItemStatus
		want       map[string]int
	}{
		{"r1", "idea", ethos.ItemAccepted, map[string]int{
			"01-care": 3, "01-care-2": 1, "01-car": 1, "": 2, "solo": 1, "02-ça-été": 1,
		}},
		{"r1", "idea", ethos.ItemRejected, map[string]int{"01-care": 1, "03-other": 1}},
		{"r1", "response", ethos.ItemAccepted, map[string]int{"01-care": 1}},
		{"r1", "document", ethos.ItemAccepted, nil},
		{"r2", "idea", ethos.ItemAccepted, map[string]int{"01-care": 1}},
		{"empty", "idea", ethos.ItemAccepted, nil},
		{"nope", "idea", ethos.ItemAccepted, nil},
	}
	for _, tt := range tests {
		got, err := s.CountItemsByKeySegment(t.Context(), tt.run, tt.stage, tt.status)
		if err != nil {
			t.Fatalf("CountItemsByKeySegment(%s, %s, %s): %v", tt.run, tt.stage, tt.status, err)
		}
		if diff := cmp.Diff(tt.want, got, cmpEmpty); diff != "" {
			t.Errorf("CountItemsByKeySegment(%s, %s, %s) mismatch (-want +got):\n%s", tt.run, tt.stage, tt.status, diff)
		}
	}
}

func testConcurrentPutSameKey(t *testing.T, s ethos.Store) {
	const workers = 16
	ctx := t.Context()
	createRun(t, s, newRun("r1", "generate"))
	start := make(chan struct{})
	var wg sync.WaitGroup
	items := make([]*ethos.Item, workers)
	created := make([]bool, workers)
	errs := make([]error, workers)
	for w := range workers {
		items[w] = &ethos.Item{RunID: "r1", Stage: "idea", Key: "same", Attempt: w, Data: json.RawMessage(fmt.Sprintf(`{"worker":%d}`, w))}
		wg.Go(func() {
			<-start
			created[w], errs[w] = s.PutItem(ctx, items[w])
		})
	}
	close(start)
	wg.Wait()

	winner := -1
	for w := range workers {
		if errs[w] != nil {
			t.Errorf("worker %d: PutItem: %v", w, errs[w])
			continue
		}
		if created[w] {
			if winner >= 0 {
				t.Errorf("workers %d and %d both created the item", winner, w)
			}
			winner = w
		}
	}
	if winner < 0 {
		t.Fatal("no worker created the item")
	}
	stored := getItem(t, s, items[winner].ID)
	if stored.Attempt != winner {
		t.Errorf("stored item has the attempt of worker %d, want the creator's (%d)", stored.Attempt, winner)
	}
	for w, it := range items {
		if errs[w] != nil {
			continue
		}
		if diff := cmp.Diff(stored, *it, cmpJSON); diff != "" {
			t.Errorf("worker %d holds a different item than the stored one (-stored +held):\n%s", w, diff)
		}
	}
	if n := len(listItems(t, s, ethos.ItemFilter{RunID: "r1"})); n != 1 {
		t.Errorf("run has %d items, want 1", n)
	}
}

func testConcurrentPutDistinct(t *testing.T, s ethos.Store) {
	const workers, perWorker = 16, 25
	ctx := t.Context()
	createRun(t, s, newRun("r1", "generate"))
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker)
	ids := make([][]int64, workers)
	for w := range workers {
		wg.Go(func() {
			<-start
			for i := range perWorker {
				it := &ethos.Item{RunID: "r1", Stage: fmt.Sprintf("s%d", w%2), Key: fmt.Sprintf("w%02d-%02d", w, i)}
				created, err := s.PutItem(ctx, it)
				if err != nil {
					errs <- err
					continue
				}
				if !created {
					errs <- fmt.Errorf("PutItem(%s): created = false for a new key", it.Key)
				}
				ids[w] = append(ids[w], it.ID)
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	seen := make(map[int64]bool)
	for _, ws := range ids {
		for _, id := range ws {
			if seen[id] {
				t.Errorf("ID %d given to two items", id)
			}
			seen[id] = true
		}
	}
	got := listItems(t, s, ethos.ItemFilter{RunID: "r1"})
	if len(got) != workers*perWorker {
		t.Fatalf("run has %d items, want %d", len(got), workers*perWorker)
	}
	keySeen := make(map[string]bool)
	for _, it := range got {
		keySeen[it.Key] = true
		if !seen[it.ID] {
			t.Errorf("item %s has ID %d, not one PutItem returned", it.Key, it.ID)
		}
	}
	for w := range workers {
		for i := range perWorker {
			if k := fmt.Sprintf("w%02d-%02d", w, i); !keySeen[k] {
				t.Errorf("item %s missing", k)
			}
		}
	}
	counts, err := s.CountItems(ctx, "r1")
	if err != nil {
		t.Fatalf("CountItems: %v", err)
	}
	want := []ethos.ItemCount{
		{Stage: "s0", Status: ethos.ItemPending, Count: workers / 2 * perWorker},
		{Stage: "s1", Status: ethos.ItemPending, Count: workers / 2 * perWorker},
	}
	if diff := cmp.Diff(want, counts); diff != "" {
		t.Errorf("CountItems mismatch (-want +got):\n%s", diff)
	}
}
