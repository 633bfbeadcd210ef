package together

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/finetunetest"
	"github.com/ethos-toolkit/ethos/sandbox"
)

// specChecked serves sb with every request to a path the spec describes
// checked strictly, and the answers of the endpoint paths checked
// strictly too (the sandbox's job answers add output_name, so those are
// checked leniently). The adapters path is not in the spec: it follows
// Together's documentation, and goes unchecked.
func specChecked(t *testing.T, sb http.Handler) http.Handler {
	strict := thePatchedSpec(t).Handler(t, sb, true)
	lenient := thePatchedSpec(t).Handler(t, sb, false)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		case strings.HasSuffix(p, "/adapters"), p == "/v1/chat/completions":
			sb.ServeHTTP(w, r)
		case strings.HasPrefix(p, "/v1/endpoints"), p == "/v1/hardware":
			strict.ServeHTTP(w, r)
		default:
			lenient.ServeHTTP(w, r)
		}
	})
}

// chat sends a one-token chat request for model and returns the status
// and body.
func chat(t *testing.T, url, model string) (int, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"model": model, "max_tokens": 1,
		"messages": []map[string]string{{"role": "user", "content": "Hi"}}})
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, url+"/v1/chat/completions", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// dedicatedSandbox is a sandbox whose base model's fine-tunes are served
// only on dedicated endpoints, behind specChecked, on a clock the test
// moves, and a client of its Together wire.
func dedicatedSandbox(t *testing.T) (*Client, *testClock, *httptest.Server) {
	t.Helper()
	clock := &testClock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	sb := sandbox.New(sandbox.Options{APIKey: testKey, Now: clock.now,
		Serving:  map[string]string{"base": sandbox.ServingDedicated},
		FineTune: sandbox.FineTuneOptions{EndpointStep: time.Second}})
	srv := httptest.NewServer(specChecked(t, sb))
	t.Cleanup(srv.Close)
	return newTestClient(t, srv.URL, func(o *Options) { o.Provider = "sandbox"; o.Now = clock.now }), clock, srv
}

// trainOnSandbox trains a LoRA adapter of the sandbox's base model and
// returns the trained model's name.
func trainOnSandbox(t *testing.T, c *Client, clock *testClock) string {
	t.Helper()
	ctx := t.Context()
	f, err := c.Upload(ctx, "train.jsonl", finetunetest.Training)
	if err != nil {
		t.Fatal(err)
	}
	job, err := c.Create(ctx, ethos.FineTuneRequest{BaseModel: "base", TrainFile: f.ID, Hyperparameters: ethos.Hyperparameters{LoRA: true}})
	if err != nil {
		t.Fatal(err)
	}
	for job.State != ethos.FineTuneCompleted {
		if job.State.Final() {
			t.Fatalf("job %s ended %s", job.ID, job.State)
		}
		clock.advance(time.Second)
		if job, err = c.Get(ctx, job.ID); err != nil {
			t.Fatal(err)
		}
	}
	return job.OutputModel
}

// TestEndpointsOnSandbox deploys a model the sandbox does not serve
// serverless on a dedicated endpoint, calls it, stops the endpoint, and
// attaches the adapter to an endpoint of its base model, every request to
// a spec path checked strictly.
func TestEndpointsOnSandbox(t *testing.T) {
	t.Parallel()
	c, clock, srv := dedicatedSandbox(t)
	ctx := t.Context()

	model := trainOnSandbox(t, c, clock)

	// Not served serverless: Together's error for that case.
	status, body := chat(t, srv.URL, model)
	if status != http.StatusBadRequest || !strings.Contains(body, `"code":"model_not_available"`) ||
		!strings.Contains(body, "Unable to access non-serverless model "+model) {
		t.Fatalf("chat with %s = %d %s, want 400 model_not_available", model, status, body)
	}

	hw, err := c.Hardware(ctx, model)
	if err != nil {
		t.Fatal(err)
	}
	if len(hw) == 0 || hw[0].CentsPerMinute <= 0 || hw[0].Availability != "available" {
		t.Fatalf("Hardware(%s) = %+v, want priced, available configurations", model, hw)
	}
	if _, err := c.Hardware(ctx, "no-such-model"); ethos.KindOf(err) != ethos.NotFound {
		t.Errorf("Hardware(unknown model) = %v, want NotFound", err)
	}
	if _, err := c.CreateEndpoint(ctx, ethos.EndpointRequest{Model: model, Hardware: "8x_nothing"}); ethos.KindOf(err) != ethos.Invalid {
		t.Errorf("CreateEndpoint(unknown hardware) = %v, want Invalid", err)
	}

	ep, err := c.CreateEndpoint(ctx, ethos.EndpointRequest{Model: model, Hardware: hw[0].ID, DisplayName: "ethos " + model, InactiveTimeout: 15})
	if err != nil {
		t.Fatal(err)
	}
	if ep.ID == "" || ep.Name == "" || ep.Model != model || ep.State != ethos.EndpointPending {
		t.Fatalf("CreateEndpoint = %+v, want a PENDING endpoint serving %s", ep, model)
	}
	var states []string
	for ep.State != ethos.EndpointStarted {
		states = append(states, ep.State)
		if status, _ := chat(t, srv.URL, ep.Name); status == http.StatusOK {
			t.Fatalf("endpoint %s answered while %s", ep.Name, ep.State)
		}
		clock.advance(time.Second)
		if ep, err = c.GetEndpoint(ctx, ep.ID); err != nil {
			t.Fatal(err)
		}
	}
	if got := strings.Join(states, " "); got != "PENDING STARTING" {
		t.Errorf("states before STARTED: %s, want PENDING STARTING", got)
	}
	if status, body := chat(t, srv.URL, ep.Name); status != http.StatusOK {
		t.Fatalf("chat with started endpoint %s = %d %s", ep.Name, status, body)
	}

	// Attach the adapter to an endpoint of the base model.
	baseEP, err := c.CreateEndpoint(ctx, ethos.EndpointRequest{Model: "base", Hardware: hw[0].ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AttachAdapter(ctx, baseEP.ID, baseEP.Name, model); ethos.KindOf(err) != ethos.Invalid {
		t.Errorf("AttachAdapter to an endpoint not started = %v, want Invalid", err)
	}
	clock.advance(2 * time.Second)
	name, err := c.AttachAdapter(ctx, baseEP.ID, baseEP.Name, model)
	if err != nil {
		t.Fatal(err)
	}
	if name != baseEP.Name+":"+model {
		t.Errorf("AttachAdapter = %q, want %q", name, baseEP.Name+":"+model)
	}
	if status, body := chat(t, srv.URL, name); status != http.StatusOK {
		t.Fatalf("chat with attached adapter %s = %d %s", name, status, body)
	}

	// Stopping.
	for _, id := range []string{ep.ID, baseEP.ID} {
		stopped, err := c.StopEndpoint(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if stopped.State != ethos.EndpointStopping {
			t.Errorf("StopEndpoint(%s) state = %s, want STOPPING", id, stopped.State)
		}
	}
	clock.advance(time.Second)
	if ep, err = c.GetEndpoint(ctx, ep.ID); err != nil || ep.State != ethos.EndpointStopped {
		t.Fatalf("GetEndpoint after stop = %+v, %v, want STOPPED", ep, err)
	}
	if status, _ := chat(t, srv.URL, ep.Name); status == http.StatusOK {
		t.Error("a stopped endpoint still answers")
	}
	if _, err := c.GetEndpoint(ctx, "endpoint-none"); ethos.KindOf(err) != ethos.NotFound {
		t.Errorf("GetEndpoint(unknown) = %v, want NotFound", err)
	}
}
