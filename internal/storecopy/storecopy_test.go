package storecopy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/internal/pgtest"
	"github.com/ethos-toolkit/ethos/internal/storecopy"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func open(t testing.TB, location string) *storecopy.Store {
	t.Helper()
	s, err := storecopy.Open(t.Context(), location)
	if err != nil {
		t.Fatalf("open %s: %v", location, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func store(s *storecopy.Store) ethos.Store {
	if s.Postgres() != nil {
		return s.Postgres()
	}
	return s.SQLite()
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// fill writes a little of everything a project holds through the store
// API: runs and items (a tree, JSON with a NUL and non-ASCII text), calls
// (paid, cached, failed), files, fine-tune jobs and events, models,
// endpoints, an evaluation and batches.
func fill(t *testing.T, s ethos.Store) {
	ctx := t.Context()
	// A time with nanoseconds, which PostgreSQL keeps to the microsecond.
	at := time.Date(2026, 12, 3, 10, 4, 5, 123456789, time.UTC)
	for i, id := range []string{"gen-b", "gen-a", "eval-1"} {
		kind := "generate"
		if strings.HasPrefix(id, "eval") {
			kind = "eval"
		}
		// Equal times: listings break the tie by insertion order.
		r := &ethos.Run{ID: id, Kind: kind, Status: ethos.RunRunning, ConfigHash: "c", Params: json.RawMessage(`{"examples": 8, "name":"Agora ✓"}`), CreatedAt: at, UpdatedAt: at}
		must(t, "create run", s.CreateRun(ctx, r))
		if i == 0 {
			must(t, "run status", s.SetRunStatus(ctx, id, ethos.RunFailed, "out of budget"))
		}
	}
	var parent int64
	for i := range 30 {
		it := &ethos.Item{RunID: "gen-a", Stage: "idea", Key: fmt.Sprintf("idea/%02d", i), Status: ethos.ItemPending,
			Data: json.RawMessage(fmt.Sprintf(`{"text": "idea %d — \u00e9\u0000", "n": %d}`, i, i))}
		if i > 0 {
			it.Stage, it.ParentID = "document", parent
		}
		_, err := s.PutItem(ctx, it)
		must(t, "put item", err)
		if i == 0 {
			parent = it.ID
		}
		if i%3 == 1 {
			it.Status, it.Reason, it.Attempt = ethos.ItemRejected, "placeholder: {name}", 1
			must(t, "update item", s.UpdateItem(ctx, it))
		}
	}
	temp := 0.7
	for i := range 12 {
		c := &ethos.Call{Key: fmt.Sprintf("k%02d", i%10), Provider: "sandbox", Model: "sandbox/m", RunID: "gen-a", Stage: "idea",
			Request:  ethos.Request{Model: "sandbox/m", Messages: []ethos.Message{{Role: "user", Content: "hi\n\"there\""}}, MaxTokens: 100, Temperature: &temp},
			Response: &ethos.Response{Text: "hello", StopReason: "end_turn", Model: "m", Usage: ethos.Usage{In: 3, Out: 5, CacheRead: 2}},
			Usage:    ethos.Usage{In: 3, Out: 5, CacheRead: 2}, CostUSD: 0.000123, Latency: 1234567 * time.Nanosecond, Attempts: 1,
			CacheHit: i >= 10, CreatedAt: at.Add(time.Duration(i) * time.Second)}
		if i == 5 {
			c.Response, c.ErrorKind, c.Error, c.CostUSD = nil, ethos.RateLimited, "429", 0
		}
		must(t, "record call", s.RecordCall(ctx, c))
	}
	must(t, "put file", s.PutFile(ctx, &ethos.File{ID: "file-1", Provider: "sandbox", Purpose: "fine-tune", Name: "agora.jsonl", SHA256: "ab", Bytes: 1000, Lines: 8, CreatedAt: at}))
	loss := 0.25
	for i, id := range []string{"ft-2", "ft-1"} {
		j := &ethos.FineTuneJob{ID: id, Provider: "sandbox", BaseModel: "base", Status: "running", State: ethos.FineTuneRunning, TrainFile: "file-1",
			DatasetPath: "data/agora.jsonl", DatasetSHA256: "ab", RunID: "gen-a", Hyperparameters: ethos.Hyperparameters{Epochs: 3, LoRA: true, LearningRate: 1e-5},
			Progress: ethos.FineTuneProgress{Step: 4, TotalSteps: 10, Loss: &loss}, CreatedAt: at, UpdatedAt: at.Add(time.Duration(i) * time.Millisecond)}
		must(t, "put job", s.PutJob(ctx, j))
		_, err := s.AddEvents(ctx, id, []ethos.FineTuneEvent{
			{ProviderID: "ev-1", CreatedAt: at, Message: "started", Level: "info"},
			{CreatedAt: at.Add(time.Second), Message: "step 4", Step: 4, Loss: &loss},
		})
		must(t, "add events", err)
	}
	for _, name := range []string{"sandbox/agora-2", "sandbox/agora-1"} {
		must(t, "put model", s.PutModel(ctx, &ethos.Model{Name: name, Provider: "sandbox", ProviderModel: name + "-x", BaseModel: "base", JobID: "ft-1",
			Hyperparameters: ethos.Hyperparameters{Epochs: 3}, CostUSD: 1.5, CreatedAt: at, Parent: "sandbox/base"}))
	}
	must(t, "put endpoint", s.PutEndpoint(ctx, &ethos.Endpoint{ID: "endpoint-1", Provider: "sandbox", Name: "agora", Model: "m", Hardware: "1x_h100",
		State: "STARTED", ModelName: "sandbox/agora-1", Attached: true, CentsPerMinute: 5.5, CreatedAt: at, UpdatedAt: at}))
	prompts := []ethos.EvalPrompt{{EvalID: "eval-1", Key: "p/0001", Text: "what now?", Source: "generated"}, {EvalID: "eval-1", Key: "p/0002", Category: "c", Text: "and then?", Source: "generated"}}
	must(t, "eval prompts", s.PutEvalPrompts(ctx, prompts))
	for _, p := range prompts {
		for _, m := range []string{"base", "tuned"} {
			must(t, "answer", s.PutAnswer(ctx, &ethos.Answer{EvalID: "eval-1", PromptKey: p.Key, Model: m, Text: "answer of " + m, Status: ethos.AnswerOK, CreatedAt: at}))
			must(t, "score", s.PutTraitScore(ctx, &ethos.TraitScore{EvalID: "eval-1", PromptKey: p.Key, Model: m, Trait: "warm", Score: 4, Status: ethos.JudgmentOK, CreatedAt: at}))
		}
		must(t, "judgment", s.PutJudgment(ctx, &ethos.Judgment{EvalID: "eval-1", PromptKey: p.Key, Trait: "overall", First: "base", Second: "tuned",
			Verdict: ethos.Worse, Status: ethos.JudgmentOK, Attempts: 1, Judge: "sandbox/judge", CreatedAt: at}))
	}
	for i := range 5 {
		_, err := s.QueueBatchItem(ctx, ethos.BatchItem{Key: fmt.Sprintf("b%d", i), Provider: "sandbox", Model: "sandbox/m", RunID: "gen-a", Stage: "reply",
			Request: ethos.Request{Model: "sandbox/m", Messages: []ethos.Message{{Role: "user", Content: "q"}}, MaxTokens: 10}})
		must(t, "queue", err)
	}
	b, items, err := s.CreateBatch(ctx, "sandbox/m", 3, 1<<20)
	must(t, "create batch", err)
	b.ProviderID, b.State, b.Status, b.SubmittedAt = "batch-x", ethos.BatchInProgress, "in_progress", at
	b.Counts = ethos.BatchCounts{Total: 3, Processing: 3}
	must(t, "update batch", s.UpdateBatch(ctx, b))
	items[0].Outcome, items[0].Response, items[0].AnsweredAt = ethos.BatchSucceeded, &ethos.Response{Text: "a", Batch: "batch-x"}, at
	must(t, "answer batch", s.AnswerBatchItems(ctx, b.ID, items[:1], 3))
}

// contents is what the store API returns of everything fill wrote.
type contents struct {
	Runs        []ethos.Run
	Items       []ethos.Item
	Counts      []ethos.ItemCount
	Calls       []ethos.Call
	Cached      ethos.Response
	File        ethos.File
	Jobs        []ethos.FineTuneJob
	Events      [][]ethos.FineTuneEvent
	Models      []ethos.Model
	Endpoints   []ethos.Endpoint
	Prompts     []ethos.EvalPrompt
	Answers     []ethos.Answer
	Judgments   []ethos.Judgment
	Scores      []ethos.TraitScore
	Batches     []ethos.Batch
	BatchItems  [][]ethos.BatchItem
	QueuedItem  ethos.BatchItem
	QueuedModel []ethos.QueuedBatchModel
}

func read(t *testing.T, s ethos.Store) contents {
	ctx := t.Context()
	var c contents
	var err error
	c.Runs, err = s.Runs(ctx, "", 0)
	must(t, "runs", err)
	c.Items, err = s.Items(ctx, ethos.ItemFilter{RunID: "gen-a"})
	must(t, "items", err)
	c.Counts, err = s.CountItems(ctx, "gen-a")
	must(t, "counts", err)
	c.Calls, err = s.Calls(ctx, ethos.CallFilter{})
	must(t, "calls", err)
	c.Cached, _, err = s.CachedResponse(ctx, "k01")
	must(t, "cached", err)
	c.File, err = s.FileByHash(ctx, "sandbox", "fine-tune", "ab")
	must(t, "file", err)
	c.Jobs, err = s.Jobs(ctx, ethos.FineTuneFilter{})
	must(t, "jobs", err)
	for _, j := range c.Jobs {
		ev, err := s.Events(ctx, j.ID)
		must(t, "events", err)
		c.Events = append(c.Events, ev)
	}
	c.Models, err = s.Models(ctx)
	must(t, "models", err)
	c.Endpoints, err = s.Endpoints(ctx, ethos.EndpointFilter{})
	must(t, "endpoints", err)
	c.Prompts, err = s.EvalPrompts(ctx, "eval-1")
	must(t, "prompts", err)
	c.Answers, err = s.Answers(ctx, "eval-1")
	must(t, "answers", err)
	c.Judgments, err = s.Judgments(ctx, "eval-1")
	must(t, "judgments", err)
	c.Scores, err = s.TraitScores(ctx, "eval-1")
	must(t, "scores", err)
	c.Batches, err = s.Batches(ctx, ethos.BatchFilter{})
	must(t, "batches", err)
	for _, b := range c.Batches {
		its, err := s.BatchItems(ctx, b.ID)
		must(t, "batch items", err)
		c.BatchItems = append(c.BatchItems, its)
	}
	c.QueuedItem, _, err = s.BatchItem(ctx, "b4")
	must(t, "batch item", err)
	c.QueuedModel, err = s.QueuedBatchModels(ctx)
	must(t, "queued models", err)
	return c
}

// toMicro compares times as PostgreSQL keeps them.
var toMicro = cmp.Transformer("micro", func(t time.Time) time.Time { return t.Truncate(time.Microsecond) })

// TestCopyRoundTrip fills a SQLite store through the store API, copies it
// to PostgreSQL and from there to a new SQLite file, and compares what the
// API returns at each step: equal, but for the nanoseconds PostgreSQL does
// not keep.
func TestCopyRoundTrip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src := open(t, "sqlite:"+filepath.Join(dir, "src.db"))
	fill(t, store(src))
	want := read(t, store(src))
	if len(want.Runs) != 3 || len(want.Items) != 30 || len(want.Calls) != 12 || len(want.Batches) != 1 || len(want.Answers) != 4 {
		t.Fatalf("the filled store holds %d runs, %d items, %d calls, %d batches, %d answers", len(want.Runs), len(want.Items), len(want.Calls), len(want.Batches), len(want.Answers))
	}

	pg := open(t, pgtest.URL(t))
	report, err := storecopy.Copy(t.Context(), src, pg)
	must(t, "copy to postgres", err)
	onPG := read(t, store(pg))
	if d := cmp.Diff(want, onPG, toMicro, cmpopts.EquateEmpty()); d != "" {
		t.Errorf("on PostgreSQL (-sqlite +postgres):\n%s", d)
	}
	rows := map[string]int64{}
	for _, tc := range report.Tables {
		rows[tc.Table] = tc.Rows
	}
	for table, n := range map[string]int64{"runs": 3, "items": 30, "llm_calls": 12, "finetune_events": 4, "batch_items": 5, "batches": 1, "answers": 4} {
		if rows[table] != n {
			t.Errorf("report: %s %d rows, want %d (%v)", table, rows[table], n, report.Tables)
		}
	}
	for table := range rows {
		if strings.HasPrefix(table, "river_") || table == "item_counts" || table == "schema_migrations" {
			t.Errorf("copied %s, which a copy leaves alone", table)
		}
	}

	back := open(t, "sqlite:"+filepath.Join(dir, "back.db"))
	_, err = storecopy.Copy(t.Context(), pg, back)
	must(t, "copy back to sqlite", err)
	if d := cmp.Diff(onPG, read(t, store(back)), cmpopts.EquateEmpty()); d != "" {
		t.Errorf("back on SQLite (-postgres +sqlite):\n%s", d)
	}

	// The copies go on as stores: new rows take numbers after the copied.
	it := &ethos.Item{RunID: "gen-a", Stage: "idea", Key: "idea/new", Status: ethos.ItemPending}
	for _, s := range []ethos.Store{store(pg), store(back)} {
		it.ID = 0
		_, err := s.PutItem(t.Context(), it)
		must(t, "put item after copy", err)
		if it.ID <= want.Items[len(want.Items)-1].ID {
			t.Errorf("a new item took ID %d, not after the copied ones", it.ID)
		}
		must(t, "create run after copy", s.CreateRun(t.Context(), &ethos.Run{ID: "gen-new", Kind: "generate", Status: ethos.RunRunning, CreatedAt: time.Now(), UpdatedAt: time.Now()}))
	}
}

// TestCopyRefusesStoreWithData leaves a store that holds data as it was.
func TestCopyRefusesStoreWithData(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src := open(t, "sqlite:"+filepath.Join(dir, "src.db"))
	fill(t, store(src))
	dst := open(t, pgtest.URL(t))
	run := &ethos.Run{ID: "mine", Kind: "generate", Status: ethos.RunRunning, CreatedAt: time.Now(), UpdatedAt: time.Now()}
	must(t, "create run", store(dst).CreateRun(t.Context(), run))
	_, err := storecopy.Copy(t.Context(), src, dst)
	if ethos.KindOf(err) != ethos.Conflict || !strings.Contains(err.Error(), "runs") {
		t.Fatalf("copy into a store with data: %v, want a Conflict naming the table", err)
	}
	runs, err := store(dst).Runs(t.Context(), "", 0)
	must(t, "runs", err)
	if len(runs) != 1 || runs[0].ID != "mine" {
		t.Errorf("the target holds %v after a refused copy", runs)
	}
}

func TestOpenRejectsUnknownLocation(t *testing.T) {
	t.Parallel()
	for _, loc := range []string{"", "sqlite:", "/tmp/x.db", "mysql://h/db"} {
		if _, err := storecopy.Open(context.Background(), loc); ethos.KindOf(err) != ethos.Config {
			t.Errorf("Open(%q): %v, want a Config error", loc, err)
		}
	}
}
