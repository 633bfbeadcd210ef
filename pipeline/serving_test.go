package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/config"
	"github.com/ethos-toolkit/ethos/finetune"
	"github.com/ethos-toolkit/ethos/pipeline"
)

func TestDeployOptions(t *testing.T) {
	t.Parallel()
	ft := config.FineTune{Hardware: "1x_h100", InactiveTimeout: 15 * time.Minute}
	for _, tt := range []struct {
		name              string
		provider, hw      string
		timeout, interval time.Duration
		want              finetune.DeployOptions
	}{
		{"the project's", "together", "", 0, 0, finetune.DeployOptions{Hardware: "1x_h100", InactiveTimeout: 15 * time.Minute, Interval: 10 * time.Second}},
		{"the sandbox polls fast", "sandbox", "", 0, 0, finetune.DeployOptions{Hardware: "1x_h100", InactiveTimeout: 15 * time.Minute, Interval: 500 * time.Millisecond}},
		{"given", "together", "2x_h100", 5 * time.Minute, time.Second, finetune.DeployOptions{Hardware: "2x_h100", InactiveTimeout: 5 * time.Minute, Interval: time.Second}},
	} {
		got := pipeline.DeployOptions(ft, tt.provider, tt.hw, tt.timeout, tt.interval)
		if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreFields(finetune.DeployOptions{}, "Progress")); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

// spendStore is a ledger total and a list of endpoints.
type spendStore struct {
	calls float64
	eps   []ethos.Endpoint
}

func (s spendStore) Spent(context.Context, ethos.CallFilter) (float64, error) { return s.calls, nil }
func (s spendStore) Endpoints(context.Context, ethos.EndpointFilter) ([]ethos.Endpoint, error) {
	return s.eps, nil
}

func TestSpentCountsEndpoints(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	stopped := now.Add(-time.Hour)
	store := spendStore{calls: 1.5, eps: []ethos.Endpoint{
		{ID: "up", CentsPerMinute: 10, CreatedAt: now.Add(-30 * time.Minute)},                              // $3 so far
		{ID: "stopped", CentsPerMinute: 5, CreatedAt: stopped.Add(-20 * time.Minute), StoppedAt: &stopped}, // $1
		{ID: "attached", Attached: true, CentsPerMinute: 99, CreatedAt: now.Add(-time.Hour)},               // not ethos's bill
	}}
	got, err := pipeline.Spent(t.Context(), store, now)
	if err != nil {
		t.Fatal(err)
	}
	if want := 1.5 + 3 + 1; got != want {
		t.Errorf("spent $%v, want $%v", got, want)
	}
}

func TestEndpointBudget(t *testing.T) {
	t.Parallel()
	hw := ethos.Hardware{ID: "1x_h100", CentsPerMinute: 10} // $6/hour
	spent := func(usd float64) func(context.Context) (float64, error) {
		return func(context.Context) (float64, error) { return usd, nil }
	}
	for _, tt := range []struct {
		name     string
		b        pipeline.EndpointBudget
		timeout  time.Duration
		wantText string // in the error; "" for none
	}{
		{"no caps", pipeline.EndpointBudget{Spent: spent(1000)}, time.Hour, ""},
		{"within both", pipeline.EndpointBudget{MaxUSD: 10, CommandMaxUSD: 2, Spent: spent(7)}, 15 * time.Minute, ""},
		// The reserve: 15 minutes at $6/hour is $1.50.
		{"over the command's cap", pipeline.EndpointBudget{CommandMaxUSD: 1, Spent: spent(0)}, 15 * time.Minute, "reserves $1.50 (15m0s at $6.00/hour) of the $1.00 --max-cost"},
		{"over the project's cap with what is spent", pipeline.EndpointBudget{MaxUSD: 10, Spent: spent(9)}, 15 * time.Minute, "$9.00 is spent of the $10.00 cap; raise budget.max_usd"},
	} {
		err := tt.b.Check(t.Context(), hw, tt.timeout)
		switch {
		case tt.wantText == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.wantText != "" && (ethos.KindOf(err) != ethos.Budget || !strings.Contains(err.Error(), tt.wantText)):
			t.Errorf("%s: err %v, want a Budget error with %q", tt.name, err, tt.wantText)
		}
	}
	// A failure to read what is spent is returned, not taken for zero.
	broken := pipeline.EndpointBudget{MaxUSD: 10, Spent: func(context.Context) (float64, error) { return 0, errors.New("store closed") }}
	if err := broken.Check(t.Context(), hw, time.Minute); err == nil || !strings.Contains(err.Error(), "store closed") {
		t.Errorf("a failed read of spend: %v", err)
	}
}

// servingFor is a Serving of a registered trained model on a provider
// with dedicated endpoints, whose probe answers with probeErr.
func servingFor(t *testing.T, probeErr error, budget pipeline.EndpointBudget) (pipeline.Serving, *endpointProvider, ethos.Model, *[]string) {
	t.Helper()
	db := openStore(t)
	model := ethos.Model{Name: "together/acme/tuned", Provider: "together", ProviderModel: "acme/tuned", BaseModel: "base",
		JobID: "ft-1", DatasetPath: "/d.jsonl", DatasetSHA256: "00"}
	if err := db.PutModel(t.Context(), &model); err != nil {
		t.Fatal(err)
	}
	provider := &endpointProvider{}
	svc := &finetune.Service{Store: db,
		Backend: func(string) (ethos.FineTuneBackend, error) { return provider, nil },
		Sleep:   func(ctx context.Context, _ time.Duration) error { return ctx.Err() }}
	var logged []string
	s := pipeline.Serving{Service: svc, Options: finetune.DeployOptions{InactiveTimeout: 15 * time.Minute, Interval: time.Second},
		Probe: func(context.Context) (func(context.Context, string) error, error) {
			return func(context.Context, string) error { return probeErr }, nil
		},
		Budget: budget, Logf: func(format string, args ...any) { logged = append(logged, fmt.Sprintf(format, args...)) }}
	return s, provider, model, &logged
}

// TestServingForEval: a model the provider answers serverless is called
// so; one it does not is deployed on an endpoint within the budget, which
// stop stops; over the budget nothing is started.
func TestServingForEval(t *testing.T) {
	t.Parallel()
	noCap := pipeline.EndpointBudget{Spent: func(context.Context) (float64, error) { return 0, nil }}
	notServed := ethos.Errorf(ethos.NotFound, "model not found")

	s, provider, model, _ := servingFor(t, nil, noCap)
	served, stop, err := s.ForEval(t.Context(), model)
	if err != nil || stop != nil || served.Serving != ethos.ServingServerless || provider.creates != 0 {
		t.Errorf("served serverless: %+v, stop %v, %v; %d endpoints", served, stop != nil, err, provider.creates)
	}

	// The reserve of 15 minutes at $6/hour is $1.50.
	s, provider, model, _ = servingFor(t, notServed, pipeline.EndpointBudget{CommandMaxUSD: 1, Spent: noCap.Spent})
	if _, _, err := s.ForEval(t.Context(), model); ethos.KindOf(err) != ethos.Budget || provider.creates != 0 {
		t.Errorf("over the budget: %v, %d endpoints started", err, provider.creates)
	}

	s, provider, model, logged := servingFor(t, notServed, noCap)
	served, stop, err = s.ForEval(t.Context(), model)
	if err != nil {
		t.Fatal(err)
	}
	if served.Serving != ethos.ServingDedicated || served.EndpointID != "endpoint-1" || provider.running() != 1 {
		t.Errorf("deployed: %+v, %d running", served, provider.running())
	}
	if stop == nil {
		t.Fatal("no stop for the endpoint started")
	}
	if err := stop(); err != nil || provider.running() != 0 {
		t.Errorf("stop: %v, %d running", err, provider.running())
	}
	if len(*logged) == 0 || !strings.Contains(strings.Join(*logged, "\n"), "deploying a dedicated endpoint on 1x_h100 at $6.00/hour") {
		t.Errorf("log: %q", *logged)
	}
}

// TestServingStopLeft: an endpoint a run left up is stopped once the
// evaluation needs it no more.
func TestServingStopLeft(t *testing.T) {
	t.Parallel()
	s, provider, model, _ := servingFor(t, ethos.Errorf(ethos.NotFound, "model not found"),
		pipeline.EndpointBudget{Spent: func(context.Context) (float64, error) { return 0, nil }})
	if _, _, err := s.ForEval(t.Context(), model); err != nil { // its stop never called, as by a killed run
		t.Fatal(err)
	}
	if err := s.StopLeft(t.Context(), model); err != nil || provider.running() != 0 {
		t.Errorf("StopLeft: %v, %d running", err, provider.running())
	}
	if err := s.StopLeft(t.Context(), model); err != nil || provider.creates != 1 {
		t.Errorf("StopLeft with nothing up: %v, %d endpoints started", err, provider.creates)
	}
}
