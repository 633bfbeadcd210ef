package openai

import (
	"encoding/json"
	"math"
	"testing"

	sdk "github.com/openai/openai-go/v3"
)

// FuzzFineTuneJob checks that any job payload or event a server might send
// is read without a panic, keeps the status verbatim, and yields no loss
// that is not a finite number.
func FuzzFineTuneJob(f *testing.F) {
	f.Add(`{"id":"ftjob-1","status":"succeeded","fine_tuned_model":"ft:m:o::x","hyperparameters":{"n_epochs":"auto"},"method":{"type":"supervised","supervised":{"hyperparameters":{"n_epochs":3,"learning_rate_multiplier":1.8}}}}`,
		`{"id":"ev-1","created_at":1,"level":"info","message":"m","type":"metrics","data":{"step":3,"train_loss":0.5}}`)
	b, err := NewFineTune(Config{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, job, ev string) {
		var j sdk.FineTuningJob
		if json.Unmarshal([]byte(job), &j) == nil {
			got := b.job(&j)
			if got.Status != string(j.Status) || got.State != FineTuneState(string(j.Status)) {
				t.Errorf("status %q became %q (%s)", j.Status, got.Status, got.State)
			}
		}
		var e sdk.FineTuningJobEvent
		if json.Unmarshal([]byte(ev), &e) == nil {
			got := event("j", e)
			for _, l := range []*float64{got.Loss, got.ValLoss} {
				if l != nil && (math.IsNaN(*l) || math.IsInf(*l, 0)) {
					t.Errorf("loss %v", *l)
				}
			}
			if got.Step < 0 || got.Epoch < 0 {
				t.Errorf("negative step or epoch in %+v", got)
			}
		}
	})
}
