package main

import (
	"context"
	"flag"
	"testing"

	"github.com/ethos-toolkit/ethos"
)

// TestFineTunedModelPricedAsItsBase: a registered fine-tuned model with no
// price of its own is priced as its base model, so a budget cap does not
// refuse evaluating it; a model neither priced nor registered stays unpriced.
func TestFineTunedModelPricedAsItsBase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := &Main{Getenv: func(string) string { return "" }, Dir: t.TempDir()}
	var pf projectFlags
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	pf.register(fs)
	p, err := m.openProject(ctx, fs, pf)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	const base = "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo"
	tuned := &ethos.Model{Name: "together/acme/Meta-Llama-3.1-8B-agora-ab12", Provider: "together", ProviderModel: "acme/Meta-Llama-3.1-8B-agora-ab12",
		BaseModel: base, JobID: "ft-1", DatasetPath: "/d.jsonl", DatasetSHA256: "00"}
	if err := p.store.PutModel(ctx, tuned); err != nil {
		t.Fatal(err)
	}
	u := ethos.Usage{In: 1_000_000, Out: 1_000_000}
	want, ok := p.pricer().Cost("together/"+base, u)
	if !ok || want == 0 {
		t.Fatalf("the base model has no price (%v, %v)", want, ok)
	}
	if got, ok := p.pricer().Cost(tuned.Name, u); !ok || got != want {
		t.Errorf("fine-tuned model priced %v (known %v), want its base's %v", got, ok, want)
	}
	if _, ok := p.pricer().Cost("together/acme/unknown-model", u); ok {
		t.Error("an unregistered, unpriced model got a price")
	}
}
