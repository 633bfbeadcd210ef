package together

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/finetunetest"
	"github.com/ethos-toolkit/ethos/sandbox"
)

// togetherStatuses are the statuses a completed Together job passes
// through, uploading (of the trained model) included.
var togetherStatuses = []string{"pending", "queued", "running", "compressing", "uploading", "completed"}

// TestConformanceFake runs the backend suite against the hand-written
// fake, whose every request and answer is checked against the spec.
func TestConformanceFake(t *testing.T) {
	t.Parallel()
	fake, srv := newFakeTogether(t)
	finetunetest.Run(t, finetunetest.Harness{
		Backend:             newTestClient(t, srv.URL, func(o *Options) { o.Now = fake.clock }),
		Advance:             fake.advance,
		Tick:                500 * time.Millisecond,
		BaseModel:           "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference",
		UnknownModel:        "meta-llama/Nonexistent-9B",
		UnknownModelMessage: "Model meta-llama/Nonexistent-9B is not supported for fine-tuning",
		FailModel:           "fail-train",
		Hyperparameters:     ethos.Hyperparameters{Epochs: 2, LoRA: true, Suffix: "agora"},
		Statuses:            togetherStatuses,
		APIKey:              testKey,
		LossesFromMetrics:   true,
		Evals:               2,
	})
}

// testClock is a clock a test moves by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestConformanceSandbox runs the backend suite against the ethos
// sandbox's Together wire, as `ethos finetune --provider sandbox` uses it.
// Requests are checked strictly against the spec; the sandbox's answers
// leniently, since it adds a field the spec lacks (a job's output_name,
// as older payloads had) on purpose.
func TestConformanceSandbox(t *testing.T) {
	t.Parallel()
	clock := &testClock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	sb := sandbox.New(sandbox.Options{
		APIKey: testKey,
		Now:    clock.now,
		FineTune: sandbox.FineTuneOptions{
			Pending: time.Second, Queued: time.Second, Running: 4 * time.Second,
			Compressing: time.Second, Uploading: time.Second, Cancelling: time.Second,
		},
	})
	srv := httptest.NewServer(thePatchedSpec(t).Handler(t, sb, false))
	defer srv.Close()
	finetunetest.Run(t, finetunetest.Harness{
		Backend:             newTestClient(t, srv.URL, func(o *Options) { o.Provider = "sandbox"; o.Now = clock.now }),
		Advance:             clock.advance,
		Tick:                250 * time.Millisecond,
		BaseModel:           "base",
		UnknownModel:        "no-such-base",
		UnknownModelMessage: `Model "no-such-base" is not available for fine-tuning`,
		FailModel:           sandbox.FailTrainModel,
		Hyperparameters:     ethos.Hyperparameters{Epochs: 2, LoRA: true, LoRARank: 8, LoRAAlpha: 16, Suffix: "agora"},
		Statuses:            togetherStatuses,
		APIKey:              testKey,
		LossesFromMetrics:   true,
		Evals:               3,
		DPO:                 true,
	})
}

// TestSandboxFailuresMidPoll checks that a provider failing some polls
// (the sandbox's FailEvery) gives errors worth a retry, never a job state.
func TestSandboxFailuresMidPoll(t *testing.T) {
	t.Parallel()
	clock := &testClock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	sb := sandbox.New(sandbox.Options{Now: clock.now, FineTune: sandbox.FineTuneOptions{FailEvery: 2}})
	srv := httptest.NewServer(sb)
	defer srv.Close()
	c := newTestClient(t, srv.URL, func(o *Options) { o.Provider = "sandbox" })
	ctx := t.Context()
	var file ethos.File
	for i := 0; file.ID == ""; i++ {
		f, err := c.Upload(ctx, "train.jsonl", finetunetest.Training)
		if err != nil && (i > 3 || ethos.KindOf(err) != ethos.Transient) {
			t.Fatalf("upload: %v", err)
		}
		file = f
	}
	var job ethos.FineTuneJob
	for i := 0; job.ID == ""; i++ {
		j, err := c.Create(ctx, ethos.FineTuneRequest{BaseModel: "base", TrainFile: file.ID, Hyperparameters: ethos.Hyperparameters{LoRA: true}})
		if err != nil && (i > 3 || ethos.KindOf(err) != ethos.Transient) {
			t.Fatalf("create: %v", err)
		}
		job = j
	}
	failures := 0
	for range 20 {
		clock.advance(500 * time.Millisecond)
		j, err := c.Get(ctx, job.ID)
		if err != nil {
			failures++
			if k := ethos.KindOf(err); k != ethos.Transient || ethos.OutcomeOf(k) != ethos.Retry {
				t.Errorf("a failed poll is %s (%s), want transient and retried: %v", k, ethos.OutcomeOf(k), err)
			}
			continue
		}
		if j.State == ethos.FineTuneFailed {
			t.Errorf("job marked failed after a failed poll")
		}
	}
	if failures == 0 {
		t.Error("no poll failed; the test proves nothing")
	}
}

// chatCall is a one-token chat request through the client's error
// mapping, for the endpoint suite's serving checks.
func chatCall(c *Client) func(ctx context.Context, model string) error {
	return func(ctx context.Context, model string) error {
		body, _ := json.Marshal(map[string]any{"model": model, "max_tokens": 1,
			"messages": []map[string]string{{"role": "user", "content": "Hi"}}})
		_, err := c.do(ctx, call{op: "chat", method: http.MethodPost, path: "/chat/completions",
			body: bytes.NewReader(body), ctype: "application/json", model: model}, nil)
		return err
	}
}

// notServerless is finetune.NotServerless's test on Together's answer
// (this package does not import finetune): a 400 whose message says the
// model is not served serverless.
func notServerless(err error) bool {
	return ethos.KindOf(err) == ethos.Invalid && strings.Contains(err.Error(), "non-serverless model")
}

// TestEndpointConformanceFake runs the endpoint suite against the fake,
// every request and answer of a spec path checked strictly.
func TestEndpointConformanceFake(t *testing.T) {
	t.Parallel()
	fake, srv := newFakeTogether(t)
	c := newTestClient(t, srv.URL, func(o *Options) { o.Now = fake.clock })
	finetunetest.RunEndpoints(t, finetunetest.EndpointHarness{
		Backend:       c,
		Advance:       fake.advance,
		Tick:          500 * time.Millisecond,
		Model:         fakeDedicatedModel,
		UnknownModel:  "meta-llama/Nonexistent-9B",
		Call:          chatCall(c),
		NotServerless: notServerless,
		APIKey:        testKey,
	})
}

// TestEndpointConformanceSandbox runs the endpoint suite against the
// sandbox's Together wire with its base model served dedicated, every
// request and answer of an endpoint path checked strictly.
func TestEndpointConformanceSandbox(t *testing.T) {
	t.Parallel()
	c, clock, _ := dedicatedSandbox(t)
	finetunetest.RunEndpoints(t, finetunetest.EndpointHarness{
		Backend:       c,
		Advance:       clock.advance,
		Tick:          500 * time.Millisecond,
		Model:         trainOnSandbox(t, c, clock),
		UnknownModel:  "no-such-model",
		Call:          chatCall(c),
		NotServerless: notServerless,
		APIKey:        testKey,
	})
}
