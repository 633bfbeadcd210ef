package generate_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/config"
	"github.com/ethos-toolkit/ethos/dataset"
	"github.com/ethos-toolkit/ethos/generate"
	"github.com/ethos-toolkit/ethos/jobs"
	"github.com/ethos-toolkit/ethos/sandbox"
)

// runIntrospection drives an introspection run to its end and exports it.
func (e *env) runIntrospection(t *testing.T, s generate.IntrospectionSettings) (generate.IntrospectionMetadata, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	in := generate.NewIntrospection(e.store, e.chain, s)
	cfg := jobs.Config{Workers: 8, Tasks: in.Tasks(), Priorities: in.Priorities(), Completer: e.chain, Queue: in.RunID(),
		Backoff: func(int) time.Duration { return 5 * time.Millisecond }, FetchCooldown: 5 * time.Millisecond, FetchPollInterval: 50 * time.Millisecond}
	err := jobs.Run(ctx, e.store.SQL(), cfg, jobs.Work{
		Prepare: func(ctx context.Context, _ int64) (bool, error) {
			_, err := in.Begin(ctx)
			return err == nil, err
		},
		Drive:       func(ctx context.Context) error { return in.Drive(ctx, nil) },
		StopTimeout: 10 * time.Second,
	})
	if err != nil {
		return generate.IntrospectionMetadata{}, err
	}
	return in.Export(ctx, false)
}

func introspectionSettings(e *env, t *testing.T, turns int) generate.IntrospectionSettings {
	g := e.settings.Generate
	return generate.IntrospectionSettings{
		Model: "sandbox/writer", Character: e.settings.Character,
		Introspection: config.Introspection{Reflections: 5, Dialogues: 3, Turns: turns},
		Review:        g.Review, MaxTokens: g.Responses.MaxTokens, IncludeSystem: true,
		Output: generate.IntrospectionOutput(filepath.Join(t.TempDir(), "data", "agora.jsonl")),
	}
}

// TestIntrospection writes self-reflections and self-interaction
// dialogues with an odd and an even number of turns: one SFT record each,
// alternating user and assistant turns that end with the assistant, the
// dialogue's turns in the order spoken, counts and the prompt set in the
// metadata, and a file that passes the SFT checks.
func TestIntrospection(t *testing.T) {
	t.Parallel()
	for _, turns := range []int{3, 4} {
		e := newEnv(t, 1, sandbox.Options{Seed: 9})
		s := introspectionSettings(e, t, turns)
		meta, err := e.runIntrospection(t, s)
		if err != nil {
			t.Fatal(err)
		}
		if meta.Reflections != 5 || meta.Dialogues != 3 || meta.Records != 8 || meta.Turns != turns || meta.DialogueTurns != 3*turns {
			t.Fatalf("turns %d: metadata %+v", turns, meta)
		}
		if meta.PromptSet != generate.IntrospectionPromptSet || meta.PromptSetSHA256 == "" || meta.Accepted < 5+3*turns {
			t.Errorf("prompt set %q (%q), accepted %d", meta.PromptSet, meta.PromptSetSHA256, meta.Accepted)
		}
		if meta.Calls[generate.StageReflection].Calls < 5 || meta.Calls[generate.StageTurn].Calls < 3*turns {
			t.Errorf("calls %+v", meta.Calls)
		}
		records := readRecords(t, s.Outputs().Dataset)
		if len(records) != 8 {
			t.Fatalf("%d records, want 8", len(records))
		}
		prompts := generate.IntrospectionPrompts()
		for i, rec := range records {
			msgs := rec.Messages
			if msgs[0].Role != ethos.RoleSystem || msgs[0].Content != s.Character.SystemPrompt {
				t.Errorf("record %d does not start with the character's system prompt", i)
			}
			turnsOf := msgs[1:]
			for j, m := range turnsOf {
				want := ethos.RoleAssistant
				if (len(turnsOf)-j)%2 == 0 {
					want = ethos.RoleUser
				}
				if m.Role != want || strings.TrimSpace(m.Content) == "" {
					t.Fatalf("record %d turn %d: role %s, want %s (%q)", i, j, m.Role, want, m.Content)
				}
			}
			switch {
			case i < 5:
				if len(turnsOf) != 2 || turnsOf[0].Content != prompts.Reflections[i] {
					t.Errorf("reflection %d: %+v", i, turnsOf)
				}
			case turns%2 == 1: // the first speaker's view opens with the subject
				if len(turnsOf) != turns+1 || turnsOf[0].Content != prompts.Openers[i-5] {
					t.Errorf("dialogue %d: %d turns, first %q", i-5, len(turnsOf), turnsOf[0].Content)
				}
			default:
				if len(turnsOf) != turns {
					t.Errorf("dialogue %d: %d turns, want %d", i-5, len(turnsOf), turns)
				}
			}
		}
		rep, err := dataset.CheckFileWith(t.Context(), s.Outputs().Dataset, dataset.Options{Provider: "together", Method: dataset.MethodSFT})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Errors() > 0 {
			t.Errorf("the introspection file fails the SFT checks: %+v", rep.Problems)
		}
		var onDisk generate.IntrospectionMetadata
		data, err := os.ReadFile(s.Outputs().Metadata)
		if err != nil || json.Unmarshal(data, &onDisk) != nil || onDisk.Run != meta.Run || onDisk.Reflections != 5 {
			t.Errorf("metadata file: %v\n%s", err, data)
		}
	}
}

// TestIntrospectionQuarantinesWithReasons: with a review no answer can
// pass, every attempt is rejected with its reason, each reflection and
// dialogue is quarantined, the run asks for more up to its limit, and ends
// with a shortfall, not a file.
func TestIntrospectionQuarantinesWithReasons(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 1, sandbox.Options{Seed: 9})
	s := introspectionSettings(e, t, 2)
	s.Introspection.Reflections, s.Introspection.Dialogues = 1, 1
	s.Review.MinWords, s.Review.MaxWords, s.Review.MaxAttempts = 5000, 6000, 2
	_, err := e.runIntrospection(t, s)
	var sf *generate.Shortfall
	if !errors.As(err, &sf) {
		t.Fatalf("err %v, want a shortfall", err)
	}
	if _, serr := os.Stat(s.Outputs().Dataset); serr == nil {
		t.Error("a run short of its data wrote its file")
	}
	items, err := e.store.Items(t.Context(), ethos.ItemFilter{RunID: s.RunID(), Stage: generate.StageReflection})
	if err != nil {
		t.Fatal(err)
	}
	// 1 wanted, limit 2·1+5 = 7 reflections, 2 attempts each.
	if len(items) != 14 {
		t.Errorf("%d reflection attempts, want 14", len(items))
	}
	for _, it := range items {
		if !strings.Contains(it.Reason, "too_short") {
			t.Errorf("%s rejected for %q", it.Key, it.Reason)
		}
	}
}

// TestParsePromptSet: the embedded set parses, and each malformed file is
// refused with its line.
func TestParsePromptSet(t *testing.T) {
	t.Parallel()
	set := generate.IntrospectionPrompts()
	if set.Version != generate.IntrospectionPromptSet || len(set.Reflections) < 10 || len(set.Openers) < 4 || len(set.SHA256) != 64 {
		t.Fatalf("embedded set: %s, %d reflections, %d openers", set.Version, len(set.Reflections), len(set.Openers))
	}
	for _, tc := range []struct{ name, text, want string }{
		{"prompt before a section", "# c\nWhat?\n[reflection]\nA\n[dialogue]\nB\n", "line 2: a prompt before any section"},
		{"unknown section", "[reflection]\nA\n[dialog]\nB\n", `line 3: unknown section "[dialog]"`},
		{"no openers", "[reflection]\nA\n", "0 dialogue subjects"},
		{"repeated prompt", "[reflection]\nA\n[dialogue]\nA\n", "line 4: the prompt of line 2 again"},
	} {
		_, err := generate.ParsePromptSet("v", tc.text)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.want)
			continue
		}
		requireParseKind(t, err)
	}
}
