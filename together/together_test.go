package together

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/finetunetest"
	"github.com/ethos-toolkit/ethos/internal/wire/wiretest"
	"github.com/ethos-toolkit/ethos/sandbox"
)

const testKey = "tk-test-SECRET"

func newTestClient(t *testing.T, url string, mod ...func(*Options)) *Client {
	t.Helper()
	o := Options{BaseURL: url + "/v1", APIKey: testKey}
	for _, m := range mod {
		m(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestState(t *testing.T) {
	t.Parallel()
	want := map[string]ethos.FineTuneState{
		"pending":          ethos.FineTunePending,
		"queued":           ethos.FineTunePending,
		"running":          ethos.FineTuneRunning,
		"compressing":      ethos.FineTuneRunning,
		"uploading":        ethos.FineTuneRunning, // the trained model, not the data
		"cancel_requested": ethos.FineTuneRunning,
		"completed":        ethos.FineTuneCompleted,
		"cancelled":        ethos.FineTuneCancelled,
		"error":            ethos.FineTuneFailed,
		"user_error":       ethos.FineTuneFailed,
		"COMPLETED":        ethos.FineTuneCompleted,
		" queued ":         ethos.FineTunePending,
		"succeeded":        ethos.FineTuneUnknown, // OpenAI's word; never Together's
		"failed":           ethos.FineTuneUnknown,
		"paused":           ethos.FineTuneUnknown,
		"":                 ethos.FineTuneUnknown,
	}
	got := map[string]ethos.FineTuneState{}
	for status := range want {
		got[status] = State(status)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("State (-want +got):\n%s", diff)
	}
	// Every status of the spec's enum maps to a known state.
	for _, status := range []string{"pending", "queued", "running", "compressing", "uploading", "cancel_requested", "cancelled", "error", "completed"} {
		if State(status) == ethos.FineTuneUnknown {
			t.Errorf("spec status %q maps to unknown", status)
		}
	}
}

func TestOutputModel(t *testing.T) {
	t.Parallel()
	tests := []struct{ payload, want string }{
		{`{"id":"ft-1","model_output_name":"acme/Llama-3-8B-agora-ab12"}`, "acme/Llama-3-8B-agora-ab12"},
		// The Python SDK's FinetuneResponse field, which older payloads carry.
		{`{"id":"ft-1","output_name":"acme/Llama-3-8B-agora-ab12"}`, "acme/Llama-3-8B-agora-ab12"},
		{`{"id":"ft-1","model_output_name":"new","output_name":"old"}`, "new"},
		{`{"id":"ft-1","model_output_name":"","output_name":"old"}`, "old"},
		{`{"id":"ft-1","model_output_name":" ","output_name":" old "}`, "old"},
		{`{"id":"ft-1","model_output_name":null}`, ""},
		// OpenAI's name for it is not Together's.
		{`{"id":"ft-1","fine_tuned_model":"ft:gpt-4o-mini:acme::x"}`, ""},
		{`not json`, ""},
	}
	for _, tt := range tests {
		if got := OutputModel([]byte(tt.payload)); got != tt.want {
			t.Errorf("OutputModel(%s) = %q, want %q", tt.payload, got, tt.want)
		}
	}
}

// TestJobPayloads reads job payloads of the shapes the API has sent: the
// spec's full FinetuneResponse with events, the truncated one of list and
// cancel (its example in the spec), and an older SDK-era payload with
// output_name and flat LoRA fields.
func TestJobPayloads(t *testing.T) {
	t.Parallel()
	c := newTestClient(t, "http://127.0.0.1:1")
	loss := func(v float64) *float64 { return &v }
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	finished := at("2026-05-01T12:40:00Z")
	tests := []struct {
		name    string
		payload string
		want    ethos.FineTuneJob
	}{
		{
			name: "full",
			payload: `{"id":"ft-3b883474-f39c-40d9","status":"completed","model":"meta-llama/Meta-Llama-3.1-8B-Instruct-Reference",
				"model_output_name":"acme/Meta-Llama-3.1-8B-Instruct-Reference-agora-3b88","training_file":"file-1","validation_file":"file-2",
				"created_at":"2026-05-01T12:00:00.000Z","updated_at":"2026-05-01T12:40:00Z","n_epochs":3,"epochs_completed":3,
				"batch_size":8,"learning_rate":0.00001,"suffix":"agora","wandb_project_name":"agora",
				"training_type":{"type":"Lora","lora_r":8,"lora_alpha":16,"lora_dropout":0.05,"lora_trainable_modules":"all-linear"},
				"total_price":4500000000,
				"events":[
				 {"object":"fine-tune-event","created_at":"2026-05-01T12:10:00Z","level":"info","message":"Epoch completed, at step 12","type":"epoch_complete","param_count":0,"token_count":0,"total_steps":36,"wandb_url":"","step":12,"checkpoint_path":"","model_path":"","training_offset":0,"hash":""},
				 {"object":"fine-tune-event","created_at":"2026-05-01T12:05:00Z","level":null,"message":"Step 6/36: train loss 1.25, val loss 1.5","type":"checkpoint_save","param_count":0,"token_count":0,"total_steps":36,"wandb_url":"","step":0,"checkpoint_path":"","model_path":"","training_offset":0,"hash":""}
				]}`,
			want: ethos.FineTuneJob{
				ID: "ft-3b883474-f39c-40d9", Provider: "together", BaseModel: "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference",
				Status: "completed", State: ethos.FineTuneCompleted, TrainFile: "file-1", ValidationFile: "file-2",
				Hyperparameters: ethos.Hyperparameters{Epochs: 3, LearningRate: 1e-5, BatchSize: 8, LoRA: true, LoRARank: 8, LoRAAlpha: 16,
					LoRADropout: 0.05, Suffix: "agora", WandbProject: "agora"},
				Progress:    ethos.FineTuneProgress{Epoch: 3, Epochs: 3, Step: 12, TotalSteps: 36, Loss: loss(1.25)},
				OutputModel: "acme/Meta-Llama-3.1-8B-Instruct-Reference-agora-3b88",
				CostUSD:     4.5,
				CreatedAt:   at("2026-05-01T12:00:00Z"), UpdatedAt: finished, FinishedAt: &finished,
			},
		},
		{
			name: "truncated, the spec's example",
			payload: `{"id":"ft-01234567890123456789","status":"completed","created_at":"2023-05-17T17:35:45.123Z","updated_at":"2023-05-17T18:46:23.456Z",
				"user_id":"user_01234567890123456789","owner_address":"user@example.com","total_price":1500,"token_count":850000,"events":[],
				"model":"meta-llama/Llama-2-7b-hf","model_output_name":"mynamespace/meta-llama/Llama-2-7b-hf-32162631","n_epochs":3,
				"training_file":"file-01234567890123456789","wandb_project_name":"my-finetune-project"}`,
			want: ethos.FineTuneJob{
				ID: "ft-01234567890123456789", Provider: "together", BaseModel: "meta-llama/Llama-2-7b-hf", Status: "completed",
				State: ethos.FineTuneCompleted, TrainFile: "file-01234567890123456789",
				Hyperparameters: ethos.Hyperparameters{Epochs: 3, WandbProject: "my-finetune-project"},
				Progress:        ethos.FineTuneProgress{Epochs: 3},
				OutputModel:     "mynamespace/meta-llama/Llama-2-7b-hf-32162631",
				CostUSD:         1500e-9,
				CreatedAt:       at("2023-05-17T17:35:45.123Z"), UpdatedAt: at("2023-05-17T18:46:23.456Z"),
				FinishedAt: func() *time.Time { t := at("2023-05-17T18:46:23.456Z"); return &t }(),
			},
		},
		{
			name: "older payload: output_name, flat LoRA, batch max, user_error",
			payload: `{"id":"ft-9","status":"user_error","model":"m","output_name":"acme/m-x","training_file":"file-1",
				"created_at":"2024-01-02T03:04:05.678901","updated_at":"","n_epochs":"2","batch_size":"max","learning_rate":1e-5,
				"lora":true,"lora_r":16,"lora_alpha":32.0,"lora_dropout":0,
				"events":[{"object":"fine-tune-event","created_at":"2024-01-02T03:05:00Z","level":"Error","message":"Training file has no assistant turn on line 3","type":"JOB_ERROR"}]}`,
			want: ethos.FineTuneJob{
				ID: "ft-9", Provider: "together", BaseModel: "m", Status: "user_error", State: ethos.FineTuneFailed, TrainFile: "file-1",
				Hyperparameters: ethos.Hyperparameters{Epochs: 2, LearningRate: 1e-5, LoRA: true, LoRARank: 16, LoRAAlpha: 32},
				Progress:        ethos.FineTuneProgress{Epochs: 2},
				OutputModel:     "acme/m-x",
				Error:           "Training file has no assistant turn on line 3",
				CreatedAt:       at("2024-01-02T03:04:05.678901Z"),
			},
		},
		{
			name:    "unknown status stays verbatim",
			payload: `{"id":"ft-10","status":"paused","model":"m","created_at":"2026-05-01T12:00:00Z","updated_at":"2026-05-01T12:01:00Z"}`,
			want: ethos.FineTuneJob{ID: "ft-10", Provider: "together", BaseModel: "m", Status: "paused", State: ethos.FineTuneUnknown,
				CreatedAt: at("2026-05-01T12:00:00Z"), UpdatedAt: at("2026-05-01T12:01:00Z")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w wireJob
			if err := json.Unmarshal([]byte(tt.payload), &w); err != nil {
				t.Fatal(err)
			}
			got, err := c.job("test", []byte(tt.payload), w)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Payload, []byte(tt.payload)) {
				t.Errorf("payload not kept as received")
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreFields(ethos.FineTuneJob{}, "Payload")); diff != "" {
				t.Errorf("job (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseMessage(t *testing.T) {
	t.Parallel()
	f := func(v float64) *float64 { return &v }
	tests := []struct {
		msg  string
		want messageFacts
	}{
		{"Epoch completed, at step 24", messageFacts{Step: 24}},
		{"Checkpoint saved at step 5 of 20 (epoch 1/3), training loss 1.2345",
			messageFacts{Step: 5, TotalSteps: 20, Epoch: 1, Epochs: 3, hasEpochs: true, Loss: f(1.2345)}},
		{"Step 10/100: training loss=0.5, validation loss=0.75", messageFacts{Step: 10, TotalSteps: 100, Loss: f(0.5), ValLoss: f(0.75)}},
		{"step: 3 loss: 2e-1 eval_loss: 3E-1", messageFacts{Step: 3, Loss: f(0.2), ValLoss: f(0.3)}},
		{"val_loss=1.1 train_loss=0.9", messageFacts{Loss: f(0.9), ValLoss: f(1.1)}},
		{"Training started for model meta-llama/Meta-Llama-3.1-8B", messageFacts{}},
		{"Job finished at Mon Jan 2 15:04:05 UTC 2026", messageFacts{}},
		{"loss is 1e999", messageFacts{}},
		{"lossless compression done", messageFacts{}},
		{"", messageFacts{}},
	}
	for _, tt := range tests {
		got := parseMessage(tt.msg)
		if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(messageFacts{})); diff != "" {
			t.Errorf("parseMessage(%q) (-want +got):\n%s", tt.msg, diff)
		}
	}
}

func TestEventLevels(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"info": "info", "Info": "info", "legacy_info": "info", "warning": "warning", "Warning": "warning",
		"legacy_iwarning": "warning", "error": "error", "Error": "error", "legacy_ierror": "error", "": "", "debug": "debug",
	} {
		if got := level(in); got != want {
			t.Errorf("level(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCreateBody checks what Create sends for each kind of settings, and
// that every body the spec accepts.
func TestCreateBody(t *testing.T) {
	t.Parallel()
	c := newTestClient(t, "http://127.0.0.1:1", func(o *Options) { o.WandbAPIKey = "wandb-SECRET" })
	base := ethos.FineTuneRequest{BaseModel: "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference", TrainFile: "file-1"}
	with := func(h ethos.Hyperparameters) ethos.FineTuneRequest { r := base; r.Hyperparameters = h; return r }
	tests := []struct {
		name string
		req  ethos.FineTuneRequest
		body string // "" when the request is refused
		msg  string // what the refusal says
	}{
		{"full, provider defaults", base,
			`{"training_file":"file-1","model":"meta-llama/Meta-Llama-3.1-8B-Instruct-Reference","training_method":{"method":"sft","train_on_inputs":"auto"},"training_type":{"type":"Full"}}`, ""},
		{"full ignores LoRA settings", with(ethos.Hyperparameters{LoRARank: 8, LoRAAlpha: 16}),
			`{"training_file":"file-1","model":"meta-llama/Meta-Llama-3.1-8B-Instruct-Reference","training_method":{"method":"sft","train_on_inputs":"auto"},"training_type":{"type":"Full"}}`, ""},
		{"LoRA defaults", with(ethos.Hyperparameters{LoRA: true}),
			`{"training_file":"file-1","model":"meta-llama/Meta-Llama-3.1-8B-Instruct-Reference","training_method":{"method":"sft","train_on_inputs":"auto"},"training_type":{"type":"Lora","lora_r":8,"lora_alpha":16}}`, ""},
		{"everything", ethos.FineTuneRequest{BaseModel: "m", TrainFile: "file-1", ValidationFile: "file-2",
			Hyperparameters: ethos.Hyperparameters{Epochs: 3, LearningRate: 2e-5, BatchSize: 16, LoRA: true, LoRARank: 32, LoRAAlpha: 64,
				LoRADropout: 0.1, Suffix: "agora", WandbProject: "agora-runs", Evals: 5}},
			`{"training_file":"file-1","validation_file":"file-2","model":"m","n_epochs":3,"n_evals":5,"batch_size":16,"learning_rate":0.00002,"suffix":"agora","wandb_api_key":"wandb-SECRET","wandb_project_name":"agora-runs","training_method":{"method":"sft","train_on_inputs":"auto"},"training_type":{"type":"Lora","lora_r":32,"lora_alpha":64,"lora_dropout":0.1}}`, ""},
		{"dpo, provider defaults", with(ethos.Hyperparameters{Method: ethos.FineTuneDPO}),
			`{"training_file":"file-1","model":"meta-llama/Meta-Llama-3.1-8B-Instruct-Reference","training_method":{"method":"dpo"},"training_type":{"type":"Full"}}`, ""},
		{"dpo with its settings", with(ethos.Hyperparameters{Method: ethos.FineTuneDPO, DPOBeta: 0.2, RPOAlpha: 0.5, SimPOGamma: 1, Epochs: 2, LoRA: true}),
			`{"training_file":"file-1","model":"meta-llama/Meta-Llama-3.1-8B-Instruct-Reference","n_epochs":2,"training_method":{"method":"dpo","dpo_beta":0.2,"rpo_alpha":0.5,"simpo_gamma":1},"training_type":{"type":"Lora","lora_r":8,"lora_alpha":16}}`, ""},
		{"dpo continued from a checkpoint", ethos.FineTuneRequest{BaseModel: "m", FromCheckpoint: "ft-0a1b:40", TrainFile: "file-1", Hyperparameters: ethos.Hyperparameters{Method: ethos.FineTuneDPO, DPOBeta: 0.1}},
			`{"training_file":"file-1","from_checkpoint":"ft-0a1b:40","training_method":{"method":"dpo","dpo_beta":0.1},"training_type":{"type":"Full"}}`, ""},
		{"sft continued from a checkpoint, no base model", ethos.FineTuneRequest{FromCheckpoint: "ft-0a1b", TrainFile: "file-1"},
			`{"training_file":"file-1","from_checkpoint":"ft-0a1b","training_method":{"method":"sft","train_on_inputs":"auto"},"training_type":{"type":"Full"}}`, ""},
		{"dpo_beta on an sft job", with(ethos.Hyperparameters{DPOBeta: 0.1}), "", "dpo_beta is a DPO setting"},
		{"no model", ethos.FineTuneRequest{TrainFile: "file-1"}, "", "no base model"},
		{"no file", ethos.FineTuneRequest{BaseModel: "m"}, "", "no training file"},
		{"fractional alpha", with(ethos.Hyperparameters{LoRA: true, LoRAAlpha: 16.5}), "", "LoRA alpha 16.5"},
		{"dropout 1", with(ethos.Hyperparameters{LoRA: true, LoRADropout: 1}), "", "LoRA dropout 1 is outside [0, 1)"},
		{"negative epochs", with(ethos.Hyperparameters{Epochs: -1}), "", "epochs -1"},
		{"evaluations without a validation file", with(ethos.Hyperparameters{Evals: 5}), "", "without a validation file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, _, perr := c.createBody(tt.req)
			if tt.body == "" {
				if perr == nil || perr.Kind != ethos.Invalid || !strings.Contains(perr.Msg, tt.msg) {
					t.Errorf("createBody: got %v, want an invalid error saying %q", perr, tt.msg)
				}
				return
			}
			if perr != nil {
				t.Fatal(perr)
			}
			b, err := json.Marshal(body)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.body, string(b)); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
			r := httptest.NewRequest(http.MethodPost, "http://x/v1/fine-tunes", bytes.NewReader(b))
			r.Header.Set("Content-Type", "application/json")
			if problems := checkRequest(t, r, b); problems != nil {
				t.Errorf("body violates the spec:\n%s", strings.Join(problems, "\n"))
			}
		})
	}
}

// TestMetricEvents reads the spec's example answer of GET
// /fine-tunes/{id}/metrics, with an evaluation added.
func TestMetricEvents(t *testing.T) {
	t.Parallel()
	got, err := metricEvents("ft-1", []byte(`{"metrics":[
		{"train/loss":0.5,"train/learning_rate":0.0001,"train/global_step":7},
		{"train/loss":0.45,"train/learning_rate":0.00009,"train/global_step":14},
		{"eval/loss":0.61,"eval/runtime":2.5,"train/global_step":14},
		{"train/learning_rate":0.00008}]}`))
	if err != nil {
		t.Fatal(err)
	}
	f := func(v float64) *float64 { return &v }
	want := []ethos.FineTuneEvent{
		{JobID: "ft-1", Type: "metrics", Level: "info", ProviderID: "metrics:train:7", Step: 7, Loss: f(0.5), Message: "step 7: training loss 0.5000"},
		{JobID: "ft-1", Type: "metrics", Level: "info", ProviderID: "metrics:train:14", Step: 14, Loss: f(0.45), Message: "step 14: training loss 0.4500"},
		{JobID: "ft-1", Type: "metrics", Level: "info", ProviderID: "metrics:eval:14", Step: 14, ValLoss: f(0.61), Message: "step 14: validation loss 0.6100"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if _, err := metricEvents("ft-1", []byte(`[1,2]`)); err == nil {
		t.Error("a list read as a metrics answer")
	}
}

// TestModelLimits asks the spec-checked fake and the sandbox for a base
// model's limits, and checks hyperparameters against them.
func TestModelLimits(t *testing.T) {
	t.Parallel()
	_, srv := newFakeTogether(t)
	c := newTestClient(t, srv.URL)
	const model = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"
	l, err := c.ModelLimits(t.Context(), model)
	if err != nil {
		t.Fatal(err)
	}
	want := ModelLimits{Model: model, MaxEpochs: 20, MaxEvals: 100, MinLearningRate: 1e-8, MaxLearningRate: 1,
		Full: &BatchLimits{Min: 8, Max: 96, MaxDPO: 48}, LoRA: &BatchLimits{Min: 8, Max: 128, MaxDPO: 64}, MaxRank: 64}
	if diff := cmp.Diff(want, l); diff != "" {
		t.Errorf("limits (-want +got):\n%s", diff)
	}
	if err := c.CheckHyperparameters(t.Context(), model, ethos.Hyperparameters{LoRA: true, BatchSize: 16, LoRARank: 16, Epochs: 3}); err != nil {
		t.Errorf("settings within the limits refused: %v", err)
	}
	err = c.CheckHyperparameters(t.Context(), model, ethos.Hyperparameters{LoRA: true, BatchSize: 256, LoRARank: 128})
	if ethos.KindOf(err) != ethos.Config || !strings.Contains(err.Error(), "batch size 256 is outside 8 to 128 for LoRA training") ||
		!strings.Contains(err.Error(), "LoRA rank 128 is above the highest, 64") || !strings.Contains(err.Error(), "nothing was uploaded") {
		t.Errorf("settings outside the limits: %v; want a Config error naming each", err)
	}
	_, err = c.ModelLimits(t.Context(), "meta-llama/Nonexistent-9B")
	if ethos.KindOf(err) != ethos.NotFound || !strings.Contains(err.Error(), "is not supported for fine-tuning") {
		t.Errorf("limits of an unknown model: %v; want NotFound with the provider's message", err)
	}

	sb := httptest.NewServer(thePatchedSpec(t).Handler(t, sandbox.New(sandbox.Options{APIKey: testKey}), false))
	defer sb.Close()
	sc := newTestClient(t, sb.URL, func(o *Options) { o.Provider = "sandbox" })
	if l, err := sc.ModelLimits(t.Context(), "base"); err != nil || l.LoRA == nil || l.MaxRank == 0 {
		t.Errorf("sandbox limits of base: %+v, %v", l, err)
	}
	if _, err := sc.ModelLimits(t.Context(), "no-such-base"); ethos.KindOf(err) != ethos.NotFound {
		t.Errorf("sandbox limits of an unknown model: %v, want NotFound", err)
	}
}

func TestModelLimitsCheck(t *testing.T) {
	t.Parallel()
	l := ModelLimits{MaxEpochs: 10, MaxEvals: 5, MinLearningRate: 1e-6, MaxLearningRate: 1e-3,
		Full: &BatchLimits{Min: 8, Max: 32}, LoRA: &BatchLimits{Min: 4, Max: 64, MaxDPO: 32}, MaxRank: 16}
	for _, tc := range []struct {
		h    ethos.Hyperparameters
		want []string
	}{
		{ethos.Hyperparameters{}, nil},
		{ethos.Hyperparameters{LoRA: true, BatchSize: 64, LoRARank: 16, Epochs: 10, Evals: 5, LearningRate: 1e-3}, nil},
		{ethos.Hyperparameters{BatchSize: 64}, []string{"batch size 64 is outside 8 to 32 for full training (batch_size)"}},
		{ethos.Hyperparameters{LoRA: true, LoRARank: 32, Epochs: 11, Evals: 6, LearningRate: 1e-7}, []string{
			"LoRA rank 32 is above the highest, 16 (lora_r)", "11 epochs is above the most, 10 (epochs)",
			"6 evaluations is above the most, 5 (n_evals)", "learning rate 1e-07 is outside 1e-06 to 0.001 (learning_rate)"}},
		{ethos.Hyperparameters{LoRA: true}, nil}, // the default rank, 8, is within 16
		// DPO is bounded by max_batch_size_dpo, SFT by max_batch_size.
		{ethos.Hyperparameters{LoRA: true, BatchSize: 48, Method: ethos.FineTuneDPO}, []string{"batch size 48 is outside 4 to 32 for LoRA DPO training (batch_size)"}},
		{ethos.Hyperparameters{LoRA: true, BatchSize: 32, Method: ethos.FineTuneDPO}, nil},
		{ethos.Hyperparameters{BatchSize: 32, Method: ethos.FineTuneDPO}, nil}, // full training gave no DPO bound
	} {
		if diff := cmp.Diff(tc.want, l.Check(tc.h)); diff != "" {
			t.Errorf("Check(%+v) (-want +got):\n%s", tc.h, diff)
		}
	}
	if got := (ModelLimits{LoRA: &BatchLimits{Min: 1, Max: 8}}).Check(ethos.Hyperparameters{}); len(got) != 1 || !strings.Contains(got[0], "full training is not offered") {
		t.Errorf("full training of a LoRA-only model: %v", got)
	}
}

// TestSpecPatches shows that each change the tests make to the spec is
// needed, and that strict mode catches the flat LoRA field.
func TestSpecPatches(t *testing.T) {
	t.Parallel()
	asSent := `{"training_file":"f","model":"m","training_method":{"method":"sft","train_on_inputs":"auto"},"training_type":{"type":"Lora","lora_r":8,"lora_alpha":16}}`
	cosine := `{"training_file":"f","model":"m","lr_scheduler":{"lr_scheduler_type":"cosine","lr_scheduler_args":{"min_lr_ratio":0,"num_cycles":0.5}}}`
	flat := `{"training_file":"f","model":"m","lora":true,"lora_r":8}`
	nested := `{"training_file":"f","model":"m","training_type":{"type":"Lora","lora_r":8,"lora_alpha":16,"lora":true}}`
	continued := `{"training_file":"f","from_checkpoint":"ft-1","training_method":{"method":"dpo","dpo_beta":0.1},"training_type":{"type":"Full"}}`
	dpo := `{"training_file":"f","model":"m","training_method":{"method":"dpo","dpo_beta":0.1,"rpo_alpha":0.5,"simpo_gamma":1}}`
	dpoMisspelt := `{"training_file":"f","model":"m","training_method":{"method":"dpo","beta":0.1}}`
	asIs := finetunetest.NewLenientSpec(t, spec(t, false))
	patched := thePatchedSpec(t)
	tests := []struct {
		name, body string
		spec       *finetunetest.Spec
		strict     bool
		ok         bool
	}{
		{"SDK's train_on_inputs auto, spec as is", asSent, asIs, false, false},
		{"SDK's train_on_inputs auto, patched", asSent, patched, false, true},
		{"cosine scheduler, spec as is", cosine, asIs, false, false},
		{"cosine scheduler, patched", cosine, patched, false, true},
		{"flat lora, lenient", flat, patched, false, true},
		{"flat lora, strict", flat, patched, true, false},
		{"unknown nested field, strict", nested, patched, true, false},
		{"as sent, strict", asSent, patched, true, true},
		{"continued without a model, spec as is", continued, asIs, false, false},
		{"continued without a model, patched", continued, patched, true, true},
		{"dpo, spec as is", dpo, asIs, false, true},
		{"dpo, strict", dpo, patched, true, true},
		{"dpo with OpenAI's beta name, strict", dpoMisspelt, patched, true, false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodPost, "http://x/v1/fine-tunes", strings.NewReader(tt.body))
		r.Header.Set("Content-Type", "application/json")
		problems := tt.spec.Request(r, []byte(tt.body), tt.strict)
		if ok := problems == nil; ok != tt.ok {
			t.Errorf("%s: valid %v, want %v; problems:\n%s", tt.name, ok, tt.ok, strings.Join(problems, "\n"))
		}
	}
}

func TestErrorStatuses(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range wiretest.StatusCases("together", "meta-llama/x", now) {
		t.Run(tc.String(), func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.Header {
					w.Header().Set(k, v)
				}
				w.Header().Set("x-request-id", "req-42")
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.Status)
				fmt.Fprintf(w, `{"error":{"message":"the provider's words for %d (key %s)","type":"some_error","param":null,"code":null}}`, tc.Status, testKey)
			}))
			defer srv.Close()
			c := newTestClient(t, srv.URL, func(o *Options) { o.Now = func() time.Time { return now } })
			_, err := c.Create(context.Background(), ethos.FineTuneRequest{BaseModel: "meta-llama/x", TrainFile: "file-1"})
			e := tc.Check(t, err, "req-42", "together: fine-tunes.create", testKey)
			if want := fmt.Sprintf("the provider's words for %d (key [redacted])", tc.Status); !strings.Contains(e.Msg, want) {
				t.Errorf("message %q lacks the provider's words %q", e.Msg, want)
			}
		})
	}
}

// TestNotFound checks that a 404 for a job or file names it, and that a
// 404 for a create names the model.
func TestNotFound(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(404)
		fmt.Fprint(w, `{"message":"Not found"}`)
	}))
	defer srv.Close()
	c := newTestClient(t, srv.URL)
	ctx := context.Background()
	_, getErr := c.Get(ctx, "ft-x")
	_, evErr := c.Events(ctx, "ft-x")
	_, cancelErr := c.Cancel(ctx, "ft-x")
	_, cpErr := c.Checkpoints(ctx, "ft-x")
	_, fileErr := c.File(ctx, "file-x")
	_, createErr := c.Create(ctx, ethos.FineTuneRequest{BaseModel: "no-such-model", TrainFile: "file-1"})
	for _, tt := range []struct {
		err  error
		want string
	}{
		{getErr, `together: fine-tunes.get: fine-tune job "ft-x" not found (404) at provider together: check the ID: Not found`},
		{evErr, `together: fine-tunes.events: fine-tune job "ft-x" not found (404) at provider together: check the ID: Not found`},
		{cancelErr, `together: fine-tunes.cancel: fine-tune job "ft-x" not found (404) at provider together: check the ID: Not found`},
		{cpErr, `together: fine-tunes.checkpoints: fine-tune job "ft-x" not found (404) at provider together: check the ID: Not found`},
		{fileErr, `together: files.get: file "file-x" not found (404) at provider together: check the ID: Not found`},
		{createErr, `together: fine-tunes.create: model "no-such-model" not found (404) at provider together: check the model name and base URL: Not found`},
	} {
		if e := wiretest.AsError(t, tt.err); e.Kind != ethos.NotFound || tt.err.Error() != tt.want {
			t.Errorf("got %s %q\nwant not_found %q", e.Kind, tt.err, tt.want)
		}
	}
}

// TestTransportErrors checks failures without an HTTP answer: an
// abandoned call keeps context.Canceled reachable, a dead server is
// transient, an unreadable answer is transient, and none shows the key.
func TestTransportErrors(t *testing.T) {
	t.Parallel()
	arrived := make(chan struct{}, 1)
	holding := httptest.NewServer(wiretest.Holding(arrived))
	defer holding.Close()
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-arrived; cancel() }()
	_, err := newTestClient(t, holding.URL).Get(ctx, "ft-1")
	if e := wiretest.AsError(t, err); e.Kind != ethos.Transient || !errors.Is(err, context.Canceled) {
		t.Errorf("abandoned call: kind %s, errors.Is(Canceled) %v: %v", e.Kind, errors.Is(err, context.Canceled), err)
	}

	garbled := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<html>proxy says hi "+testKey+"</html>")
	}))
	defer garbled.Close()
	_, err = newTestClient(t, garbled.URL).Get(context.Background(), "ft-1")
	if e := wiretest.AsError(t, err); e.Kind != ethos.Transient || !strings.Contains(err.Error(), "unreadable answer") {
		t.Errorf("garbled answer: %s %v", e.Kind, err)
	}
	wiretest.AssertNoSecret(t, err, testKey)

	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	_, err = newTestClient(t, dead.URL).List(context.Background(), 0)
	if e := wiretest.AsError(t, err); e.Kind != ethos.Transient {
		t.Errorf("dead server: kind %s: %v", e.Kind, err)
	}
	wiretest.AssertNoSecret(t, err, testKey)
}

func TestNew(t *testing.T) {
	t.Parallel()
	for _, base := range []string{"api.together.xyz/v1", "ftp://x/v1", "http://"} {
		_, err := New(Options{BaseURL: base})
		if e := wiretest.AsError(t, err); e.Kind != ethos.Config {
			t.Errorf("New(%q): kind %s, want config", base, e.Kind)
		}
	}
	c, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Provider() != "together" || c.base != DefaultBaseURL {
		t.Errorf("defaults: provider %q, base %q", c.Provider(), c.base)
	}
	c, _ = New(Options{BaseURL: "http://127.0.0.1:8700/v1/", Provider: "sandbox"})
	if c.Provider() != "sandbox" || c.base != "http://127.0.0.1:8700/v1" {
		t.Errorf("sandbox: provider %q, base %q", c.Provider(), c.base)
	}
}

func TestCheckpointsAndFile(t *testing.T) {
	t.Parallel()
	fake, srv := newFakeTogether(t)
	c := newTestClient(t, srv.URL, func(o *Options) { o.Now = fake.clock })
	ctx := context.Background()
	up, err := c.Upload(ctx, "data/train.jsonl", []byte("{\"messages\":[]}\n\n{\"messages\":[]}"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.File(ctx, up.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := ethos.File{ID: up.ID, Provider: "together", Purpose: "fine-tune", Name: "train.jsonl", Bytes: 32, CreatedAt: fake.clock()}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("File (-want +got):\n%s", diff)
	}
	if up.Lines != 2 || up.Name != "data/train.jsonl" || up.SHA256 == "" {
		t.Errorf("upload: lines %d, name %q, sha %q", up.Lines, up.Name, up.SHA256)
	}
	job, err := c.Create(ctx, ethos.FineTuneRequest{BaseModel: fakeModels[0], TrainFile: up.ID})
	if err != nil {
		t.Fatal(err)
	}
	fake.advance(20 * time.Second)
	cps, err := c.Checkpoints(ctx, job.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(cps) != fakeSteps+1 {
		t.Fatalf("%d checkpoints, want %d", len(cps), fakeSteps+1)
	}
	if first, last := cps[0], cps[len(cps)-1]; first.Step != 1 || first.Name != job.ID+":1" || last.Type != "Final" || last.Name != job.ID {
		t.Errorf("checkpoints in step order with names: first %+v, last %+v", first, last)
	}

	if _, err := c.Upload(ctx, "empty.jsonl", nil); wiretest.AsError(t, err).Kind != ethos.Invalid {
		t.Errorf("empty upload: %v, want invalid", err)
	}
}
