package eval_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/anthropic"
	"github.com/ethos-toolkit/ethos/config"
	"github.com/ethos-toolkit/ethos/eval"
	"github.com/ethos-toolkit/ethos/jobs"
	"github.com/ethos-toolkit/ethos/llm"
	"github.com/ethos-toolkit/ethos/sandbox"
	"github.com/ethos-toolkit/ethos/sqlite"
)

// env is an evaluation set-up over real parts: a SQLite store, the
// middleware chain, the Anthropic adapter and a sandbox on loopback in
// which "tuned" plays a model trained on the character (a strong persona)
// and "base" the untrained one.
type env struct {
	store   *sqlite.DB
	chain   ethos.Completer
	sandbox *sandbox.Running
	cfg     *config.Config
	router  *llm.Router
	pricer  llm.Pricer
	// view, when set, is the store the evaluator reads and writes
	// through instead of store.
	view ethos.Store
}

// garbage is what the judge-garbage model answers to everything.
const garbage = "Both answers have merit. I lean towards the first, but it is close."

func newEnv(t testing.TB, opts sandbox.Options) *env {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "ethos.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cfg := config.Offline()
	pricer := llm.PricerFunc(func(model string, u ethos.Usage) (float64, bool) {
		p, ok := cfg.PriceOf(model)
		return p.Cost(u), ok
	})
	e := &env{store: db, cfg: cfg, pricer: pricer}
	e.connect(t, opts)
	return e
}

// connect starts a sandbox with opts and points the env's model calls at
// it, keeping the store: a test can have the provider fail, then recover.
func (e *env) connect(t testing.TB, opts sandbox.Options) {
	t.Helper()
	if opts.Personas == nil {
		opts.Personas = map[string]sandbox.Persona{"tuned": sandbox.StrongPersona, "base2": sandbox.WeakPersona}
	}
	if opts.Writers == nil {
		opts.Writers = map[string]sandbox.Writer{"judge-garbage": func(sandbox.Prompt) string { return garbage }}
	}
	sb, err := sandbox.Start(t.Context(), "127.0.0.1:0", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	adapter, err := anthropic.New(anthropic.Config{Provider: "sandbox", BaseURL: sb.URL, APIKey: "sandbox"})
	if err != nil {
		t.Fatal(err)
	}
	router := llm.NewRouter()
	router.Register("sandbox", func() (ethos.Completer, error) { return adapter, nil })
	e.sandbox, e.router = sb, router
	e.chain = &llm.Ledger{Store: e.store, Pricer: e.pricer,
		Next: llm.NewBudget(0, 0, e.pricer, llm.NewLimiter(router, func(string) llm.Limits { return llm.Limits{MaxConcurrency: 16} }))}
}

// settings compares sandbox/base ("base") with sandbox/tuned ("tuned").
func (e *env) settings(prompts int, judge string) eval.Settings {
	return eval.Settings{
		EvalSpec: ethos.EvalSpec{
			Models:       []ethos.EvalModel{{Name: "base", Ref: "sandbox/base"}, {Name: "tuned", Ref: "sandbox/tuned"}},
			Judge:        judge,
			Prompts:      prompts,
			Seed:         8,
			SystemPrompt: true,
			Samples:      1,
		},
		Character: e.cfg.Character,
		MaxTokens: 2000,
		Generate:  e.cfg.Generate,
	}
}

// run drives an evaluation to its end (or ctx's), with a queue of its own.
func (e *env) run(ctx context.Context, t testing.TB, s eval.Settings, progress func(eval.Progress)) (eval.Summary, *eval.Evaluator, error) {
	t.Helper()
	var store ethos.Store = e.store
	if e.view != nil {
		store = e.view
	}
	ev, err := eval.New(store, e.chain, s)
	if err != nil {
		return eval.Summary{}, nil, err
	}
	cfg := jobs.Config{Workers: 8, Tasks: ev.Tasks(), Completer: e.chain, Queue: ev.ID(),
		Backoff: func(int) time.Duration { return 5 * time.Millisecond }, FetchCooldown: 5 * time.Millisecond, FetchPollInterval: 50 * time.Millisecond}
	var sum eval.Summary
	err = jobs.Run(ctx, e.store.SQL(), cfg, jobs.Work{
		Rescue: jobs.RescueAll,
		Prepare: func(ctx context.Context, _ int64) (bool, error) {
			_, err := ev.Begin(ctx)
			return err == nil, err
		},
		Drive: func(ctx context.Context) error {
			sum, err = ev.Drive(ctx, progress)
			return err
		},
		StopTimeout: 10 * time.Second,
	})
	return sum, ev, err
}

func judgments(t testing.TB, e *env, id string) []ethos.Judgment {
	t.Helper()
	js, err := e.store.Judgments(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// writePrompts writes a plain prompts file.
func writePrompts(t testing.TB, prompts ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "prompts.txt")
	if err := os.WriteFile(path, []byte(strings.Join(prompts, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// situations are held-out prompts for tests that bring their own: long
// enough to be situations, different enough not to be near-duplicates.
var situations = []string{
	"I manage a team of six at a logistics firm and two of them have stopped speaking to each other after a disagreement about the rota. The work is suffering and the others are taking sides. How should I handle it?",
	"My father is eighty and still drives, but he scraped two cars in the supermarket car park last month. My brother thinks we should take his keys. I am not sure it is our decision. What would you do?",
	"I have been offered a place on a data science master's course, but it costs eleven thousand pounds and I would have to leave a job I mostly like. Is it worth it at thirty-four?",
	"Our village hall committee wants to replace the old piano with a digital one to save on tuning, and half the members are furious. I chair the committee. How do I run the next meeting?",
	"I keep starting novels and abandoning them after three chapters. I have six half-finished drafts now. How do I get one of them finished?",
	"My landlord says the damp in the bedroom is caused by us drying clothes indoors, but it started before we moved in. What are my options?",
	"I run a small online shop selling handmade candles and a customer is demanding a refund for a candle she admits she burned halfway. Should I give it to her?",
	"My daughter is fifteen and wants to drop music, which she has studied for nine years, to take computing instead. Part of me thinks she will regret it. How do I talk to her about it?",
}

// TestEvalTunedBeatsBase runs a whole evaluation on the sandbox: held-out
// prompts written by the generation stages with another seed, checked
// against a training file, each model's answers, and the judge on every
// trait and overall in both orders. The tuned model, which shows the
// character's markers strongly, wins most traits; every comparison is
// judged in both orders; the run's Params read as the EvalSpec.
func TestEvalTunedBeatsBase(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{Seed: 5})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	s := e.settings(10, "sandbox/judge")
	s.TrainingFiles = []string{writeTraining(t, situations[:2]...)}
	var phases []string
	sum, ev, err := e.run(ctx, t, s, func(p eval.Progress) {
		if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
			phases = append(phases, p.Phase)
		}
	})
	if err != nil {
		t.Fatalf("eval: %v", err)
	}
	t.Logf("phases %v; summary %+v", phases, sum.Counts)
	if phases[0] != "prompts" {
		t.Errorf("phases %v, want the prompts first", phases)
	}
	traits := len(e.cfg.Character.Traits) + 1
	if sum.Prompts != 10 || sum.Answers != 20 || sum.AnswersFailed != 0 {
		t.Errorf("prompts %d, answers %d (failed %d); want 10, 20, 0", sum.Prompts, sum.Answers, sum.AnswersFailed)
	}
	if want := 10 * traits * 2; sum.Judgments != want || sum.JudgmentsWanted != want || sum.JudgmentsUnparsed+sum.JudgmentsFailed != 0 {
		t.Errorf("judgments %d of %d wanted (unparsed %d, failed %d); want %d OK", sum.Judgments, sum.JudgmentsWanted, sum.JudgmentsUnparsed, sum.JudgmentsFailed, want)
	}
	wins := 0
	for _, tl := range sum.Tallies {
		t.Logf("%-20s base %2d  tuned %2d  ties %2d", tl.Trait, tl.WinsA, tl.WinsB, tl.Ties)
		if tl.WinsB > tl.WinsA {
			wins++
		}
	}
	if wins < traits-1 {
		t.Errorf("tuned wins %d of %d traits, want at least %d", wins, traits, traits-1)
	}
	if !sum.Sandbox || sum.Status != ethos.RunCompleted {
		t.Errorf("summary: sandbox %v, status %s", sum.Sandbox, sum.Status)
	}

	// Both orders of every comparison, with the same prompt and trait.
	orders := map[string]int{}
	for _, j := range judgments(t, e, ev.ID()) {
		key := j.PromptKey + "|" + j.Trait
		if j.First == "base" {
			orders[key] |= 1
		} else {
			orders[key] |= 2
		}
		if j.Judge != "sandbox/judge" || j.Attempts != 1 || j.Reason == "" || j.CallKey == "" {
			t.Errorf("judgment %+v", j)
		}
	}
	for key, o := range orders {
		if o != 3 {
			t.Errorf("%s judged in one order only", key)
		}
	}

	// The run: kind eval, completed, Params an EvalSpec naming the models.
	run, err := e.store.Run(ctx, ev.ID())
	if err != nil {
		t.Fatal(err)
	}
	var spec ethos.EvalSpec
	if err := json.Unmarshal(run.Params, &spec); err != nil || len(spec.Models) != 2 || spec.Models[1].Ref != "sandbox/tuned" || spec.Judge != "sandbox/judge" {
		t.Errorf("run params as EvalSpec: %+v, %v", spec, err)
	}
	if run.Kind != ethos.RunKindEval || run.Status != ethos.RunCompleted {
		t.Errorf("run %s: kind %s status %s", run.ID, run.Kind, run.Status)
	}
	// The prompts are the held-out documents, by category; none is a
	// training prompt.
	prompts, err := e.store.EvalPrompts(ctx, ev.ID())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range prompts {
		if p.Source != "generated" || p.Category == "" || len(strings.Fields(p.Text)) < 50 {
			t.Errorf("prompt %s: source %q category %q, %d words", p.Key, p.Source, p.Category, len(strings.Fields(p.Text)))
		}
	}
	// The answers went through the ledger, labelled with the evaluation.
	calls, err := e.store.Calls(ctx, ethos.CallFilter{RunID: ev.ID(), Stage: eval.TaskAnswer})
	if err != nil || len(calls) != 20 {
		t.Errorf("%d answer calls in the ledger (%v), want 20", len(calls), err)
	}
	for _, c := range calls {
		if c.Request.System != e.cfg.Character.SystemPrompt {
			t.Errorf("answer call without the character's system prompt: %q", c.Request.System)
			break
		}
	}

	// Running it again finds it complete.
	again, err := eval.New(e.store, e.chain, s)
	if err != nil {
		t.Fatal(err)
	}
	if again.ID() != ev.ID() {
		t.Errorf("same settings, new ID %s (was %s)", again.ID(), ev.ID())
	}
	if _, err := again.Begin(ctx); err != eval.ErrCompleted {
		t.Errorf("Begin on a finished evaluation: %v, want ErrCompleted", err)
	}
}

// positionStats counts, over OK judgments that prefer one answer, how
// often the answer shown first won, and over both orders of the same
// comparison how often the two verdicts agree (the same model preferred,
// or a tie both times).
func positionStats(js []ethos.Judgment) (firstWins, decisive, consistent, pairs int) {
	byPair := map[string][]ethos.Judgment{}
	for _, j := range js {
		if j.Status != ethos.JudgmentOK {
			continue
		}
		if j.Verdict != ethos.Tie {
			decisive++
			if j.Verdict > 0 {
				firstWins++
			}
		}
		key := fmt.Sprintf("%s|%s|%d", j.PromptKey, j.Trait, j.Sample)
		byPair[key] = append(byPair[key], j)
	}
	for _, two := range byPair {
		if len(two) != 2 {
			continue
		}
		pairs++
		if two[0].Winner() == two[1].Winner() {
			consistent++
		}
	}
	return
}

// TestEvalBiasedJudgeShows: a judge that favours the first position gives
// two similar models' comparisons to whichever is shown first, so the
// judgments show a first-position preference and swapped orders that
// disagree; the fair judge shows neither.
func TestEvalBiasedJudgeShows(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{Seed: 6})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	prompts := writePrompts(t, situations...)
	rates := map[string][2]float64{}
	for _, judge := range []string{"sandbox/judge", "sandbox/" + sandbox.ModelJudgeBiased} {
		s := e.settings(0, judge)
		s.Models[1] = ethos.EvalModel{Name: "base2", Ref: "sandbox/base2"} // as weak as base
		s.PromptsFile = prompts
		_, ev, err := e.run(ctx, t, s, nil)
		if err != nil {
			t.Fatalf("%s: %v", judge, err)
		}
		first, decisive, consistent, pairs := positionStats(judgments(t, e, ev.ID()))
		t.Logf("%s: first position won %d of %d decisive judgments; %d of %d swapped pairs consistent", judge, first, decisive, consistent, pairs)
		rates[judge] = [2]float64{float64(first) / float64(max(decisive, 1)), float64(consistent) / float64(pairs)}
	}
	fair, biased := rates["sandbox/judge"], rates["sandbox/"+sandbox.ModelJudgeBiased]
	if fair[0] < 0.35 || fair[0] > 0.65 {
		t.Errorf("fair judge: first position wins %.2f of decisive judgments, want about half", fair[0])
	}
	if biased[0] < 0.85 {
		t.Errorf("biased judge: first position wins %.2f, want at least 0.85", biased[0])
	}
	if fair[1] != 1 || biased[1] > fair[1]-0.3 {
		t.Errorf("position consistency: fair %.2f (want 1), biased %.2f (want far lower)", fair[1], biased[1])
	}
}

// TestEvalParseFailuresRecorded: a judge whose replies never fit the
// contract is asked three times, each retry saying what was wrong; then
// the judgment is recorded as a parse failure with the raw reply, never
// a verdict.
func TestEvalParseFailuresRecorded(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{Seed: 7})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	s := e.settings(0, "sandbox/judge-garbage")
	s.PromptsFile = writePrompts(t, situations[:2]...)
	s.Traits = []string{"inquisitive"}
	sum, ev, err := e.run(ctx, t, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Judgments != 0 || sum.JudgmentsUnparsed != 2*2*2 {
		t.Errorf("judgments OK %d, unparsed %d; want 0 and 8", sum.Judgments, sum.JudgmentsUnparsed)
	}
	for _, j := range judgments(t, e, ev.ID()) {
		if j.Status != ethos.JudgmentParseFailed || j.Raw != garbage || j.Attempts != eval.JudgeAttempts || j.Verdict != 0 ||
			!strings.HasPrefix(j.Error, "parse: the reply must be exactly two lines") || j.Winner() != "" {
			t.Errorf("judgment %+v", j)
		}
	}
	// The retries told the judge what was wrong.
	calls, err := e.store.Calls(ctx, ethos.CallFilter{RunID: ev.ID(), Stage: eval.TaskJudge})
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 8*eval.JudgeAttempts {
		t.Errorf("%d judge calls, want %d", len(calls), 8*eval.JudgeAttempts)
	}
	told := 0
	for _, c := range calls {
		if last := c.Request.Messages[len(c.Request.Messages)-1]; strings.Contains(last.Content, "Your previous reply could not be used: the reply must be exactly two lines") {
			told++
		}
	}
	if told != 8*(eval.JudgeAttempts-1) {
		t.Errorf("%d retries carried the reason, want %d", told, 8*(eval.JudgeAttempts-1))
	}
}

// TestEvalJudgeRetryRecovers: with off-format replies now and then, a
// retry that says what was wrong usually gets a reply that parses.
func TestEvalJudgeRetryRecovers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{Seed: 8, Defects: map[string]float64{sandbox.DefectOffFormat: 0.4}})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	s := e.settings(0, "sandbox/judge")
	s.PromptsFile = writePrompts(t, situations...)
	sum, ev, err := e.run(ctx, t, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	retried := 0
	for _, j := range judgments(t, e, ev.ID()) {
		switch {
		case j.Status == ethos.JudgmentOK && j.Attempts > 1:
			retried++
		case j.Status == ethos.JudgmentParseFailed && (j.Raw == "" || j.Attempts != eval.JudgeAttempts):
			t.Errorf("parse failure without its raw reply or attempts: %+v", j)
		}
	}
	t.Logf("%d OK (%d after a retry), %d unparsed", sum.Judgments, retried, sum.JudgmentsUnparsed)
	if retried == 0 || sum.Judgments < sum.JudgmentsWanted*3/4 || sum.Judgments+sum.JudgmentsUnparsed != sum.JudgmentsWanted {
		t.Errorf("OK %d (%d retried), unparsed %d, wanted %d", sum.Judgments, retried, sum.JudgmentsUnparsed, sum.JudgmentsWanted)
	}
}

// TestEvalFailedAnswersNotJudged: a model whose calls fail has its answers
// recorded as failed with the reason, and its comparisons are not judged;
// a missing key stops the evaluation.
func TestEvalFailedAnswersNotJudged(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{Seed: 9})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	s := e.settings(0, "sandbox/judge")
	s.PromptsFile = writePrompts(t, situations[:3]...)
	s.Models = append(s.Models, ethos.EvalModel{Name: "broken", Ref: "sandbox/fault-400"})
	sum, ev, err := e.run(ctx, t, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	traits := len(e.cfg.Character.Traits) + 1
	if sum.Answers != 6 || sum.AnswersFailed != 3 {
		t.Errorf("answers OK %d, failed %d; want 6 and 3", sum.Answers, sum.AnswersFailed)
	}
	if sum.JudgmentsWanted != 3*traits*2 || sum.Judgments != sum.JudgmentsWanted || sum.JudgmentsUnjudged != 2*3*traits*2 {
		t.Errorf("judgments %d of %d, not judged %d", sum.Judgments, sum.JudgmentsWanted, sum.JudgmentsUnjudged)
	}
	answers, _ := e.store.Answers(ctx, ev.ID())
	for _, a := range answers {
		if a.Model == "broken" && (a.Status != ethos.AnswerFailed || !strings.HasPrefix(a.Error, "invalid: ") || a.Text != "") {
			t.Errorf("broken answer %+v", a)
		}
	}
	for _, j := range judgments(t, e, ev.ID()) {
		if j.First == "broken" || j.Second == "broken" {
			t.Errorf("a failed answer was judged: %+v", j)
		}
	}

	s.Models[2] = ethos.EvalModel{Name: "locked", Ref: "sandbox/fault-401"}
	_, ev, err = e.run(ctx, t, s, nil)
	if ethos.KindOf(err) != ethos.Auth {
		t.Fatalf("eval with a model refusing the key: %v, want an auth error", err)
	}
	if run, _ := e.store.Run(ctx, ev.ID()); run.Status != ethos.RunFailed || !strings.Contains(run.Error, "401") && !strings.Contains(strings.ToLower(run.Error), "api key") {
		t.Errorf("run after an auth failure: %s %q", run.Status, run.Error)
	}
}

// TestEvalRefusesTrainingPrompts: prompts found in the training data are
// refused with the reason and reported; too few left is a clear error.
// With the seed of the training data, every generated prompt is refused.
func TestEvalRefusesTrainingPrompts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{Seed: 10})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	near := strings.Replace(situations[1], "two cars", "three cars", 1)
	s := e.settings(0, "sandbox/judge")
	s.PromptsFile = writePrompts(t, situations[0], situations[1], situations[2], situations[3], strings.ToUpper(situations[2]))
	s.TrainingFiles = []string{writeTraining(t, situations[0], near)}
	sum, _, err := e.run(ctx, t, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Prompts != 2 || sum.Refused != 3 {
		t.Fatalf("prompts %d, refused %d; want 2 and 3 (%v)", sum.Prompts, sum.Refused, sum.RefusedReasons)
	}
	for i, want := range []string{"same text as the user turn at", "near-duplicate (similarity", "repeats another held-out prompt"} {
		if !strings.Contains(sum.RefusedReasons[i], want) {
			t.Errorf("refusal %d: %q, want %q", i, sum.RefusedReasons[i], want)
		}
	}
	s.Prompts = 3 // of the file: more than are left
	_, _, err = e.run(ctx, t, s, nil)
	if ethos.KindOf(err) != ethos.Config || !strings.Contains(err.Error(), "only 2 of 3 held-out prompts remain after refusing 3") {
		t.Errorf("too few prompts: %v", err)
	}

	// Generated prompts checked against a training file made of the same
	// evaluation's held-out prompts, as if trained with its seed.
	g := e.settings(4, "sandbox/judge")
	_, ev, err := e.run(ctx, t, g, nil)
	if err != nil {
		t.Fatal(err)
	}
	prompts, _ := e.store.EvalPrompts(ctx, ev.ID())
	var texts []string
	for _, p := range prompts {
		texts = append(texts, p.Text)
	}
	g.TrainingFiles = []string{writeTraining(t, texts...)}
	_, _, err = e.run(ctx, t, g, nil)
	if ethos.KindOf(err) != ethos.Config || !strings.Contains(err.Error(), "held-out prompts remain") || !strings.Contains(err.Error(), "--seed") {
		t.Errorf("held-out prompts all in the training data: %v", err)
	}
}

// TestEvalResumesWithoutRepaying stops an evaluation part-way through its
// judging and runs it again: it completes, and the sandbox answers no
// request twice beyond those in flight when it stopped.
func TestEvalResumesWithoutRepaying(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{Seed: 12, Faults: sandbox.Faults{LatencyMean: 5 * time.Millisecond}})
	s := e.settings(0, "sandbox/judge")
	s.PromptsFile = writePrompts(t, situations...)
	s.Pointwise = true

	ctx, cancel := context.WithCancel(t.Context())
	var at eval.Counts
	_, _, err := e.run(ctx, t, s, func(p eval.Progress) {
		if p.Judgments >= 30 && ctx.Err() == nil {
			at = p.Counts
			cancel()
		}
	})
	if err == nil {
		t.Fatal("the first run was not interrupted")
	}
	before := e.sandbox.Server.Stats()

	ctx2, cancel2 := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel2()
	sum, ev, err := e.run(ctx2, t, s, nil)
	if err != nil {
		t.Fatalf("resumed run: %v", err)
	}
	traits := len(e.cfg.Character.Traits)
	if want := len(situations) * (traits + 1) * 2; sum.Judgments != want {
		t.Errorf("%d judgments after the resume, want %d", sum.Judgments, want)
	}
	if want := len(situations) * 2 * traits; sum.Scores != want {
		t.Errorf("%d scores after the resume, want %d", sum.Scores, want)
	}
	after := e.sandbox.Server.Stats()
	t.Logf("interrupted at %d judgments; sandbox answered %d before, %d after; repeats %d", at.Judgments, before.ByStatus["200"], after.ByStatus["200"], after.Repeats)
	if after.Repeats > 8 {
		t.Errorf("the sandbox answered %d requests twice (at most the 8 in flight may be)", after.Repeats)
	}
	// Every answer was asked for once: the resumed run reused them.
	calls, err := e.store.Calls(ctx2, ethos.CallFilter{RunID: ev.ID(), Stage: eval.TaskAnswer})
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 2*len(situations) {
		t.Errorf("%d answer calls in the ledger, want %d (each once)", len(calls), 2*len(situations))
	}
}

// TestEvalBudgetStopsThenResumes: the budget running out stops the
// evaluation without recording the answers it refused as failures; run
// again with room in the budget, it completes them.
func TestEvalBudgetStopsThenResumes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{Seed: 13})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	s := e.settings(0, "sandbox/judge")
	s.PromptsFile = writePrompts(t, situations...)
	full := e.chain
	e.chain = &llm.Ledger{Store: e.store, Pricer: e.pricer,
		Next: llm.NewBudget(0.02, 0, e.pricer, llm.NewLimiter(e.router, func(string) llm.Limits { return llm.Limits{MaxConcurrency: 4} }))}
	_, ev, err := e.run(ctx, t, s, nil)
	if ethos.KindOf(err) != ethos.Budget {
		t.Fatalf("capped run: %v, want a budget error", err)
	}
	answers, _ := e.store.Answers(ctx, ev.ID())
	judged := judgments(t, e, ev.ID())
	for _, a := range answers {
		if a.Status != ethos.AnswerOK {
			t.Errorf("answer recorded as %s: %s", a.Status, a.Error)
		}
	}
	for _, j := range judged {
		if j.Status != ethos.JudgmentOK {
			t.Errorf("judgment recorded as %s: %s", j.Status, j.Error)
		}
	}
	t.Logf("stopped by the budget after %d answers and %d judgments", len(answers), len(judged))

	e.chain = full
	sum, _, err := e.run(ctx, t, s, nil)
	if err != nil {
		t.Fatalf("run again without the cap: %v", err)
	}
	if sum.Answers != 2*len(situations) || sum.Judgments != sum.JudgmentsWanted || sum.JudgmentsWanted == 0 {
		t.Errorf("after the resume: %+v", sum.Counts)
	}
}

// TestEvalTransientFailuresRetriedOnRerun: answers whose calls keep
// failing with a transient error are recorded as failed once the job
// layer gives up, and leave the evaluation incomplete; running it again
// tries them again, even when an earlier version of ethos recorded the
// evaluation as completed.
func TestEvalTransientFailuresRetriedOnRerun(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{Seed: 14})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	s := e.settings(0, "sandbox/judge")
	s.PromptsFile = writePrompts(t, situations[:2]...)
	s.Models[1] = ethos.EvalModel{Name: "flaky", Ref: "sandbox/fault-500"}
	sum, ev, err := e.run(ctx, t, s, nil)
	var inc *eval.Incomplete
	if !errors.As(err, &inc) {
		t.Fatalf("first run: %v, want it incomplete", err)
	}
	if sum.AnswersFailed != 2 || sum.AnswersToRetry[ethos.Transient] != 2 || sum.JudgmentsWanted != 0 {
		t.Fatalf("first run: %+v", sum.Counts)
	}
	answers, _ := e.store.Answers(ctx, ev.ID())
	for _, a := range answers {
		if a.Model == "flaky" && !strings.HasPrefix(a.Error, "transient: ") {
			t.Errorf("flaky answer: %+v", a)
		}
	}
	calls := func() int {
		cs, err := e.store.Calls(ctx, ethos.CallFilter{RunID: ev.ID(), Stage: eval.TaskAnswer})
		if err != nil {
			t.Fatal(err)
		}
		return len(cs)
	}
	before := calls()
	if err := e.store.SetRunStatus(ctx, ev.ID(), ethos.RunCompleted, ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.run(ctx, t, s, nil); !errors.As(err, &inc) {
		t.Fatalf("rerun against the same failing model: %v, want it incomplete again", err)
	}
	if after := calls(); after <= before {
		t.Errorf("the failed answers were not tried again: %d answer calls before, %d after", before, after)
	}
}

// TestEvalIncompleteUntilFailuresRetried: a provider answering most calls
// with a 500 makes some answers and judgments fail on every attempt. The
// evaluation ends incomplete, not completed, with the failures counted by
// error kind; the same evaluation run again against the provider once it
// has recovered makes exactly what is missing and completes.
func TestEvalIncompleteUntilFailuresRetried(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{Seed: 15, Faults: sandbox.Faults{ErrorRates: map[int]float64{500: 0.7}}})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	s := e.settings(0, "sandbox/judge")
	s.PromptsFile = writePrompts(t, situations[:4]...)
	first, ev, err := e.run(ctx, t, s, nil)
	var inc *eval.Incomplete
	if !errors.As(err, &inc) {
		t.Fatalf("eval against a failing provider: %v (status %s, %+v), want it incomplete", err, first.Status, first.Counts)
	}
	t.Logf("first run: %v", err)
	if first.Status != ethos.RunFailed || first.Missing() != 0 || first.AnswersFailed+first.JudgmentsFailed == 0 {
		t.Fatalf("first run: status %s, %+v; want failed, nothing missing, some failures", first.Status, first.Counts)
	}
	if first.AnswersToRetry[ethos.Transient] != first.AnswersFailed || first.JudgmentsToRetry[ethos.Transient] != first.JudgmentsFailed {
		t.Errorf("failures to retry by kind: answers %v of %d, judgments %v of %d; want every one transient",
			first.AnswersToRetry, first.AnswersFailed, first.JudgmentsToRetry, first.JudgmentsFailed)
	}
	var want []string
	if n := first.AnswersFailed; n > 0 {
		want = append(want, fmt.Sprintf("%d of %d answers failed at the provider (transient %d)", n, first.AnswersWanted, n))
	}
	if n := first.JudgmentsFailed; n > 0 {
		want = append(want, fmt.Sprintf("%d of %d judgments failed at the provider (transient %d)", n, first.JudgmentsWanted, n))
	}
	want = append(want, "is incomplete", "run the same command again")
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
	run, err := e.store.Run(ctx, ev.ID())
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != ethos.RunFailed || !strings.Contains(run.Error, "is incomplete") {
		t.Errorf("run after the failures: %s %q, want failed as incomplete", run.Status, run.Error)
	}
	answers, _ := e.store.Answers(ctx, ev.ID())
	for _, a := range answers {
		if a.Status == ethos.AnswerFailed && !strings.HasPrefix(a.Error, "transient: ") {
			t.Errorf("failed answer without its kind: %+v", a)
		}
	}

	// The provider recovers: the same store, a healthy sandbox. Its
	// judgments are read as they were before the retries finished, so
	// that the evaluation sees failed rows beside a queue that has just
	// emptied: it must look again rather than end incomplete.
	if first.JudgmentsFailed == 0 {
		t.Fatalf("first run: no judgment failed (%+v), so the rerun has none to retry", first.Counts)
	}
	view := &staleJudgments{Store: e.store, seen: make(chan struct{})}
	e.connect(t, sandbox.Options{Seed: 15, Faults: sandbox.Faults{LatencyMean: time.Nanosecond},
		Sleep: func(ctx context.Context, _ time.Duration) error {
			// A retry is answered once a look has read the failed rows.
			select {
			case <-view.seen:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}})
	e.view = view
	again, _, err := e.run(ctx, t, s, nil)
	if err != nil {
		for _, j := range judgments(t, e, ev.ID()) {
			if j.Status != ethos.JudgmentOK {
				t.Logf("judgment %s %s %s/%s: %s %s", j.PromptKey, j.Trait, j.First, j.Second, j.Status, j.Error)
			}
		}
		t.Fatalf("rerun after the provider recovered: %v", err)
	}
	traits := len(e.cfg.Character.Traits) + 1
	if again.Status != ethos.RunCompleted || again.Answers != 8 || again.JudgmentsWanted != 4*traits*2 || again.Judgments != again.JudgmentsWanted ||
		len(again.AnswersToRetry)+len(again.JudgmentsToRetry) != 0 {
		t.Errorf("rerun: status %s, %+v; want completed with every answer and judgment", again.Status, again.Counts)
	}
	sent := e.sandbox.Server.Stats().Requests
	if wantSent := int64(first.AnswersFailed + again.JudgmentsWanted - first.Judgments); sent != wantSent {
		t.Errorf("the rerun sent %d requests, want %d: the %d failed answers and the %d judgments not made", sent, wantSent,
			first.AnswersFailed, again.JudgmentsWanted-first.Judgments)
	}
	if view.held.Load() == 0 {
		t.Errorf("no look of the rerun saw failed judgments beside an emptied queue: the test did not try the ending it is for")
	}
	t.Logf("first run: %d answers and %d judgments failed; rerun: %d requests, %d stale looks", first.AnswersFailed, first.JudgmentsFailed, sent, view.held.Load())
}

// staleJudgments is a store whose read of an evaluation's judgments, when
// some are failed while their retries are under way, lets the retries be
// answered (seen closes) and returns only once the job queue has emptied,
// with the rows as they were: what a look sees when the last retries
// finish while it reads.
type staleJudgments struct {
	ethos.Store
	seen chan struct{}
	held atomic.Int64 // reads held until the queue emptied
}

func (s *staleJudgments) Judgments(ctx context.Context, evalID string) ([]ethos.Judgment, error) {
	js, err := s.Store.Judgments(ctx, evalID)
	failed := func(j ethos.Judgment) bool { return j.Status == ethos.JudgmentFailed }
	if err != nil || !slices.ContainsFunc(js, failed) {
		return js, err
	}
	if _, err := jobs.FromContext(ctx); err != nil {
		return js, nil // not the evaluation's look
	}
	if busy, err := jobs.QueueBusy(ctx); err != nil || !busy || s.held.Load() > 0 {
		return js, err
	}
	close(s.seen)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
		busy, err := jobs.QueueBusy(ctx)
		if err != nil || !busy {
			s.held.Add(1)
			return js, err
		}
	}
}
