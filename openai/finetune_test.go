package openai

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	sdk "github.com/openai/openai-go/v3"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/finetunetest"
	"github.com/ethos-toolkit/ethos/internal/wire/wiretest"
	"github.com/ethos-toolkit/ethos/sandbox"
)

func newTestFineTune(t *testing.T, url string, mod ...func(*Config)) *FineTune {
	t.Helper()
	cfg := Config{BaseURL: url + "/v1", APIKey: testKey}
	for _, m := range mod {
		m(&cfg)
	}
	f, err := NewFineTune(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestFineTuneState(t *testing.T) {
	t.Parallel()
	want := map[string]ethos.FineTuneState{
		"validating_files": ethos.FineTunePending,
		"queued":           ethos.FineTunePending,
		"running":          ethos.FineTuneRunning,
		"succeeded":        ethos.FineTuneCompleted,
		"failed":           ethos.FineTuneFailed,
		"cancelled":        ethos.FineTuneCancelled,
		"paused":           ethos.FineTuneUnknown, // the API has pause/resume; the status is not in the spec's enum
		"completed":        ethos.FineTuneUnknown, // Together's word, never OpenAI's
		"":                 ethos.FineTuneUnknown,
	}
	got := map[string]ethos.FineTuneState{}
	for s := range want {
		got[s] = FineTuneState(s)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("FineTuneState (-want +got):\n%s", diff)
	}
	for _, s := range []sdk.FineTuningJobStatus{sdk.FineTuningJobStatusValidatingFiles, sdk.FineTuningJobStatusQueued,
		sdk.FineTuningJobStatusRunning, sdk.FineTuningJobStatusSucceeded, sdk.FineTuningJobStatusFailed, sdk.FineTuningJobStatusCancelled} {
		if FineTuneState(string(s)) == ethos.FineTuneUnknown {
			t.Errorf("SDK status %q maps to unknown", s)
		}
	}
}

// TestFineTuneRequestsMatchSpec captures what openai-go sends for each
// call of the backend and validates it, strictly, against the trimmed
// official spec; the answers are spec-shaped too.
func TestFineTuneRequestsMatchSpec(t *testing.T) {
	t.Parallel()
	var (
		mu     sync.Mutex
		bodies = map[string][]string{}
	)
	fake, srv := newFakeOpenAI(t)
	record := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies[r.Method+" "+r.URL.Path] = append(bodies[r.Method+" "+r.URL.Path], string(body))
		mu.Unlock()
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, srv.URL+r.URL.RequestURI(), strings.NewReader(string(body)))
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), 502)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	defer record.Close()
	b := newTestFineTune(t, record.URL)
	ctx := context.Background()
	file, err := b.Upload(ctx, "data/agora.jsonl", finetunetest.Training)
	if err != nil {
		t.Fatal(err)
	}
	requests := []ethos.FineTuneRequest{
		{BaseModel: "gpt-4o-mini-2024-07-18", TrainFile: file.ID},
		{BaseModel: "gpt-4o-mini-2024-07-18", TrainFile: file.ID, ValidationFile: file.ID,
			Hyperparameters: ethos.Hyperparameters{Epochs: 3, BatchSize: 8, LearningRate: 1.8, Suffix: "agora", WandbProject: "agora-runs",
				LoRA: true, LoRARank: 8, LoRAAlpha: 16}},
		{BaseModel: "gpt-4o-mini-2024-07-18", TrainFile: file.ID, Hyperparameters: ethos.Hyperparameters{Method: ethos.FineTuneDPO}},
		{BaseModel: "gpt-4o-mini-2024-07-18", TrainFile: file.ID,
			Hyperparameters: ethos.Hyperparameters{Method: ethos.FineTuneDPO, DPOBeta: 0.2, Epochs: 2, BatchSize: 4, LearningRate: 0.5}},
		// Continued: from the first job, done by now, and from a model.
		{TrainFile: file.ID, FromCheckpoint: "ftjob-0002", Hyperparameters: ethos.Hyperparameters{Method: ethos.FineTuneDPO, DPOBeta: 0.1}},
		{FromCheckpoint: "ft:gpt-4o-mini-2024-07-18:org::x1", TrainFile: file.ID, Hyperparameters: ethos.Hyperparameters{Method: ethos.FineTuneDPO}},
	}
	for _, req := range requests {
		job, err := b.Create(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		fake.advance(10 * time.Second)
		for _, call := range []func() error{
			func() error { _, err := b.Get(ctx, job.ID); return err },
			func() error { _, err := b.Events(ctx, job.ID); return err },
			func() error { _, err := b.Checkpoints(ctx, job.ID); return err },
			func() error { _, err := b.List(ctx, 1); return err },
			func() error { _, err := b.List(ctx, 0); return err },
		} {
			if err := call(); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := []string{
		`{"model":"gpt-4o-mini-2024-07-18","training_file":"file-0001","method":{"type":"supervised"}}`,
		`{"model":"gpt-4o-mini-2024-07-18","training_file":"file-0001","suffix":"agora","validation_file":"file-0001","integrations":[{"wandb":{"project":"agora-runs"},"type":"wandb"}],"method":{"type":"supervised","supervised":{"hyperparameters":{"batch_size":8,"learning_rate_multiplier":1.8,"n_epochs":3}}}}`,
		`{"model":"gpt-4o-mini-2024-07-18","training_file":"file-0001","method":{"type":"dpo"}}`,
		`{"model":"gpt-4o-mini-2024-07-18","training_file":"file-0001","method":{"type":"dpo","dpo":{"hyperparameters":{"batch_size":4,"beta":0.2,"learning_rate_multiplier":0.5,"n_epochs":2}}}}`,
		`{"model":"ft:gpt-4o-mini-2024-07-18:fake-org::0002","training_file":"file-0001","method":{"type":"dpo","dpo":{"hyperparameters":{"beta":0.1}}}}`,
		`{"model":"ft:gpt-4o-mini-2024-07-18:org::x1","training_file":"file-0001","method":{"type":"dpo"}}`,
	}
	if diff := cmp.Diff(want, bodies["POST /v1/fine_tuning/jobs"]); diff != "" {
		t.Errorf("create bodies (-want +got):\n%s", diff)
	}
	if n := len(bodies["POST /v1/files"]); n != 1 || !strings.Contains(bodies["POST /v1/files"][0], `name="purpose"`) {
		t.Errorf("upload bodies: %d, %.300q", n, bodies["POST /v1/files"])
	}

	// The check must be able to fail: the spec refuses an unknown field
	// and an out-of-range setting.
	spec := theFineTuneSpec(t)
	for _, bad := range []string{
		`{"model":"m","training_file":"f","lora":true}`,
		`{"model":"m","training_file":"f","method":{"type":"supervised","supervised":{"hyperparameters":{"n_epochs":0}}}}`,
		`{"model":"m","training_file":"f","method":{"type":"supervised","supervised":{"hyperparameters":{"lora_r":8}}}}`,
		`{"model":"m","training_file":"f","method":{"type":"dpo","dpo":{"hyperparameters":{"dpo_beta":0.1}}}}`,
		`{"model":"m","training_file":"f","method":{"type":"dpo","dpo":{"hyperparameters":{"beta":0}}}}`,
	} {
		r := httptest.NewRequest(http.MethodPost, "https://api.openai.com/v1/fine_tuning/jobs", strings.NewReader(bad))
		r.Header.Set("Content-Type", "application/json")
		if spec.Request(r, []byte(bad), true) == nil {
			t.Errorf("the spec check accepted %s; it proves nothing", bad)
		}
	}
}

func TestFineTuneParamsRefused(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		req  ethos.FineTuneRequest
		want string
	}{
		{ethos.FineTuneRequest{TrainFile: "f"}, "no base model"},
		{ethos.FineTuneRequest{BaseModel: "m"}, "no training file"},
		{ethos.FineTuneRequest{BaseModel: "m", TrainFile: "f", Hyperparameters: ethos.Hyperparameters{Epochs: -1}}, "epochs -1"},
		{ethos.FineTuneRequest{BaseModel: "m", TrainFile: "f", Hyperparameters: ethos.Hyperparameters{Method: ethos.FineTuneDPO, RPOAlpha: 0.5}}, "no rpo_alpha or simpo_gamma"},
		{ethos.FineTuneRequest{BaseModel: "m", TrainFile: "f", Hyperparameters: ethos.Hyperparameters{DPOBeta: 0.1}}, "dpo_beta is a DPO setting"},
		{ethos.FineTuneRequest{BaseModel: "m", TrainFile: "f", Hyperparameters: ethos.Hyperparameters{Suffix: strings.Repeat("x", 65)}}, "64 characters"},
	} {
		_, err := createParams(tt.req)
		if err == nil || err.Kind != ethos.Invalid || !strings.Contains(err.Msg, tt.want) {
			t.Errorf("createParams(%+v) = %v, want invalid saying %q", tt.req, err, tt.want)
		}
	}
}

func TestFineTuneJobPayload(t *testing.T) {
	t.Parallel()
	const payload = `{"object":"fine_tuning.job","id":"ftjob-abc123","model":"gpt-4o-mini-2024-07-18","created_at":1721764800,
		"finished_at":1721768400,"fine_tuned_model":"ft:gpt-4o-mini-2024-07-18:acme:agora:7p4lURel","organization_id":"org-123",
		"result_files":["file-abc123"],"status":"succeeded","validation_file":null,"training_file":"file-abc123",
		"hyperparameters":{"n_epochs":"auto","batch_size":"auto","learning_rate_multiplier":"auto"},
		"method":{"type":"supervised","supervised":{"hyperparameters":{"n_epochs":3,"batch_size":1,"learning_rate_multiplier":1.8}}},
		"integrations":[{"type":"wandb","wandb":{"project":"agora-runs"}}],"trained_tokens":5768,"error":null,"seed":42}`
	const failed = `{"object":"fine_tuning.job","id":"ftjob-2","model":"gpt-4o-mini","created_at":1721764800,"finished_at":1721764900,
		"fine_tuned_model":null,"status":"failed","training_file":"file-1","hyperparameters":{"n_epochs":2},
		"error":{"code":"invalid_training_file","message":"The job failed due to an invalid training file. Line 3: no assistant message. Key sk-test-SECRET-0123456789","param":"training_file"}}`
	b := newTestFineTune(t, "http://127.0.0.1:1")
	at := func(s int64) *time.Time { t := time.Unix(s, 0).UTC(); return &t }
	for _, tt := range []struct {
		payload string
		want    ethos.FineTuneJob
	}{
		{payload, ethos.FineTuneJob{ID: "ftjob-abc123", Provider: "openai", BaseModel: "gpt-4o-mini-2024-07-18", Status: "succeeded",
			State: ethos.FineTuneCompleted, TrainFile: "file-abc123",
			Hyperparameters: ethos.Hyperparameters{Epochs: 3, BatchSize: 1, LearningRate: 1.8, WandbProject: "agora-runs"},
			Progress:        ethos.FineTuneProgress{Epochs: 3}, OutputModel: "ft:gpt-4o-mini-2024-07-18:acme:agora:7p4lURel",
			CreatedAt: *at(1721764800), UpdatedAt: *at(1721768400), FinishedAt: at(1721768400)}},
		{failed, ethos.FineTuneJob{ID: "ftjob-2", Provider: "openai", BaseModel: "gpt-4o-mini", Status: "failed", State: ethos.FineTuneFailed,
			TrainFile: "file-1", Hyperparameters: ethos.Hyperparameters{Epochs: 2}, Progress: ethos.FineTuneProgress{Epochs: 2},
			Error:     "invalid_training_file: The job failed due to an invalid training file. Line 3: no assistant message. Key [redacted]",
			CreatedAt: *at(1721764800), UpdatedAt: *at(1721764900), FinishedAt: at(1721764900)}},
	} {
		var j sdk.FineTuningJob
		if err := json.Unmarshal([]byte(tt.payload), &j); err != nil {
			t.Fatal(err)
		}
		got := b.job(&j)
		if string(got.Payload) != tt.payload {
			t.Errorf("payload not kept as received")
		}
		got.Payload = nil
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("job (-want +got):\n%s", diff)
		}
	}
}

func TestFineTuneEvents(t *testing.T) {
	t.Parallel()
	l := func(v float64) *float64 { return &v }
	for _, tt := range []struct {
		raw  string
		want ethos.FineTuneEvent
	}{
		{`{"object":"fine_tuning.job.event","id":"ev-1","created_at":1721764800,"level":"info","message":"Step 10/100: training loss=0.50","type":"metrics",
			"data":{"step":10,"train_loss":0.5,"valid_loss":0.75,"total_steps":100,"train_mean_token_accuracy":0.8}}`,
			ethos.FineTuneEvent{JobID: "j", ProviderID: "ev-1", CreatedAt: time.Unix(1721764800, 0).UTC(), Level: "info", Type: "metrics",
				Message: "Step 10/100: training loss=0.50", Step: 10, Loss: l(0.5), ValLoss: l(0.75)}},
		{`{"object":"fine_tuning.job.event","id":"ev-2","created_at":1721764801,"level":"warn","message":"Validation file is small","type":"message"}`,
			ethos.FineTuneEvent{JobID: "j", ProviderID: "ev-2", CreatedAt: time.Unix(1721764801, 0).UTC(), Level: "warning", Type: "message",
				Message: "Validation file is small"}},
	} {
		var e sdk.FineTuningJobEvent
		if err := json.Unmarshal([]byte(tt.raw), &e); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, event("j", e)); diff != "" {
			t.Errorf("event (-want +got):\n%s", diff)
		}
	}
}

func TestFineTuneErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range wiretest.StatusCases("openai", "gpt-4o-mini", fixedNow) {
		t.Run(tc.String(), func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.Header {
					w.Header().Set(k, v)
				}
				w.Header().Set("x-request-id", "req-42")
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.Status)
				fmt.Fprintf(w, `{"error":{"message":"provider words %d %s","type":"some_error","param":null,"code":null}}`, tc.Status, testKey)
			}))
			defer srv.Close()
			b := newTestFineTune(t, srv.URL)
			b.c.now = func() time.Time { return fixedNow }
			_, err := b.Create(context.Background(), ethos.FineTuneRequest{BaseModel: "gpt-4o-mini", TrainFile: "file-1"})
			e := tc.Check(t, err, "req-42", "openai: fine_tuning.jobs.create", testKey)
			if want := fmt.Sprintf("provider words %d [redacted]", tc.Status); !strings.Contains(e.Msg, want) {
				t.Errorf("message %q lacks the provider's words %q", e.Msg, want)
			}
		})
	}

	_, srv := newFakeOpenAI(t)
	b := newTestFineTune(t, srv.URL)
	_, err := b.Get(context.Background(), "ftjob-nope")
	const want = `openai: fine_tuning.jobs.get: fine-tune job "ftjob-nope" not found (404) at provider openai: check the ID: invalid_request_error: fine_tune_not_found: Could not find fine tune: ftjob-nope (request-id req-ft-1)`
	if e := wiretest.AsError(t, err); e.Kind != ethos.NotFound || err.Error() != want {
		t.Errorf("got %s %q\nwant not_found %q", e.Kind, err, want)
	}
	if _, err := b.Get(context.Background(), ""); wiretest.AsError(t, err).Kind != ethos.Invalid {
		t.Errorf("empty ID: %v, want invalid", err)
	}
}

func TestFineTuneConformanceFake(t *testing.T) {
	t.Parallel()
	fake, srv := newFakeOpenAI(t)
	finetunetest.Run(t, finetunetest.Harness{
		Backend:             newTestFineTune(t, srv.URL),
		Advance:             fake.advance,
		Tick:                500 * time.Millisecond,
		BaseModel:           "gpt-4o-mini-2024-07-18",
		UnknownModel:        "gpt-nope",
		UnknownModelMessage: "Model gpt-nope is not available for fine-tuning or does not exist.",
		UnknownJobID:        "ftjob-does-not-exist",
		FailModel:           "fail-train",
		Hyperparameters:     ethos.Hyperparameters{Epochs: 2, Suffix: "agora"},
		Statuses:            []string{"validating_files", "queued", "running", "succeeded"},
		APIKey:              testKey,
	})
}

// ftClock is a clock a test moves by hand.
type ftClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *ftClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *ftClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestFineTuneConformanceSandbox runs the backend suite against the
// sandbox's OpenAI fine-tuning wire. Requests are checked strictly
// against the spec, the sandbox's answers leniently.
func TestFineTuneConformanceSandbox(t *testing.T) {
	t.Parallel()
	clock := &ftClock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	sb := sandbox.New(sandbox.Options{
		APIKey: testKey,
		Now:    clock.now,
		FineTune: sandbox.FineTuneOptions{
			Pending: time.Second, Queued: time.Second, Running: 4 * time.Second,
			Compressing: time.Second, Uploading: time.Second, Cancelling: time.Second,
		},
	})
	srv := httptest.NewServer(theFineTuneSpec(t).Handler(t, sb, false))
	defer srv.Close()
	finetunetest.Run(t, finetunetest.Harness{
		Backend:             newTestFineTune(t, srv.URL, func(c *Config) { c.Provider = "sandbox" }),
		Advance:             clock.advance,
		Tick:                250 * time.Millisecond,
		BaseModel:           "gpt-4o-mini-2024-07-18",
		UnknownModel:        "no-such-base",
		UnknownModelMessage: "no-such-base",
		UnknownJobID:        "ftjob-does-not-exist",
		FailModel:           sandbox.FailTrainModel,
		Hyperparameters:     ethos.Hyperparameters{Epochs: 2, Suffix: "agora"},
		Statuses:            []string{"validating_files", "queued", "running", "succeeded"},
		APIKey:              testKey,
		DPO:                 true,
	})
}
