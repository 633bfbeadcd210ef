package web

import (
	"context"
	"net/http"
	"time"

	"github.com/ethos-toolkit/ethos"
)

// chart is a time or step series for the dashboard's uPlot charts
// (static/charts.js draws it): one x axis and named series of the same
// length; a nil value is a gap.
type chart struct {
	Title  string        `json:"title"`
	XLabel string        `json:"x_label"`
	YLabel string        `json:"y_label"`
	Time   bool          `json:"time"` // x holds Unix seconds
	X      []float64     `json:"x"`
	Series []chartSeries `json:"series"`
}

type chartSeries struct {
	Label  string     `json:"label"`
	Values []*float64 `json:"values"`
}

// runSeries is a run's items over time: GET /api/runs/{id}/series.
type runSeries struct {
	Bucket     string `json:"bucket"` // the width of one point, e.g. "1m0s"
	Throughput chart  `json:"throughput"`
	Retries    chart  `json:"retries"`
}

// maxBuckets bounds the points of a time chart.
const maxBuckets = 120

// bucketSizes are the widths a chart's time buckets may take.
var bucketSizes = []time.Duration{
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour,
}

// bucketFor picks the smallest width that covers span in maxBuckets.
func bucketFor(span time.Duration) time.Duration {
	for _, b := range bucketSizes {
		if span <= b*maxBuckets {
			return b
		}
	}
	return span/maxBuckets + 1
}

// series computes a run's time series from its items' timestamps: an item
// that is no longer pending counts at its last update, accepted per stage
// as throughput, rejected (written again) and quarantined as retries. It
// reads every item of the run (without data), so it is a background
// aggregate.
func (s *Server) series(ctx context.Context, runID string) section[runSeries] {
	version := s.runVersion(ctx, runID)
	c := s.snaps.get(ctx, topicRun+runID+"|series", version, func(ctx context.Context) (any, error) {
		return s.computeSeries(ctx, runID)
	})
	return fromCache[runSeries](c)
}

type stamp struct {
	at     time.Time
	stage  string
	status ethos.ItemStatus
}

func (s *Server) computeSeries(ctx context.Context, runID string) (runSeries, error) {
	var stamps []stamp
	var first, last time.Time
	err := s.eachItem(ctx, ethos.ItemFilter{RunID: runID, NoData: true}, func(it ethos.Item) {
		if it.Status == ethos.ItemPending {
			return
		}
		at := it.UpdatedAt
		stamps = append(stamps, stamp{at, it.Stage, it.Status})
		if first.IsZero() || at.Before(first) {
			first = at
		}
		if at.After(last) {
			last = at
		}
	})
	if err != nil {
		return runSeries{}, err
	}
	out := runSeries{
		Throughput: chart{Title: "Accepted items", XLabel: "time", Time: true},
		Retries:    chart{Title: "Rejected and quarantined", XLabel: "time", Time: true},
	}
	if len(stamps) == 0 {
		return out, nil
	}
	bucket := bucketFor(last.Sub(first))
	start := first.Truncate(bucket)
	n := int(last.Sub(start)/bucket) + 1
	out.Bucket = bucket.String()
	out.Throughput.YLabel = "items per " + bucket.String()
	out.Retries.YLabel = "items per " + bucket.String()
	x := make([]float64, n)
	for i := range x {
		x[i] = float64(start.Add(time.Duration(i) * bucket).Unix())
	}
	out.Throughput.X, out.Retries.X = x, x

	accepted := map[string][]float64{}
	var stages []string
	rejected, quarantined := make([]float64, n), make([]float64, n)
	for _, st := range stamps {
		i := int(st.at.Sub(start) / bucket)
		switch st.status {
		case ethos.ItemAccepted:
			v := accepted[st.stage]
			if v == nil {
				v = make([]float64, n)
				accepted[st.stage] = v
				stages = append(stages, st.stage)
			}
			v[i]++
		case ethos.ItemRejected:
			rejected[i]++
		case ethos.ItemQuarantined:
			quarantined[i]++
		}
	}
	for _, row := range stageRows(countsOf(stages)) {
		out.Throughput.Series = append(out.Throughput.Series, chartSeries{Label: row.Stage, Values: ptrs(accepted[row.Stage])})
	}
	out.Retries.Series = []chartSeries{{Label: "rejected", Values: ptrs(rejected)}, {Label: "quarantined", Values: ptrs(quarantined)}}
	return out, nil
}

// countsOf makes one count per stage, so stageRows can order stages.
func countsOf(stages []string) []ethos.ItemCount {
	out := make([]ethos.ItemCount, len(stages))
	for i, s := range stages {
		out[i] = ethos.ItemCount{Stage: s, Status: ethos.ItemAccepted, Count: 1}
	}
	return out
}

func ptrs(v []float64) []*float64 {
	out := make([]*float64, len(v))
	for i := range v {
		out[i] = &v[i]
	}
	return out
}

func (s *Server) apiRunSeries(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := s.store.Run(r.Context(), id); err != nil {
		s.writeError(w, err)
		return
	}
	s.writeJSON(w, s.series(r.Context(), id))
}
