package llm_test

import (
	"context"
	"testing"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/llm"
	"github.com/ethos-toolkit/ethos/sqlite"
)

// batchPricer prices every token at $1 per million, batches at half.
type batchPricer struct{}

func (batchPricer) Cost(model string, u ethos.Usage) (float64, bool) {
	return float64(u.In+u.Out) / 1e6, model != "anthropic/unpriced"
}
func (batchPricer) BatchMultiplier(string) float64 { return 0.5 }

// chainStore is a fresh SQLite store.
func chainStore(t *testing.T) *sqlite.DB {
	return sqliteStores(t, 1)[0].(*sqlite.DB)
}

// newTestChain builds a chain over db whose router answers every call
// with 1,000 input and output tokens and records the model it was asked for.
func newTestChain(db *sqlite.DB, cc llm.ChainConfig) (*llm.Chain, *[]string) {
	var routed []string
	cc.Store = db
	cc.Router = ethos.CompleterFunc(func(_ context.Context, req ethos.Request) (ethos.Response, error) {
		routed = append(routed, req.Model)
		return ethos.Response{Text: "ok", Usage: ethos.Usage{In: 1000, Out: 1000}}, nil
	})
	cc.Limits = func(string) llm.Limits { return llm.Limits{MaxConcurrency: 1} }
	cc.Pricer = batchPricer{}
	return llm.NewChain(cc), &routed
}

func chainRequest(model string) ethos.Request {
	return ethos.Request{Model: model, MaxTokens: 1000, Messages: []ethos.Message{{Role: ethos.RoleUser, Content: "hello"}},
		Metadata: map[string]string{"run": "r1", "stage": "test"}}
}

// TestChainAliasBelowLedgerAndBudget: a trained model is called by the
// name its provider answers it by, while the ledger records (and the
// budget prices) its registry name; without Resolve it is called as asked.
func TestChainAliasBelowLedgerAndBudget(t *testing.T) {
	t.Parallel()
	const name, callAs = "together/acme/tuned", "together/acme/endpoint-1"
	for _, tt := range []struct {
		alias bool
		want  string
	}{{true, callAs}, {false, name}} {
		db := chainStore(t)
		if err := db.PutModel(t.Context(), &ethos.Model{Name: name, Provider: "together", ProviderModel: "acme/tuned",
			BaseModel: "base", CallAs: callAs, JobID: "ft-1", DatasetPath: "/d.jsonl", DatasetSHA256: "00"}); err != nil {
			t.Fatal(err)
		}
		var cc llm.ChainConfig
		if tt.alias {
			cc.Resolve = llm.CallNames(db)
		}
		chain, routed := newTestChain(db, cc)
		if _, err := chain.Complete(t.Context(), chainRequest(name)); err != nil {
			t.Fatal(err)
		}
		if len(*routed) != 1 || (*routed)[0] != tt.want {
			t.Errorf("alias %v: the router was asked for %v, want [%s]", tt.alias, *routed, tt.want)
		}
		calls, err := db.Calls(t.Context(), ethos.CallFilter{RunID: "r1"})
		if err != nil {
			t.Fatal(err)
		}
		if len(calls) != 1 || calls[0].Model != name || calls[0].CostUSD != 0.002 {
			t.Errorf("alias %v: ledger has %+v, want one call of %s costing $0.002", tt.alias, calls, name)
		}
	}
}

// TestChainBudgets: the project budget counts what was spent before the
// chain was built, the command's cap applies on its own, and a refused call
// reaches no provider but is recorded.
func TestChainBudgets(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		cc       llm.ChainConfig
		model    string
		refused  bool
		wantKind ethos.Kind
	}{
		{name: "no caps", cc: llm.ChainConfig{}, model: "anthropic/claude"},
		{name: "under the project cap", cc: llm.ChainConfig{MaxUSD: 1, SpentUSD: 0.5}, model: "anthropic/claude"},
		{name: "project cap spent before", cc: llm.ChainConfig{MaxUSD: 1, SpentUSD: 0.999}, model: "anthropic/claude", refused: true, wantKind: ethos.Budget},
		{name: "command cap", cc: llm.ChainConfig{CommandMaxUSD: 0.001}, model: "anthropic/claude", refused: true, wantKind: ethos.Budget},
		{name: "unpriced under a cap", cc: llm.ChainConfig{CommandMaxUSD: 1}, model: "anthropic/unpriced", refused: true, wantKind: ethos.Config},
		{name: "unpriced without a cap", cc: llm.ChainConfig{}, model: "anthropic/unpriced"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := chainStore(t)
			chain, routed := newTestChain(db, tt.cc)
			_, err := chain.Complete(t.Context(), chainRequest(tt.model))
			if tt.refused {
				if ethos.KindOf(err) != tt.wantKind {
					t.Fatalf("err %v (kind %v), want kind %v", err, ethos.KindOf(err), tt.wantKind)
				}
				if len(*routed) != 0 {
					t.Errorf("a refused call reached the router: %v", *routed)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			calls, err := db.Calls(t.Context(), ethos.CallFilter{RunID: "r1"})
			if err != nil {
				t.Fatal(err)
			}
			if len(calls) != 1 {
				t.Errorf("ledger has %d calls, want 1 (refused or not)", len(calls))
			}
		})
	}
}
