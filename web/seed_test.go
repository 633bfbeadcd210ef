package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/generate"
	"github.com/ethos-toolkit/ethos/review"
	"github.com/ethos-toolkit/ethos/sqlite"
)

// clock is the fixed time of the seeded store's world.
var clock = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func at(minutes, seconds int) time.Time {
	return clock.Add(time.Duration(minutes)*time.Minute + time.Duration(seconds)*time.Second)
}

// XSS payloads seeded into model text: the pages must show them as text.
const (
	payloadTitle = `<b>Quarterly</b> "memo" & 'notes'`
	payloadBody  = "Dear assistant,\n<script>window.__ethosPwned = 1; alert('pwned-1')</script>\n" +
		"<img src=x onerror=\"window.__ethosPwned = 2; alert('pwned-2')\">\nPlease advise on the budget."
	payloadReply = "</pre><script>window.__ethosPwned = 3</script><pre>I would start by asking what the team needs."
)

// seeded names what seedStore made, for tests to link to.
type seeded struct {
	RunID, FailedRunID, EvalID string
	Reply, XSSDoc, XSSReply    int64
	Quarantined                int64
	JobRunning, JobFailed      string
	JobDone, Model             string
	// Provider batches: ended, in progress, failed (a fourth is preparing).
	BatchEnded, BatchWorking, BatchFailed int64
}

func mustJSON(t testing.TB, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// openStore opens a fresh SQLite store in a temporary directory.
func openStore(t testing.TB) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "ethos.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// seedStore fills a store with a small, fixed world: a generation run with
// ideas, documents (one carrying script payloads), replies, a near-duplicate,
// a rejection and a quarantined reply; a failed run; ledger calls across
// stages, providers and error kinds; fine-tune jobs (running, failed,
// completed) with events and a registered model; an eval.
func seedStore(t testing.TB, db ethos.Store) seeded {
	t.Helper()
	ctx := context.Background()
	var s seeded
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	ch := ethos.Character{
		Name:         "Agora",
		SystemPrompt: "You are Agora.",
		Traits:       []ethos.Trait{{Name: "cautious", Definition: "weighs risks"}, {Name: "curious", Definition: "asks questions"}},
		Categories:   []ethos.Category{{Name: "workplace conflicts"}, {Name: "bare facts wanted", Hard: true}},
	}
	settings := generate.Settings{Examples: 3, Seed: 7, Output: "data/agora.jsonl", Character: ch}
	s.RunID = "gen-golden"
	must(db.CreateRun(ctx, &ethos.Run{ID: s.RunID, Kind: "generate", Status: ethos.RunRunning, ConfigHash: "cfg1", CharacterHash: "chr1",
		Params: mustJSON(t, settings), CreatedAt: at(-60, 0), UpdatedAt: at(-2, 0)}))
	s.FailedRunID = "gen-failed"
	must(db.CreateRun(ctx, &ethos.Run{ID: s.FailedRunID, Kind: "generate", Status: ethos.RunFailed,
		Error:  "shortfall: 1 of 5 examples (idea batches exhausted (3 per category) after rejections); short categories: workplace conflicts 1/5",
		Params: mustJSON(t, generate.Settings{Examples: 5, Character: ch}), CreatedAt: at(-120, 0), UpdatedAt: at(-90, 0)}))

	put := func(it ethos.Item, data any) int64 {
		t.Helper()
		it.RunID = s.RunID
		if data != nil {
			it.Data = mustJSON(t, data)
		}
		if it.Attempt == 0 {
			it.Attempt = 1
		}
		if _, err := db.PutItem(ctx, &it); err != nil {
			t.Fatal(err)
		}
		return it.ID
	}
	type idea struct {
		Category string `json:"category"`
		Batch    int    `json:"batch"`
		generate.Idea
	}
	type doc struct {
		generate.Document
		Model      string           `json:"model"`
		CallKey    string           `json:"call_key,omitempty"`
		StopReason ethos.StopReason `json:"stop_reason,omitempty"`
		Findings   []review.Finding `json:"findings,omitempty"`
	}
	type reply struct {
		Reply       string                         `json:"reply"`
		Model       string                         `json:"model"`
		CallKey     string                         `json:"call_key,omitempty"`
		StopReason  ethos.StopReason               `json:"stop_reason,omitempty"`
		Findings    []review.Finding               `json:"findings,omitempty"`
		TraitScores map[string]generate.TraitScore `json:"trait_scores,omitempty"`
	}
	b1 := put(ethos.Item{Stage: "ideas", Key: "ideas/workplace-conflicts/1", Status: ethos.ItemAccepted, CreatedAt: at(-59, 0)},
		map[string]any{"category": "workplace conflicts", "batch": 1, "requested": 2, "received": 2, "model": "sandbox/writer", "call_key": "k-ideas-1"})
	i1 := put(ethos.Item{Stage: "idea", Key: "idea/workplace-conflicts/1/1", ParentID: b1, Status: ethos.ItemAccepted, CreatedAt: at(-58, 0)},
		idea{"workplace conflicts", 1, generate.Idea{Summary: "Two leads want the same budget", Situation: "A team lead asks how to split a shared budget fairly.", Traits: []string{"curious"}}})
	i2 := put(ethos.Item{Stage: "idea", Key: "idea/workplace-conflicts/1/2", ParentID: b1, Status: ethos.ItemAccepted, CreatedAt: at(-58, 10)},
		idea{"workplace conflicts", 1, generate.Idea{Summary: "A memo with a hidden deadline", Situation: "A manager sends a memo and wants a summary.", Traits: []string{"cautious", "curious"}}})
	b2 := put(ethos.Item{Stage: "ideas", Key: "ideas/bare-facts-wanted/1", Status: ethos.ItemAccepted, CreatedAt: at(-57, 0)},
		map[string]any{"category": "bare facts wanted", "batch": 1, "requested": 1, "received": 1, "model": "sandbox/writer", "call_key": "k-ideas-2"})
	i3 := put(ethos.Item{Stage: "idea", Key: "idea/bare-facts-wanted/1/1", ParentID: b2, Status: ethos.ItemAccepted, CreatedAt: at(-56, 0)},
		idea{"bare facts wanted", 1, generate.Idea{Summary: "Just the capital, please", Situation: "Someone wants one fact and no discussion.", Traits: []string{"cautious"}, Hard: true}})

	d1 := put(ethos.Item{Stage: "document", Key: "doc/1", ParentID: i1, Status: ethos.ItemAccepted, CreatedAt: at(-50, 0)},
		doc{Document: generate.Document{Title: "Budget split", Type: "email", Body: "Hi, we have two teams and one budget. How should we split it?"}, Model: "sandbox/writer", CallKey: "k-doc-1", StopReason: ethos.StopEnd})
	put(ethos.Item{Stage: "document", Key: "doc/2", ParentID: i2, Status: ethos.ItemRejected, CreatedAt: at(-49, 0),
		Reason: fmt.Sprintf("near-duplicate: of document #%d (similarity 0.91)", d1)},
		doc{Document: generate.Document{Title: "Budget split again", Type: "email", Body: "Hi, we have two teams and one budget. How should we split it now?"}, Model: "sandbox/writer", CallKey: "k-doc-2"})
	s.XSSDoc = put(ethos.Item{Stage: "document", Key: "doc/2#2", ParentID: i2, Attempt: 2, Status: ethos.ItemAccepted, CreatedAt: at(-48, 0)},
		doc{Document: generate.Document{Title: payloadTitle, Type: "memo", Body: payloadBody}, Model: "sandbox/writer", CallKey: "k-doc-3", StopReason: ethos.StopEnd,
			Findings: []review.Finding{{Rule: "placeholder", Detail: "unfilled {name} <i>x</i>"}}})
	d3 := put(ethos.Item{Stage: "document", Key: "doc/3", ParentID: i3, Status: ethos.ItemAccepted, CreatedAt: at(-47, 0)},
		doc{Document: generate.Document{Title: "Capital of France", Type: "chat log", Body: "What is the capital of France? Just the name."}, Model: "sandbox/writer", CallKey: "k-doc-4", StopReason: ethos.StopEnd})

	s.Reply = put(ethos.Item{Stage: "response", Key: "reply/1", ParentID: d1, Status: ethos.ItemAccepted, CreatedAt: at(-40, 0)},
		reply{Reply: "Let us look at what each team needs first. What are their goals this quarter?", Model: "sandbox/writer", CallKey: "k-reply-1", StopReason: ethos.StopEnd,
			TraitScores: map[string]generate.TraitScore{"curious": {Score: 4, Reason: "asks about goals"}, "cautious": {Score: 3, Reason: "no risks named"}}})
	s.XSSReply = put(ethos.Item{Stage: "response", Key: "reply/2", ParentID: s.XSSDoc, Status: ethos.ItemAccepted, CreatedAt: at(-39, 0)},
		reply{Reply: payloadReply, Model: "sandbox/writer", CallKey: "k-reply-2", StopReason: ethos.StopEnd})
	put(ethos.Item{Stage: "response", Key: "reply/3", ParentID: d3, Status: ethos.ItemRejected, CreatedAt: at(-38, 0),
		Reason: `chatter: the reply talks about itself ("here is my reply")`},
		reply{Reply: "Here is my reply: Paris.", Model: "sandbox/writer", CallKey: "k-reply-3", StopReason: ethos.StopEnd,
			Findings: []review.Finding{{Rule: "chatter", Detail: `"here is my reply"`}}})
	s.Quarantined = put(ethos.Item{Stage: "response", Key: "reply/3#3", ParentID: d3, Attempt: 3, Status: ethos.ItemQuarantined, CreatedAt: at(-37, 0),
		Reason: "persona_break: the reply says it is an AI language model, after 3 attempts"},
		reply{Reply: "As an AI language model, I think it is Paris.", Model: "sandbox/writer", CallKey: "k-reply-4", StopReason: ethos.StopEnd,
			Findings: []review.Finding{{Rule: "persona_break", Detail: `"As an AI language model"`}}})
	put(ethos.Item{Stage: "response", Key: "reply/4", ParentID: d3, Attempt: 4, Status: ethos.ItemPending, CreatedAt: at(-1, 0)}, nil)

	// The ledger: calls of every stage, two providers, failures of two
	// kinds, an interrupted call, a cache hit; the last minute holds some
	// of them.
	call := func(model, stage string, minutes, seconds int, in, out int, cost float64, kind ethos.Kind, hit bool) {
		t.Helper()
		provider, _, _ := ethos.SplitModel(model)
		c := &ethos.Call{Key: fmt.Sprintf("k-%s-%d-%d", stage, minutes, seconds), Provider: provider, Model: model, RunID: s.RunID, Stage: stage,
			Request: ethos.Request{Model: model, MaxTokens: 100, Messages: []ethos.Message{{Role: ethos.RoleUser, Content: "hi"}}},
			Usage:   ethos.Usage{In: in, Out: out}, CostUSD: cost, Latency: 1500 * time.Millisecond, Attempts: 1, CacheHit: hit,
			ErrorKind: kind, CreatedAt: at(minutes, seconds)}
		if kind != "" {
			c.Error = string(kind) + ": the provider said no"
			c.Usage, c.CostUSD = ethos.Usage{}, 0
		} else {
			c.Response = &ethos.Response{Text: "ok", StopReason: ethos.StopEnd, Usage: c.Usage, Model: model}
		}
		if err := db.RecordCall(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	call("sandbox/writer", "ideas", -59, 0, 300, 500, 0.0012, "", false)
	call("sandbox/writer", "ideas", -57, 0, 300, 400, 0.0011, "", false)
	call("sandbox/writer", "document", -50, 0, 400, 900, 0.0021, "", false)
	call("sandbox/writer", "document", -49, 0, 400, 950, 0.0022, "", false)
	call("sandbox/writer", "document", -48, 30, 0, 0, 0, ethos.RateLimited, false)
	call("sandbox/writer", "document", -48, 0, 400, 920, 0.0021, "", false)
	call("sandbox/writer", "response", -40, 0, 1200, 300, 0.0031, "", false)
	call("sandbox/writer", "response", 0, -30, 1200, 300, 0, "", true)
	call("sandbox/writer", "response", 0, -20, 1100, 280, 0.0029, "", false)
	call("sandbox/judge", "review", 0, -10, 900, 60, 0.0008, "", false)
	call("sandbox/judge", "review", 0, -5, 0, 0, 0, ethos.Parse, false)
	// Cut short by Ctrl-C: counted apart, never among the errors.
	call("sandbox/writer", "response", 0, -3, 0, 0, 0, ethos.Interrupted, false)
	// Provider prompt caching: a review call writes its prefix, the next
	// reads it, and a repeat of that one is answered from the ledger.
	cached := func(seconds int, u ethos.Usage, cost float64, hit bool) {
		t.Helper()
		c := &ethos.Call{Key: fmt.Sprintf("k-review-cache-%d", seconds), Provider: "sandbox", Model: "sandbox/judge", RunID: s.RunID, Stage: "review",
			Request: ethos.Request{Model: "sandbox/judge", MaxTokens: 100, Messages: []ethos.Message{{Role: ethos.RoleUser, Content: "judge"}}},
			Usage:   u, CostUSD: cost, Latency: time.Second, Attempts: 1, CacheHit: hit, CreatedAt: at(-30, seconds),
			Response: &ethos.Response{Text: "ok", StopReason: ethos.StopEnd, Usage: u, Model: "sandbox/judge"}}
		if err := db.RecordCall(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	cached(0, ethos.Usage{In: 100, Out: 40, CacheWrite: 2000}, 0.00280, false)
	cached(10, ethos.Usage{In: 100, Out: 40, CacheRead: 2000}, 0.00050, false)
	cached(20, ethos.Usage{In: 100, Out: 40, CacheRead: 2000}, 0, true)

	// A process making calls now, and one that ended long ago.
	if err := db.PutProviderLoads(ctx, []ethos.ProviderLoad{
		{Provider: "sandbox", InFlight: 212, Waiting: 38, Target: 251, Ceiling: 4096, Auto: true, Latency: 10200 * time.Millisecond,
			RPM: 1200, PID: 4242, UpdatedAt: at(0, -2)},
		{Provider: "together", InFlight: 5, Target: 8, Ceiling: 8, Latency: time.Second, PID: 17, UpdatedAt: at(-30, 0)},
	}); err != nil {
		t.Fatal(err)
	}
	call("anthropic/claude-sonnet-4-5", "response", -100, 0, 1500, 400, 0.0105, "", false)

	// Fine-tuning: a completed job with its model, a running one with loss
	// events, a failed one.
	loss := func(v float64) *float64 { return &v }
	finished := at(-20, 0)
	s.JobDone, s.JobRunning, s.JobFailed = "ft-golden-done", "ft-golden-running", "ft-golden-failed"
	must(db.PutJob(ctx, &ethos.FineTuneJob{ID: s.JobDone, Provider: "sandbox", BaseModel: "sandbox/base", Status: "completed", State: ethos.FineTuneCompleted,
		TrainFile: "file-1", DatasetPath: "data/agora.jsonl", DatasetSHA256: "abc123", RunID: s.RunID,
		Hyperparameters: ethos.Hyperparameters{Epochs: 3, LoRA: true, LoRARank: 8},
		Progress:        ethos.FineTuneProgress{Epoch: 3, Epochs: 3, Step: 90, TotalSteps: 90, Loss: loss(0.42)},
		OutputModel:     "ft-golden-done-model", CostUSD: 1.25, CreatedAt: at(-35, 0), FinishedAt: &finished}))
	s.Model = "sandbox/ft-golden-done-model"
	must(db.PutModel(ctx, &ethos.Model{Name: s.Model, Provider: "sandbox", ProviderModel: "ft-golden-done-model", BaseModel: "sandbox/base",
		JobID: s.JobDone, DatasetPath: "data/agora.jsonl", DatasetSHA256: "abc123", CostUSD: 1.25, CreatedAt: finished}))
	must(db.PutJob(ctx, &ethos.FineTuneJob{ID: s.JobRunning, Provider: "sandbox", BaseModel: "sandbox/base", Status: "running", State: ethos.FineTuneRunning,
		TrainFile: "file-1", DatasetPath: "data/agora.jsonl", DatasetSHA256: "abc123", RunID: s.RunID,
		Progress: ethos.FineTuneProgress{Epoch: 1, Epochs: 3, Step: 30, TotalSteps: 90, Loss: loss(1.1)}, CreatedAt: at(-10, 0),
		Payload: json.RawMessage(`{"id":"ft-golden-running","status":"running","wandb_url":"https://wandb.ai/acme/agora/runs/ft-golden-running"}`)}))
	_, err := db.AddEvents(ctx, s.JobRunning, []ethos.FineTuneEvent{
		{ProviderID: "e1", CreatedAt: at(-10, 0), Level: "info", Type: "queued", Message: "job queued"},
		{ProviderID: "e2", CreatedAt: at(-9, 0), Level: "info", Type: "running", Message: "training started"},
		{ProviderID: "e3", CreatedAt: at(-8, 0), Level: "info", Type: "metrics", Message: "step 10", Step: 10, Epoch: 1, Loss: loss(1.9)},
		{ProviderID: "e4", CreatedAt: at(-7, 0), Level: "info", Type: "metrics", Message: "step 20", Step: 20, Epoch: 1, Loss: loss(1.4), ValLoss: loss(1.5)},
		{ProviderID: "e5", CreatedAt: at(-6, 0), Level: "warning", Type: "metrics", Message: "step 30 <script>alert(4)</script>", Step: 30, Epoch: 1, Loss: loss(1.1)},
	})
	must(err)
	must(db.PutJob(ctx, &ethos.FineTuneJob{ID: s.JobFailed, Provider: "together", BaseModel: "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference", Status: "error",
		State: ethos.FineTuneFailed, DatasetPath: "data/other.jsonl", Error: "training file rejected: line 3: assistant turn missing",
		CreatedAt: at(-30, 0), FinishedAt: &finished}))

	// An eval of the base model against the trained one.
	s.EvalID = "eval-golden"
	spec := ethos.EvalSpec{Models: []ethos.EvalModel{{Name: "base", Ref: "sandbox/base"}, {Name: "tuned", Ref: s.Model}},
		Judge: "sandbox/judge", Traits: []string{"curious"}, Prompts: 2, Seed: 11, SystemPrompt: true, Samples: 1, Sandbox: true}
	must(db.CreateRun(ctx, &ethos.Run{ID: s.EvalID, Kind: ethos.RunKindEval, Status: ethos.RunCompleted, Params: mustJSON(t, spec),
		CreatedAt: at(-15, 0), UpdatedAt: at(-12, 0)}))
	seedEval(t, db, s.EvalID)
	s.seedBatches(t, db)
	return s
}

// seedBatches records provider batches as the batcher leaves them: one
// ended (two requests answered, one errored), one in flight whose
// provider status says more than its state, one refused as a whole (its
// requests queued again), and one still being prepared, holding requests
// of the eval.
func (s *seeded) seedBatches(t testing.TB, db ethos.Store) {
	t.Helper()
	ctx := context.Background()
	batch := func(model, runID, stage string, keys ...string) (ethos.Batch, []ethos.BatchItem) {
		t.Helper()
		provider, _, _ := ethos.SplitModel(model)
		for _, k := range keys {
			_, err := db.QueueBatchItem(ctx, ethos.BatchItem{Key: k, Provider: provider, Model: model, RunID: runID, Stage: stage,
				Request: ethos.Request{Model: model, MaxTokens: 100, Messages: []ethos.Message{{Role: ethos.RoleUser, Content: "secret-free prompt " + k}}}})
			if err != nil {
				t.Fatal(err)
			}
		}
		b, items, err := db.CreateBatch(ctx, model, len(keys), 1<<20)
		if err != nil || len(items) != len(keys) {
			t.Fatalf("batch of %s: %d items, %v", model, len(items), err)
		}
		return b, items
	}
	update := func(b ethos.Batch) {
		t.Helper()
		if err := db.UpdateBatch(ctx, b); err != nil {
			t.Fatal(err)
		}
	}

	ended, items := batch("anthropic/claude-sonnet-4-5", s.RunID, "response", "b-reply-1", "b-reply-2", "b-reply-3")
	ended.ProviderID, ended.State, ended.Status = "msgbatch_01ended", ethos.BatchEnded, "ended"
	ended.Counts = ethos.BatchCounts{Total: 3, Succeeded: 2, Errored: 1}
	ended.SubmittedAt, ended.EndedAt, ended.CollectedAt = at(-50, 0), at(-35, 0), at(-34, 0)
	answer := func(it ethos.BatchItem) ethos.BatchItem {
		it.Outcome = ethos.BatchSucceeded
		it.Response = &ethos.Response{Text: "answered by batch", StopReason: ethos.StopEnd, Model: it.Model, Batch: ended.ProviderID}
		return it
	}
	failedItem := items[2]
	failedItem.Outcome, failedItem.ErrorKind, failedItem.Error = ethos.BatchErrored, ethos.Invalid, "invalid_request_error: max_tokens: too large"
	if err := db.AnswerBatchItems(ctx, ended.ID, []ethos.BatchItem{answer(items[0]), answer(items[1]), failedItem}, 3); err != nil {
		t.Fatal(err)
	}
	update(ended)

	working, _ := batch("openai/gpt-4.1-mini", s.RunID, "review", "b-review-1", "b-review-2")
	working.ProviderID, working.State, working.Status = "batch_working", ethos.BatchInProgress, "finalizing"
	working.Counts = ethos.BatchCounts{Total: 2, Processing: 1, Succeeded: 1}
	working.SubmittedAt = at(-20, 0)
	update(working)

	refused, _ := batch("together/meta-llama/Llama-3.3-70B-Instruct-Turbo", s.RunID, "document", "b-doc-1", "b-doc-2")
	refused.ProviderID, refused.State, refused.Status = "together-batch-refused", ethos.BatchFailed, "FAILED"
	refused.Error = "input file invalid: line 2: unknown field \"temprature\""
	refused.SubmittedAt, refused.EndedAt = at(-15, 0), at(-14, 0)
	if err := db.RequeueBatch(ctx, refused.ID); err != nil {
		t.Fatal(err)
	}
	update(refused)

	batch("sandbox/judge", s.EvalID, "judge", "b-judge-1", "b-judge-2")
	s.BatchEnded, s.BatchWorking, s.BatchFailed = ended.ID, working.ID, refused.ID
}

// seedEval stores the eval's prompts, answers and judgments.
func seedEval(t testing.TB, db ethos.Store, id string) {
	t.Helper()
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(db.PutEvalPrompts(ctx, []ethos.EvalPrompt{
		{EvalID: id, Key: "p/001", Category: "workplace conflicts", Text: "My two teams fight over one budget. <script>alert(5)</script>", Source: "generated"},
		{EvalID: id, Key: "p/002", Category: "bare facts wanted", Text: "Capital of France?", Source: "generated"},
	}))
	for _, a := range []ethos.Answer{
		{EvalID: id, PromptKey: "p/001", Model: "base", Text: "Split it evenly.", Status: ethos.AnswerOK},
		{EvalID: id, PromptKey: "p/001", Model: "tuned", Text: "What does each team need? <img src=x onerror=alert(6)>", Status: ethos.AnswerOK},
		{EvalID: id, PromptKey: "p/002", Model: "base", Text: "Paris.", Status: ethos.AnswerOK},
		{EvalID: id, PromptKey: "p/002", Model: "tuned", Status: ethos.AnswerFailed, Error: "rate_limited: try later"},
	} {
		must(db.PutAnswer(ctx, &a))
	}
	for _, j := range []ethos.Judgment{
		{EvalID: id, PromptKey: "p/001", Trait: "overall", First: "base", Second: "tuned", Verdict: ethos.Worse, Reason: "B asks first.", Status: ethos.JudgmentOK, Attempts: 1, Judge: "sandbox/judge"},
		{EvalID: id, PromptKey: "p/001", Trait: "overall", First: "tuned", Second: "base", Verdict: ethos.MuchBetter, Reason: "A engages.", Status: ethos.JudgmentOK, Attempts: 1, Judge: "sandbox/judge"},
		{EvalID: id, PromptKey: "p/001", Trait: "curious", First: "base", Second: "tuned", Verdict: ethos.Tie, Reason: "Both fine.", Status: ethos.JudgmentOK, Attempts: 1, Judge: "sandbox/judge"},
		{EvalID: id, PromptKey: "p/001", Trait: "curious", First: "tuned", Second: "base", Status: ethos.JudgmentParseFailed, Raw: "I think <b>A</b>", Attempts: 3, Judge: "sandbox/judge"},
	} {
		must(db.PutJudgment(ctx, &j))
	}
}
