package generate

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/sqlite"
)

// BenchmarkState is one of Drive's looks at a finished run of 10,000
// examples in ten categories (500 idea batches, 10,000 accepted ideas,
// documents and replies), which it takes every tick and whenever a reply
// comes back.
func BenchmarkState(b *testing.B) {
	const examples, categories, perCall = 10_000, 10, 20
	ctx := b.Context()
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "ethos.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var ch ethos.Character
	for i := range categories {
		// Names whose keys share a prefix: "01-care" and "01-care-2"
		// must not count each other's items.
		name := "care"
		if i > 0 {
			name = fmt.Sprintf("care %d", i)
		}
		ch.Categories = append(ch.Categories, ethos.Category{Name: name})
	}
	p := NewPipeline(db, nil, Settings{Examples: examples, Character: ch})
	if err := db.CreateRun(ctx, &ethos.Run{ID: p.runID, Kind: "generate", Status: ethos.RunRunning}); err != nil {
		b.Fatal(err)
	}
	// Filled in one transaction: thirty thousand PutItem commits would
	// measure the setup, not the looks.
	tx, err := db.SQL().BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	insert, err := tx.PrepareContext(ctx, `INSERT INTO items (run_id, stage, key, attempt, status, reason, data, created_at, updated_at)
		VALUES (?, ?, ?, 1, 'accepted', '', ?, '2026-12-03T00:00:00.000000000Z', '2026-12-03T00:00:00.000000000Z')`)
	if err != nil {
		b.Fatal(err)
	}
	add := func(stage, key, data string) {
		if _, err := insert.ExecContext(ctx, p.runID, stage, key, data); err != nil {
			b.Fatal(err)
		}
	}
	body := strings.Repeat("A paragraph of the document or the reply. ", 20)
	quotas := PlanCategories(ch.Categories, examples, nil)
	for _, c := range ch.Categories {
		ck := p.categoryKey(c.Name)
		for batch := range (quotas[c.Name] + perCall - 1) / perCall {
			add(StageIdeas, batchKey(ck, batch, 1), fmt.Sprintf(`{"category":%q,"batch":%d,"requested":%d,"received":%d}`, c.Name, batch, perCall, perCall))
			for i := range perCall {
				idea := fmt.Sprintf("idea/%s/%03d/%d", ck, batch, i)
				add(StageIdea, idea, `{"summary":"an idea","situation":"a situation"}`)
				add(StageDocument, docKey(idea, 1), fmt.Sprintf(`{"body":%q}`, body))
				add(StageResponse, respKey(idea, 1), fmt.Sprintf(`{"reply":%q}`, body))
			}
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		st, err := p.state(ctx, quotas, map[string]int{})
		if err != nil {
			b.Fatal(err)
		}
		if st.counted != examples {
			b.Fatalf("counted %d examples, want %d", st.counted, examples)
		}
		for name, q := range quotas {
			if st.ideas[name] != q || st.examples[name] != q {
				b.Fatalf("%s: %d ideas, %d examples; want %d of each", name, st.ideas[name], st.examples[name], q)
			}
		}
	}
}
