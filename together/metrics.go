package together

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"

	"github.com/ethos-toolkit/ethos"
)

// Metric keys of a snapshot of GET /fine-tunes/{id}/metrics. The spec
// gives train/loss, train/learning_rate and train/global_step; an
// evaluation of the validation file (n_evals > 0) logs its loss as
// eval/loss, the Hugging Face trainer's name, which Together's training
// logs to Weights & Biases under.
const (
	metricTrainLoss = "train/loss"
	metricEvalLoss  = "eval/loss"
	metricStep      = "train/global_step"
)

var _ ethos.FineTuneMetrics = (*Client)(nil)

// Metrics returns a job's losses from GET /fine-tunes/{id}/metrics, where
// Together reports them (its events have none): an event of type
// ethos.FineTuneMetricsType for each step's training loss and each step's
// validation loss, in step order. Each is stamped with the time it was
// read; its ProviderID ("metrics:train:24", "metrics:eval:24") makes it
// recorded once.
func (c *Client) Metrics(ctx context.Context, id string) ([]ethos.FineTuneEvent, error) {
	// The endpoint takes an optional JSON body of filters; without one it
	// returns every snapshot.
	raw, err := c.do(ctx, call{
		op: "fine-tunes.metrics", method: http.MethodGet, path: "/fine-tunes/" + pathID(id) + "/metrics",
		subject: fmt.Sprintf("fine-tune job %q", id),
	}, nil)
	if err != nil {
		return nil, err
	}
	evs, perr := metricEvents(id, raw)
	if perr != nil {
		return nil, &ethos.Error{Kind: ethos.Transient, Op: c.provider + ": fine-tunes.metrics",
			Msg: "unreadable answer: " + c.clean(perr.Error()), Err: c.redacted(perr)}
	}
	now := c.now().UTC()
	for i := range evs {
		evs[i].CreatedAt = now
	}
	return evs, nil
}

// metricEvents reads a metrics answer, {"metrics": [{"train/loss": 0.5,
// "train/global_step": 7, …}, …]}. A snapshot without a step is placed by
// its position (1-based); values that are not finite numbers are skipped.
// Only an answer that is not such an object is an error.
func metricEvents(jobID string, raw []byte) ([]ethos.FineTuneEvent, error) {
	var page struct {
		Metrics []map[string]json.RawMessage `json:"metrics"`
	}
	if err := json.Unmarshal(raw, &page); err != nil {
		return nil, err
	}
	var out []ethos.FineTuneEvent
	for i, snap := range page.Metrics {
		step := i + 1
		if s, ok := metricValue(snap[metricStep]); ok && s >= 0 && s <= math.MaxInt32 {
			step = int(s)
		}
		if v, ok := metricValue(snap[metricTrainLoss]); ok {
			out = append(out, ethos.FineTuneEvent{JobID: jobID, Type: ethos.FineTuneMetricsType, Level: "info",
				ProviderID: "metrics:train:" + strconv.Itoa(step), Step: step, Loss: &v,
				Message: fmt.Sprintf("step %d: training loss %.4f", step, v)})
		}
		if v, ok := metricValue(snap[metricEvalLoss]); ok {
			out = append(out, ethos.FineTuneEvent{JobID: jobID, Type: ethos.FineTuneMetricsType, Level: "info",
				ProviderID: "metrics:eval:" + strconv.Itoa(step), Step: step, ValLoss: &v,
				Message: fmt.Sprintf("step %d: validation loss %.4f", step, v)})
		}
	}
	slices.SortStableFunc(out, func(a, b ethos.FineTuneEvent) int { return a.Step - b.Step })
	return out, nil
}

// metricValue reads one metric: a finite JSON number.
func metricValue(raw json.RawMessage) (float64, bool) {
	if len(raw) == 0 {
		return 0, false
	}
	var f float64
	if json.Unmarshal(raw, &f) != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}
