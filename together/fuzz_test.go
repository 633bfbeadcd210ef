package together

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/ethos-toolkit/ethos"
)

// FuzzParseMessage checks that no event message makes the parser panic or
// report a negative step or a loss that is not a finite number.
func FuzzParseMessage(f *testing.F) {
	f.Add("Checkpoint saved at step 5 of 20 (epoch 1/3), training loss 1.2345")
	f.Add("step: 3 loss: 2e-1 eval_loss: 3E-1")
	f.Fuzz(func(t *testing.T, msg string) {
		m := parseMessage(msg)
		if m.Step < 0 || m.TotalSteps < 0 || m.Epoch < 0 || m.Epochs < 0 {
			t.Errorf("negative counts in %+v", m)
		}
		for _, l := range []*float64{m.Loss, m.ValLoss} {
			if l != nil && (math.IsNaN(*l) || math.IsInf(*l, 0)) {
				t.Errorf("loss %v is not finite", *l)
			}
		}
	})
}

// FuzzJobPayload checks that any job payload a server might send is read
// without a panic, keeps its status verbatim, and maps to a known state
// only for a status the map knows.
func FuzzJobPayload(f *testing.F) {
	f.Add(`{"id":"ft-1","status":"completed","model_output_name":"m","events":[{"created_at":"2026-05-01T12:00:00Z","message":"step 3 loss 1.0","step":3}]}`)
	f.Add(`{"id":"ft-1","status":"user_error","output_name":"m","batch_size":"max","training_type":{"type":"Lora","lora_r":8.0,"lora_alpha":"16"}}`)
	c, err := New(Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, payload string) {
		var w wireJob
		if json.Unmarshal([]byte(payload), &w) != nil {
			return
		}
		job, err := c.job("fuzz", []byte(payload), w)
		if err != nil {
			if w.ID != "" {
				t.Errorf("job with id %q refused: %v", w.ID, err)
			}
			return
		}
		if job.Status != w.Status || job.State != State(w.Status) {
			t.Errorf("status %q became %q (%s)", w.Status, job.Status, job.State)
		}
		if job.State == ethos.FineTuneCompleted && job.FinishedAt == nil && !job.UpdatedAt.IsZero() {
			t.Errorf("completed job with an update time has no finish time")
		}
		if job.Progress.Loss != nil && (math.IsNaN(*job.Progress.Loss) || math.IsInf(*job.Progress.Loss, 0)) {
			t.Errorf("progress loss %v", *job.Progress.Loss)
		}
	})
}

// FuzzMetrics checks that no metrics answer makes the reader panic or
// report a loss that is not a finite number or a negative step.
func FuzzMetrics(f *testing.F) {
	f.Add(`{"metrics":[{"train/loss":0.5,"train/learning_rate":0.0001,"train/global_step":7},{"eval/loss":0.61,"train/global_step":7}]}`)
	f.Add(`{"metrics":[{"train/loss":"0.5"},{"train/loss":1e400,"train/global_step":-3},{"train/loss":null}]}`)
	f.Fuzz(func(t *testing.T, payload string) {
		evs, err := metricEvents("ft-1", []byte(payload))
		if err != nil {
			return
		}
		for _, e := range evs {
			for _, l := range []*float64{e.Loss, e.ValLoss} {
				if l != nil && (math.IsNaN(*l) || math.IsInf(*l, 0)) {
					t.Errorf("loss %v is not finite", *l)
				}
			}
			if e.Step < 0 || e.Type != ethos.FineTuneMetricsType || e.JobID != "ft-1" {
				t.Errorf("report %+v", e)
			}
		}
	})
}

// FuzzEndpointList checks that any answer to GET /endpoints is read
// without a panic, that every endpoint read has an ID (one without names
// nothing ethos could adopt or stop), and that states are kept in the
// spec's upper case.
func FuzzEndpointList(f *testing.F) {
	f.Add(`{"object":"list","data":[{"object":"endpoint","id":"endpoint-1","name":"acme/m-1","model":"acme/m","type":"dedicated","owner":"acme","state":"started","created_at":"2026-05-01T12:00:00.000Z"}]}`)
	f.Add(`{"data":[{"id":""},{"id":"endpoint-2","state":" STOPPED ","created_at":1714564800}]}`)
	c, err := New(Options{Provider: "together"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var out endpointList
		if json.Unmarshal([]byte(body), &out) != nil {
			return
		}
		for _, e := range c.endpoints(out) {
			if e.ID == "" {
				t.Errorf("an endpoint without an ID was read: %+v", e)
			}
			if e.State != strings.ToUpper(strings.TrimSpace(e.State)) {
				t.Errorf("state %q not normalised", e.State)
			}
			if e.Provider != "together" {
				t.Errorf("provider %q", e.Provider)
			}
		}
	})
}
