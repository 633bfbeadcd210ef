package pipeline_test

import (
	"context"
	"errors"
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
