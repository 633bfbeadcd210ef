package project_test

import (
	"testing"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/project"
)

// TestFineTunedModelPricedAsItsBase: a registered fine-tuned model with no
// price of its own is priced as its base model, so a budget cap does not
// refuse evaluating it; a model neither priced nor registered stays unpriced.
func TestFineTunedModelPricedAsItsBase(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	p, err := project.Open(ctx, project.Options{Dir: t.TempDir(), Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	const base = "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo"
	tuned := &ethos.Model{Name: "together/acme/Meta-Llama-3.1-8B-agora-ab12", Provider: "together", ProviderModel: "acme/Meta-Llama-3.1-8B-agora-ab12",
		BaseModel: base, JobID: "ft-1", DatasetPath: "/d.jsonl", DatasetSHA256: "00"}
	if err := p.Store().PutModel(ctx, tuned); err != nil {
		t.Fatal(err)
	}
	u := ethos.Usage{In: 1_000_000, Out: 1_000_000}
	want, ok := p.Pricer().Cost("together/"+base, u)
	if !ok || want == 0 {
		t.Fatalf("the base model has no price (%v, %v)", want, ok)
	}
	if got, ok := p.Pricer().Cost(tuned.Name, u); !ok || got != want {
		t.Errorf("fine-tuned model priced %v (known %v), want its base's %v", got, ok, want)
	}
	if _, ok := p.Pricer().Cost("together/acme/unknown-model", u); ok {
		t.Error("an unregistered, unpriced model got a price")
	}
}
