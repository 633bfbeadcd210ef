package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/eval/report"
	"github.com/ethos-toolkit/ethos/sqlite"
	"github.com/google/go-cmp/cmp"
)

// storeEval writes an evaluation of tuned against base into the store at
// dbPath: 16 prompts judged overall and on warmth in both orders, tuned
// the warmer. created orders evaluations (the latest is reported by
// default).
func storeEval(t *testing.T, dbPath, id string, created time.Time, tunedWins int) {
	t.Helper()
	ctx := t.Context()
	db, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	spec := ethos.EvalSpec{Models: []ethos.EvalModel{{Name: "base", Ref: "sandbox/base"}, {Name: "tuned", Ref: "sandbox/ft-1"}},
		Judge: "sandbox/judge", Traits: []string{"warmth"}, Prompts: 16, Samples: 1, SystemPrompt: true, Sandbox: true}
	params, _ := json.Marshal(spec)
	if err := db.CreateRun(ctx, &ethos.Run{ID: id, Kind: ethos.RunKindEval, Status: ethos.RunCompleted, Params: params, CreatedAt: created}); err != nil {
		t.Fatal(err)
	}
	var prompts []ethos.EvalPrompt
	for i := range 16 {
		prompts = append(prompts, ethos.EvalPrompt{EvalID: id, Key: fmt.Sprintf("p/%02d", i), Text: fmt.Sprintf("question %d", i), Source: "generated"})
	}
	if err := db.PutEvalPrompts(ctx, prompts); err != nil {
		t.Fatal(err)
	}
	for i, p := range prompts {
		for _, m := range spec.Models {
			text := m.Name + " answers " + p.Text
			if i == 0 && m.Name == "tuned" {
				text = "<img src=x onerror=alert(1)> " + text
			}
			if err := db.PutAnswer(ctx, &ethos.Answer{EvalID: id, PromptKey: p.Key, Model: m.Name, Text: text, Status: ethos.AnswerOK}); err != nil {
				t.Fatal(err)
			}
		}
		for _, trait := range []string{ethos.TraitOverall, "warmth"} {
			// tuned wins both orders of the first tunedWins prompts; the
			// rest are ties.
			v := ethos.Tie
			if i < tunedWins {
				v = ethos.Better
			}
			for _, j := range []ethos.Judgment{
				{First: "tuned", Second: "base", Verdict: v},
				{First: "base", Second: "tuned", Verdict: -v},
			} {
				j.EvalID, j.PromptKey, j.Trait, j.Status, j.Judge, j.Attempts = id, p.Key, trait, ethos.JudgmentOK, spec.Judge, 1
				j.Reason = "tuned is warmer"
				if err := db.PutJudgment(ctx, &j); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if err := db.PutTraitScore(ctx, &ethos.TraitScore{EvalID: id, PromptKey: "p/00", Model: "tuned", Trait: "warmth", Score: 4, Status: ethos.JudgmentOK}); err != nil {
		t.Fatal(err)
	}
}

// storeEvalCalls records ledger calls of evaluation id: a judgment that
// writes its prefix to the provider's cache, one that reads it, a repeat
// of that one answered from the ledger, and an answer.
func storeEvalCalls(t *testing.T, dbPath, id string) {
	t.Helper()
	db, err := sqlite.Open(t.Context(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	call := func(key, stage, model string, u ethos.Usage, cost float64, hit bool) *ethos.Call {
		return &ethos.Call{Key: key, Provider: "sandbox", Model: model, RunID: id, Stage: stage,
			Request:  ethos.Request{Model: model, Messages: []ethos.Message{{Role: ethos.RoleUser, Content: key}}},
			Response: &ethos.Response{Text: "ok", StopReason: ethos.StopEnd, Usage: u}, Usage: u, CostUSD: cost, CacheHit: hit, Attempts: 1}
	}
	for _, c := range []*ethos.Call{
		call("j1", "eval.judge", "sandbox/judge", ethos.Usage{In: 100, Out: 20, CacheWrite: 2000}, 0.0027, false),
		call("j2", "eval.judge", "sandbox/judge", ethos.Usage{In: 100, Out: 20, CacheRead: 2000}, 0.0004, false),
		call("j2", "eval.judge", "sandbox/judge", ethos.Usage{In: 100, Out: 20, CacheRead: 2000}, 0, true),
		call("a1", "eval.answer", "sandbox/base", ethos.Usage{In: 50, Out: 100}, 0.00055, false),
	} {
		if err := db.RecordCall(t.Context(), c); err != nil {
			t.Fatal(err)
		}
	}
}

func TestEvalReport(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := map[string]string{"ETHOS_DB": filepath.Join(dir, "ethos.db")}

	if r := ethosCLI(t, dir, env, "eval", "report"); r.code != 1 || !strings.Contains(r.stderr, "no evaluation in the store") {
		t.Errorf("empty store: exit %d, stderr %q", r.code, r.stderr)
	}
	storeEval(t, env["ETHOS_DB"], "eval-old", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), 2)
	storeEval(t, env["ETHOS_DB"], "eval-new", time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC), 14)
	storeEvalCalls(t, env["ETHOS_DB"], "eval-old")

	// The latest evaluation, as Markdown on stdout.
	r := ethosCLI(t, dir, env, "eval", "report", "--bootstrap", "200")
	if r.code != 0 {
		t.Fatalf("report: exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"<!-- ethos-eval-report -->", "# Evaluation eval-new", "Sandbox evaluation",
		"tuned beats base on warmth", "| warmth | tuned vs base | 28 | 0 | 4 |", "## Legacy sequential Elo (order-dependent)", "## Pointwise trait scores"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}

	// A named evaluation, as JSON.
	r = ethosCLI(t, dir, env, "eval", "report", "eval-old", "--format", "json", "--bootstrap", "200")
	var rep report.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 {
		t.Fatalf("json: exit %d, %v: %s", r.code, err, r.stderr)
	}
	if rep.EvalID != "eval-old" || rep.Pairs[0].Significant || !strings.HasPrefix(rep.Pairs[0].Verdict, "The data cannot tell tuned and base apart overall") {
		t.Errorf("eval-old: %s, %+v", rep.EvalID, rep.Pairs[0])
	}
	// Its cost section comes from the ledger's calls of eval-old, the
	// ledger's own cache hit left out, priced as sandbox/* is (input $1,
	// cache reads $0.10 and writes $1.25 per million tokens).
	wantCost := &report.Cost{
		Stages: []report.StageCost{
			{Stage: "eval.answer", Calls: 1, InputTokens: 50, CostUSD: 0.00055, UncachedUSD: 0.00055},
			{Stage: "eval.judge", Calls: 2, InputTokens: 4200, CacheRead: 2000, CacheWrite: 2000, Share: 0.4762,
				CostUSD: 0.0031, UncachedUSD: 0.0044, SavedUSD: 0.0013},
		},
		Total: report.StageCost{Stage: "total", Calls: 3, InputTokens: 4250, CacheRead: 2000, CacheWrite: 2000, Share: 0.4706,
			CostUSD: 0.00365, UncachedUSD: 0.00495, SavedUSD: 0.0013},
	}
	if diff := cmp.Diff(wantCost, rep.Cost); diff != "" {
		t.Errorf("eval-old cost section (-want +got):\n%s", diff)
	}

	// HTML to a file; the format follows the extension, and a report
	// may replace an earlier report.
	out := filepath.Join("reports", "eval.html")
	os.MkdirAll(filepath.Join(dir, "reports"), 0o755)
	for range 2 {
		r = ethosCLI(t, dir, env, "eval", "report", "--output", out, "--bootstrap", "100")
		if r.code != 0 || !strings.Contains(r.stdout, "wrote reports/eval.html (html report of eval-new)") {
			t.Fatalf("--output: exit %d: %s%s", r.code, r.stdout, r.stderr)
		}
	}
	html, err := os.ReadFile(filepath.Join(dir, out))
	if err != nil {
		t.Fatal(err)
	}
	if h := string(html); !strings.HasPrefix(h, "<!DOCTYPE html>") || strings.Contains(h, "<img") || !strings.Contains(h, "&lt;img src=x") || !strings.Contains(h, "<svg") {
		t.Error("HTML report: want a page with inline SVG and the model's markup escaped")
	}

	// Any other existing file is kept unless --force.
	keep := filepath.Join(dir, "notes.md")
	os.WriteFile(keep, []byte("my notes\n"), 0o644)
	r = ethosCLI(t, dir, env, "eval", "report", "--output", "notes.md")
	if data, _ := os.ReadFile(keep); r.code != 1 || !strings.Contains(r.stderr, "not an ethos report") || string(data) != "my notes\n" {
		t.Errorf("existing file: exit %d, stderr %q, file %q", r.code, r.stderr, data)
	}
	r = ethosCLI(t, dir, env, "eval", "report", "--output", "notes.md", "--force", "--bootstrap", "50")
	if data, _ := os.ReadFile(keep); r.code != 0 || !strings.HasPrefix(string(data), "<!-- ethos-eval-report -->") {
		t.Errorf("--force: exit %d, stderr %q", r.code, r.stderr)
	}

	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"eval", "report", "eval-none"}, 1, "eval-none"},
		{[]string{"eval", "report", "--format", "pdf"}, 2, `--format "pdf"`},
		{[]string{"eval", "report", "a", "b"}, 2, "at most one eval ID"},
		{[]string{"eval", "report", "--bootstrap", "0"}, 2, "--bootstrap"},
	} {
		r := ethosCLI(t, dir, env, c.args...)
		if r.code != c.code || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", c.args, r.code, r.stderr, c.code, c.want)
		}
	}
}
