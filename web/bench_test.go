package web_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/generate"
	"github.com/ethos-toolkit/ethos/sqlite"
	"github.com/ethos-toolkit/ethos/web"
)

// benchExamples is the size of the store the page benchmarks run on.
const benchExamples = 100_000

// benchSeedVersion names the shape of the benchmark store; change it when
// bigStore changes, so a kept store file is not reused.
const benchSeedVersion = 1

// bigStore is a store holding one generation run of benchExamples accepted
// examples (with their idea batches, ideas, documents, replies, 5% rejected
// and 1% quarantined attempts and a ledger call for each), a fine-tune job
// with 1,000 events, and an eval of 200 prompts, two models and three
// traits judged in both orders. Building it takes minutes, so it is kept:
// in $ETHOS_BENCH_DIR when set (reused by later runs), else in a temporary
// directory removed at the end.
func bigStore(b *testing.B) (*sqlite.DB, benchIDs) {
	b.Helper()
	dir := os.Getenv("ETHOS_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	path := filepath.Join(dir, fmt.Sprintf("web-bench-%d-v%d.db", benchExamples, benchSeedVersion))
	ids := benchIDs{run: "gen-bench", job: "ft-bench", eval: "eval-bench"}
	_, statErr := os.Stat(path)
	ctx := context.Background()
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if statErr == nil {
		if err := findIDs(ctx, db, &ids); err == nil {
			return db, ids
		}
		b.Fatalf("%s exists but is not a complete benchmark store; remove it", path)
	}
	began := time.Now()
	seedBig(b, db, &ids)
	b.Logf("seeded %d examples into %s in %s", benchExamples, path, time.Since(began).Round(time.Second))
	return db, ids
}

type benchIDs struct {
	run, job, eval string
	reply          int64
}

func findIDs(ctx context.Context, db *sqlite.DB, ids *benchIDs) error {
	if _, err := db.Run(ctx, ids.eval); err != nil {
		return err
	}
	items, err := db.Items(ctx, ethos.ItemFilter{RunID: ids.run, Stage: "response", Status: ethos.ItemAccepted, Limit: 1, AfterID: 100_000})
	if err != nil || len(items) == 0 {
		return fmt.Errorf("no reply: %v", err)
	}
	ids.reply = items[0].ID
	return nil
}

// words makes n words of plausible text.
func words(r *rand.Rand, n int) string {
	vocab := strings.Fields("the team budget quarter plan meeting memo risk goal question answer people week month data report project help need want think start first next clear fair time cost")
	var sb strings.Builder
	for i := range n {
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(vocab[r.IntN(len(vocab))])
	}
	return sb.String()
}

func seedBig(b *testing.B, db *sqlite.DB, ids *benchIDs) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(1, 2))
	ch := ethos.Character{Name: "Agora", Traits: []ethos.Trait{{Name: "collaborative"}, {Name: "inquisitive"}, {Name: "cautious"}, {Name: "encouraging"}, {Name: "thorough"}}}
	for i := range 20 {
		ch.Categories = append(ch.Categories, ethos.Category{Name: fmt.Sprintf("category %02d", i), Hard: i%5 == 0})
	}
	start := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	settings := generate.Settings{Examples: benchExamples, Seed: 1, Output: "data/agora.jsonl", Character: ch}
	if err := db.CreateRun(ctx, &ethos.Run{ID: ids.run, Kind: "generate", Status: ethos.RunCompleted, Params: mustJSON(b, settings),
		CreatedAt: start, UpdatedAt: start.Add(10 * time.Hour)}); err != nil {
		b.Fatal(err)
	}
	// Calls are recorded by parallel writers, as the pipeline's workers do.
	calls := make(chan *ethos.Call, 256)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for c := range calls {
				if err := db.RecordCall(ctx, c); err != nil {
					b.Error(err)
				}
			}
		})
	}
	n := 0
	at := func() time.Time { n++; return start.Add(time.Duration(n) * 100 * time.Millisecond) }
	call := func(stage, text string, t time.Time) {
		calls <- &ethos.Call{Key: fmt.Sprintf("k%d", n), Provider: "sandbox", Model: "sandbox/writer", RunID: ids.run, Stage: stage,
			Request:  ethos.Request{Model: "sandbox/writer", MaxTokens: 4000, Messages: []ethos.Message{{Role: ethos.RoleUser, Content: words(r, 80)}}},
			Response: &ethos.Response{Text: text, StopReason: ethos.StopEnd, Usage: ethos.Usage{In: 400, Out: len(text) / 4}},
			Usage:    ethos.Usage{In: 400, Out: len(text) / 4}, CostUSD: 0.002, Latency: time.Second, Attempts: 1, CreatedAt: t}
	}
	put := func(it ethos.Item, data any) int64 {
		it.RunID = ids.run
		if data != nil {
			it.Data = mustJSON(b, data)
		}
		if it.Attempt == 0 {
			it.Attempt = 1
		}
		if _, err := db.PutItem(ctx, &it); err != nil {
			b.Fatal(err)
		}
		return it.ID
	}
	const perBatch = 5
	for i := 0; i < benchExamples; i += perBatch {
		cat := ch.Categories[(i/perBatch)%len(ch.Categories)].Name
		t := at()
		batch := put(ethos.Item{Stage: "ideas", Key: fmt.Sprintf("ideas/%d", i), Status: ethos.ItemAccepted, CreatedAt: t},
			map[string]any{"category": cat, "batch": i / perBatch, "requested": perBatch, "received": perBatch, "model": "sandbox/writer"})
		call("ideas", words(r, 300), t)
		for j := range perBatch {
			k := i + j
			t := at()
			idea := put(ethos.Item{Stage: "idea", Key: fmt.Sprintf("idea/%d", k), ParentID: batch, Status: ethos.ItemAccepted, CreatedAt: t},
				map[string]any{"category": cat, "batch": i / perBatch, "summary": words(r, 10), "situation": words(r, 50),
					"traits": []string{ch.Traits[k%5].Name, ch.Traits[(k+2)%5].Name}})
			body := words(r, 250+r.IntN(300))
			doc := put(ethos.Item{Stage: "document", Key: fmt.Sprintf("doc/%d", k), ParentID: idea, Status: ethos.ItemAccepted, CreatedAt: at()},
				map[string]any{"title": words(r, 6), "type": []string{"memo", "email", "report", "chat log"}[k%4], "body": body, "model": "sandbox/writer", "stop_reason": "end_turn"})
			call("document", body, t)
			if k%20 == 0 { // 5%: a reply rejected and written again
				reply := words(r, 150)
				put(ethos.Item{Stage: "response", Key: fmt.Sprintf("reply/%d#1", k), ParentID: doc, Status: ethos.ItemRejected, CreatedAt: at(),
					Reason: fmt.Sprintf("near-duplicate: of reply #%d (similarity 0.9%d)", max(doc-3, 1), k%10)},
					map[string]any{"reply": reply, "model": "sandbox/writer"})
				call("response", reply, t)
			}
			if k%100 == 50 { // 1%: an attempt quarantined
				put(ethos.Item{Stage: "response", Key: fmt.Sprintf("reply/%d#q", k), ParentID: doc, Attempt: 3, Status: ethos.ItemQuarantined, CreatedAt: at(),
					Reason: "persona_break: the reply says it is an AI language model"}, map[string]any{"reply": words(r, 100), "model": "sandbox/writer"})
			}
			reply := words(r, 150+r.IntN(200))
			put(ethos.Item{Stage: "response", Key: fmt.Sprintf("reply/%d", k), ParentID: doc, Status: ethos.ItemAccepted, CreatedAt: at()},
				map[string]any{"reply": reply, "model": "sandbox/writer", "stop_reason": "end_turn"})
			call("response", reply, t)
		}
	}
	close(calls)
	wg.Wait()

	loss := func(v float64) *float64 { return &v }
	if err := db.PutJob(ctx, &ethos.FineTuneJob{ID: ids.job, Provider: "sandbox", BaseModel: "sandbox/base", Status: "running", State: ethos.FineTuneRunning,
		RunID: ids.run, DatasetPath: "data/agora.jsonl", Progress: ethos.FineTuneProgress{Step: 1000, TotalSteps: 3000}, CreatedAt: start}); err != nil {
		b.Fatal(err)
	}
	var events []ethos.FineTuneEvent
	for i := range 1000 {
		events = append(events, ethos.FineTuneEvent{ProviderID: fmt.Sprint(i), CreatedAt: start.Add(time.Duration(i) * time.Second), Level: "info",
			Type: "metrics", Message: fmt.Sprintf("step %d", i+1), Step: i + 1, Loss: loss(2.5 / float64(i+1))})
	}
	if _, err := db.AddEvents(ctx, ids.job, events); err != nil {
		b.Fatal(err)
	}
	if err := db.PutModel(ctx, &ethos.Model{Name: "sandbox/ft-bench", Provider: "sandbox", ProviderModel: "ft-bench", JobID: ids.job, CreatedAt: start}); err != nil {
		b.Fatal(err)
	}

	spec := ethos.EvalSpec{Models: []ethos.EvalModel{{Name: "base", Ref: "sandbox/base"}, {Name: "tuned", Ref: "sandbox/ft-bench"}},
		Judge: "sandbox/judge", Traits: []string{"collaborative", "inquisitive", "cautious"}, Prompts: 200, Samples: 1, Sandbox: true}
	if err := db.CreateRun(ctx, &ethos.Run{ID: ids.eval, Kind: ethos.RunKindEval, Status: ethos.RunCompleted, Params: mustJSON(b, spec), CreatedAt: start}); err != nil {
		b.Fatal(err)
	}
	var prompts []ethos.EvalPrompt
	for p := range 200 {
		prompts = append(prompts, ethos.EvalPrompt{EvalID: ids.eval, Key: fmt.Sprintf("p/%03d", p), Text: words(r, 200), Source: "generated"})
	}
	if err := db.PutEvalPrompts(ctx, prompts); err != nil {
		b.Fatal(err)
	}
	for _, p := range prompts {
		for _, m := range spec.Models {
			if err := db.PutAnswer(ctx, &ethos.Answer{EvalID: ids.eval, PromptKey: p.Key, Model: m.Name, Text: words(r, 250), Status: ethos.AnswerOK}); err != nil {
				b.Fatal(err)
			}
		}
		for _, trait := range append([]string{ethos.TraitOverall}, spec.Traits...) {
			for _, order := range [][2]string{{"base", "tuned"}, {"tuned", "base"}} {
				if err := db.PutJudgment(ctx, &ethos.Judgment{EvalID: ids.eval, PromptKey: p.Key, Trait: trait, First: order[0], Second: order[1],
					Verdict: ethos.Verdict(r.IntN(5) - 2), Reason: words(r, 20), Status: ethos.JudgmentOK, Attempts: 1, Judge: "sandbox/judge"}); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	if err := findIDs(ctx, db, ids); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkPages serves each page of the dashboard over a store of
// 100,000 examples. The target is 200 ms a page. Aggregates that scan the
// whole ledger or run are computed in the background (see snapshots);
// the first request of each page waits for them, and its time is reported
// as first-ms. The loop measures the pages as a watcher sees them: the
// store unchanged, aggregates kept.
func BenchmarkPages(b *testing.B) {
	db, ids := bigStore(b)
	srv, err := web.New(db, web.Options{ComputeWait: 10 * time.Minute, Canceller: func(context.Context, string) error { return nil }})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	for _, p := range []struct{ name, path string }{
		{"overview", "/"},
		{"run", "/runs/" + ids.run},
		{"run-quarantined", "/runs/" + ids.run + "?status=quarantined"},
		{"run-deep-page", fmt.Sprintf("/runs/%s?stage=response&after=%d", ids.run, ids.reply)},
		{"example", fmt.Sprintf("/runs/%s/items/%d", ids.run, ids.reply)},
		{"dataset", "/runs/" + ids.run + "/dataset"},
		{"finetune-job", "/finetune/" + ids.job},
		{"models", "/models"},
		{"eval", "/evals/" + ids.eval},
		{"api-series", "/api/runs/" + ids.run + "/series"},
		{"api-run", "/api/runs/" + ids.run},
		{"metrics", "/metrics"},
	} {
		b.Run(p.name, func(b *testing.B) {
			serveOnce := func() {
				req := httptest.NewRequest("GET", "http://127.0.0.1:8080"+p.path, nil)
				w := httptest.NewRecorder()
				srv.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("GET %s: %d\n%.500s", p.path, w.Code, w.Body)
				}
				if strings.Contains(w.Body.String(), "Computing…") {
					b.Fatalf("GET %s: still computing", p.path)
				}
			}
			began := time.Now()
			serveOnce()
			first := time.Since(began)
			b.ResetTimer()
			for b.Loop() {
				serveOnce()
			}
			b.ReportMetric(float64(first.Microseconds())/1000, "first-ms")
		})
	}
}

// BenchmarkPagesCold serves each page from a dashboard just started, with
// the default ComputeWait: the page does not wait for aggregates longer
// than that, it shows "computing" and fills in when they are done. Each
// iteration is a fresh server (stopped, its computations cancelled, off
// the clock).
func BenchmarkPagesCold(b *testing.B) {
	db, ids := bigStore(b)
	for _, p := range []struct{ name, path string }{
		{"overview", "/"},
		{"run", "/runs/" + ids.run},
		{"dataset", "/runs/" + ids.run + "/dataset"},
		{"api-series", "/api/runs/" + ids.run + "/series"},
		{"eval", "/evals/" + ids.eval},
	} {
		b.Run(p.name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				srv, err := web.New(db, web.Options{})
				if err != nil {
					b.Fatal(err)
				}
				req := httptest.NewRequest("GET", "http://127.0.0.1:8080"+p.path, nil)
				w := httptest.NewRecorder()
				b.StartTimer()
				srv.ServeHTTP(w, req)
				b.StopTimer()
				if w.Code != http.StatusOK {
					b.Fatalf("GET %s: %d", p.path, w.Code)
				}
				srv.Close()
				b.StartTimer()
			}
		})
	}
}
